"""The RADIUS wire: decoding and validating datagrams, and encoding replies (RFC 2865/2869/3579/5997).

pyrad supplies the codec (packet layout, dictionary, User-Password hiding, Message-Authenticator
HMAC); this module adds what pyrad 2.6.0's server lacks or leaves optional, because those are the
rules a conformant server is measured by (docs/radius.md, "The protocol"):

- silent discard (never a reply, never a traceback) of: bad Length, truncated or overlong packets,
  broken attribute lengths, codes other than Access-Request and Status-Server, a wrong
  Message-Authenticator, a missing one where it is required (always for Status-Server, RFC 5997;
  with EAP-Message, RFC 3579 §3.2; for Access-Request when the app says
  requireMessageAuthenticator, BlastRADIUS);
- replies carry Message-Authenticator as their FIRST attribute (BlastRADIUS), a correct Response
  Authenticator, and the request's Proxy-State attributes unmodified and in order.

Nothing here knows about Okta; `agent.py` ties the wire to the logic.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import struct
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

DICTIONARY_PATH = Path(__file__).with_name("dictionary")

ACCESS_REQUEST = rp.AccessRequest        # 1
ACCESS_ACCEPT = rp.AccessAccept          # 2
ACCESS_REJECT = rp.AccessReject          # 3
ACCESS_CHALLENGE = rp.AccessChallenge    # 11
STATUS_SERVER = rp.StatusServer          # 12
CODE_NAMES = {1: "Access-Request", 2: "Access-Accept", 3: "Access-Reject", 4: "Accounting-Request",
              5: "Accounting-Response", 11: "Access-Challenge", 12: "Status-Server"}

MIN_LENGTH = 20
MAX_LENGTH = 4096                        # RFC 2865 §3
ATTR_USER_NAME = 1
ATTR_USER_PASSWORD = 2
ATTR_CHAP_PASSWORD = 3
ATTR_REPLY_MESSAGE = 18
ATTR_STATE = 24
ATTR_PROXY_STATE = 33
ATTR_MESSAGE_AUTHENTICATOR = 80
ATTR_EAP_MESSAGE = 79
VENDOR_MICROSOFT = 311

log = logging.getLogger("lab.radius-agent.wire")

_ZEROS = bytes(16)
_MA_TYPE_LENGTH = bytes((ATTR_MESSAGE_AUTHENTICATOR, 18))
_MA_ZEROED = _MA_TYPE_LENGTH + _ZEROS
_HEADER = struct.Struct("!BBH")

_dictionary: Dictionary | None = None


def dictionary() -> Dictionary:
    """The agent's own dictionary (shipped in this package), loaded once."""
    global _dictionary
    if _dictionary is None:
        _dictionary = Dictionary(str(DICTIONARY_PATH))
    return _dictionary


class Discard(Exception):
    """Silently discard the datagram; the message is the reason for the log/event."""


