"""CLDAP on the DC's LDAP port over UDP: the netlogon "LDAP ping" and everything else a datagram can hold.

The request is encoded by ldap3 (a client nobody here wrote); the Netlogon structure is read back
by the decoder below, written from MS-ADTS 6.3.1.9 and checked against the bytes of a real Windows
DC's answer (a public capture, `REAL_DC_RESPONSE`). A fuzz pass mutates the pings as the TCP fuzz
does and fails on any traceback in the DC's log.
"""
from __future__ import annotations

import random
import socket
import struct
import uuid
from pathlib import Path

import pytest
from ldap3 import BASE, DEREF_NEVER, SIMPLE, SUBTREE
from ldap3.operation.bind import bind_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import decoder, encoder

from services.dc import netlogon
from tests.support import running_services
from tests.support.fuzzing import LogWatch, mutate

SUBNET = "127.0.141"
FUZZ_CASES = 300       # silence costs a 0.1 s receive timeout each
# A Windows Server DC's NETLOGON_SAM_LOGON_RESPONSE_EX for domain.test / DC01 (NtVer 0x16), as
# published with the tests of the LocalKdc project: guid 6876eb1a-..., flags 0x0007F3FD.
REAL_DC_RESPONSE = bytes.fromhex(
    "17000000FDF307001AEB7668C6B2CA4BB69CFEDA682E82FD06646F6D61696E047465737400C0180444433031C01806444F"
    "4D41494E00044443303100001744656661756C742D46697273742D536974652D4E616D6500C03D05000000FFFFFFFF")


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    with running_services(["dc"], tmp_path_factory.mktemp("dc-cldap"), SUBNET) as topology:
        svc = topology["services"]["dc"]
        yield {"host": svc["host"], "ldap": svc["ports"]["ldap"],
               "log": Path(topology["state_dir"]) / "logs" / "dc.log"}


def message(mid: int, name: str, op) -> bytes:
    msg = LDAPMessage()
    msg["messageID"] = MessageID(mid)
    msg["protocolOp"] = ProtocolOp().setComponentByName(name, op)
    return encoder.encode(msg)


def ping_request(mid: int, flt: str, attributes=("Netlogon",), base: str = "", scope=BASE) -> bytes:
    return message(mid, "searchRequest", search_operation(base, flt, scope, DEREF_NEVER, list(attributes), 0, 0,
                                                          False, True, None, None, None, False))


def ntver(value: int) -> str:
    return "".join(f"\\{b:02x}" for b in struct.pack("<I", value))


def udp(dc, payload: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (dc["host"], dc["ldap"]))
        try:
            return s.recvfrom(65536)[0]
        except TimeoutError:
            return None


def messages(datagram: bytes) -> list:
    out = []
    while datagram:
        msg, datagram = decoder.decode(datagram, asn1Spec=LDAPMessage())
        out.append(msg)
    return out


def netlogon_value(reply: bytes) -> bytes:
    entry, done = messages(reply)
    assert entry["protocolOp"].getName() == "searchResEntry" and str(entry["protocolOp"].getComponent()["object"]) == ""
    assert int(done["protocolOp"]["searchResDone"]["resultCode"]) == 0
    attrs = {str(a["type"]): [bytes(v) for v in a["vals"]] for a in entry["protocolOp"].getComponent()["attributes"]}
    return attrs["Netlogon"][0]


# -- an independent reader of the structure (MS-ADTS 6.3.1.9) --------------------------------------
def read_names(data: bytes, at: int, count: int) -> tuple[list[str], int]:
    names = []
    for _ in range(count):
        labels, pos, end = [], at, None
        while True:
            n = data[pos]
            if n >= 0xC0:
                end = end or pos + 2
                pos = ((n & 0x3F) << 8) | data[pos + 1]
            elif n == 0:
                end = end or pos + 1
                break
            else:
                labels.append(data[pos + 1:pos + 1 + n].decode())
                pos += 1 + n
        names.append(".".join(labels))
        at = end
    return names, at


