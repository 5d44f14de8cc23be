"""`lab open NAME` and the page URLs `lab status` lists under each service's endpoints."""
import pytest

from lab import topology as topo
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
