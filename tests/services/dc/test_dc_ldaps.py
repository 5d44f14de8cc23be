"""LDAPS (TLS from the first byte, 636; 10636 in the process runtime) with the certificate the lab
makes for the DC's name, through Debian's ldapsearch and through ldap3; and StartTLS over a raw
socket: plaintext sent behind the request is never answered over TLS."""
import os
import shutil
import socket
import ssl
import subprocess

import ldap3
import pytest

from tests.services.dc.support import recv_exactly
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


# -- StartTLS and plaintext sent after it ---------------------------------------------------------
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


def _message(msgid: int, op: bytes) -> bytes:
    body = bytes([0x02, 0x01, msgid]) + op
    return bytes([0x30, len(body)]) + body


def _root_dse_search(msgid: int) -> bytes:
    # baseObject "", scope base, no deref, no limits, typesOnly false, (objectClass=*), no attributes
    op = (b"\x04\x00" b"\x0a\x01\x00" b"\x0a\x01\x00" b"\x02\x01\x00" b"\x02\x01\x00" b"\x01\x01\x00"
          b"\x87\x0bobjectClass" b"\x30\x00")
    return _message(msgid, bytes([0x63, len(op)]) + op)


def _read_message_id(read) -> int:
    """The messageID of the next LDAPMessage `read(n)` yields, its whole body consumed."""
    assert read(1) == b"\x30"
    first = read(1)[0]
    length = first if first < 0x80 else int.from_bytes(read(first & 0x7F), "big")
    body = read(length)
    assert body[:2] == b"\x02\x01", body[:8]
    return body[2]


def test_plaintext_pipelined_after_starttls_is_never_answered_over_tls(dc):
    """A request sent in clear right behind StartTLS (RFC 4511 4.14.1 forbids the client to send
    one) must not be taken as if it had come over TLS: an attacker in the path could inject it
    (the STARTTLS command-injection class, CVE-2011-0411 for SMTP). The DC drops it; the first
    answer over TLS is to the first request sent over TLS."""
    extended = bytes([0x77, 2 + len(STARTTLS_OID), 0x80, len(STARTTLS_OID)]) + STARTTLS_OID
    raw = socket.create_connection((dc["host"], dc["ports"]["ldap"]), timeout=10)
    try:
        raw.sendall(_message(1, extended) + _root_dse_search(2))     # one segment: StartTLS + injected
        assert _read_message_id(lambda n: recv_exactly(raw, n)) == 1    # the ExtendedResponse, in clear
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        tls = context.wrap_socket(raw, server_hostname=dc["host"])
        tls.sendall(_root_dse_search(3))
        assert _read_message_id(lambda n: recv_exactly(tls, n)) == 3         # not 2: the injected search was dropped
    finally:
        raw.close()