def read_ex(data: bytes, with_ip: bool = False) -> dict:
    opcode, sbz, flags = struct.unpack_from("<HHI", data)
    guid = uuid.UUID(bytes_le=data[8:24])
    names, at = read_names(data, 24, 8)
    out = dict(zip(["forest", "domain", "host", "netbios_domain", "netbios_host", "user", "dc_site",
                    "client_site"], names, strict=True))
    if with_ip:
        size = data[at]
        family, port = struct.unpack_from("<HH", data, at + 1)
        out["sockaddr"] = (size, family, port, socket.inet_ntoa(data[at + 5:at + 9]))
        at += 1 + size
    version, lmnt, lm20 = struct.unpack_from("<IHH", data, at)
    assert at + 8 == len(data), "trailing bytes"
    return {**out, "opcode": opcode, "sbz": sbz, "flags": flags, "guid": guid, "nt_version": version,
            "tokens": (lmnt, lm20)}


# -- the structure itself, against a real DC's bytes ---------------------------------------------
def test_the_encoder_lays_out_a_real_dcs_answer_byte_for_byte():
    real = read_ex(REAL_DC_RESPONSE)
    dc = netlogon.DcInfo(domain_guid=uuid.UUID(str(real["guid"])).bytes_le, forest="domain.test",
                         domain="domain.test", host="DC01.domain.test", netbios_domain="DOMAIN",
                         netbios_host="DC01", ip="127.0.0.1")
    ours = netlogon.response_ex(dc, "", True, 0x16)
    # Everything but the flags (that DC is a Windows Server 2025 one: key list and DS_13 bits too).
    assert ours[:4] + ours[8:] == REAL_DC_RESPONSE[:4] + REAL_DC_RESPONSE[8:]
    assert real["flags"] & netlogon.DC_FLAGS == netlogon.DC_FLAGS


# -- the LDAP ping over UDP -----------------------------------------------------------------------
def test_ldap_ping_5ex_answers_with_the_dcs_names_and_flags(dc):
    reply = udp(dc, ping_request(7, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(0x16)}))"))
    assert reply is not None
    assert [int(m["messageID"]) for m in messages(reply)] == [7, 7]
    got = read_ex(netlogon_value(reply))
    assert got["opcode"] == 23 and got["sbz"] == 0
    assert got["forest"] == got["domain"] == "corp.example.com"
    assert got["host"].lower() == "instancerdc.corp.example.com"
    assert (got["netbios_domain"], got["netbios_host"], got["user"]) == ("CORP", "INSTANCERDC", "")
    assert got["dc_site"] == got["client_site"] == "Default-First-Site-Name"
    assert got["nt_version"] == 5 and got["tokens"] == (0xFFFF, 0xFFFF)
    # PDC, GC, LDAP, DS, KDC, time server, closest, writable
    for bit in (0x1, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100):
        assert got["flags"] & bit


