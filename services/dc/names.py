"""Distinguished names, AD time formats and SIDs: the small value formats the directory stores.

DNs are compared the way AD compares them: attribute types and values case-insensitively, with
spaces around `=` and `,` ignored and escapes resolved, so `cn=alice anderson, ou=users,...` names
the same entry as `CN=Alice Anderson,OU=Users,...`. AD's time values: docs/active-directory.md
("Values AD stores").
"""
from __future__ import annotations

import functools
import hashlib
import struct

from services.common.ad_wire import FILETIME_TICKS_PER_SECOND

# 100-nanosecond intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
_EPOCH_AS_FILETIME = 116444736000000000


class InvalidDN(ValueError):
    """The string is not a DN (LDAP invalidDNSyntax)."""


def parse_dn(dn: str) -> list[tuple[str, str]]:
    """`CN=a\\,b,OU=x` -> [("CN", "a,b"), ("OU", "x")]; raises InvalidDN."""
    if not dn.strip():
        return []
    if "\\" not in dn and ";" not in dn:   # the common case: nothing escaped
        rdns = []
        for part in dn.split(","):
            name, eq, value = part.partition("=")
            name = name.strip()
            if not eq or not name or not (name[0].isalnum()) or any(c in name for c in " \"+<>#"):
                raise InvalidDN(dn)
            rdns.append((name, value.strip()))
        return rdns
    rdns = []
    attr: str | None = None
    buf: list[str] = []
    i, n = 0, len(dn)
    while i < n:
        ch = dn[i]
        if ch == "\\":
            if i + 1 >= n:
                raise InvalidDN(dn)
            nxt = dn[i + 1]
            hexpair = dn[i + 1:i + 3]
            if len(hexpair) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexpair):
                buf.append(chr(int(hexpair, 16)))
                i += 3
            else:
                buf.append(nxt)
                i += 2
            continue
        if ch == "=" and attr is None:
            attr = "".join(buf).strip()
            buf = []
        elif ch in ",;":
            if attr is None or not attr:
                raise InvalidDN(dn)
            rdns.append((attr, "".join(buf).strip()))
            attr, buf = None, []
        else:
            buf.append(ch)
        i += 1
    if attr is None or not attr:
        raise InvalidDN(dn)
    rdns.append((attr, "".join(buf).strip()))
    for a, _ in rdns:
        if not (a[0].isalpha() or a[0].isdigit()) or any(c in a for c in " \"+<>#"):
            raise InvalidDN(dn)
    return rdns


def escape_rdn_value(value: str) -> str:
    out = value.replace("\\", "\\\\")
    for ch in ',+"<>;=':
        out = out.replace(ch, "\\" + ch)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


@functools.lru_cache(maxsize=65536)
def norm_dn(dn: str) -> str:
    """The comparison key of a DN (lower case, canonical escaping). "" is the RootDSE."""
    return ",".join(f"{a.lower()}={escape_rdn_value(v).lower()}" for a, v in parse_dn(dn))


def parent_dn(norm: str) -> str | None:
    """Parent of a *normalised* DN, or None for the empty DN."""
    if not norm:
        return None
    rdns = parse_dn(norm)
    return ",".join(f"{a}={escape_rdn_value(v)}" for a, v in rdns[1:])


def is_under(norm: str, base_norm: str) -> bool:
    """True when `norm` is `base_norm` or below it (both normalised)."""
    return norm == base_norm or not base_norm or norm.endswith("," + base_norm)


# -- time ------------------------------------------------------------------------------------
def filetime(epoch: float) -> int:
    """Epoch seconds -> Windows FILETIME (what pwdLastSet, lockoutTime, accountExpires hold)."""
    return int(epoch * FILETIME_TICKS_PER_SECOND) + _EPOCH_AS_FILETIME


def from_filetime(ft: int) -> float:
    return (ft - _EPOCH_AS_FILETIME) / FILETIME_TICKS_PER_SECOND


def seconds_as_interval(seconds: float) -> int:
    """A duration as AD stores it on the domain object (lockoutDuration, maxPwdAge...): negative,
    in FILETIME ticks."""
    return -int(seconds * FILETIME_TICKS_PER_SECOND)


def generalized_time(epoch: float) -> str:
    """AD's GeneralizedTime as in whenCreated: `20261128075536.0Z`."""
    import time
    return time.strftime("%Y%m%d%H%M%S.0Z", time.gmtime(epoch))


# -- SIDs and GUIDs ----------------------------------------------------------------------------
def domain_sid(dns_name: str) -> str:
    """A stable `S-1-5-21-a-b-c` for the domain, derived from its name (same on every start)."""
    digest = hashlib.sha256(dns_name.lower().encode()).digest()
    a, b, c = struct.unpack("<III", digest[:12])
    return f"S-1-5-21-{a}-{b}-{c}"


def sid_to_bytes(sid: str) -> bytes:
    """`S-1-5-21-...` -> the binary SID AD returns in objectSid."""
    parts = sid.split("-")
    if len(parts) < 3 or parts[0].upper() != "S":
        raise ValueError(f"not a SID: {sid}")
    revision, authority = int(parts[1]), int(parts[2])
    subs = [int(p) for p in parts[3:]]
    return (struct.pack("<BB", revision, len(subs)) + authority.to_bytes(6, "big")
            + b"".join(struct.pack("<I", s) for s in subs))


def sid_from_bytes(raw: bytes) -> str:
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack("<" + "I" * count, raw[8:8 + 4 * count])
    return "S-" + "-".join(str(x) for x in (revision, authority, *subs))
