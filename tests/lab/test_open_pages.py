"""`lab open NAME` and the page URLs `lab status` lists under each service's endpoints."""
import pytest

from lab import ca
from lab import topology as topo
from lab.client_env import org_url
from lab.commands.pages import page_url
from lab.errors import UsageError


@pytest.fixture
def topology(tmp_path):
    return topo.build(tmp_path, subnet="127.0.65")


def test_status_endpoints_list_the_pages(topology):
    okta = topo.endpoints(topology["services"]["okta"])
    assert okta["api"] == "http://127.0.65.30:8080"
    assert okta["signin"] == "http://127.0.65.30:8080/login"
    assert okta["admin_console"] == "http://127.0.65.30:8080/admin"
    assert topo.endpoints(topology["services"]["mail"])["mailbox"] == "http://127.0.65.70:8080/"
    assert topo.endpoints(topology["services"]["phone"])["phones"] == "http://127.0.65.60:8080/"
    assert set(topo.endpoints(topology["services"]["dc"])) == {"ldap", "ldaps", "kerberos", "kpasswd", "dns", "admin"}


@pytest.mark.parametrize("name, expected", [
    ("admin", "http://127.0.65.30:8080/admin"),
    ("signin", "http://127.0.65.30:8080/login"),
    ("mail", "http://127.0.65.70:8080/"),
    ("mail:alice", "http://127.0.65.70:8080/?to=alice"),
    ("aws", "http://127.0.65.80:8080/signin"),
    ("webaccess", "http://127.0.65.50:8080/webclient"),
    ("alice", "http://127.0.65.60:8080/phone/alice"),
    ("Bob@corp.example.com", "http://127.0.65.60:8080/phone/bob"),
])
def test_open_names(topology, name, expected):
    assert page_url(topology, name) == expected


def test_open_refuses_what_is_not_a_page(topology):
    with pytest.raises(UsageError, match="no page called"):
        page_url(topology, "../etc")


def test_with_its_certificate_the_org_s_pages_are_https(tmp_path, topology):
    """What `lab up` writes (the lab CA's certificates in the topology): the org's pages are on its
    HTTPS port, as the org advertises itself; the other services' pages stay plain HTTP."""
    ca.issue_for_topology(tmp_path, topology)
    okta = topo.endpoints(topology["services"]["okta"])
    assert okta["api"] == "http://127.0.65.30:8080" and okta["https"] == "https://127.0.65.30:10443"
    assert okta["signin"] == "https://127.0.65.30:10443/login"
    assert page_url(topology, "admin") == "https://127.0.65.30:10443/admin"
    assert page_url(topology, "mail:alice") == "http://127.0.65.70:8080/?to=alice"
    assert org_url(topology) == "https://127.0.65.30:10443"
