"""The AS-REQ read by hand from its DER (RFC 4120 5.4.1) into `krb_wire.AsRequest`.

pyasn1 took about a quarter of an AS exchange's time to decode the request. The AS-REQ has one
fixed shape: [APPLICATION 10] SEQUENCE { pvno [1] 5, msg-type [2] 10, padata [3] SEQUENCE OF
PA-DATA OPTIONAL, req-body [4] KDC-REQ-BODY }, every field in an explicit context tag. What does
not read as that, in DER's definite lengths, is `Malformed`, as from impacket's types. The TGS-REQ
keeps pyasn1 (`krb_wire.decode_tgs_req`): its checksum covers the req-body re-encoded.
tests/services/dc/test_dc_krb_as_req.py checks this reader against impacket's types.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TypeVar

from .ber import _tlv_at
from .krb_wire import AsRequest, Malformed, Principal

T = TypeVar("T")
INT32 = (-2**31, 2**31 - 1)
UINT32 = (0, 2**32 - 1)


# The DER TLV at `pos` (the same reading as LDAP's BER). Its ValueError becomes Malformed where
# a message's reading starts (`_reading`), not in each of the forty-odd TLVs of a request.
_tlv = _tlv_at


def _reading(read: Callable[[bytes], T]) -> Callable[[bytes], T]:
    """`read`, with a ValueError from a TLV (truncated, overrunning) raised as Malformed."""
    @functools.wraps(read)
    def reading(data: bytes) -> T:
        try:
            return read(data)
        except Malformed:
            raise
        except ValueError as exc:
            raise Malformed(str(exc)) from None
    return reading


def _seq(data: bytes, tlv: tuple[int, int, int], tag: int = 0x30) -> list[tuple[int, int, int]]:
    """The TLVs filling a constructed TLV of `tag`."""
    t, pos, end = tlv
    if t != tag:
        raise Malformed(f"expected tag 0x{tag:02x}, got 0x{t:02x}")
    out = []
    while pos < end:
        item = _tlv(data, pos, end)
        out.append(item)
        pos = item[2]
    return out


def _fields(data: bytes, tlv: tuple[int, int, int]) -> dict[int, tuple[int, int, int]]:
    """A SEQUENCE of explicitly tagged fields: context number -> the inner TLV, in order.
    (Walked in one loop: this is where a request's reading spends most of its time.)"""
    t, pos, end = tlv
    if t != 0x30:
        raise Malformed(f"expected tag 0x30, got 0x{t:02x}")
    out: dict[int, tuple[int, int, int]] = {}
    last = -1
    while pos < end:
        t, s, e = _tlv(data, pos, end)
        number = t - 0xA0
        if not 0 <= number <= 30 or number <= last:
            raise Malformed(f"field tag 0x{t:02x} unexpected")
        inner = _tlv(data, s, e)
        if inner[2] != e:
            raise Malformed("a field holds more than one value")
        out[number] = inner
        last = number
        pos = e
    return out


def _int(data: bytes, tlv: tuple[int, int, int], bounds: tuple[int, int] = INT32) -> int:
    t, s, e = tlv
    if t != 0x02 or not 1 <= e - s <= 5:
        raise Malformed("expected an INTEGER")
    value = int.from_bytes(data[s:e], "big", signed=True)
    if not bounds[0] <= value <= bounds[1]:
        raise Malformed("INTEGER out of range")
    return value


def _string(data: bytes, tlv: tuple[int, int, int]) -> str:
    """KerberosString: GeneralString (IA5 in practice); impacket's type reads it as UTF-8."""
    t, s, e = tlv
    if t != 0x1B:
        raise Malformed("expected a KerberosString")
    try:
        return data[s:e].decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("a KerberosString that is not UTF-8") from None


def _time(data: bytes, tlv: tuple[int, int, int]) -> float | None:
    t, s, e = tlv
    if t != 0x18:
        raise Malformed("expected a KerberosTime")
    raw = data[s:e]
    if raw in _TIMES:      # a client's `till` and `rtime` repeat: most are read once a second
        return _TIMES[raw]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Malformed("a KerberosTime that is not ASCII") from None
    when = None
    try:       # one that does not parse is no time (krb_wire's reading: the exchange decides)
        # RFC 4120 5.2.3: exactly YYYYMMDDHHMMSSZ; read by slices (strptime was 2% of an exchange)
        if len(text) == 15 and text[14] == "Z" and text[:14].isdigit():
            when = dt.datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                               int(text[10:12]), int(text[12:14]), tzinfo=dt.UTC).timestamp()
    except ValueError:
        pass
    if len(raw) == 15:
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        _TIMES[raw] = when
    return when


_TIMES: dict[bytes, float | None] = {}     # KerberosTime bytes (15 of them) -> epoch seconds