class Request:
    """A decoded, validated request. A Status-Server is never handed to pyrad (`packet` is None:
    its reply needs only the header and Proxy-State, taken from the octets); an Access-Request is
    decoded by pyrad for its attributes and User-Password."""
    __slots__ = ("authenticator", "code", "has_message_authenticator", "id", "local_port", "packet",
                 "proxy_states", "raw", "secret", "source")

    def __init__(self, packet: rp.AuthPacket | None, raw: bytes, source: tuple[str, int], local_port: int,
                 secret: bytes, proxy_states: list[bytes], has_message_authenticator: bool) -> None:
        self.packet = packet
        self.raw = raw
        self.source = source
        self.local_port = local_port
        self.code = raw[0]
        self.id = raw[1]
        self.authenticator = raw[4:20]
        self.secret = secret
        self.proxy_states = proxy_states          # in the order they came (RFC 2865 §5.33)
        self.has_message_authenticator = has_message_authenticator

    @property
    def _attrs(self) -> rp.AuthPacket:
        if self.packet is None:        # a Status-Server: no attributes the agent reads
            raise LookupError(f"{CODE_NAMES[self.code]} carries no attributes the agent reads")
        return self.packet

    def user_name(self) -> str:
        values = OrderedDict.get(self._attrs, ATTR_USER_NAME) or []
        if not values:
            return ""
        return bytes(values[0]).decode("utf-8", errors="replace")

    def name_as_logged(self) -> str:
        """The user name the agent's log shows. With a client set to MS-CHAPv2 Okta's RADIUS
        troubleshooting page says the log shows a malformed name ("the user sent 'bob' but the
        log shows 'Á'"): the lab reads the MS-CHAP response's Ident octet as Latin-1 text, one
        way that symptom arises (a reconstruction: Okta does not say where the name comes from)."""
        for attr in ((VENDOR_MICROSOFT, 25), (VENDOR_MICROSOFT, 1)):
            values = OrderedDict.get(self._attrs, attr) or []
            if values and bytes(values[0]):
                return bytes(values[0])[:1].decode("latin-1")
        return self.user_name()

    def auth_protocol(self) -> str:
        """PAP, CHAP, MS-CHAPv2, MS-CHAP, EAP or none: the agent only does PAP (docs/radius.md)."""
        if OrderedDict.__contains__(self._attrs, ATTR_USER_PASSWORD):
            return "PAP"
        if OrderedDict.__contains__(self._attrs, ATTR_CHAP_PASSWORD):
            return "CHAP"
        if OrderedDict.__contains__(self._attrs, (VENDOR_MICROSOFT, 25)):
            return "MS-CHAPv2"
        if OrderedDict.__contains__(self._attrs, (VENDOR_MICROSOFT, 1)):
            return "MS-CHAP"
        if OrderedDict.__contains__(self._attrs, ATTR_EAP_MESSAGE):
            return "EAP"
        return "none"

    def eap_identifier(self) -> int:
        """The Identifier of the EAP packet carried in EAP-Message (RFC 3748 §4; 0 if too short)."""
        eap = b"".join(bytes(v) for v in OrderedDict.get(self._attrs, ATTR_EAP_MESSAGE) or [])
        return eap[1] if len(eap) >= 2 else 0

    def nas_ip(self) -> str | None:
        """NAS-IP-Address (RFC 2865 §5.4): the address the client says it sends from."""
        values = OrderedDict.get(self._attrs, 4) or []
        raw = bytes(values[0]) if values else b""
        return ".".join(str(b) for b in raw) if len(raw) == 4 else None

    def state(self) -> bytes | None:
        """The State attribute (RFC 2865 §5.24), echoed by a client answering an Access-Challenge."""
        values = OrderedDict.get(self._attrs, ATTR_STATE) or []
        return bytes(values[0]) if values else None

    def password(self) -> str:
        """The decrypted User-Password (RFC 2865 §5.2). Raises ValueError when malformed."""
        values = OrderedDict.get(self._attrs, ATTR_USER_PASSWORD) or []
        if len(values) != 1:
            raise ValueError("expected exactly one User-Password")
        hidden = bytes(values[0])
        if not hidden or len(hidden) % 16 or len(hidden) > 128:
            raise ValueError(f"User-Password of {len(hidden)} octets (must be 16-128, a multiple of 16)")
        return self._attrs.PwDecrypt(hidden)


def header(data: bytes) -> tuple[int, int, int]:
    """(code, identifier, length) after checking the Length field; raises Discard."""
    if len(data) < MIN_LENGTH:
        raise Discard(f"datagram of {len(data)} octets is shorter than a RADIUS header")
    code, ident, length = struct.unpack("!BBH", data[:4])
    if length < MIN_LENGTH or length > MAX_LENGTH:
        raise Discard(f"Length field {length} outside {MIN_LENGTH}-{MAX_LENGTH}")
    if len(data) < length:
        raise Discard(f"Length field {length} exceeds the datagram ({len(data)} octets)")
    return code, ident, length


