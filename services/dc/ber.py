"""LDAP's BER on the wire: framing TCP bytes into messages, the ASN.1 specs to decode them, decoded
filters as `filters.Filter`, and the encoding of replies.

The specs are ldap3's own (`ldap3.protocol.rfc4511`), except the search filter: `MESSAGE` leaves
it undecoded (an Any) and `to_filter` reads its TLVs here. pyasn1 is too slow for it (about 5 s
per MB of filter) and cannot decode ldap3's recursive Filter type reliably (ldap3 ties the knot by
assigning class attributes after the instances were made; `(!(!(x=y)))` failed); reading the
Filter CHOICE by hand is a dozen tags (RFC 4511 4.5.1). `search_filter_shape` measures a filter
off the raw bytes so an over-complex one is refused before any decoding.
"""
from __future__ import annotations

import asyncio
from typing import Any

from ldap3.protocol import rfc4511
from ldap3.protocol.rfc2696 import RealSearchControlValue
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pyasn1.type.namedtype import NamedTypes

from . import filters as F

MAX_MESSAGE = 10 * 1024 * 1024   # AD's default MaxReceiveBuffer (10 MB)


class FrameError(Exception):
    """The byte stream is not LDAP (wrong tag, indefinite or absurd length)."""


class TooLarge(FrameError):
    """A message longer than MaxReceiveBuffer: AD drops the connection without a word."""


def _with(types: NamedTypes, **replace) -> NamedTypes:
    return NamedTypes(*[type(n)(n.name, replace.get(n.name, n.asn1Object)) for n in types.namedTypes])


def _message_spec() -> rfc4511.LDAPMessage:
    search = rfc4511.SearchRequest(componentType=_with(rfc4511.SearchRequest.componentType, filter=univ.Any()))
    op = rfc4511.ProtocolOp(componentType=_with(rfc4511.ProtocolOp.componentType, searchRequest=search))
    return rfc4511.LDAPMessage(componentType=_with(rfc4511.LDAPMessage.componentType, protocolOp=op))


MESSAGE = _message_spec()


async def read_message(reader: asyncio.StreamReader, idle: float, max_size: int = MAX_MESSAGE) -> bytes:
    """One complete LDAPMessage TLV. Raises IncompleteReadError at EOF, TimeoutError when idle,
    FrameError for bytes that cannot be LDAP."""
    first = await asyncio.wait_for(reader.readexactly(2), idle)
    if first[0] != 0x30:
        raise FrameError(f"tag 0x{first[0]:02x} is not an LDAPMessage")
    length = first[1]
    header = first
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise FrameError("indefinite or oversized length")
        more = await asyncio.wait_for(reader.readexactly(count), 30)
        header += more
        length = int.from_bytes(more, "big")
    if length > max_size:
        raise TooLarge(f"message of {length} bytes exceeds MaxReceiveBuffer ({max_size})")
    body = await asyncio.wait_for(reader.readexactly(length), 60)
    return header + body


_FILTER_SETS = (0xA0, 0xA1)        # and, or: a SET OF Filter
_FILTER_NOT = 0xA2


