"""AD's LDAP policy limits on the DC as a process (its own DC on 127.0.52), and that a heavy search
never stops the loop that serves DNS and Kerberos.

MaxReceiveBuffer (a longer request: the connection is dropped), the filter bounds (over them:
adminLimitExceeded, answered without decoding the filter), MaxQueryDuration and the request's own
timeLimit (timeLimitExceeded). Clients: ldap3, dnspython, MIT kinit, and raw sockets where a
client would refuse to send the request. Latencies are printed (`pytest -s`), never asserted.
"""
from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest
from ldap3 import DEREF_NEVER, NONE, SIMPLE, SUBTREE, Connection, Server
from ldap3.operation.bind import bind_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import decoder, encoder

from tests.support import admin_headers, running_services

SUBNET = "127.0.52"
BASE_DN = "DC=corp,DC=example,DC=com"
REALM = "CORP.EXAMPLE.COM"
QUERY_SECONDS = 5          # the DC's MaxQueryDuration here (AD's default is 120)
HAVE_KINIT = shutil.which("kinit") is not None


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    state = tmp_path_factory.mktemp("dc-limits")
    settings = {"dc": {"generated_users": 2000, "ldap_max_query_seconds": QUERY_SECONDS}}
    with running_services(["dc"], state, SUBNET, settings=settings) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "ldap": svc["ports"]["ldap"], "dns": svc["ports"]["dns"],
               "kerberos": svc["ports"]["kerberos"], "admin": f"http://{svc['host']}:{svc['ports']['admin']}",
               "log": Path(topology["state_dir"]) / "logs" / "dc.log", "auth": admin_headers(topology)}


# -- BER by hand, for requests no client library would build -------------------------------------
def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def search_request(mid: int, flt: bytes, base: str = BASE_DN) -> bytes:
    body = (tlv(0x04, base.encode()) + b"\x0a\x01\x02" + b"\x0a\x01\x00" + b"\x02\x01\x00" + b"\x02\x01\x00"
            + b"\x01\x01\x00" + flt + tlv(0x30, tlv(0x04, b"cn")))
    return tlv(0x30, b"\x02\x01" + bytes([mid]) + tlv(0x63, body))


def equality(attr: str, value: str) -> bytes:
    return tlv(0xA3, tlv(0x04, attr.encode()) + tlv(0x04, value.encode()))


def ldap_message(mid: int, name: str, op) -> bytes:
    msg = LDAPMessage()
    msg["messageID"] = MessageID(mid)
    msg["protocolOp"] = ProtocolOp().setComponentByName(name, op)
    return encoder.encode(msg)


def read_reply(s: socket.socket) -> LDAPMessage:
    """One LDAPMessage off the socket."""
    data = b""
    while True:
        if len(data) >= 2:
            n, head = data[1], 2
            if n & 0x80:
                head = 2 + (n & 0x7F)
                n = int.from_bytes(data[2:head], "big") if len(data) >= head else 1 << 30
            if len(data) >= head + n:
                return decoder.decode(data[:head + n], asn1Spec=LDAPMessage())[0]
        chunk = s.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk


def result_of(msg) -> tuple[str, int, str]:
    op = msg["protocolOp"]
    res = op.getComponent()
    return op.getName(), int(res["resultCode"]), str(res["diagnosticMessage"])


def events(dc, kind: str) -> list[dict]:
    return [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == kind]


# -- MaxReceiveBuffer ----------------------------------------------------------------------------
def test_a_request_over_max_receive_buffer_gets_the_connection_dropped(dc):
    announced = 10_485_760 + 1                      # AD's default MaxReceiveBuffer, plus one
    received = b""
    with socket.create_connection((dc["host"], dc["ldap"]), timeout=10) as s:
        try:
            s.sendall(b"\x30\x84" + announced.to_bytes(4, "big") + b"\x02\x01\x01" + b"\x00" * 65536)
            while chunk := s.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass                                    # dropped while we were still sending
    assert received == b""                          # no Notice of Disconnection, nothing at all
    dropped = events(dc, "ldap.connection")[-1]
    assert dropped["outcome"] == "dropped" and "MaxReceiveBuffer" in dropped["fields"]["reason"]
    # one exactly at a normal size is served on a new connection
    with Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), "CORP\\alice", "Alice-Passw0rd!") as c:
        assert c.search(BASE_DN, "(sAMAccountName=alice)", attributes=["cn"]) and len(c.entries) == 1


# -- the filter bounds ---------------------------------------------------------------------------
def test_the_issues_huge_or_filter_is_refused_with_admin_limit_exceeded_without_being_decoded(dc):
    terms = [equality("cn", f"user{i:07d}") for i in range(122_000)]      # about 2.3 MB, as in the issue
    request = search_request(7, tlv(0xA1, b"".join(terms)))
    assert len(request) > 2_300_000
    with socket.create_connection((dc["host"], dc["ldap"]), timeout=60) as s:
        started = time.monotonic()
        s.sendall(request)
        reply = read_reply(s)
        took = time.monotonic() - started
    print(f"\n2.3 MB OR filter, anonymous: answered in {took * 1000:.0f} ms")
    name, code, diagnostic = result_of(reply)
    assert (int(reply["messageID"]), name, code) == (7, "searchResDone", 11)    # adminLimitExceeded
    assert diagnostic.startswith("00002024: SvcErr:") and "ADMIN_LIMIT_EXCEEDED" in diagnostic
    assert events(dc, "ldap.search")[-1]["fields"]["terms"] == 10_001          # counting stopped there