def check_attributes(data: bytes) -> tuple[list[int], list[bytes], bool]:
    """Walk the attributes of a packet already cut to its Length; raises Discard when one is
    broken (RFC 2865 §5: Length counts the type and length octets, so it is at least 2, and an
    attribute must end within the packet). pyrad 2.6.0 checks the first but quietly truncates an
    attribute that runs past the end, so it is checked here before pyrad sees the packet.
    Returns what the wire rules need, in the same walk: the offsets of Message-Authenticator
    attributes, the Proxy-State values in order, and whether an EAP-Message is present."""
    ma_at: list[int] = []
    proxy_states: list[bytes] = []
    eap = False
    pos, end = MIN_LENGTH, len(data)
    while pos < end:
        if pos + 2 > end:
            raise Discard(f"a lone octet where an attribute header should be, at octet {pos}")
        number, length = data[pos], data[pos + 1]
        if length < 2:
            raise Discard(f"attribute {number} at octet {pos} has Length {length} (less than 2)")
        if pos + length > end:
            raise Discard(f"attribute {number} at octet {pos} (Length {length}) runs past the end of the "
                          f"packet ({end} octets)")
        if number == ATTR_MESSAGE_AUTHENTICATOR:
            ma_at.append(pos)
        elif number == ATTR_PROXY_STATE:
            proxy_states.append(data[pos + 2:pos + length])
        elif number == ATTR_EAP_MESSAGE:
            eap = True
        pos += length
    return ma_at, proxy_states, eap


def message_authenticator_valid(data: bytes, at: int, secret: bytes) -> bool:
    """RFC 3579 §3.2 on the octets as received: HMAC-MD5 keyed with the secret over the packet
    with the attribute's value zeroed (a request's own Request Authenticator stays in place)."""
    if data[at + 1] != 18:
        return False
    mac = hmac.digest(secret, data[:at + 2] + _ZEROS + data[at + 18:], "md5")
    return hmac.compare_digest(mac, data[at + 2:at + 18])


def parse(data: bytes, source: tuple[str, int], local_port: int, secret: bytes, *,
          require_message_authenticator: bool) -> Request:
    """Decode and authenticate one datagram, or raise Discard with the reason."""
    code, _, length = header(data)
    if code not in (ACCESS_REQUEST, STATUS_SERVER):
        raise Discard(f"{CODE_NAMES.get(code, 'code ' + str(code))} is not served on an authentication port")
    data = data[:length]                 # octets beyond Length are padding (RFC 2865 §3)
    ma_at, proxy_states, eap = check_attributes(data)
    if ma_at:
        if len(ma_at) != 1 or data[ma_at[0] + 1] != 18:
            raise Discard("malformed Message-Authenticator")
        if not message_authenticator_valid(data, ma_at[0], secret):
            raise Discard("bad Message-Authenticator (wrong shared secret or altered packet)")
    elif code == STATUS_SERVER:
        raise Discard("Status-Server without Message-Authenticator (RFC 5997 §3)")
    elif eap:
        raise Discard("EAP-Message without Message-Authenticator (RFC 3579 §3.2)")
    elif require_message_authenticator:
        raise Discard("Access-Request without Message-Authenticator, which this app requires")
    if code == STATUS_SERVER:
        # answered from the header and Proxy-State alone: pyrad's decoding was a third of its cost
        return Request(None, data, source, local_port, secret, proxy_states, True)
    try:
        pkt = rp.AuthPacket(packet=data, secret=secret, dict=dictionary())
    except Exception as exc:  # noqa: BLE001 - pyrad raises PacketError, but a codec bug must not escape
        raise Discard(f"malformed {CODE_NAMES[code]}: {exc}") from None
    return Request(pkt, data, source, local_port, secret, proxy_states, bool(ma_at))


