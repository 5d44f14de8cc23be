"""The DC's DNS as a process: the SRV records AD Connector needs (dig over UDP and TCP, and
dnspython), NXDOMAIN with the SOA, REFUSED outside the zone, faults, and malformed packets."""
import shutil
import socket
import struct
import subprocess

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from tests.support import admin_headers, running_services

DOMAIN = "corp.example.com"
HAVE_DIG = shutil.which("dig") is not None


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-dns"), "127.0.83") as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "dns": svc["ports"]["dns"], "ldap": svc["ports"]["ldap"],
               "kerberos": svc["ports"]["kerberos"],
               "admin": f"http://{svc['host']}:{svc['ports']['admin']}", "auth": admin_headers(topology)}


def dig(dc, *args: str) -> str:
    out = subprocess.run(["dig", "-p", str(dc["dns"]), f"@{dc['host']}", "+time=2", "+tries=1", *args],
                         capture_output=True, text=True, timeout=10)
    return out.stdout


def query(dc, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(q, dc["host"], port=dc["dns"], timeout=3)


@pytest.mark.skipif(not HAVE_DIG, reason="dnsutils not installed")
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
@pytest.mark.parametrize("name,port_kind", [
    (f"_ldap._tcp.{DOMAIN}", "ldap"),
    (f"_kerberos._tcp.{DOMAIN}", "kerberos"),
    (f"_kerberos._udp.{DOMAIN}", "kerberos"),
    (f"_ldap._tcp.dc._msdcs.{DOMAIN}", "ldap"),
])
def test_dig_finds_the_dc_by_srv(dc, transport, name, port_kind):
    out = dig(dc, transport, "+short", "SRV", name)
    assert out.strip() == f"0 100 {dc[port_kind]} instancerdc.{DOMAIN}."


@pytest.mark.skipif(not HAVE_DIG, reason="dnsutils not installed")
def test_dig_a_records_and_authority(dc):
    assert dig(dc, "+short", "A", f"instancerdc.{DOMAIN}").strip() == dc["host"]
    assert dig(dc, "+short", "A", DOMAIN).strip() == dc["host"]
    full = dig(dc, "SRV", f"_ldap._tcp.{DOMAIN}")
    assert "flags: qr aa" in full and "status: NOERROR" in full
    additional = full.split(";; ADDITIONAL SECTION:")[1].split()
    assert additional[:5] == [f"instancerdc.{DOMAIN}.", "3600", "IN", "A", dc["host"]]


def test_srv_answer_carries_the_targets_address(dc):
    for tcp in (False, True):
        resp = query(dc, f"_ldap._tcp.{DOMAIN.upper()}", "SRV", tcp=tcp)
        assert resp.rcode() == dns.rcode.NOERROR and resp.flags & dns.flags.AA
        (srv,) = resp.answer[0]
        assert (srv.port, str(srv.target)) == (dc["ldap"], f"instancerdc.{DOMAIN}.")
        assert resp.additional[0][0].address == dc["host"]


def test_unknown_name_in_zone_is_nxdomain_with_soa(dc):
    resp = query(dc, f"nothere.{DOMAIN}", "A")
    assert resp.rcode() == dns.rcode.NXDOMAIN
    assert resp.authority[0].rdtype == dns.rdatatype.SOA
    nodata = query(dc, f"instancerdc.{DOMAIN}", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA


def test_names_outside_the_zone_are_refused(dc):
    assert query(dc, "www.example.org", "A").rcode() == dns.rcode.REFUSED


def test_remove_record_fault(dc, fresh):
    name = f"_kerberos._tcp.{DOMAIN}"
    httpx.post(f"{dc['admin']}/faults",
               json={"action": "remove_record", "protocol": "dns", "target": name},
               headers=dc["auth"]).raise_for_status()
    assert query(dc, name, "SRV").rcode() == dns.rcode.NXDOMAIN
    assert query(dc, f"_ldap._tcp.{DOMAIN}", "SRV").rcode() == dns.rcode.NOERROR


def test_remove_record_fault_honours_its_peer(dc, fresh):
    name = f"_kerberos._tcp.{DOMAIN}"

    def rcode_from(source: str) -> int:
        q = dns.message.make_query(name, "SRV")
        return dns.query.udp(q, dc["host"], port=dc["dns"], timeout=3, source=source).rcode()

    httpx.post(f"{dc['admin']}/faults", json={"action": "remove_record", "protocol": "dns", "target": name,
                                              "peer": "127.0.0.2"}, headers=dc["auth"]).raise_for_status()
    assert rcode_from("127.0.0.1") == dns.rcode.NOERROR
    assert rcode_from("127.0.0.2") == dns.rcode.NXDOMAIN


def test_drop_fault_swallows_queries(dc, fresh):
    httpx.post(f"{dc['admin']}/faults", json={"action": "drop", "protocol": "dns"},
               headers=dc["auth"]).raise_for_status()
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query(DOMAIN, "A"), dc["host"], port=dc["dns"], timeout=0.5)
    httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    assert query(dc, DOMAIN, "A").rcode() == dns.rcode.NOERROR


def test_a_delay_fault_holds_udp_answers_without_holding_up_other_queries(dc, fresh):
    """A delayed answer waits in a task of its own (services/common/udp.py): the asked-once and
    the kept answers both come back, with their own IDs, and the server goes on answering."""
    httpx.post(f"{dc['admin']}/faults", json={"action": "delay", "protocol": "dns", "seconds": 0.2},
               headers=dc["auth"]).raise_for_status()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            asked = [dns.message.make_query(f"_ldap._tcp.{DOMAIN}", "SRV") for _ in range(3)]
            for q in asked:                        # three in flight at once; the 2nd and 3rd are kept answers
                s.sendto(q.to_wire(), (dc["host"], dc["dns"]))
            got = {r.id: r for r in (dns.message.from_wire(s.recvfrom(4096)[0]) for _ in asked)}
        assert sorted(got) == sorted(q.id for q in asked)
        assert all(r.rcode() == dns.rcode.NOERROR and r.answer for r in got.values())
    finally:
        httpx.delete(f"{dc['admin']}/faults", headers=dc["auth"]).raise_for_status()
    assert query(dc, DOMAIN, "A").rcode() == dns.rcode.NOERROR


def _silence(dc, packet: bytes) -> None:
    """No answer over UDP; over TCP no answer either (silence, or the server hangs up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(packet, (dc["host"], dc["dns"]))
        with pytest.raises(socket.timeout):
            s.recvfrom(4096)
    with socket.create_connection((dc["host"], dc["dns"]), timeout=3) as s:
        s.sendall(struct.pack("!H", len(packet)) + packet)
        s.settimeout(0.3)
        try:
            assert s.recv(4096) == b""
        except TimeoutError:
            pass


# Too short for the 12-byte header (no ID to answer to), or QR set (a response, not a query).
@pytest.mark.parametrize("packet", [b"", b"\x00", b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00", b"\xff" * 700])
def test_packets_without_a_query_header_get_no_answer_and_the_server_keeps_serving(dc, packet):
    _silence(dc, packet)
    assert query(dc, f"_ldap._tcp.{DOMAIN}", "SRV").rcode() == dns.rcode.NOERROR


HEADER = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"    # ID 0x1234, RD, one question
QTAIL = b"\x00\x00\x01\x00\x01"                                    # root, type A, class IN


@pytest.mark.parametrize("packet", [
    HEADER + b"\x07corp",                                                # question cut short
    HEADER + b"\x40" + b"a" * 64 + QTAIL,                                 # a label of 64 octets
    HEADER + (b"\x3f" + b"a" * 63) * 4 + QTAIL,                          # a name of 257 octets
    HEADER + b"\x04corp\x07example\x03com",                              # no terminating root label
    b"garbage that is not dns at all",                                   # a header, then nonsense
])
def test_queries_whose_question_does_not_parse_get_formerr_with_their_id(dc, packet):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(packet, (dc["host"], dc["dns"]))
        udp = dns.message.from_wire(s.recvfrom(4096)[0])
    with socket.create_connection((dc["host"], dc["dns"]), timeout=3) as s:
        s.sendall(struct.pack("!H", len(packet)) + packet)
        (length,) = struct.unpack("!H", s.recv(2))
        tcp = dns.message.from_wire(s.recv(length))
    for reply in (udp, tcp):
        assert reply.id == int.from_bytes(packet[:2], "big")
        assert reply.rcode() == dns.rcode.FORMERR and reply.flags & dns.flags.QR
        assert not reply.question and not reply.answer
        assert reply.opcode() == (packet[2] >> 3) & 0xF           # echoed
    events = [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == "dns.malformed"]
    assert events[-1]["outcome"] == "FORMERR" and events[-1]["fields"]["reason"]
    assert query(dc, f"_ldap._tcp.{DOMAIN}", "SRV").rcode() == dns.rcode.NOERROR


@pytest.mark.skipif(not HAVE_DIG, reason="dig not installed")
def test_dig_header_only_query_gets_formerr(dc):
    # dig refuses to send a bad name itself; a query with no question is one it can send.
    out = dig(dc, "+header-only", f"_ldap._tcp.{DOMAIN}", "SRV")
    assert "status: FORMERR" in out and "QUERY: 0, ANSWER: 0" in out, out


def test_queries_are_recorded(dc, fresh):
    query(dc, f"_ldap._tcp.{DOMAIN}", "SRV")
    query(dc, f"missing.{DOMAIN}", "A")
    events = [e for e in httpx.get(f"{dc['admin']}/events", headers=dc["auth"]).json() if e["kind"] == "dns.query"]
    assert [(e["outcome"], e["fields"]["name"], e["fields"]["type"]) for e in events] == [
        ("NOERROR", f"_ldap._tcp.{DOMAIN}", "SRV"), ("NXDOMAIN", f"missing.{DOMAIN}", "A")]


def test_the_dc_address_resolves_back_to_its_name(dc):
    rev = ".".join(reversed(dc["host"].split("."))) + ".in-addr.arpa"
    resp = query(dc, rev, "PTR")
    assert resp.rcode() == dns.rcode.NOERROR and str(resp.answer[0][0].target) == f"instancerdc.{DOMAIN}."
    assert query(dc, "1.2.3.4.in-addr.arpa", "PTR").rcode() == dns.rcode.REFUSED


def test_edns_queries_get_an_opt_record(dc):
    q = dns.message.make_query(f"_ldap._tcp.{DOMAIN}", "SRV", use_edns=0, payload=4096)
    resp = dns.query.udp(q, dc["host"], port=dc["dns"], timeout=3)
    assert resp.edns == 0 and resp.rcode() == dns.rcode.NOERROR
