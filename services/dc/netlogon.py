"""The Netlogon structures a DC returns to an LDAP ping (MS-ADTS 6.3.1.7 - 6.3.1.9), byte for byte.

All integers are little-endian except the IPv4 addresses (network order). Names in the 5EX form are
RFC 1035 names with message compression, the pointers counting from the start of the structure
(so `corp.example.com` is written once and `instancerdc.corp.example.com` is one label and a
pointer); the older forms carry NUL-terminated UTF-16LE strings.

Flags: the DC's role bits (MS-ADTS 6.3.1.2 DS_FLAG): PDC, GC, LDAP, DS, KDC, time server (and a
good one), writable, full secret domain (not an RODC), web service (ADWS), DS_8/9/10 (Windows Server
2012 / 2012 R2 / 2016 functional level), and CLOSEST: the lab has one site,
`Default-First-Site-Name`, and every client is placed in it (a lab choice: AD maps the client's
address to a site through subnet objects, which the lab does not model). That is 0x0001F3FD, the
value a Windows Server 2016+ PDC answers with.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

LOGON_SAM_LOGON_RESPONSE, LOGON_SAM_USER_UNKNOWN = 19, 21
LOGON_SAM_LOGON_RESPONSE_EX, LOGON_SAM_USER_UNKNOWN_EX = 23, 25
NT_VERSION_1, NT_VERSION_5, NT_VERSION_5EX, NT_VERSION_5EX_WITH_IP = 0x1, 0x2, 0x4, 0x8
DS_FLAGS = {"PDC": 0x1, "GC": 0x4, "LDAP": 0x8, "DS": 0x10, "KDC": 0x20, "TIMESERV": 0x40, "CLOSEST": 0x80,
            "WRITABLE": 0x100, "GOOD_TIMESERV": 0x200, "FULL_SECRET_DOMAIN_6": 0x1000, "WS": 0x2000,
            "DS_8": 0x4000, "DS_9": 0x8000, "DS_10": 0x10000}
DC_FLAGS = sum(DS_FLAGS.values())            # 0x0001F3FD
SITE = "Default-First-Site-Name"
LM_TOKENS = b"\xff\xff\xff\xff"              # LmNtToken, Lm20Token


@dataclass
class DcInfo:
    domain_guid: bytes
    forest: str
    domain: str
    host: str
    netbios_domain: str
    netbios_host: str
    ip: str


def response_ex(dc: DcInfo, user: str, user_known: bool, requested: int) -> bytes:
    """NETLOGON_SAM_LOGON_RESPONSE_EX (MS-ADTS 6.3.1.9)."""
    opcode = LOGON_SAM_LOGON_RESPONSE_EX if user_known else LOGON_SAM_USER_UNKNOWN_EX
    out = bytearray(struct.pack("<HHI", opcode, 0, DC_FLAGS) + dc.domain_guid)
    names = _Compressor(out)
    for name in (dc.forest, dc.domain, dc.host, dc.netbios_domain, dc.netbios_host, user, SITE, SITE):
        names.write(name)
    version = NT_VERSION_1 | NT_VERSION_5EX
    if requested & NT_VERSION_5EX_WITH_IP:
        out += bytes([16]) + _sockaddr(dc.ip)
        version |= NT_VERSION_5EX_WITH_IP
    # NextClosestSiteName only when there is one: a client asking with WITH_CLOSEST_SITE (0x10)
    # gets neither the name nor the bit from a single-site domain (a real DC's answer to 0x16 shows it).
    out += struct.pack("<I", version) + LM_TOKENS
    return bytes(out)


def response_v5(dc: DcInfo, user: str, user_known: bool) -> bytes:
    """NETLOGON_SAM_LOGON_RESPONSE (MS-ADTS 6.3.1.8)."""
    opcode = LOGON_SAM_LOGON_RESPONSE if user_known else LOGON_SAM_USER_UNKNOWN
    out = bytearray(struct.pack("<H", opcode) + _wide("\\\\" + dc.netbios_host) + _wide(user)
                    + _wide(dc.netbios_domain) + dc.domain_guid + bytes(16))
    names = _Compressor(out)
    for name in (dc.forest, dc.domain, dc.host):
        names.write(name)
    out += socket.inet_aton(dc.ip) + struct.pack("<II", DC_FLAGS, NT_VERSION_1 | NT_VERSION_5) + LM_TOKENS
    return bytes(out)


def response_nt40(dc: DcInfo, user: str, user_known: bool) -> bytes:
    """NETLOGON_SAM_LOGON_RESPONSE_NT40 (MS-ADTS 6.3.1.7)."""
    opcode = LOGON_SAM_LOGON_RESPONSE if user_known else LOGON_SAM_USER_UNKNOWN
    return (struct.pack("<H", opcode) + _wide("\\\\" + dc.netbios_host) + _wide(user) + _wide(dc.netbios_domain)
            + struct.pack("<I", NT_VERSION_1) + LM_TOKENS)


class _Compressor:
    """Appends RFC 1035 names to `out`, pointing at a suffix already written when there is one."""

    def __init__(self, out: bytearray):
        self.out = out
        self.seen: dict[tuple[str, ...], int] = {}

    def write(self, name: str) -> None:
        labels = [label for label in name.rstrip(".").split(".") if label] if name else []
        for i in range(len(labels)):
            suffix = tuple(label.lower() for label in labels[i:])
            at = self.seen.get(suffix)
            if at is not None:
                self.out += struct.pack(">H", 0xC000 | at)
                return
            if len(self.out) < 0x3FFF:
                self.seen[suffix] = len(self.out)
            raw = labels[i].encode("utf-8")[:63]
            self.out += bytes([len(raw)]) + raw
        self.out += b"\x00"


def _wide(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def _sockaddr(ip: str) -> bytes:
    """SOCKADDR_IN as Windows lays it out: family 2 (little-endian), port 0, address, 8 zeros."""
    return struct.pack("<HH", socket.AF_INET, 0) + socket.inet_aton(ip) + bytes(8)