def test_the_domain_guid_is_the_domain_objects(dc):
    from ldap3 import NONE, Connection, Server
    c = Connection(Server(dc["host"], port=dc["ldap"], get_info=NONE), user="CORP\\Administrator",
                   password="Admin-Passw0rd!", auto_bind=True)
    c.search("DC=corp,DC=example,DC=com", "(objectClass=domain)", BASE, attributes=["objectGUID"])
    guid = c.entries[0].entry_raw_attributes["objectGUID"][0]
    c.unbind()
    got = read_ex(netlogon_value(udp(dc, ping_request(1, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(6)}))"))))
    assert got["guid"].bytes_le == guid
    # and a ping naming the domain by that GUID is answered too
    escaped = "".join(f"\\{b:02x}" for b in guid)
    assert read_ex(netlogon_value(udp(dc, ping_request(2, f"(&(DomainGuid={escaped})(NtVer={ntver(6)}))"))))


def test_with_ip_the_answer_carries_the_dcs_socket_address(dc):
    got = read_ex(netlogon_value(udp(dc, ping_request(3, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(0xE)}))"))),
                  with_ip=True)
    assert got["sockaddr"] == (16, 2, 0, dc["host"])
    assert got["nt_version"] == 0xD


@pytest.mark.parametrize("user,opcode,shown", [("alice", 23, "alice"), ("nobody-here", 25, "nobody-here")])
def test_a_user_in_the_ping_is_looked_up(dc, user, opcode, shown):
    got = read_ex(netlogon_value(udp(dc, ping_request(
        4, f"(&(DnsDomain=corp.example.com)(User={user})(AAC=\\10\\00\\00\\00)(NtVer={ntver(6)}))"))))
    assert got["opcode"] == opcode and got["user"] == shown


def test_older_nt_versions_get_the_older_structures(dc):
    v5 = netlogon_value(udp(dc, ping_request(5, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(2)}))")))
    assert struct.unpack_from("<H", v5)[0] == 19
    assert v5[2:].startswith("\\\\INSTANCERDC\x00".encode("utf-16-le"))
    assert v5.endswith(struct.pack("<I", 3) + b"\xff\xff\xff\xff")
    assert socket.inet_aton(dc["host"]) in v5
    nt40 = netlogon_value(udp(dc, ping_request(6, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(1)}))")))
    assert nt40 == (struct.pack("<H", 19) + "\\\\INSTANCERDC\x00\x00CORP\x00".encode("utf-16-le")
                    + struct.pack("<I", 1) + b"\xff\xff\xff\xff")


@pytest.mark.parametrize("flt", [
    f"(&(DnsDomain=other.example.net)(NtVer={ntver(6)}))",
    f"(&(DomainGuid=\\00\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f)(NtVer={ntver(6)}))",
    "(&(DnsDomain=corp.example.com))",
])
def test_a_ping_for_another_domain_or_without_ntver_gets_no_entry(dc, flt):
    (done,) = messages(udp(dc, ping_request(8, flt)))
    assert done["protocolOp"].getName() == "searchResDone"
    assert int(done["protocolOp"]["searchResDone"]["resultCode"]) == 0


def test_rootdse_over_udp_and_nothing_else(dc):
    entry, done = messages(udp(dc, ping_request(9, "(objectClass=*)", ["defaultNamingContext"])))
    attrs = {str(a["type"]): [bytes(v) for v in a["vals"]] for a in entry["protocolOp"].getComponent()["attributes"]}
    assert attrs == {"defaultNamingContext": [b"DC=corp,DC=example,DC=com"]}
    (done,) = messages(udp(dc, ping_request(10, "(sAMAccountName=alice)", ["cn"], "DC=corp,DC=example,DC=com",
                                            SUBTREE)))
    result = done["protocolOp"]["searchResDone"]
    assert int(result["resultCode"]) == 1 and str(result["diagnosticMessage"]).startswith("000004DC")
    (bind,) = messages(udp(dc, message(11, "bindRequest", bind_operation(3, SIMPLE, "CORP\\alice", "Alice-Passw0rd!"))))
    assert bind["protocolOp"].getName() == "bindResponse"
    assert int(bind["protocolOp"]["bindResponse"]["resultCode"]) == 2
    assert udp(dc, b"\x30\x03\x02\x01", timeout=0.5) is None       # not LDAP: no answer


def test_cldap_survives_mutated_pings_without_a_bug(dc):
    corpus = [ping_request(1, f"(&(DnsDomain=corp.example.com)(Host=WS01)(User=alice)(AAC=\\10\\00\\00\\00)"
                              f"(NtVer={ntver(0x16)}))"),
              ping_request(2, f"(&(DnsDomain=corp.example.com)(NtVer={ntver(2)}))"),
              ping_request(3, "(objectClass=*)", ["namingContexts", "Netlogon"]),
              message(4, "bindRequest", bind_operation(3, SIMPLE, "CORP\\alice", "x"))]
    rnd = random.Random(389)
    watch = LogWatch(dc["log"])
    for i in range(FUZZ_CASES):
        payload = mutate(rnd.choice(corpus), rnd)
        reply = udp(dc, payload, timeout=0.1)
        assert reply is None or reply[0] == 0x30, f"case {i}: not LDAP back for {payload.hex()}"
    assert not watch.tracebacks()
    assert netlogon_value(udp(dc, corpus[1]))[:2] == struct.pack("<H", 19)     # still serving
