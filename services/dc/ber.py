"""LDAP's BER on the wire: framing TCP bytes into messages, search filters read into
`filters.Filter`, and the encoding of replies; all by hand, without pyasn1.

The requests themselves are read in `ldap_messages.py`, which leaves the search filter as bytes
for `to_filter` here: the Filter CHOICE is a dozen tags (RFC 4511 4.5.1). pyasn1 needed about 5 s
per MB of filter and could not decode ldap3's recursive Filter type reliably (`(!(!(x=y)))`
failed). `search_filter_shape` measures a filter off the raw bytes so an over-complex one is
refused before any decoding. Replies (results, entries, the paged control's value) have fixed
shapes and are written as TLVs; the tests check them byte for byte against pyasn1's encoding of
ldap3's types.
"""
from __future__ import annotations

import asyncio
from typing import Any

from ..common import der
from . import filters as F

MAX_MESSAGE = 10 * 1024 * 1024   # AD's default MaxReceiveBuffer (10 MB)


class FrameError(Exception):
    """The byte stream is not LDAP (wrong tag, indefinite or absurd length)."""


class TooLarge(FrameError):
    """A message longer than MaxReceiveBuffer: AD drops the connection without a word."""




class MessageReader:
    """A connection's LDAPMessages, one complete TLV each, off its stream.

    The connection's bytes are read in chunks into a buffer of its own and cut into messages there:
    one read (and one timer) per request, instead of a read and a timer for the tag and length,
    another for a long length and another for the body (together most of what framing cost a
    bind). A message's header is checked as soon as it is buffered, so a message over
    MaxReceiveBuffer is refused before its body is read, as AD does.

    Timeouts: `idle` for the first byte of a request; once a request has begun, HEADER_SECONDS
    for the rest of its header and BODY_SECONDS for its body (a client that trickles bytes is cut
    off)."""

    HEADER_SECONDS, BODY_SECONDS = 30.0, 60.0
    CHUNK = 65536

    def __init__(self, reader: asyncio.StreamReader, idle: float, max_size: int = MAX_MESSAGE):
        self.reader, self.idle, self.max_size = reader, idle, max_size
        self.buf = bytearray()

    def discard(self) -> int:
        """Drop what is buffered and not yet read (StartTLS: plaintext sent after the request must
        not be taken as sent over TLS); the number of bytes dropped."""
        n = len(self.buf)
        self.buf.clear()
        return n

    async def next(self) -> bytes:
        """The next LDAPMessage. Raises IncompleteReadError at EOF, TimeoutError when idle or too
        slow, FrameError for bytes that cannot be LDAP, TooLarge past MaxReceiveBuffer."""
        loop = asyncio.get_running_loop()
        phase, deadline = "", 0.0
        while True:
            size = self._size()
            if size is not None and len(self.buf) >= size:
                message = bytes(self.buf[:size])
                del self.buf[:size]
                return message
            now = loop.time()
            if size is not None:
                if phase != "body":
                    phase, deadline = "body", now + self.BODY_SECONDS
            elif self.buf:
                if phase != "header":
                    phase, deadline = "header", now + self.HEADER_SECONDS
            elif phase != "idle":
                phase, deadline = "idle", now + self.idle
            if deadline <= now:
                raise TimeoutError()
            async with asyncio.timeout(deadline - now):
                chunk = await self.reader.read(max(self.CHUNK, (size or 0) - len(self.buf)))
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(self.buf), None)
            self.buf += chunk

    def _size(self) -> int | None:
        """The whole size of the buffered message once its header is in, else None."""
        buf = self.buf
        if len(buf) < 2:
            if buf and buf[0] != 0x30:
                raise FrameError(f"tag 0x{buf[0]:02x} is not an LDAPMessage")
            return None
        if buf[0] != 0x30:
            raise FrameError(f"tag 0x{buf[0]:02x} is not an LDAPMessage")
        length = buf[1]
        header = 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise FrameError("indefinite or oversized length")
            if len(buf) < 2 + count:
                return None
            length = int.from_bytes(buf[2:2 + count], "big")
            header += count
        if length > self.max_size:
            raise TooLarge(f"message of {length} bytes exceeds MaxReceiveBuffer ({self.max_size})")
        return header + length


