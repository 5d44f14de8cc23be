"""The lab's CA (lab/ca.py) without a running lab: made once per state directory with a private
key, leaf certificates that name the service's DNS name and every address it serves and chain to
the CA (checked by Python's ssl, as clients do), and the docker runtime's view of them."""
from __future__ import annotations

import ipaddress
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from lab import ca
from lab import docker_compose as dc
from lab import topology as topo


def san(cert_path: str) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), [str(i) for i in ext.get_values_for_type(x509.IPAddress)]


def test_the_ca_is_made_once_with_a_private_key(tmp_path):
    first = ca.LabCA(tmp_path)
    assert stat.S_IMODE(first.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.dir.stat().st_mode) == 0o700
    again = ca.LabCA(tmp_path)
    assert again.cert_path.read_bytes() == first.cert_path.read_bytes(), "kept, not made again"
    basic = first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca


def test_the_topology_gets_certificates_for_the_dc_the_mailbox_and_the_org_only(tmp_path):
    topology = topo.build(tmp_path, subnet="127.0.113")
    ca.issue_for_topology(tmp_path, topology)
    with_tls = {name for name, svc in topology["services"].items() if "tls" in svc}
    assert with_tls == {"dc", "mail", "okta"}
    assert san(topology["services"]["okta"]["tls"]["cert"]) == (["okta"], ["127.0.113.30"])
    assert topology["ca"]["cert"] == str(tmp_path / "ca" / "ca.pem")
    assert san(topology["services"]["dc"]["tls"]["cert"]) == (["instancerdc.corp.example.com"], ["127.0.113.10"])
    assert san(topology["services"]["mail"]["tls"]["cert"])[1] == ["127.0.113.70"]
    for name in with_tls:
        assert stat.S_IMODE((tmp_path / "tls" / name / "key.pem").stat().st_mode) == 0o600


def test_a_service_that_listens_on_every_address_names_127_0_0_1_and_its_advertised_ip(tmp_path):
    topology = topo.build(tmp_path, subnet="127.0.113")
    topology["services"]["dc"]["bind"] = "0.0.0.0"
    topology["services"]["dc"]["settings"]["advertise_ip"] = "192.0.2.10"
    ca.issue_for_topology(tmp_path, topology)
    assert san(topology["services"]["dc"]["tls"]["cert"])[1] == ["127.0.113.10", "127.0.0.1", "192.0.2.10"]


def test_openssl_verifies_the_chain_the_name_and_the_address(tmp_path):
    """What a client that trusts only the CA checks: the chain, and the name or address it dialled."""
    topology = topo.build(tmp_path, subnet="127.0.113")
    ca.issue_for_topology(tmp_path, topology)

    def verify(service: str, *check: str) -> int:
        return subprocess.run(["openssl", "verify", "-CAfile", topology["ca"]["cert"], *check,
                               topology["services"][service]["tls"]["cert"]], capture_output=True).returncode

    assert verify("mail") == 0
    assert verify("dc", "-verify_ip", "127.0.113.10") == 0
    assert verify("dc", "-verify_hostname", "instancerdc.corp.example.com") == 0
    assert verify("dc", "-verify_ip", "127.0.113.11") != 0
    other = tmp_path / "other"
    ca.LabCA(other)
    assert subprocess.run(["openssl", "verify", "-CAfile", str(other / "ca" / "ca.pem"),
                           topology["services"]["dc"]["tls"]["cert"]], capture_output=True).returncode != 0


def test_the_docker_runtime_mounts_each_services_own_certificate(tmp_path):
    (tmp_path / "docker").mkdir(mode=0o700)
    host = dc.container_topology(tmp_path, seed=topo.SEED_DEFAULT)
    dc.issue_certificates(tmp_path, host)
    key = tmp_path / "docker" / "tls" / "dc" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o644, "readable by the containers' user"
    assert san(host["services"]["dc"]["tls"]["cert"]) == (["instancerdc.corp.example.com"], ["172.28.10.10"])
    inside = dc.containers_view(host)
    # the containers see their own paths: the CA's certificate (never its key) for the agents, the
    # TLS-inspection certificate for the org alone
    assert inside["services"]["dc"]["tls"] == dc.CONTAINER_TLS and inside["ca"] == {"cert": "/etc/lab/ca.pem"}
    compose = dc.compose_text(inside)
    assert "./tls/dc/key.pem:/etc/lab/tls/key.pem:ro" in compose
    assert "./tls/mail/cert.pem:/etc/lab/tls/cert.pem:ro" in compose
    assert "./tls/okta/cert.pem:/etc/lab/tls/cert.pem:ro" in compose
    assert "./tls/ca.pem:/etc/lab/ca.pem:ro" in compose and "ca-key" not in compose and "ca/" not in compose
    assert [n for n, svc in inside["services"].items() if "tls_inspection" in svc] == ["okta"]
    assert all(str(path).startswith("/etc/lab/") for svc in inside["services"].values()
               for path in (svc.get("tls_inspection") or {}).values()), "no host path"


@pytest.mark.parametrize("subject", [ca.Subject(("x.example",), ("127.0.113.5",)), ca.Subject((), ("::1",))])
def test_issue_names_what_it_was_asked(tmp_path, subject):
    paths = ca.LabCA(tmp_path).issue(subject, tmp_path / "leaf")
    dns, ips = san(paths["cert"])
    assert dns == list(subject.dns) and [str(ipaddress.ip_address(i)) for i in subject.ips] == ips


def test_the_org_also_gets_a_tls_inspection_certificate_that_the_lab_ca_does_not_vouch_for(tmp_path):
    """What a TLS-inspecting proxy presents: the org's names, signed by the proxy's own CA."""
    topology = topo.build(tmp_path, subnet="127.0.113")
    ca.issue_for_topology(tmp_path, topology)
    org = topology["services"]["okta"]
    assert [n for n, svc in topology["services"].items() if "tls_inspection" in svc] == ["okta"]
    assert san(org["tls_inspection"]["cert"]) == san(org["tls"]["cert"])

    def verify(cafile: Path, cert: str) -> int:
        return subprocess.run(["openssl", "verify", "-CAfile", str(cafile), cert], capture_output=True).returncode

    inspection_ca = tmp_path / "ca" / ca.INSPECTION_DIR / ca.CA_CERT
    assert verify(inspection_ca, org["tls_inspection"]["cert"]) == 0
    assert verify(ca.ca_cert_path(tmp_path), org["tls_inspection"]["cert"]) != 0, "the agents refuse it"
    assert stat.S_IMODE((tmp_path / "ca" / ca.INSPECTION_DIR / ca.CA_KEY).stat().st_mode) == 0o600
