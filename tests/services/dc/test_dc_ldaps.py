"""LDAPS (TLS from the first byte, 636; 10636 in the process runtime) with the certificate the lab
makes for the DC's name, through Debian's ldapsearch and through ldap3."""
import os
import shutil
import ssl
import subprocess

import ldap3
import pytest

from tests.support import running_services

SUBNET = "127.0.74"


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-ldaps"), SUBNET) as topology:
        yield topology["services"]["dc"]


@pytest.mark.skipif(shutil.which("ldapsearch") is None, reason="ldap-utils is not installed")
def test_ldapsearch_over_ldaps(dc):
    url = f"ldaps://{dc['host']}:{dc['ports']['ldaps']}"
    out = subprocess.run(["ldapsearch", "-LLL", "-H", url, "-x", "-D", "CORP\\alice", "-w", "Alice-Passw0rd!",
                          "-b", "DC=corp,DC=example,DC=com", "(sAMAccountName=bob)", "mail"],
                         capture_output=True, text=True, timeout=20,
                         env=dict(os.environ, LDAPTLS_REQCERT="never"))
    assert out.returncode == 0, out.stderr
    assert "mail: bob@corp.example.com" in out.stdout


def test_ldap3_over_ldaps_sees_the_dcs_certificate(dc):
    tls = ldap3.Tls(validate=ssl.CERT_NONE)
    server = ldap3.Server(dc["host"], port=dc["ports"]["ldaps"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user="alice@corp.example.com", password="Alice-Passw0rd!")
    assert conn.bind()
    cert = conn.socket.getpeercert(binary_form=True)
    assert cert and b"instancerdc.corp.example.com" in cert
    bad = ldap3.Connection(server, user="alice@corp.example.com", password="wrong")
    assert not bad.bind() and "data 52e" in bad.result["message"]
    conn.unbind()


def test_plain_ldap_on_the_ldaps_port_is_closed_not_answered(dc):
    server = ldap3.Server(dc["host"], port=dc["ports"]["ldaps"], get_info=ldap3.NONE, connect_timeout=3)
    conn = ldap3.Connection(server, user="alice@corp.example.com", password="Alice-Passw0rd!",
                            receive_timeout=3, raise_exceptions=False)
    with pytest.raises(ldap3.core.exceptions.LDAPException):
        conn.bind()
