"""The Privilege Attribute Certificate AD puts in its tickets (MS-PAC), built and signed.

Buffers emitted, in AD's order:
- 1  PAC_LOGON_INFO: KERB_VALIDATION_INFO (NDR, MS-RPCE type serialization v1): logon and
  password times, names, logon count, the user's RID, primary group 513 and the RIDs of the
  domain groups it is a member of (primary group included, as AD does), the domain's SID and
  NetBIOS name, userAccountControl as SAM flags, and the extra SID S-1-18-1 ("authentication
  authority asserted identity") that AD adds to every Kerberos logon;
- 10 PAC_CLIENT_INFO: the authentication time and the client's name;
- 12 UPN_DNS_INFO: the UPN and the DNS domain (flag 1 when the UPN is the implicit sam@domain);
- 6  server checksum: HMAC-SHA1-96 (AES256) over the whole PAC with both signatures zeroed, in
  the key of the service the ticket is for;
- 7  KDC checksum: over the server checksum's bytes, in krbtgt's key.
Left out (AD emits them in some cases or since the 2021/2022 updates): 2 credentials (PKINIT
only), 11 S4U delegation info, 13/14/15 claims and device info, 16 ticket checksum, 17 attributes
info, 18 requestor SID, 19 extended KDC checksum. MIT clients never read the PAC; the lab's GSSAPI
acceptor checks the server checksum.

KERB_VALIDATION_INFO is written by hand in NDR (`_logon_info`: impacket's NDR classes took about
5 ms a logon, up to half the DC's CPU in a sign-in); the tests read it back with impacket's
`VALIDATION_INFO` and compare it byte for byte with impacket's encoding of the same logon, but for
what NDR leaves to the writer (referent IDs, padding bytes, the private header's filler), where
this follows Windows: referent IDs 0x00020000 + 4n, zero padding, the object buffer a multiple
of 8 bytes (MS-RPCE 2.2.6.2).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from . import krb_crypto
from .entry import Account
from .names import filetime, norm_dn, seconds_as_interval, sid_from_bytes, sid_to_bytes

if TYPE_CHECKING:
    from .directory import Directory

PAC_LOGON_INFO, PAC_SERVER_CHECKSUM, PAC_PRIVSVR_CHECKSUM = 1, 6, 7
PAC_CLIENT_INFO, PAC_UPN_DNS_INFO = 10, 12
KU_PAC_CHECKSUM = 17                     # KERB_NON_KERB_CKSUM_SALT (MS-PAC 2.8)
CKSUM_HMAC_SHA1_96_AES256, CKSUM_HMAC_SHA1_96_AES128, CKSUM_HMAC_MD5 = 16, 15, -138
_CKSUM_FOR = {krb_crypto.AES256: CKSUM_HMAC_SHA1_96_AES256, krb_crypto.AES128: CKSUM_HMAC_SHA1_96_AES128,
              krb_crypto.RC4: CKSUM_HMAC_MD5}
_SIG_LEN = {CKSUM_HMAC_SHA1_96_AES256: 12, CKSUM_HMAC_SHA1_96_AES128: 12, CKSUM_HMAC_MD5: 16}
NEVER = 0x7FFFFFFFFFFFFFFF
SE_GROUP_DEFAULT = 7                     # mandatory | enabled by default | enabled
USER_NORMAL_ACCOUNT, USER_DONT_EXPIRE_PASSWORD = 0x10, 0x200
LOGON_EXTRA_SIDS = 0x20
ASSERTED_IDENTITY = "S-1-18-1"


class BadPac(ValueError):
    """A PAC that does not parse or whose signature does not verify."""


@dataclass(frozen=True)
class Logon:
    """What the PAC says about a user, in plain values (filled by the TGS from the directory)."""
    sam: str
    full_name: str
    upn: str
    upn_implicit: bool
    domain_sid: str
    rid: int
    primary_group: int
    group_rids: tuple[int, ...] | list[int]
    netbios: str
    dns_domain: str
    dc_name: str
    logon_time: float
    password_last_set: int               # FILETIME, 0 = must change
    logon_count: int
    bad_password_count: int
    uac: int
    password_must_change: int = 0x7FFFFFFFFFFFFFFF    # FILETIME; "never" for a password that does not expire


def build(logon: Logon, server_key: krb_crypto.Key, kdc_key: krb_crypto.Key) -> bytes:
    buffers = [(PAC_LOGON_INFO, _logon_info(logon)), (PAC_CLIENT_INFO, client_info(logon.logon_time, logon.sam)),
               (PAC_UPN_DNS_INFO, _upn_dns(logon))]
    return sign(buffers, server_key, kdc_key)


def client_info(authtime: float, name: str) -> bytes:
    raw = name.encode("utf-16-le")
    return struct.pack("<QH", filetime(authtime), len(raw)) + raw


def sign(buffers: list[tuple[int, bytes]], server_key: krb_crypto.Key, kdc_key: krb_crypto.Key) -> bytes:
    """The PAC of these buffers with fresh server and KDC signatures (MS-PAC 2.8)."""
    server_type, kdc_type = _CKSUM_FOR[server_key.enctype], _CKSUM_FOR[kdc_key.enctype]
    buffers = [b for b in buffers if b[0] not in (PAC_SERVER_CHECKSUM, PAC_PRIVSVR_CHECKSUM)]
    buffers += [(PAC_SERVER_CHECKSUM, struct.pack("<i", server_type) + bytes(_SIG_LEN[server_type])),
                (PAC_PRIVSVR_CHECKSUM, struct.pack("<i", kdc_type) + bytes(_SIG_LEN[kdc_type]))]
    blob, offsets = _layout(buffers)
    server_sig = _checksum(server_type, server_key, bytes(blob))
    at = offsets[PAC_SERVER_CHECKSUM] + 4
    blob[at:at + len(server_sig)] = server_sig
    kdc_sig = _checksum(kdc_type, kdc_key, server_sig)
    at = offsets[PAC_PRIVSVR_CHECKSUM] + 4
    blob[at:at + len(kdc_sig)] = kdc_sig
    return bytes(blob)


def parse(data: bytes) -> list[tuple[int, bytes]]:
    """The PAC's buffers as (type, bytes), in order; BadPac if the layout does not hold."""
    if len(data) < 8:
        raise BadPac("PAC shorter than its header")
    count, version = struct.unpack_from("<II", data)
    if version != 0 or count > 64 or len(data) < 8 + 16 * count:
        raise BadPac("bad PAC header")
    out = []
    for i in range(count):
        kind, size, offset = struct.unpack_from("<IIQ", data, 8 + 16 * i)
        if offset + size > len(data):
            raise BadPac("PAC buffer outside the PAC")
        out.append((kind, data[offset:offset + size]))
    return out


