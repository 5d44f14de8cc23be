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
from dataclasses import dataclass
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

_dictionary: Dictionary | None = None


def dictionary() -> Dictionary:
    """The agent's own dictionary (shipped in this package), loaded once."""
    global _dictionary
    if _dictionary is None:
        _dictionary = Dictionary(str(DICTIONARY_PATH))
    return _dictionary


class Discard(Exception):
    """Silently discard the datagram; the message is the reason for the log/event."""


@dataclass
class Request:
    """A decoded, validated request."""
    packet: rp.AuthPacket
    raw: bytes
    source: tuple[str, int]
    local_port: int

    @property
    def code(self) -> int:
        return self.packet.code

    @property
    def id(self) -> int:
        return self.packet.id

    @property
    def authenticator(self) -> bytes:
        return self.packet.authenticator

    @property
    def has_message_authenticator(self) -> bool:
        return bool(self.packet.message_authenticator)

    def user_name(self) -> str:
        values = OrderedDict.get(self.packet, ATTR_USER_NAME) or []
        if not values:
            return ""
        return bytes(values[0]).decode("utf-8", errors="replace")

    def name_as_logged(self) -> str:
        """The user name the agent's log shows. With a client set to MS-CHAPv2 Okta's RADIUS
        troubleshooting page says the log shows a malformed name ("the user sent 'bob' but the
        log shows 'Á'"): the lab reads the MS-CHAP response's Ident octet as Latin-1 text, one
        way that symptom arises (a reconstruction: Okta does not say where the name comes from)."""
        for attr in ((VENDOR_MICROSOFT, 25), (VENDOR_MICROSOFT, 1)):
            values = OrderedDict.get(self.packet, attr) or []
            if values and bytes(values[0]):
                return bytes(values[0])[:1].decode("latin-1")
        return self.user_name()

    def auth_protocol(self) -> str:
        """PAP, CHAP, MS-CHAPv2, MS-CHAP, EAP or none: the agent only does PAP (docs/radius.md)."""
        if OrderedDict.__contains__(self.packet, ATTR_USER_PASSWORD):
            return "PAP"
        if OrderedDict.__contains__(self.packet, ATTR_CHAP_PASSWORD):
            return "CHAP"
        if OrderedDict.__contains__(self.packet, (VENDOR_MICROSOFT, 25)):
            return "MS-CHAPv2"
        if OrderedDict.__contains__(self.packet, (VENDOR_MICROSOFT, 1)):
            return "MS-CHAP"
        if OrderedDict.__contains__(self.packet, ATTR_EAP_MESSAGE):
            return "EAP"
        return "none"

    def eap_identifier(self) -> int:
        """The Identifier of the EAP packet carried in EAP-Message (RFC 3748 §4; 0 if too short)."""
        eap = b"".join(bytes(v) for v in OrderedDict.get(self.packet, ATTR_EAP_MESSAGE) or [])
        return eap[1] if len(eap) >= 2 else 0

    def nas_ip(self) -> str | None:
        """NAS-IP-Address (RFC 2865 §5.4): the address the client says it sends from."""
        values = OrderedDict.get(self.packet, 4) or []
        raw = bytes(values[0]) if values else b""
        return ".".join(str(b) for b in raw) if len(raw) == 4 else None

    def state(self) -> bytes | None:
        """The State attribute (RFC 2865 §5.24), echoed by a client answering an Access-Challenge."""
        values = OrderedDict.get(self.packet, ATTR_STATE) or []
        return bytes(values[0]) if values else None

    def password(self) -> str:
        """The decrypted User-Password (RFC 2865 §5.2). Raises ValueError when malformed."""
        values = OrderedDict.get(self.packet, ATTR_USER_PASSWORD) or []
        if len(values) != 1:
            raise ValueError("expected exactly one User-Password")
        hidden = bytes(values[0])
        if not hidden or len(hidden) % 16 or len(hidden) > 128:
            raise ValueError(f"User-Password of {len(hidden)} octets (must be 16-128, a multiple of 16)")
        return self.packet.PwDecrypt(hidden)


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