def _tlv_at(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`; ValueError when it overruns `end`."""
    if pos + 2 > end:
        raise ValueError("truncated")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad length")
        n = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + n > end:
        raise ValueError("overruns its container")
    return tag, pos, pos + n


def search_filter_shape(data: bytes, max_terms: int, max_depth: int) -> tuple[int, int, int] | None:
    """(messageID, terms, depth) of a SearchRequest's filter, read straight off the BER before any
    decoding (pyasn1 needs about 5 s per MB of filter). Counting stops once past a bound. None when
    the message is not a search or does not walk (the decoder then reports it as it would)."""
    try:
        _, pos, end = _tlv_at(data, 0, len(data))
        tag, start, stop = _tlv_at(data, pos, end)
        if tag != 0x02 or not 1 <= stop - start <= 4:
            return None
        mid = int.from_bytes(data[start:stop], "big")
        tag, pos, end = _tlv_at(data, stop, end)
        if tag != 0x63:                   # [APPLICATION 3] SearchRequest
            return None
        for _ in range(6):                # baseObject, scope, derefAliases, sizeLimit, timeLimit, typesOnly
            _, _, pos = _tlv_at(data, pos, end)
        terms, deepest = 0, 0
        stack = [(pos, _tlv_at(data, pos, end)[2], 1)]   # (next filter, end of its container, depth)
        while stack:
            pos, end, depth = stack.pop()
            if pos >= end:
                continue
            tag, start, stop = _tlv_at(data, pos, end)
            terms, deepest = terms + 1, max(deepest, depth)
            if terms > max_terms or deepest > max_depth:
                break
            stack.append((stop, end, depth))              # this filter's next sibling
            if tag in _FILTER_SETS or tag == _FILTER_NOT:
                stack.append((start, stop, depth + 1))    # its own filters
        return mid, terms, deepest
    except ValueError:
        return None


def decode(data: bytes) -> rfc4511.LDAPMessage:
    message, rest = decoder.decode(data, asn1Spec=MESSAGE)
    if rest:
        raise FrameError("trailing bytes after the message")
    return message


def encode(message) -> bytes:
    return encoder.encode(message)


def message(mid: int, op_name: str, op: Any, controls: list[tuple[str, bytes]] | None = None) -> bytes:
    """An encoded LDAPMessage carrying `op` as protocolOp `op_name`, with optional controls."""
    msg = rfc4511.LDAPMessage()
    msg["messageID"] = mid
    msg["protocolOp"][op_name] = op
    if controls:
        ctrls = msg["controls"]
        for oid, value in controls:
            c = rfc4511.Control()
            c["controlType"] = oid
            c["controlValue"] = value
            ctrls.append(c)
    return encode(msg)


_RESPONSE_TYPES = {
    "bindResponse": rfc4511.BindResponse, "searchResDone": rfc4511.SearchResultDone,
    "modifyResponse": rfc4511.ModifyResponse, "addResponse": rfc4511.AddResponse,
    "delResponse": rfc4511.DelResponse, "modDNResponse": rfc4511.ModifyDNResponse,
    "compareResponse": rfc4511.CompareResponse, "extendedResp": rfc4511.ExtendedResponse,
}


def result(mid: int, op_name: str, code: int, diagnostic: str = "", matched: str = "",
           controls: list[tuple[str, bytes]] | None = None, **extra: Any) -> bytes:
    """An encoded LDAPResult-shaped response (`op_name` such as "bindResponse"); `extra` sets
    further fields (responseName, responseValue)."""
    op = _RESPONSE_TYPES[op_name]()
    op["resultCode"] = code
    op["matchedDN"] = matched
    op["diagnosticMessage"] = diagnostic
    for k, v in extra.items():
        op[k] = v
    return message(mid, op_name, op, controls)


def controls(msg: Any) -> list[tuple[str, bool, bytes | None]]:
    """A decoded message's controls as (OID, criticality, value)."""
    out = []
    ctrls = msg["controls"]
    if ctrls.isValue:
        for c in ctrls:
            value = bytes(c["controlValue"]) if c["controlValue"].isValue else None
            out.append((str(c["controlType"]), bool(c["criticality"]), value))
    return out


def paged_request(value: bytes | None) -> tuple[int, bytes] | None:
    """The paged results control's (size, cookie) (RFC 2696), or None when it does not decode."""
    try:
        v, _ = decoder.decode(value or b"", asn1Spec=RealSearchControlValue())
        return int(v["size"]), bytes(v["cookie"])
    except Exception:  # noqa: BLE001 - any decoding failure of the client's control value
        return None


def paged_value(size: int, cookie: bytes) -> bytes:
    """The paged results control's value for a reply."""
    v = RealSearchControlValue()
    v["size"] = size
    v["cookie"] = cookie
    return encoder.encode(v)


class FilterError(FrameError):
    """A search filter whose BER does not read as a Filter (RFC 4511 4.5.1)."""


_COMPARISONS = {0xA3: "=", 0xA5: ">=", 0xA6: "<=", 0xA8: "~="}
_SUBSTRING_PARTS = {0x80: "initial", 0x81: "any", 0x82: "final"}
MAX_NESTING = 500   # whatever the settings say: deeper would exhaust Python's stack


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """The TLVs inside [start, end), which they must fill exactly."""
    out, pos = [], start
    while pos < end:
        tag, s, e = _tlv_at(data, pos, end)
        out.append((tag, s, e))
        pos = e
    return out


def _text(data: bytes, tlv: tuple[int, int, int], tag: int = 0x04) -> str:
    """An LDAPString: UTF-8 (UnicodeDecodeError otherwise, which the server reports as undecodable)."""
    if tlv[0] != tag:
        raise FilterError(f"expected tag 0x{tag:02x}, got 0x{tlv[0]:02x}")
    return data[tlv[1]:tlv[2]].decode("utf-8")


def to_filter(raw: Any) -> F.Filter:
    """A search request's filter (its BER, as `MESSAGE` leaves it: an undecoded Any) as a
    `filters.Filter`. Raises FilterError, UnicodeDecodeError."""
    data = bytes(raw)
    try:
        tag, start, end = _tlv_at(data, 0, len(data))
        if end != len(data):
            raise FilterError("trailing bytes after the filter")
        return _filter(data, tag, start, end, 1)
    except ValueError as exc:
        raise FilterError(str(exc)) from None


def _filter(data: bytes, tag: int, start: int, end: int, depth: int) -> F.Filter:
    if depth > MAX_NESTING:
        raise FilterError(f"filter nested deeper than {MAX_NESTING}")
    if tag in (0xA0, 0xA1):            # and, or: SET OF Filter (empty: RFC 4526's absolute true/false)
        subs = [_filter(data, t, s, e, depth + 1) for t, s, e in _children(data, start, end)]
        return F.And(subs) if tag == 0xA0 else F.Or(subs)
    if tag == 0xA2:                    # not: exactly one Filter
        inner = _children(data, start, end)
        if len(inner) != 1:
            raise FilterError("not must hold exactly one filter")
        return F.Not(_filter(data, *inner[0], depth + 1))
    if tag == 0x87:                    # present: an AttributeDescription, primitive
        return F.Present(data[start:end].decode("utf-8"))
    if tag in _COMPARISONS:            # AttributeValueAssertion
        parts = _children(data, start, end)
        if len(parts) != 2 or parts[1][0] != 0x04:
            raise FilterError("an attribute value assertion is a description and a value")
        return F.Compare(_COMPARISONS[tag], _text(data, parts[0]), data[parts[1][1]:parts[1][2]])
    if tag == 0xA4:                    # SubstringFilter: type, SEQUENCE OF initial/any/final
        parts = _children(data, start, end)
        if len(parts) != 2 or parts[1][0] != 0x30:
            raise FilterError("a substring filter is a type and a sequence")
        sub = F.Substrings(_text(data, parts[0]))
        for t, s, e in _children(data, parts[1][1], parts[1][2]):
            part = _SUBSTRING_PARTS.get(t)
            if part is None:
                raise FilterError(f"substring choice 0x{t:02x}")
            if part == "any":
                sub.any.append(data[s:e])
            else:
                setattr(sub, part, data[s:e])
        return sub
    if tag == 0xA9:                    # MatchingRuleAssertion
        fields = {t: data[s:e] for t, s, e in _children(data, start, end)}
        if 0x83 not in fields or not set(fields) <= {0x81, 0x82, 0x83, 0x84}:
            raise FilterError("an extensible match needs a matchValue")
        rule = fields[0x81].decode("utf-8") if 0x81 in fields else None
        attr = fields[0x82].decode("utf-8") if 0x82 in fields else None
        return F.Extensible(rule, attr, fields[0x83], bool(fields.get(0x84, b"\x00").strip(b"\x00")))
    raise FilterError(f"unknown filter choice 0x{tag:02x}")


# -- the one hot path encoded without pyasn1 -----------------------------------------------------
# Building pyasn1 objects costs about 0.4 ms for a small SearchResultEntry and over 3 ms for a full
# user, which makes listing a few thousand users take many seconds. Entries are the only message
# sent in bulk, and their shape is fixed, so they are encoded here with plain TLVs. The test
# suite checks that the bytes are identical to pyasn1's encoding of ldap3's SearchResultEntry.
def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def encode_entry(message_id: int, dn: str, attributes: list[tuple[str, list[bytes]]]) -> bytes:
    """LDAPMessage{messageID, searchResEntry{objectName, attributes}} (RFC 4511 4.5.2)."""
    parts = []
    for name, values in attributes:
        vals = b"".join(_tlv(0x04, v) for v in values)
        parts.append(_tlv(0x30, _tlv(0x04, name.encode("utf-8")) + _tlv(0x31, vals)))
    entry = _tlv(0x64, _tlv(0x04, dn.encode("utf-8")) + _tlv(0x30, b"".join(parts)))
    return _tlv(0x30, _integer(message_id) + entry)