def verify_server(data: bytes, server_key: krb_crypto.Key) -> None:
    """Check the server signature as a service does (BadPac if absent or wrong)."""
    buffers = parse(data)
    _, offsets = _layout(buffers)
    sig = dict(buffers).get(PAC_SERVER_CHECKSUM)
    if sig is None or len(sig) < 4:
        raise BadPac("no server checksum")
    (kind,) = struct.unpack_from("<i", sig)
    if kind not in _SIG_LEN or len(sig) < 4 + _SIG_LEN[kind]:
        raise BadPac("unknown server checksum type")
    zeroed = bytearray(data)
    for t in (PAC_SERVER_CHECKSUM, PAC_PRIVSVR_CHECKSUM):
        if t in offsets:
            length = len(dict(buffers)[t]) - 4
            zeroed[offsets[t] + 4:offsets[t] + 4 + length] = bytes(length)
    expected = _checksum(kind, server_key, bytes(zeroed))
    if expected != sig[4:4 + len(expected)]:
        raise BadPac("server checksum does not verify")


# -- encoding ---------------------------------------------------------------------------------
def _layout(buffers: list[tuple[int, bytes]]) -> tuple[bytearray, dict[int, int]]:
    """PACTYPE: count, version 0, the info buffers, then each buffer 8-byte aligned."""
    head = 8 + 16 * len(buffers)
    offset = _align(head)
    infos, body, offsets = b"", b"", {}
    for kind, data in buffers:
        infos += struct.pack("<IIQ", kind, len(data), offset)
        offsets[kind] = offset
        padded = data + bytes(_align(len(data)) - len(data))
        body += padded
        offset += len(padded)
    blob = struct.pack("<II", len(buffers), 0) + infos
    return bytearray(blob + bytes(_align(head) - head) + body), offsets


