"""LDAP's BER on the wire: framing TCP bytes into messages, the ASN.1 specs to decode them, decoded
filters as `filters.Filter`, and the encoding of replies.

The specs are ldap3's own (`ldap3.protocol.rfc4511`). One repair is needed: ldap3 builds the
recursive Filter type (and/or/not contain Filters) by assigning class attributes after the
instances inside Filter were made, which pyasn1 0.6 snapshots, so a decoder given ldap3's
LDAPMessage cannot read `(&...)`, `(|...)` or `(!...)`. `MESSAGE` below is the same message
type with a Filter that really refers to itself; no tag numbers are written here.
"""
from __future__ import annotations

import asyncio
from typing import Any

from ldap3.protocol import rfc4511
from ldap3.protocol.rfc2696 import RealSearchControlValue
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type.namedtype import NamedType, NamedTypes

from . import filters as F

MAX_MESSAGE = 10 * 1024 * 1024   # AD's default MaxReceiveBuffer (10 MB)


class FrameError(Exception):
    """The byte stream is not LDAP (wrong tag, indefinite or absurd length)."""


def _with(types: NamedTypes, **replace) -> NamedTypes:
    return NamedTypes(*[type(n)(n.name, replace.get(n.name, n.asn1Object)) for n in types.namedTypes])


def _message_spec() -> rfc4511.LDAPMessage:
    flt = rfc4511.Filter()
    search = rfc4511.SearchRequest(componentType=_with(rfc4511.SearchRequest.componentType, filter=flt))
    op = rfc4511.ProtocolOp(componentType=_with(rfc4511.ProtocolOp.componentType, searchRequest=search))
    message = rfc4511.LDAPMessage(componentType=_with(rfc4511.LDAPMessage.componentType, protocolOp=op))
    # Tie the knot only now: the enclosing types above computed their tag maps from a
    # non-recursive Filter (same outer tags), and pyasn1 renders recursive types in errors badly.
    recursive = _with(rfc4511.Filter.componentType, **{
        "and": rfc4511.And(componentType=flt),
        "or": rfc4511.Or(componentType=flt),
        "notFilter": rfc4511.Not(componentType=NamedTypes(NamedType("innerNotFilter", flt))),
    })
    flt._readOnly["componentType"] = recursive
    flt.__dict__["componentType"] = recursive
    return message


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
        raise FrameError(f"message of {length} bytes exceeds {max_size}")
    body = await asyncio.wait_for(reader.readexactly(length), 60)
    return header + body


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


_COMPARISONS = {"equalityMatch": "=", "greaterOrEqual": ">=", "lessOrEqual": "<=", "approxMatch": "~="}


def to_filter(f: Any) -> F.Filter:
    """A decoded BER Filter (pyasn1) as a `filters.Filter`."""
    kind = f.getName()
    c = f.getComponent()
    if kind == "and":
        return F.And([to_filter(x) for x in c])
    if kind == "or":
        return F.Or([to_filter(x) for x in c])
    if kind == "notFilter":
        return F.Not(to_filter(c["innerNotFilter"]))
    if kind == "present":
        return F.Present(str(c))
    if kind in _COMPARISONS:
        return F.Compare(_COMPARISONS[kind], str(c["attributeDesc"]), bytes(c["assertionValue"]))
    if kind == "substringFilter":
        sub = F.Substrings(str(c["type"]))
        for s in c["substrings"]:
            part, value = s.getName(), bytes(s.getComponent())
            if part == "initial":
                sub.initial = value
            elif part == "final":
                sub.final = value
            else:
                sub.any.append(value)
        return sub
    if kind == "extensibleMatch":
        rule = str(c["matchingRule"]) if c["matchingRule"].isValue else None
        attr = str(c["type"]) if c["type"].isValue else None
        dn_attrs = bool(c["dnAttributes"]) if c["dnAttributes"].isValue else False
        return F.Extensible(rule, attr, bytes(c["matchValue"]), dn_attrs)
    raise ValueError(f"unknown filter choice {kind}")


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