def check_attributes(data: bytes) -> None:
    """Walk the attributes of a packet already cut to its Length; raises Discard when one is
    broken (RFC 2865 §5: Length counts the type and length octets, so it is at least 2, and an
    attribute must end within the packet). pyrad 2.6.0 checks the first but quietly truncates an
    attribute that runs past the end, so it is checked here before pyrad sees the packet."""
    pos = MIN_LENGTH
    while pos < len(data):
        if pos + 2 > len(data):
            raise Discard(f"a lone octet where an attribute header should be, at octet {pos}")
        number, length = data[pos], data[pos + 1]
        if length < 2:
            raise Discard(f"attribute {number} at octet {pos} has Length {length} (less than 2)")
        if pos + length > len(data):
            raise Discard(f"attribute {number} at octet {pos} (Length {length}) runs past the end of the "
                          f"packet ({len(data)} octets)")
        pos += length


def parse(data: bytes, source: tuple[str, int], local_port: int, secret: bytes, *,
          require_message_authenticator: bool) -> Request:
    """Decode and authenticate one datagram, or raise Discard with the reason."""
    code, _, length = header(data)
    if code not in (ACCESS_REQUEST, STATUS_SERVER):
        raise Discard(f"{CODE_NAMES.get(code, 'code ' + str(code))} is not served on an authentication port")
    data = data[:length]                 # octets beyond Length are padding (RFC 2865 §3)
    check_attributes(data)
    try:
        pkt = rp.AuthPacket(packet=data, secret=secret, dict=dictionary())
    except Exception as exc:  # noqa: BLE001 - pyrad raises PacketError, but a codec bug must not escape
        raise Discard(f"malformed {CODE_NAMES[code]}: {exc}") from None
    ma_values = OrderedDict.get(pkt, ATTR_MESSAGE_AUTHENTICATOR) or []
    if ma_values:
        if len(ma_values) != 1 or len(ma_values[0]) != 16:
            raise Discard("malformed Message-Authenticator")
        try:
            valid = pkt.verify_message_authenticator()
        except Exception:  # noqa: BLE001 - a packet pyrad cannot check is an invalid one
            valid = False
        if not valid:
            raise Discard("bad Message-Authenticator (wrong shared secret or altered packet)")
    elif code == STATUS_SERVER:
        raise Discard("Status-Server without Message-Authenticator (RFC 5997 §3)")
    elif OrderedDict.__contains__(pkt, ATTR_EAP_MESSAGE):
        raise Discard("EAP-Message without Message-Authenticator (RFC 3579 §3.2)")
    elif require_message_authenticator:
        raise Discard("Access-Request without Message-Authenticator, which this app requires")
    return Request(pkt, data, source, local_port)


def encode_reply(request: Request, code: int, attributes: list[tuple[int, bytes]] | None = None) -> bytes:
    """A reply with Message-Authenticator first, Proxy-State copied in order, then `attributes`
    ((number, raw value) pairs, e.g. State, Reply-Message, Filter-Id, Class, Vendor-Specific), and
    the Response Authenticator computed over the final bytes (RFC 2865 §3, RFC 3579 §3.2).

    Encoded here rather than through pyrad's reply packet (CreateReply, ReplyPacket): the layout
    is a few concatenations and two MD5s, and pyrad's object path was half the agent's CPU for a
    Status-Server; tests check the bytes with pyrad's own VerifyReply."""
    secret = request.packet.secret
    # Message-Authenticator zeroed while the HMAC is computed over the whole reply
    attrs = bytearray((ATTR_MESSAGE_AUTHENTICATOR, 18)) + bytes(16)
    for value in OrderedDict.get(request.packet, ATTR_PROXY_STATE) or ():
        attrs += bytes((ATTR_PROXY_STATE, len(value) + 2)) + bytes(value)
    for number, value in attributes or ():
        if not 1 <= len(value) <= 253:
            raise ValueError(f"attribute {number}: {len(value)} octets (must be 1-253)")
        attrs += bytes((number, len(value) + 2)) + value
    length = 20 + len(attrs)
    if length > MAX_LENGTH:
        raise ValueError(f"reply of {length} octets is longer than RADIUS allows ({MAX_LENGTH})")
    head = struct.pack("!BBH", code, request.id, length)
    attrs[2:18] = hmac.new(secret, head + request.authenticator + attrs, "md5").digest()
    return head + hashlib.md5(head + request.authenticator + attrs + secret).digest() + bytes(attrs)


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

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        for task in list(self.tasks):
            task.cancel()