def _align(n: int) -> int:
    return (n + 7) & ~7


def _checksum(kind: int, key: krb_crypto.Key, data: bytes) -> bytes:
    return krb_crypto.checksum(kind, key, KU_PAC_CHECKSUM, data)


# -- KERB_VALIDATION_INFO in NDR (MS-PAC 2.5, MS-RPCE 2.2.6 type serialization version 1), by
# hand: impacket's NDR classes took ~5 ms per encoding, up to half the DC's CPU in a sign-in.
# Little-endian, 4-byte aligned (nothing in it needs 8). Pointers get Windows' referent IDs,
# 0x00020000 and up by 4 in the order they are written; the pointed-to data is deferred to after
# the fixed part, in the same order (an array's embedded pointers after the array). Strings are
# RPC_UNICODE_STRING: Length, MaximumLength, a pointer to a conformant varying WCHAR array (an
# empty string still has one, of no elements, as AD writes it).
_REFERENT_BASE = 0x00020000
_COMMON_HEADER = b"\x01\x10\x08\x00\xcc\xcc\xcc\xcc"   # version 1, little-endian, 8 bytes, filler
_ASSERTED_IDENTITY = sid_to_bytes(ASSERTED_IDENTITY)


class _Ndr:
    """A top-level pointer's NDR stream: the fixed part written in order, deferred data queued."""

    def __init__(self) -> None:
        self.fixed = bytearray()
        self.deferred: list[bytes] = []
        self.referents = 0

    def pointer(self, deferred: bytes) -> None:
        self.fixed += struct.pack("<I", _REFERENT_BASE + 4 * self.referents)
        self.referents += 1
        self.deferred.append(deferred)

    def string(self, text: str) -> None:
        raw = text.encode("utf-16-le")
        n = len(raw) // 2
        self.fixed += struct.pack("<HH", len(raw), len(raw))
        self.pointer(struct.pack("<III", n, 0, n) + raw + bytes(-len(raw) % 4))


# Where the values that change from one logon to the next sit in `_logon_info`'s bytes (the
# common and private headers, then the top-level pointer): the six times, then after the six
# strings' fixed parts LogonCount and BadPasswordCount. All else is the user's and the domain's.
_TIMES_AT = len(_COMMON_HEADER) + 8 + 4
_TIMES = struct.Struct("<QQQQQQ")
_COUNTS_AT = _TIMES_AT + _TIMES.size + 6 * 8
_COUNTS = struct.Struct("<HH")


def _logon_info(lg: Logon) -> bytes:
    """KERB_VALIDATION_INFO serialized as AD does, under a top-level pointer: the user's part
    written once (`_logon_template`, kept), this logon's times and counters written into it."""
    out = bytearray(_logon_template(lg.sam, lg.full_name, lg.rid, lg.primary_group, tuple(lg.group_rids),
                                    lg.dc_name, lg.netbios, lg.domain_sid, lg.uac))
    _TIMES.pack_into(out, _TIMES_AT, filetime(lg.logon_time), NEVER, NEVER, lg.password_last_set,
                     lg.password_last_set, lg.password_must_change)
    _COUNTS.pack_into(out, _COUNTS_AT, min(lg.logon_count, 0xFFFF), min(lg.bad_password_count, 0xFFFF))
    return bytes(out)


