"""LDAP clients of the DC: `close_quietly` for ldap3 connections, and `LdapConnection`, a small
asyncio LDAP client (simple bind, search, unbind) for the services that read the directory on
their request path (AD Connector's sign-ins and user lookups).

Why a client of our own there: ldap3 blocks, so every read needed a thread, and its BER codec
and result parsing were the largest share of AD Connector's CPU per sign-in. The requests are
written as ldap3 writes them (RFC 4511: message IDs from 1, LDAPv3, derefAliases always, no
controls), so the DC sees the same operations; the replies are read as raw values
(`Entry.attributes`: attribute name -> list of bytes, as ldap3's `entry_raw_attributes`).

Errors keep ldap3's exception names (the connector's messages and events carry them:
"LDAP error: LDAPSocketOpenError"), and a failed operation's `Result.description` is RFC 4511's
name for the code ("invalidCredentials"), as ldap3's `result['description']`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .der import read_tlv, tlv

if TYPE_CHECKING:
    import ldap3


def close_quietly(conn: ldap3.Connection) -> None:
    """Unbind, ignoring a connection the DC already reset or dropped.

    ldap3 raises from `unbind()` when the socket is gone (LDAPSocketSendError: broken pipe); that
    must never replace the outcome the caller already decided on.
    """
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing is best effort by design
        pass


# -- errors ----------------------------------------------------------------------------------------
class LDAPException(Exception):
    """The connection failed; the class name says how (ldap3's names)."""


class LDAPSocketOpenError(LDAPException):
    """The TCP connection could not be opened (refused, unreachable, no answer in time)."""


class LDAPSocketReceiveError(LDAPException):
    """No reply in time, or the connection broke while waiting for one."""


class LDAPSocketSendError(LDAPException):
    """The request could not be written."""


class LDAPSessionTerminatedByServerError(LDAPException):
    """The server closed the connection (EOF, or a Notice of Disconnection)."""


class LDAPInvalidFilterError(LDAPException):
    """The search filter string is not RFC 4515 (or uses a form this client does not write)."""


class LDAPUserNameIsMandatoryError(LDAPException):
    """A simple bind without a name: refused here, never sent (an anonymous bind is not asked for)."""


class LDAPPasswordIsMandatoryError(LDAPException):
    """A simple bind without a password: refused here, never sent (RFC 4513 5.1.2's unauthenticated
    bind would succeed with no password checked)."""


class LDAPProtocolError(LDAPException):
    """The reply is not LDAP as RFC 4511 writes it."""


# RFC 4511 4.1.9 (and the codes of RFC 3909, 4370, 4533 ldap3 also names), as ldap3 spells them.
RESULT_NAMES = {
    0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    4: "sizeLimitExceeded", 5: "compareFalse", 6: "compareTrue", 7: "authMethodNotSupported",
    8: "strongerAuthRequired", 10: "referral", 11: "adminLimitExceeded",
    12: "unavailableCriticalExtension", 13: "confidentialityRequired", 14: "saslBindInProgress",
    16: "noSuchAttribute", 17: "undefinedAttributeType", 18: "inappropriateMatching",
    19: "constraintViolation", 20: "attributeOrValueExists", 21: "invalidAttributeSyntax",
    32: "noSuchObject", 33: "aliasProblem", 34: "invalidDNSyntax", 35: "isLeaf",
    36: "aliasDereferencingProblem", 48: "inappropriateAuthentication", 49: "invalidCredentials",
    50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform",
    54: "loopDetected", 60: "sortControlMissing", 61: "offsetRangeError", 64: "namingViolation",
    65: "objectClassViolation", 66: "notAllowedOnNonLeaf", 67: "notAllowedOnRDN",
    68: "entryAlreadyExists", 69: "objectClassModsProhibited", 70: "resultsTooLarge",
    71: "affectsMultipleDSAs", 76: "controlError", 80: "other", 113: "SSLUnavailable",
    114: "SSLPeerAuthenticationFailed", 118: "canceled", 119: "noSuchOperation", 120: "tooLate",
    121: "cannotCancel", 122: "assertionFailed", 123: "authorizationDenied", 4096: "eSyncRefreshRequired",
}


@dataclass
class Result:
    """An operation's LDAPResult."""
    code: int
    diagnostic: str = ""
    matched: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def description(self) -> str:
        return RESULT_NAMES.get(self.code, "unknown")


@dataclass
class Entry:
    dn: str
    attributes: dict[str, list[bytes]] = field(default_factory=dict)   # as the server spelled the names

    def get(self, name: str) -> list[bytes] | None:
        """The values of `name`, compared without regard to case (LDAP's attribute names)."""
        lowered = name.lower()
        for key, values in self.attributes.items():
            if key.lower() == lowered:
                return values
        return None


# -- BER -----------------------------------------------------------------------------------------
def _integer(value: int) -> bytes:
    """A non-negative INTEGER's contents, minimal (X.690 8.3)."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def escape_filter_chars(text: str) -> str:
    """`text` as an RFC 4515 assertion value: `* ( ) \\ NUL` escaped (as ldap3's helper does)."""
    return (text.replace("\\", "\\5c").replace("*", "\\2a").replace("(", "\\28")
            .replace(")", "\\29").replace("\x00", "\\00"))


def _unescape(value: str) -> bytes:
    raw = value.encode("utf-8")
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C:
            try:
                out.append(int(raw[i + 1:i + 3], 16))
            except ValueError:
                raise LDAPInvalidFilterError(f"bad escape in {value!r}") from None
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


_ITEM_TAGS = {">=": 0xA5, "<=": 0xA6, "~=": 0xA8, "=": 0xA3}


def encode_filter(text: str) -> bytes:
    """An RFC 4515 filter string as RFC 4511's Filter: and, or, not, equality, >=, <=, ~= and
    presence (substring assertions are not written by this client: its callers escape `*`)."""
    encoded, end = _filter(text.strip(), 0)
    if end != len(text.strip()):
        raise LDAPInvalidFilterError(f"trailing characters in filter {text!r}")
    return encoded


def _filter(text: str, pos: int) -> tuple[bytes, int]:
    if pos >= len(text) or text[pos] != "(":
        raise LDAPInvalidFilterError(f"filter component must start with '(' at {pos}: {text!r}")
    pos += 1
    if pos < len(text) and text[pos] in "&|!":
        op = text[pos]
        pos += 1
        parts = []
        while pos < len(text) and text[pos] == "(":
            part, pos = _filter(text, pos)
            parts.append(part)
        if pos >= len(text) or text[pos] != ")" or not parts or (op == "!" and len(parts) != 1):
            raise LDAPInvalidFilterError(f"malformed '{op}' at {pos}: {text!r}")
        return tlv({"&": 0xA0, "|": 0xA1, "!": 0xA2}[op], b"".join(parts)), pos + 1
    close = text.find(")", pos)
    if close < 0:
        raise LDAPInvalidFilterError(f"unclosed filter component: {text!r}")
    item = text[pos:close]
    for op in (">=", "<=", "~=", "="):
        at = item.find(op)
        if at > 0:
            attr, value = item[:at], item[at + len(op):]
            break
    else:
        raise LDAPInvalidFilterError(f"no operator in {item!r}")
    if op == "=" and value == "*":
        return tlv(0x87, attr.encode("utf-8")), close + 1
    if op == "=" and "*" in value:
        raise LDAPInvalidFilterError(f"substring filters are not written by this client: {item!r}")
    return tlv(_ITEM_TAGS[op], tlv(0x04, attr.encode("utf-8")) + tlv(0x04, _unescape(value))), close + 1


def _read(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`."""
    try:
        return read_tlv(data, pos, end)
    except ValueError as exc:
        raise LDAPProtocolError(f"reply: {exc}") from None


def _result(data: bytes, pos: int, end: int) -> Result:
    _, s, e = _read(data, pos, end)
    code = int.from_bytes(data[s:e], "big")
    _, s, pos = _read(data, e, end)
    matched = data[s:pos].decode("utf-8", "replace")
    _, s, e = _read(data, pos, end)
    return Result(code, data[s:e].decode("utf-8", "replace"), matched)


def _entry(data: bytes, pos: int, end: int) -> Entry:
    _, s, e = _read(data, pos, end)
    entry = Entry(data[s:e].decode("utf-8", "replace"))
    _, pos, end = _read(data, e, end)               # PartialAttributeList
    while pos < end:
        _, s, pos = _read(data, pos, end)           # PartialAttribute
        _, ts, te = _read(data, s, pos)
        _, vs, ve = _read(data, te, pos)            # SET OF value
        values = []
        while vs < ve:
            _, a, vs = _read(data, vs, ve)
            values.append(data[a:vs])
        entry.attributes[data[ts:te].decode("utf-8", "replace")] = values
    return entry


# -- the connection ------------------------------------------------------------------------------
class LdapConnection:
    """One LDAP connection: `async with await LdapConnection.open(...) as conn:` binds and reads;
    leaving the block unbinds and closes, quietly (a dead socket never replaces the outcome)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, receive_timeout: float):
        self.reader, self.writer, self.receive_timeout = reader, writer, receive_timeout
        self.message_id = 0
        self.buf = bytearray()

    @classmethod
    async def open(cls, host: str, port: int, *, source: str | None = None, connect_timeout: float = 3.0,
                   receive_timeout: float = 5.0) -> LdapConnection:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, local_addr=(source, 0) if source else None), connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise LDAPSocketOpenError(f"socket connection error while opening: {exc}") from None
        return cls(reader, writer, receive_timeout)

    async def __aenter__(self) -> LdapConnection:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _send(self, op: bytes) -> int:
        self.message_id += 1
        try:
            self.writer.write(tlv(0x30, tlv(0x02, _integer(self.message_id)) + op))
        except (OSError, RuntimeError) as exc:
            raise LDAPSocketSendError(str(exc)) from None
        return self.message_id

    async def _message(self) -> tuple[int, int, bytes, int, int]:
        """The next LDAPMessage: (messageID, protocolOp tag, the message, op start, op end)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.receive_timeout
        while True:
            size = self._size()
            if size is not None and len(self.buf) >= size:
                data = bytes(self.buf[:size])
                del self.buf[:size]
                _, pos, end = _read(data, 0, len(data))
                _, s, e = _read(data, pos, end)
                mid = int.from_bytes(data[s:e], "big")
                tag, s, op_end = _read(data, e, end)
                if mid == 0:        # Notice of Disconnection (RFC 4511 4.4.1)
                    raise LDAPSessionTerminatedByServerError("notice of disconnection")
                return mid, tag, data, s, op_end
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LDAPSocketReceiveError("timed out")
            try:
                async with asyncio.timeout(remaining):
                    chunk = await self.reader.read(65536)
            except TimeoutError:
                raise LDAPSocketReceiveError("timed out") from None
            except OSError as exc:
                raise LDAPSocketReceiveError(str(exc)) from None
            if not chunk:
                raise LDAPSessionTerminatedByServerError("the server closed the connection")
            self.buf += chunk

    def _size(self) -> int | None:
        buf = self.buf
        if len(buf) < 2:
            return None
        if buf[0] != 0x30:
            raise LDAPProtocolError(f"tag 0x{buf[0]:02x} is not an LDAPMessage")
        n = buf[1]
        if not n & 0x80:
            return 2 + n
        count = n & 0x7F
        if count == 0 or count > 4:
            raise LDAPProtocolError("indefinite or oversized length")
        if len(buf) < 2 + count:
            return None
        return 2 + count + int.from_bytes(buf[2:2 + count], "big")

    async def bind(self, user: str, password: str) -> Result:
        """A simple bind (LDAPv3); the server's result, whatever it is."""
        if not user:
            raise LDAPUserNameIsMandatoryError("user name is mandatory in simple bind")
        if not password:
            raise LDAPPasswordIsMandatoryError("password is mandatory in simple bind")
        mid = self._send(tlv(0x60, b"\x02\x01\x03" + tlv(0x04, user.encode("utf-8"))
                             + tlv(0x80, password.encode("utf-8"))))
        while True:
            got, tag, data, s, e = await self._message()
            if got == mid and tag == 0x61:
                return _result(data, s, e)

    async def search(self, base: str, ldap_filter: str, attributes: list[str], *, size_limit: int = 0,
                     time_limit: int = 0) -> tuple[Result, list[Entry]]:
        """A whole-subtree search (derefAliases always, as ldap3's default): the result and the entries."""
        request = (tlv(0x04, base.encode("utf-8")) + b"\x0a\x01\x02\x0a\x01\x03"
                   + tlv(0x02, _integer(size_limit)) + tlv(0x02, _integer(time_limit)) + b"\x01\x01\x00"
                   + encode_filter(ldap_filter)
                   + tlv(0x30, b"".join(tlv(0x04, a.encode("utf-8")) for a in attributes)))
        mid = self._send(tlv(0x63, request))
        entries: list[Entry] = []
        while True:
            got, tag, data, s, e = await self._message()
            if got != mid:
                continue
            if tag == 0x64:
                entries.append(_entry(data, s, e))
            elif tag == 0x65:
                return _result(data, s, e), entries
            # 0x73 SearchResultReference: a referral elsewhere, not followed (nor by ldap3's default)

    async def close(self) -> None:
        """UnbindRequest and close; a connection already gone is fine."""
        try:
            if not self.writer.is_closing():
                self._send(b"\x42\x00")
            self.writer.close()
            await self.writer.wait_closed()
        except (OSError, LDAPException, RuntimeError):
            pass