def encode_reply(request: Request, code: int, attributes: list[tuple[int, bytes]] | None = None) -> bytes:
    """A reply with Message-Authenticator first, Proxy-State copied in order, then `attributes`
    ((number, raw value) pairs, e.g. State, Reply-Message, Filter-Id, Class, Vendor-Specific), and
    the Response Authenticator computed over the final bytes (RFC 2865 §3, RFC 3579 §3.2).

    Encoded here rather than through pyrad's reply packet (CreateReply, ReplyPacket): the layout
    is a few concatenations and two MD5s, and pyrad's object path was half the agent's CPU for a
    Status-Server; tests check the bytes with pyrad's own VerifyReply."""
    secret = request.secret
    # Message-Authenticator zeroed while the HMAC is computed over the whole reply
    parts = [_MA_ZEROED]
    for value in request.proxy_states:
        parts.append(bytes((ATTR_PROXY_STATE, len(value) + 2)))
        parts.append(value)
    for number, value in attributes or ():
        if not 1 <= len(value) <= 253:
            raise ValueError(f"attribute {number}: {len(value)} octets (must be 1-253)")
        parts.append(bytes((number, len(value) + 2)))
        parts.append(value)
    attrs = b"".join(parts)
    length = 20 + len(attrs)
    if length > MAX_LENGTH:
        raise ValueError(f"reply of {length} octets is longer than RADIUS allows ({MAX_LENGTH})")
    head = _HEADER.pack(code, request.id, length) + request.authenticator
    attrs = _MA_TYPE_LENGTH + hmac.digest(secret, head + attrs, "md5") + attrs[18:]
    return head[:4] + hashlib.md5(head + attrs + secret).digest() + attrs


def eap_failure(identifier: int) -> list[tuple[int, bytes]]:
    """EAP-Message carrying EAP-Failure (RFC 3748 §4.2: code 4, the response's Identifier, length 4),
    as an Access-Reject answering an EAP conversation carries it (RFC 3579 §2.6.3)."""
    return [(ATTR_EAP_MESSAGE, bytes((4, identifier, 0, 4)))]


def reply_message(text: str) -> list[tuple[int, bytes]]:
    """Reply-Message attributes for `text`, split at 253 octets (RFC 2865 §5.18: several
    Reply-Messages are shown one after the other)."""
    data = text.encode("utf-8")
    return [(ATTR_REPLY_MESSAGE, data[i:i + 253]) for i in range(0, len(data), 253)] or [(ATTR_REPLY_MESSAGE, b" ")]


def verify_reply_message_authenticator(reply: bytes, request_authenticator: bytes, secret: bytes) -> bool:
    """Check a reply's Message-Authenticator (RFC 3579 §3.2); used by tests and the benchmark."""
    attrs = reply[20:]
    loc, found = 0, None
    while loc + 2 <= len(attrs):
        typ, ln = attrs[loc], attrs[loc + 1]
        if ln < 2:
            return False
        if typ == ATTR_MESSAGE_AUTHENTICATOR and ln == 18:
            found = loc
            break
        loc += ln
    if found is None:
        return False
    value = attrs[found + 2:found + 18]
    zeroed = attrs[:found + 2] + bytes(16) + attrs[found + 18:]
    mac = hmac.new(secret, reply[:4] + request_authenticator + zeroed, "md5").digest()
    return hmac.compare_digest(mac, value)


# (data, source, local port, endpoint) -> None when the datagram is dealt with, or what is left to
# wait for (a coroutine, run as a task)
Handler = Callable[[bytes, tuple[str, int], int, "Endpoint"], Awaitable[None] | None]


class Endpoint(asyncio.DatagramProtocol):
    """One listening UDP port. The handler runs in the datagram callback and returns what must wait
    (an Access-Request at the org), which becomes a task, so a pending push never blocks the port;
    exceptions from either are logged, never allowed to stop the endpoint."""

    def __init__(self, port: int, handler: Handler) -> None:
        self.port = port
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            rest = self.handler(data, addr, self.port, self)
        except Exception:
            log.exception("unexpected error handling a datagram from %s:%s on port %s", addr[0], addr[1], self.port)
            return
        if rest is not None:
            task = asyncio.get_running_loop().create_task(self._run(rest, addr))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, rest: Awaitable[None], addr: tuple[str, int]) -> None:
        try:
            await rest
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error handling a datagram from %s:%s on port %s", addr[0], addr[1], self.port)

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors on send: nothing to do
        log.debug("UDP error on port %s: %s", self.port, exc)

    def abandon(self) -> int:
        """Drop the requests still in progress (the admin reset: the lab back to its seed, as a
        restarted agent would be): no answer, no event. How many were dropped."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        return len(tasks)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.abandon()