@lru_cache(maxsize=1024)
def _logon_template(sam: str, full_name: str, rid: int, primary_group: int, group_rids: tuple[int, ...],
                    dc_name: str, netbios: str, domain_sid: str, uac: int) -> bytes:
    """KERB_VALIDATION_INFO with zero times and counters (the NDR took ~15 us an AS exchange)."""
    ndr = _Ndr()
    ndr.pointer(b"")                       # the top-level pointer: its referent is what follows
    rids = [primary_group] + [r for r in group_rids if r != primary_group]
    ndr.fixed += bytes(_TIMES.size)
    for text in (sam, full_name, "", "", "", ""):     # LogonScript .. HomeDirectoryDrive empty
        ndr.string(text)
    assert len(ndr.fixed) == _COUNTS_AT - _TIMES_AT + 4
    ndr.fixed += struct.pack("<HHIII", 0, 0, rid, primary_group, len(rids))
    ndr.pointer(struct.pack("<I", len(rids)) + b"".join(struct.pack("<II", r, SE_GROUP_DEFAULT) for r in rids))
    ndr.fixed += struct.pack("<I", LOGON_EXTRA_SIDS) + bytes(16)         # UserFlags, UserSessionKey
    ndr.string(dc_name.upper())
    ndr.string(netbios.upper())
    sid = sid_to_bytes(domain_sid)
    ndr.pointer(struct.pack("<I", sid[1]) + sid)                         # RPC_SID: conformant
    ndr.fixed += bytes(8) + struct.pack("<II", uac, 0) + bytes(16) + struct.pack("<III", 0, 0, 1)
    # ExtraSids: one KERB_SID_AND_ATTRIBUTES whose Sid pointer's referent follows the array
    extra = _ASSERTED_IDENTITY
    sid_ref = _REFERENT_BASE + 4 * (ndr.referents + 1)
    ndr.pointer(struct.pack("<III", 1, sid_ref, SE_GROUP_DEFAULT) + struct.pack("<I", extra[1]) + extra)
    ndr.referents += 1
    ndr.fixed += struct.pack("<III", 0, 0, 0)       # ResourceGroupDomainSid NULL, count 0, ids NULL
    body = bytes(ndr.fixed) + b"".join(ndr.deferred)
    body += bytes(-len(body) % 8)                   # the object buffer is a multiple of 8 (MS-RPCE)
    return _COMMON_HEADER + struct.pack("<II", len(body), 0) + body


def _upn_dns(lg: Logon) -> bytes:
    return _upn_dns_info(lg.upn, lg.dns_domain, lg.upn_implicit)


@lru_cache(maxsize=1024)
def _upn_dns_info(upn_text: str, dns_domain: str, implicit: bool) -> bytes:
    upn, dns = upn_text.encode("utf-16-le"), dns_domain.upper().encode("utf-16-le")
    upn_at = 16                                   # after the 12-byte header, 8-byte aligned
    dns_at = _align(upn_at + len(upn))
    body = bytearray(struct.pack("<HHHHI", len(upn), upn_at, len(dns), dns_at, 1 if implicit else 0))
    body += bytes(upn_at - len(body)) + upn
    body += bytes(dns_at - len(body)) + dns
    return bytes(body)


def logon_for(directory: Directory, account: Account, now: float) -> Logon:
    """What the PAC of `account`'s tickets says, read from its entry now (as AD fills the PAC
    at the AS exchange from the user's object and group memberships)."""
    e, d = account.entry, directory.domain
    group_rids = []
    for dn in e.values("memberOf"):
        group = directory.get(norm_dn(dn))
        rid = _rid(group.first("objectSid"), d.sid) if group is not None else None
        if rid is not None:
            group_rids.append(rid)
    uac = USER_NORMAL_ACCOUNT | (USER_DONT_EXPIRE_PASSWORD if e.int("userAccountControl") & 0x10000 else 0)
    upn = e.first("userPrincipalName")
    last_set = e.int("pwdLastSet")
    never = uac & USER_DONT_EXPIRE_PASSWORD
    must_change = NEVER if never else last_set and last_set + seconds_as_interval(-directory.policy.max_password_age)
    return Logon(sam=account.sam, full_name=str(e.first("displayName") or ""),
                 upn=str(upn or f"{account.sam}@{d.dns_name}"), upn_implicit=not upn,
                 domain_sid=d.sid, rid=_rid(e.first("objectSid"), d.sid) or 0,
                 primary_group=e.int("primaryGroupID", 513), group_rids=tuple(group_rids), netbios=d.netbios,
                 dns_domain=d.dns_name, dc_name=d.dc_hostname, logon_time=now,
                 password_last_set=last_set, logon_count=e.int("logonCount"),
                 bad_password_count=e.int("badPwdCount"), uac=uac, password_must_change=must_change)


_sid_text = lru_cache(maxsize=65536)(sid_from_bytes)     # a group's SID, read at every logon


def _rid(sid_bytes: bytes | str | None, domain_sid: str) -> int | None:
    """The RID of a SID in the domain, None for a SID outside it (a builtin group)."""
    if not isinstance(sid_bytes, bytes):
        return None
    prefix, _, rid = _sid_text(sid_bytes).rpartition("-")
    return int(rid) if prefix == domain_sid and rid.isdigit() else None