def test_a_filter_nested_deeper_than_the_bound_is_refused_and_one_at_the_bound_is_served(dc):
    def nested(depth: int) -> str:
        return "(!" * (depth - 1) + "(sAMAccountName=alice)" + ")" * (depth - 1)

    with Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), "CORP\\alice", "Alice-Passw0rd!") as c:
        assert not c.search(BASE_DN, nested(101))
        assert c.result["result"] == 11 and "ADMIN_LIMIT_EXCEEDED" in c.result["message"]
        c.search(BASE_DN, nested(99), attributes=["cn"])          # 99 levels: evaluated (98 NOTs)
        assert c.result["result"] == 0 and len(c.entries) == 1
    assert "Traceback" not in dc["log"].read_text()


# -- MaxQueryDuration, and the loop stays free ---------------------------------------------------
def heavy_filter() -> str:
    """4000 substring terms no entry matches: every term is tried on each of ~2000 entries."""
    return "(|" + "".join(f"(cn=*zq{i}x*)" for i in range(4000)) + ")"


def krb5_conf(dc, directory: Path) -> str:
    path = directory / "krb5.conf"
    path.write_text(f"[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n rdns = false\n"
                    f"[realms]\n {REALM} = {{\n  kdc = {dc['host']}:{dc['kerberos']}\n }}\n")
    return str(path)


def pending(s: socket.socket) -> bool:
    """True while the LDAP reply has not started to arrive."""
    return not select.select([s], [], [], 0)[0]


@pytest.mark.skipif(not HAVE_KINIT, reason="krb5-user (kinit) not installed")
def test_dns_and_kerberos_answer_while_a_heavy_search_runs_until_max_query_duration(dc, tmp_path):
    search = search_operation(BASE_DN, heavy_filter(), SUBTREE, DEREF_NEVER, ["cn"], 0, 0, False, True,
                              None, None, None, False)
    env = dict(os.environ, KRB5_CONFIG=krb5_conf(dc, tmp_path), KRB5CCNAME=f"FILE:{tmp_path}/ccache")
    with socket.create_connection((dc["host"], dc["ldap"]), timeout=120) as s:
        s.sendall(ldap_message(1, "bindRequest", bind_operation(3, SIMPLE, "CORP\\alice", "Alice-Passw0rd!")))
        assert result_of(read_reply(s))[1] == 0
        started = time.monotonic()
        s.sendall(ldap_message(2, "searchRequest", search))
        time.sleep(0.2)                                  # let the DC read it and start
        dns_ms, dns_during = [], 0
        for _ in range(5):
            t = time.monotonic()
            answer = dns.query.udp(dns.message.make_query("_ldap._tcp.corp.example.com", "SRV"), dc["host"],
                                   port=dc["dns"], timeout=30)
            dns_ms.append((time.monotonic() - t) * 1000)
            assert answer.rcode() == dns.rcode.NOERROR and answer.answer
            dns_during += pending(s)
        t = time.monotonic()
        kinit = subprocess.run(["kinit", "alice"], input="Alice-Passw0rd!\n", capture_output=True, text=True,
                               env=env, timeout=60)
        kinit_ms = (time.monotonic() - t) * 1000
        kinit_during = pending(s)
        assert kinit.returncode == 0, kinit.stderr
        reply = read_reply(s)
        search_s = time.monotonic() - started
    print(f"\nDNS while searching: {', '.join(f'{ms:.1f}' for ms in dns_ms)} ms; kinit {kinit_ms:.0f} ms; "
          f"search stopped after {search_s:.1f} s (MaxQueryDuration {QUERY_SECONDS} s)")
    # answered while the search was still running (its reply had not begun), not after it
    assert dns_during == 5 and kinit_during
    name, code, diagnostic = result_of(reply)
    assert (name, code) == ("searchResDone", 3)          # timeLimitExceeded
    assert diagnostic.startswith("00002022: SvcErr:") and "TIME_EXCEEDED" in diagnostic


def test_the_requests_own_time_limit_stops_the_search_too(dc):
    with Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), "CORP\\alice", "Alice-Passw0rd!",
                    receive_timeout=60) as c:
        c.search(BASE_DN, heavy_filter(), attributes=["cn"], time_limit=1)
        assert c.result["result"] == 3 and c.result["description"] == "timeLimitExceeded"
        # and the same connection goes on in order
        assert c.search(BASE_DN, "(sAMAccountName=bob)", attributes=["cn"]) and len(c.entries) == 1
    assert events(dc, "ldap.search")[-2]["outcome"] == "timeLimitExceeded"
