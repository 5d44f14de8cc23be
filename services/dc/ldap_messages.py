"""LDAP requests read by hand from their BER (RFC 4511 section 4) into plain values.

pyasn1 spent most of a bind's or a search's time building and walking its objects (about 0.2 ms
to decode a bind); these are a dozen fixed shapes, read here as TLVs. Only what AD emits and
accepts: definite lengths, one-byte tags, primitive OCTET STRINGs. Anything else raises
`Undecodable` (a FrameError), which the server answers as it answers any bad BER (protocolError
and a Notice of Disconnection). Strings that must be UTF-8 (DNs, attribute names, OIDs) are
decoded strictly: UnicodeDecodeError, which the server reports the same way. The search filter
stays raw bytes here; `ber.to_filter` reads it. tests/services/dc/test_dc_ldap_messages.py
checks the decoder against pyasn1's encoding of ldap3's types for the same requests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ber import FrameError, _children, _tlv_at

MAX_INT = 2147483647     # RFC 4511 maxInt


class Undecodable(FrameError):
    """A request whose BER does not read as RFC 4511 says it must."""


@dataclass
class Message:
    mid: int
    op: str                  # pyasn1's name of the protocolOp choice: "bindRequest", "searchRequest"...
    req: Any                 # the request below (or the target ID of an abandon, None for the rest)
    controls: list[tuple[str, bool, bytes | None]] = field(default_factory=list)


@dataclass
class BindRequest:
    version: int
    name: str
    method: str              # "simple" or "sasl"
    secret: bytes = b""      # the simple password
    mechanism: str = ""      # SASL
    credentials: bytes | None = None


@dataclass
class SearchRequest:
    base: str
    scope: int
    deref: int
    size_limit: int
    time_limit: int
    types_only: bool
    filter: bytes            # the Filter's TLV, undecoded
    attributes: list[str]


@dataclass
class ModifyRequest:
    dn: str
    changes: list[tuple[int, str, list[bytes]]]      # (operation, attribute, values)


@dataclass
class CompareRequest:
    dn: str
    attribute: str
    value: bytes


@dataclass
class ExtendedRequest:
    name: str
    value: bytes | None


# Operations a client may not send (responses): named as pyasn1 names them, so the server can say
# which; their content is not read.
_RESPONSES = {0x61: "bindResponse", 0x64: "searchResEntry", 0x65: "searchResDone", 0x73: "searchResRef",
              0x67: "modifyResponse", 0x69: "addResponse", 0x6B: "delResponse", 0x6D: "modDNResponse",
              0x6F: "compareResponse", 0x78: "extendedResp", 0x79: "intermediateResponse"}


def _int(data: bytes, tlv: tuple[int, int, int], tag: int = 0x02, low: int = 0, high: int = MAX_INT) -> int:
    t, s, e = tlv
    if t != tag or not 1 <= e - s <= 5:
        raise Undecodable(f"expected an integer (tag 0x{tag:02x})")
    value = int.from_bytes(data[s:e], "big", signed=True)
    if not low <= value <= high:
        raise Undecodable(f"integer {value} out of range")
    return value


def _octets(data: bytes, tlv: tuple[int, int, int], tag: int = 0x04) -> bytes:
    t, s, e = tlv
    if t != tag:
        raise Undecodable(f"expected tag 0x{tag:02x}, got 0x{t:02x}")
    return data[s:e]


def _text(data: bytes, tlv: tuple[int, int, int], tag: int = 0x04) -> str:
    return _octets(data, tlv, tag).decode("utf-8")


def _bool(data: bytes, tlv: tuple[int, int, int]) -> bool:
    t, s, e = tlv
    if t != 0x01 or e - s != 1:
        raise Undecodable("expected a BOOLEAN")
    return data[s] != 0


def _shape(parts: list, low: int, high: int | None = None) -> list:
    if not low <= len(parts) <= (low if high is None else high):
        raise Undecodable("wrong number of fields")
    return parts


def decode(data: bytes) -> Message:
    """An LDAPMessage (one complete TLV, as `ber.MessageReader` frames it)."""
    try:
        tag, start, end = _tlv_at(data, 0, len(data))
    except ValueError as exc:
        raise Undecodable(str(exc)) from None
    if tag != 0x30:
        raise Undecodable(f"tag 0x{tag:02x} is not an LDAPMessage")
    if end != len(data):
        raise FrameError("trailing bytes after the message")
    try:
        parts = _children(data, start, end)
        if not 2 <= len(parts) <= 3:
            raise Undecodable("an LDAPMessage is a messageID, an operation and optional controls")
        mid = _int(data, parts[0])
        op, req = _operation(data, parts[1])
        ctrls = _controls(data, parts[2]) if len(parts) == 3 else []
    except UnicodeDecodeError:
        raise
    except ValueError as exc:      # a TLV that overruns its container
        raise Undecodable(str(exc)) from None
    return Message(mid, op, req, ctrls)


def _operation(data: bytes, tlv: tuple[int, int, int]) -> tuple[str, Any]:
    tag, s, e = tlv
    reader = _READERS.get(tag)
    if reader is not None:
        return reader(data, s, e)
    if tag in _RESPONSES:
        return _RESPONSES[tag], None
    raise Undecodable(f"unknown protocolOp tag 0x{tag:02x}")


def _bind(data: bytes, s: int, e: int) -> tuple[str, Any]:
    version, name, auth = _shape(_children(data, s, e), 3)
    req = BindRequest(_int(data, version, low=1, high=127), _text(data, name), "simple")
    if auth[0] == 0x80:
        req.secret = data[auth[1]:auth[2]]
    elif auth[0] == 0xA3:
        sasl = _shape(_children(data, auth[1], auth[2]), 1, 2)
        req.method, req.mechanism = "sasl", _text(data, sasl[0])
        req.credentials = _octets(data, sasl[1]) if len(sasl) == 2 else None
    else:
        raise Undecodable(f"unknown authentication choice 0x{auth[0]:02x}")
    return "bindRequest", req


def _unbind(_data: bytes, s: int, e: int) -> tuple[str, Any]:
    if s != e:
        raise Undecodable("an unbind is a NULL")
    return "unbindRequest", None


def _search(data: bytes, s: int, e: int) -> tuple[str, Any]:
    base, scope, deref, size, time, types, flt, attrs = _shape(_children(data, s, e), 8)
    if attrs[0] != 0x30:
        raise Undecodable("the attribute selection is a SEQUENCE")
    return "searchRequest", SearchRequest(
        _text(data, base), _int(data, scope, 0x0A), _int(data, deref, 0x0A), _int(data, size), _int(data, time),
        _bool(data, types), data[types[2]:flt[2]],
        [_text(data, a) for a in _children(data, attrs[1], attrs[2])])


def _modify(data: bytes, s: int, e: int) -> tuple[str, Any]:
    obj, changes = _shape(_children(data, s, e), 2)
    if changes[0] != 0x30:
        raise Undecodable("the changes are a SEQUENCE")
    out = []
    for change in _children(data, changes[1], changes[2]):
        if change[0] != 0x30:
            raise Undecodable("a change is a SEQUENCE")
        operation, mod = _shape(_children(data, change[1], change[2]), 2)
        out.append((_int(data, operation, 0x0A), *_attribute(data, mod)))
    return "modifyRequest", ModifyRequest(_text(data, obj), out)


def _attribute(data: bytes, tlv: tuple[int, int, int]) -> tuple[str, list[bytes]]:
    """PartialAttribute: SEQUENCE { type, vals SET OF value }."""
    if tlv[0] != 0x30:
        raise Undecodable("an attribute is a SEQUENCE")
    kind, vals = _shape(_children(data, tlv[1], tlv[2]), 2)
    if vals[0] != 0x31:
        raise Undecodable("an attribute's values are a SET")
    return _text(data, kind), [_octets(data, v) for v in _children(data, vals[1], vals[2])]


def _add(data: bytes, s: int, e: int) -> tuple[str, Any]:
    entry, attrs = _shape(_children(data, s, e), 2)
    _text(data, entry)
    if attrs[0] != 0x30:
        raise Undecodable("the attributes are a SEQUENCE")
    for a in _children(data, attrs[1], attrs[2]):
        _attribute(data, a)
    return "addRequest", None          # refused whole (no writes but modify): not kept


def _delete(data: bytes, s: int, e: int) -> tuple[str, Any]:
    data[s:e].decode("utf-8")
    return "delRequest", None


def _mod_dn(data: bytes, s: int, e: int) -> tuple[str, Any]:
    parts = _shape(_children(data, s, e), 3, 4)
    _text(data, parts[0]), _text(data, parts[1]), _bool(data, parts[2])
    if len(parts) == 4:
        _text(data, parts[3], 0x80)
    return "modDNRequest", None


def _compare(data: bytes, s: int, e: int) -> tuple[str, Any]:
    entry, ava = _shape(_children(data, s, e), 2)
    if ava[0] != 0x30:
        raise Undecodable("an attribute value assertion is a SEQUENCE")
    desc, value = _shape(_children(data, ava[1], ava[2]), 2)
    return "compareRequest", CompareRequest(_text(data, entry), _text(data, desc), _octets(data, value))


def _abandon(data: bytes, s: int, e: int) -> tuple[str, Any]:
    return "abandonRequest", _int(data, (0x02, s, e))


def _extended(data: bytes, s: int, e: int) -> tuple[str, Any]:
    parts = _shape(_children(data, s, e), 1, 2)
    value = _octets(data, parts[1], 0x81) if len(parts) == 2 else None
    return "extendedReq", ExtendedRequest(_text(data, parts[0], 0x80), value)


_READERS = {0x60: _bind, 0x42: _unbind, 0x63: _search, 0x66: _modify, 0x68: _add, 0x4A: _delete,
            0x6C: _mod_dn, 0x6E: _compare, 0x50: _abandon, 0x77: _extended}


def _controls(data: bytes, tlv: tuple[int, int, int]) -> list[tuple[str, bool, bytes | None]]:
    """Controls [0] SEQUENCE OF Control { controlType, criticality DEFAULT FALSE, controlValue OPTIONAL }."""
    if tlv[0] != 0xA0:
        raise Undecodable(f"expected controls (tag 0xa0), got 0x{tlv[0]:02x}")
    out = []
    for c in _children(data, tlv[1], tlv[2]):
        if c[0] != 0x30:
            raise Undecodable("a control is a SEQUENCE")
        fields = _shape(_children(data, c[1], c[2]), 1, 3)
        oid, critical, value = _text(data, fields[0]), False, None
        rest = fields[1:]
        if rest and rest[0][0] == 0x01:
            critical = _bool(data, rest.pop(0))
        if rest:
            value = _octets(data, rest.pop(0))
        if rest:
            raise Undecodable("a control has fields out of order")
        out.append((oid, critical, value))
    return out


def paged_request(value: bytes | None) -> tuple[int, bytes] | None:
    """The paged results control's (size, cookie) (RFC 2696: SEQUENCE { size INTEGER (0..maxInt),
    cookie OCTET STRING }), or None when it does not read."""
    try:
        data = value or b""
        tag, s, e = _tlv_at(data, 0, len(data))
        if tag != 0x30 or e != len(data):
            return None
        size, cookie = _shape(_children(data, s, e), 2)
        return _int(data, size), _octets(data, cookie)
    except (ValueError, FrameError):
        return None