def _principal(data: bytes, tlv: tuple[int, int, int]) -> Principal:
    """A PrincipalName; the same bytes again (a client's name, krbtgt/REALM) are read once."""
    t, s, e = tlv
    raw = data[s:e] if t == 0x30 and e - s <= _NAME_KEPT_BYTES else None
    known = _NAMES.get(raw) if raw is not None else None
    if known is None:
        f = _fields(data, tlv)
        if set(f) != {0, 1}:
            raise Malformed("a PrincipalName is a name-type and a name-string")
        parts = tuple(_string(data, p) for p in _seq(data, f[1]))
        if not parts:
            raise Malformed("empty principal name")
        known = (_int(data, f[0]), parts)
        if raw is not None:
            if len(_NAMES) >= _NAMES_KEPT:
                _NAMES.clear()
            _NAMES[raw] = known
    return Principal(known[0], list(known[1]))


# PrincipalName bytes -> (name-type, parts): bounded in count and in size, as a client chooses them.
_NAMES: dict[bytes, tuple[int, tuple[str, ...]]] = {}
_NAMES_KEPT, _NAME_KEPT_BYTES = 4096, 256


@_reading
def decode(data: bytes) -> AsRequest:
    top = _tlv(data, 0, len(data))
    if top[0] != 0x6A:
        raise Malformed("not an AS-REQ")
    if top[2] != len(data):
        raise Malformed("trailing bytes")
    inner = _tlv(data, top[1], top[2])
    if inner[2] != top[2]:
        raise Malformed("trailing bytes in the AS-REQ")
    req = _fields(data, inner)
    if not {1, 2, 4} <= set(req) <= {1, 2, 3, 4} or _int(data, req[1]) != 5 or _int(data, req[2]) != 10:
        raise Malformed("not a KRB5 AS-REQ")
    padata: dict[int, bytes] = {}
    for pa in _seq(data, req[3]) if 3 in req else []:
        f = _fields(data, pa)
        if set(f) != {1, 2} or f[2][0] != 0x04:
            raise Malformed("a PA-DATA is a type and a value")
        padata[_int(data, f[1])] = data[f[2][1]:f[2][2]]
    body = _fields(data, req[4])
    if not {0, 2, 5, 7, 8} <= set(body) or set(body) - set(range(12)):
        raise Malformed("KDC-REQ-BODY without its required fields")
    if 1 not in body or 3 not in body:
        raise Malformed("KDC-REQ without cname or sname")
    t, s, e = body[0]
    if t != 0x03 or e - s < 1 or data[s] > 7:
        raise Malformed("kdc-options is not a BIT STRING")
    unused, bits = data[s], data[s + 1:e]
    if unused and not bits:
        raise Malformed("kdc-options: unused bits without any")
    count = len(bits) * 8 - unused
    options, value = set(), int.from_bytes(bits, "big") >> unused
    while value:                               # the set bits only; bit 0 is the first one
        low = value & -value
        options.add(count - low.bit_length())
        value ^= low
    return AsRequest(
        realm=_string(data, body[2]), cname=_principal(data, body[1]), sname=_principal(data, body[3]),
        nonce=_int(data, body[7], UINT32), etypes=[_int(data, x) for x in _seq(data, body[8])],
        options=options, till=_time(data, body[5]), rtime=_time(data, body[6]) if 6 in body else None,
        padata=padata)


def _whole(data: bytes) -> tuple[int, int, int]:
    tlv = _tlv(data, 0, len(data))
    if tlv[2] != len(data):
        raise Malformed("trailing bytes")
    return tlv


@_reading
def enc_timestamp(padata_value: bytes) -> tuple[int, bytes]:
    """PA-ENC-TIMESTAMP's EncryptedData { etype [0], kvno [1] OPTIONAL, cipher [2] }: (etype, cipher)."""
    f = _fields(padata_value, _whole(padata_value))
    if not {0, 2} <= set(f) <= {0, 1, 2} or f[2][0] != 0x04:
        raise Malformed("not an EncryptedData")
    if 1 in f:
        _int(padata_value, f[1], UINT32)
    return _int(padata_value, f[0]), padata_value[f[2][1]:f[2][2]]


@_reading
def ts_enc(plaintext: bytes) -> float:
    """PA-ENC-TS-ENC { patimestamp [0], pausec [1] OPTIONAL }: the client's time, epoch seconds."""
    f = _fields(plaintext, _whole(plaintext))
    if not {0} <= set(f) <= {0, 1}:
        raise Malformed("not a PA-ENC-TS-ENC")
    when = _time(plaintext, f[0])
    if when is None:
        raise Malformed("bad patimestamp")
    usec = _int(plaintext, f[1], (0, 999999)) if 1 in f else 0
    return when + usec / 1e6