_FILTER_SETS = (0xA0, 0xA1)        # and, or: a SET OF Filter
_FILTER_NOT = 0xA2


_tlv_at = der.read_tlv    # (tag, content start, content end); ValueError when it overruns


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


_RESPONSE_TAGS = {
    "bindResponse": 0x61, "searchResDone": 0x65, "modifyResponse": 0x67, "addResponse": 0x69,
    "delResponse": 0x6B, "modDNResponse": 0x6D, "compareResponse": 0x6F, "extendedResp": 0x78,
}
# The fields after LDAPResult's three, in their order: BindResponse's serverSaslCreds [7],
# ExtendedResponse's responseName [10] and responseValue [11] (RFC 4511 4.2.2, 4.12).
_EXTRA_TAGS = {"serverSaslCreds": 0x87, "responseName": 0x8A, "responseValue": 0x8B}


def result(mid: int, op_name: str, code: int, diagnostic: str = "", matched: str = "",
           controls: list[tuple[str, bytes]] | None = None, **extra: Any) -> bytes:
    """An encoded LDAPResult-shaped response (`op_name` such as "bindResponse"); `extra` sets
    further fields (responseName, responseValue, serverSaslCreds). Byte for byte what pyasn1 makes
    of ldap3's types (tests/services/dc/test_dc_ldap_messages.py)."""
    body = _tlv(0x0A, _signed(code)) + _tlv(0x04, matched.encode("utf-8")) + _tlv(0x04, diagnostic.encode("utf-8"))
    for name, tag in _EXTRA_TAGS.items():
        if name in extra:
            v = extra.pop(name)
            body += _tlv(tag, v.encode("utf-8") if isinstance(v, str) else bytes(v))
    if extra:
        raise TypeError(f"no such response field: {', '.join(extra)}")
    out = _integer(mid) + _tlv(_RESPONSE_TAGS[op_name], body)
    if controls:
        out += _tlv(0xA0, b"".join(_tlv(0x30, _tlv(0x04, oid.encode()) + _tlv(0x04, value))
                                   for oid, value in controls))
    return _tlv(0x30, out)


def paged_value(size: int, cookie: bytes) -> bytes:
    """The paged results control's value for a reply (RFC 2696)."""
    return _tlv(0x30, _integer(size) + _tlv(0x04, cookie))


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


# -- TLVs --------------------------------------------------------------------------------------
# Building pyasn1 objects cost about 0.4 ms for a small SearchResultEntry and over 3 ms for a full
# user (and about 0.1 ms for a bind's result), so every reply is written with these.
_tlv = der.tlv


def _signed(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)


def _integer(value: int) -> bytes:
    return _tlv(0x02, _signed(value))


def encode_entry(message_id: int, dn: str, attributes: list[tuple[str, list[Any]]],
                 types_only: bool = False) -> bytes:
    """LDAPMessage{messageID, searchResEntry{objectName, attributes}} (RFC 4511 4.5.2); values are
    bytes or text (UTF-8), none with `types_only`. A listing encodes thousands of these: the
    short-form OCTET STRINGs (most values) are written inline, without a call each."""
    tlv = _tlv
    parts = []
    for name, values in attributes:
        chunks = []
        if not types_only:
            for v in values:
                raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
                n = len(raw)
                chunks.append(bytes((0x04, n)) + raw if n < 0x80 else tlv(0x04, raw))
        key = name.encode("utf-8")
        parts.append(tlv(0x30, bytes((0x04, len(key))) + key + tlv(0x31, b"".join(chunks)) if len(key) < 0x80
                         else tlv(0x04, key) + tlv(0x31, b"".join(chunks))))
    entry = _tlv(0x64, _tlv(0x04, dn.encode("utf-8")) + _tlv(0x30, b"".join(parts)))
    return _tlv(0x30, _integer(message_id) + entry)
