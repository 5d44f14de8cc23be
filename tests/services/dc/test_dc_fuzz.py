"""Mutation fuzzing of the DC's network parsers, over the wire (its own DC on 127.0.75).

Valid LDAP messages (as ldap3 encodes them) and DNS queries (as dnspython encodes them) are
mutated with a fixed seed: bytes flipped, lengths bent, tails cut or padded. Whatever arrives, the
DC must answer it or close that one connection (LDAP) or stay silent (DNS) and keep serving, and
its log must hold no traceback: a traceback is a parser bug that cost somebody a connection.
The Kerberos KDC and the RADIUS agent have their own fuzz tests beside their other tests.
"""
from __future__ import annotations

import random
import socket
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest
from ldap3 import BASE, DEREF_NEVER, SIMPLE, SUBTREE
from ldap3.operation.bind import bind_operation
from ldap3.operation.compare import compare_operation
from ldap3.operation.extended import extended_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc2696 import paged_search_control
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from tests.support import running_services
from tests.support.fuzzing import LogWatch, mutate

SUBNET = "127.0.75"
BASE_DN = "DC=corp,DC=example,DC=com"
LDAP_CASES = 1000      # about 1 s on a quiet machine
DNS_CASES = 300        # about 5 s: silence costs a short receive timeout each


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    state = tmp_path_factory.mktemp("dc-fuzz")
    with running_services(["dc"], state, SUBNET, settings={"dc": {"generated_users": 20}}) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "ldap": svc["ports"]["ldap"], "dns": svc["ports"]["dns"],
               "log": Path(topology["state_dir"]) / "logs" / "dc.log"}


def _ldap(mid: int, name: str, op, controls=None) -> bytes:
    msg = LDAPMessage()
    msg["messageID"] = MessageID(mid)
    msg["protocolOp"] = ProtocolOp().setComponentByName(name, op)
    if controls:
        msg["controls"] = build_controls_list(controls)
    return encoder.encode(msg)


def ldap_corpus() -> list[bytes]:
    search = lambda f, attrs: search_operation(BASE_DN, f, SUBTREE, DEREF_NEVER, attrs, 10, 0, False,  # noqa: E731
                                               True, None, None, None, False)
    return [
        _ldap(1, "bindRequest", bind_operation(3, SIMPLE, f"CN=Alice Anderson,OU=Users,{BASE_DN}", "not-it")),
        _ldap(2, "bindRequest", bind_operation(3, SIMPLE, "CORP\\alice", "Alice-Passw0rd!")),
        _ldap(3, "searchRequest", search(
            "(&(objectCategory=person)(|(sAMAccountName=a*l*e)(!(mail=*)))(userAccountControl:1.2.840.113556.1.4.803:=2))",
            ["sAMAccountName", "memberOf", "1.1"])),
        _ldap(4, "searchRequest", search("(|(cn~=alice)(uSNChanged>=1)(uSNChanged<=99)(objectClass=*))", []),
              [paged_search_control(True, 3, b"")]),
        _ldap(5, "searchRequest", search_operation("", "(objectClass=*)", BASE, DEREF_NEVER,
                                                   ["supportedControl", "namingContexts"], 0, 0, False, True,
                                                   None, None, None, False)),
        _ldap(6, "compareRequest", compare_operation(f"CN=Alice Anderson,OU=Users,{BASE_DN}",
                                                     "sAMAccountName", "alice", False, None, None, False)),
        _ldap(7, "modifyRequest", modify_operation(f"CN=Alice Anderson,OU=Users,{BASE_DN}",
                                                   {"mail": [("MODIFY_REPLACE", ["x@example.com"])]},
                                                   False, None, None, False)),
        _ldap(8, "extendedReq", extended_operation("1.3.6.1.4.1.4203.1.11.3")),        # Who am I?
        _ldap(9, "extendedReq", extended_operation("1.3.6.1.4.1.1466.20037")),         # StartTLS
        # issue 16: a double negation (pyasn1 could not decode it), and nesting past the depth bound
        _ldap(10, "searchRequest", search("(!(!(|(sAMAccountName=alice)(!(!(cn=*))))))", ["cn"])),
        _ldap(11, "searchRequest", search("(!" * 100 + "(cn=alice)" + ")" * 100, ["cn"])),
    ]


def ldap_exchange(dc, payload: bytes) -> bytes:
    """Send one message, half-close, and read until the DC closes: all it said."""
    with socket.create_connection((dc["host"], dc["ldap"]), timeout=5) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_ldap_survives_mutated_messages_without_a_bug(dc):
    corpus, rnd = ldap_corpus(), random.Random(3890)
    for good in corpus:                 # the corpus itself is understood
        reply = ldap_exchange(dc, good)
        assert reply[:1] == b"\x30", good.hex()
    watch = LogWatch(dc["log"])
    for i in range(LDAP_CASES):
        # half the time as alice, so that searches get past the bind check into evaluation
        signed_in = corpus[1] if rnd.random() < 0.5 else b""
        payload = signed_in + mutate(rnd.choice(corpus), rnd)
        reply = ldap_exchange(dc, payload)
        assert reply == b"" or reply[0] == 0x30, f"case {i}: not LDAP back for {payload.hex()}"
    assert not watch.tracebacks()
    # and it still serves a real client
    assert ldap_exchange(dc, corpus[0])[:1] == b"\x30"


def dns_corpus() -> list[bytes]:
    queries = [dns.message.make_query("_ldap._tcp.corp.example.com", "SRV"),
               dns.message.make_query("_kerberos._tcp.dc._msdcs.corp.example.com", "SRV", use_edns=0),
               dns.message.make_query("dc1.corp.example.com", "A", want_dnssec=True),
               dns.message.make_query("corp.example.com", "SOA"),
               dns.message.make_query("corp.example.com", "ANY"),
               dns.message.make_query("nowhere.corp.example.com", "AAAA")]
    header = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    return [q.to_wire() for q in queries] + [
        # issue 16: what dnspython will not build: a 64-octet label, a question cut short
        header + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
        header + b"\x04corp\x07exam",
    ]


def test_dns_survives_mutated_queries_without_a_bug(dc):
    corpus, rnd = dns_corpus(), random.Random(1035)
    watch = LogWatch(dc["log"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.02)
        for _ in range(DNS_CASES):
            s.sendto(mutate(rnd.choice(corpus), rnd), (dc["host"], dc["dns"]))
            try:
                reply = s.recv(4096)   # an answer or silence: both are allowed, but an answer is DNS
                assert dns.message.from_wire(reply).flags & dns.flags.QR
            except TimeoutError:
                pass
    # TCP too: a length prefix, then a mutated message; the server keeps the port open
    for _ in range(30):
        payload = mutate(rnd.choice(corpus), rnd)
        with socket.create_connection((dc["host"], dc["dns"]), timeout=5) as t:
            t.sendall(len(payload).to_bytes(2, "big") + payload)
            t.shutdown(socket.SHUT_WR)
            while t.recv(4096):
                pass
    assert not watch.tracebacks()
    answer = dns.query.udp(dns.message.make_query("_ldap._tcp.corp.example.com", "SRV"), dc["host"],
                           port=dc["dns"], timeout=5)
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer
