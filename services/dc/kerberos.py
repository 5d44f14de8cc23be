"""The DC's Kerberos KDC on the wire: UDP and TCP on port kind `kerberos` (88; 10088 in the process
runtime), realm = the domain's DNS name in upper case (CORP.EXAMPLE.COM).

Framing per RFC 4120 7.2: a UDP datagram is one message; over TCP each message is preceded by a
4-byte big-endian length, and several requests may share a connection. A reply too large for UDP
(over `kerberos_udp_max_reply`, AD's 1465 bytes by default) is replaced by
KRB_ERR_RESPONSE_TOO_BIG so the client retries over TCP, as AD does. The reply that was too big
is kept (LOOKASIDE_SECONDS, keyed by the request's exact bytes) and is the answer when the same
request comes again over TCP, as MIT's KDC answers a repeated request from its lookaside cache
(the lookaside cache of MIT krb5, `src/kdc/replay.c`): the retry gets the ticket the first attempt earned, and the logon
counts once, not twice; the event says `lookaside`.

What cannot be parsed is never answered: a malformed datagram is dropped, a malformed TCP message
closes that connection; the KDC keeps serving. Faults: `{"action": "drop", "protocol":
"kerberos"}` drops requests (optionally only from `peer`), `delay` holds each reply `seconds`.
The exchange itself (accounts, pre-authentication, lockout, tickets) is `krb_as.py`; what AD's
KDC does is in docs/active-directory.md ("Kerberos").
"""
from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from functools import partial

from services.common.context import ServiceContext
from services.common.udp import Reply, UdpAnswerer

from . import krb_as_req, krb_wire
from .directory import Directory
from .krb_as import AsExchange, Outcome
from .krb_keys import KeyTable
from .krb_principals import Principals
from .krb_tgs import TgsExchange
from .krb_wire import Malformed, Principal

TCP_MAX_MESSAGE = 65536      # AD's MaxTokenSize is 48000; anything larger is not a real request
TCP_IDLE_SECONDS = 30.0
TCP_PARTIAL_SECONDS = 10.0   # for the rest of a message once it has begun
LOOKASIDE_SECONDS = 30.0     # how long a too-big reply waits for the client's TCP retry
LOOKASIDE_KEPT = 1024
SWEEP_SECONDS = 1.0          # how often idle and stalled TCP connections are looked for


class KerberosServer:
    def __init__(self, ctx: ServiceContext, exchange: AsExchange, tgs: TgsExchange, udp_max_reply: int):
        self.ctx = ctx
        self.exchange = exchange
        self.tgs = tgs
        self.udp_max_reply = udp_max_reply
        self.port = ctx.port("kerberos")
        # request bytes -> (until, event kind, outcome, event fields, reply): see the docstring
        self.lookaside: dict[bytes, tuple[float, str, str, dict, bytes]] = {}
        self.connections: set[_TcpConnection] = set()   # open over TCP, for the sweep
        self.sweeper: asyncio.TimerHandle | None = None
        self.sweep_loop: asyncio.AbstractEventLoop | None = None

    def answer_now(self, data: bytes, peer: str, transport: str) -> Reply | Awaitable[Reply]:
        """The reply to one request (None: send nothing, dropped or malformed), computed on the
        spot; under a `delay` fault, an awaitable of it instead (so UDP and TCP answer without a
        task per request: services/common/udp.py, _TcpConnection)."""
        gate = self.ctx.faults.gate("kerberos", peer, self.port)
        if gate.drop:
            self.record_later("kerberos.request", peer, "dropped", transport, {})
            return None
        if gate.delay > 0:
            return self._later(gate.delay, data, peer, transport)
        return self._answer(data, peer, transport)

    async def _later(self, seconds: float, data: bytes, peer: str, transport: str) -> bytes | None:
        await asyncio.sleep(seconds)
        return self._answer(data, peer, transport)

    def _answer(self, data: bytes, peer: str, transport: str) -> bytes | None:
        kept = self.lookaside.pop(data, None) if transport == "tcp" else None
        if kept is not None and kept[0] > asyncio.get_running_loop().time():
            _, kind, outcome, fields, reply = kept
            self.record_later(kind, peer, outcome, transport, dict(fields, lookaside=True))
            return reply
        try:
            kind, result = self._exchange(data)
        except Malformed as exc:
            self.record_later("kerberos.malformed", peer, "dropped", transport,
                               {"size": len(data), "reason": str(exc)[:120]})
            return None
        except Exception:  # a bug must cost one request, never the KDC
            self.ctx.log.exception("kerberos: error answering %s", peer)
            return None
        reply = result.reply
        if transport == "udp" and len(reply) > self.udp_max_reply:
            self._keep(data, kind, result.outcome, dict(result.fields), reply)
            reply = krb_wire.encode_error(krb_wire.KRB_ERR_RESPONSE_TOO_BIG, now=self.exchange.now(),
                                          realm=self.exchange.realm, sname=_krbtgt(self.exchange.realm))
            result.fields["too_big"] = True
            outcome = "KRB_ERR_RESPONSE_TOO_BIG"
        else:
            outcome = result.outcome
        self.record_later(kind, peer, outcome, transport, result.fields)
        return reply

    def record_later(self, kind: str, peer: str, outcome: str, transport: str, fields: dict) -> None:
        """An event of the KDC, recorded once the reply is on its way: the loop runs it as soon as
        the callback that sends the reply returns, before anything a client sends after that reply
        (so a reader asking then sees it), and the journal's ~10 us an event are off the time the
        client waits. Every event of the KDC goes this way, so they keep their order."""
        asyncio.get_running_loop().call_soon(partial(self.ctx.record, kind, peer=peer, outcome=outcome,
                                                      transport=transport, **fields))

    def _keep(self, data: bytes, kind: str, outcome: str, fields: dict, reply: bytes) -> None:
        now = asyncio.get_running_loop().time()
        if len(self.lookaside) >= LOOKASIDE_KEPT:
            self.lookaside = {k: v for k, v in self.lookaside.items() if v[0] > now}
            if len(self.lookaside) >= LOOKASIDE_KEPT:
                self.lookaside.clear()
        self.lookaside[data] = (now + LOOKASIDE_SECONDS, kind, outcome, fields, reply)

    def _exchange(self, data: bytes) -> tuple[str, Outcome]:
        """(the event's kind, the outcome) of one request."""
        kind = krb_wire.message_type(data)
        if kind == krb_wire.AS_REQ:
            return "kerberos.as_req", self.exchange.handle(krb_as_req.decode(data))
        if kind == krb_wire.TGS_REQ:
            return "kerberos.tgs_req", self.tgs.handle(krb_wire.decode_tgs_req(data))
        raise Malformed(f"message type {kind} is not a request")

    # -- transports ----------------------------------------------------------------------------
    def udp_protocol(self) -> asyncio.DatagramProtocol:
        return UdpAnswerer(self.answer_now, self.ctx.log, "kerberos")

    def tcp_protocol(self) -> asyncio.Protocol:
        """One TCP connection's protocol (served with `runner.serve_tcp(..., protocol=...)`)."""
        return _TcpConnection(self)

    def opened(self, connection: _TcpConnection) -> None:
        self.connections.add(connection)
        loop = asyncio.get_running_loop()
        if self.sweeper is None or self.sweep_loop is not loop:   # none yet, or one of a loop gone
            self.sweep_loop = loop
            self.sweeper = loop.call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        """Close the TCP connections past their deadline; again in SWEEP_SECONDS while any is open.
        One timer for all of them: a timer per connection cost ~5 us of each one's ~0.2 ms."""
        now = asyncio.get_running_loop().time()
        for connection in [c for c in self.connections if c.deadline <= now]:
            connection.expire()
        self.sweeper = (asyncio.get_running_loop().call_later(SWEEP_SECONDS, self._sweep)
                        if self.connections else None)


class _TcpConnection(asyncio.Protocol):
    """One TCP connection: 4-byte length-prefixed requests, answered in order.

    A protocol rather than a stream handler: a request whose answer is ready at once (every one
    but under a `delay` fault) is answered from `data_received`, without a task, StreamReader or
    timeout context per connection, which were a sixth of the KDC's CPU in an AS exchange (each
    exchange over UDP ends with a TCP connection of its own, as with AD). Limits as before: a
    message over TCP_MAX_MESSAGE (or a zero length) closes the connection, as does one that is not
    whole 10 s after it began, or a connection idle for TCP_IDLE_SECONDS."""

    def __init__(self, server: KerberosServer):
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.deadline = 0.0                         # the loop's time it expires at (the server's sweep)
        self.waiting: asyncio.Task | None = None    # an answer held by a `delay` fault
        self.eof = False                            # the client has sent all it will send

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = (transport.get_extra_info("peername") or ("?",))[0]
        self._arm(TCP_IDLE_SECONDS)
        self.server.opened(self)

    def data_received(self, data: bytes) -> None:
        was_idle = not self.buffer
        self.buffer += data
        self._serve()
        if self.buffer and was_idle and self.waiting is None:
            self._arm(TCP_PARTIAL_SECONDS)         # the rest of this message within 10 s

    def _serve(self) -> None:
        transport = self.transport
        while self.waiting is None and transport is not None and not transport.is_closing() \
                and len(self.buffer) >= 4:
            (length,) = struct.unpack_from("!I", self.buffer)
            if length == 0 or length > TCP_MAX_MESSAGE:   # also the reserved high bit
                self.server.record_later("kerberos.malformed", self.peer, "closed", "tcp",
                                          {"size": length, "reason": "bad length prefix"})
                transport.close()
                return
            if len(self.buffer) < 4 + length:
                return
            data = bytes(self.buffer[4:4 + length])
            del self.buffer[:4 + length]
            try:
                out = self.server.answer_now(data, self.peer, "tcp")
            except Exception:  # a bug must cost one connection, never the KDC
                self.server.ctx.log.exception("kerberos: error serving %s over tcp", self.peer)
                transport.close()
                return
            if isinstance(out, Awaitable):
                self.waiting = asyncio.ensure_future(out)
                self.waiting.add_done_callback(self._answered)
                return
            self._reply(out)
        if not self.buffer and self.waiting is None:
            self._arm(TCP_IDLE_SECONDS)

    def _answered(self, task: asyncio.Task) -> None:
        self.waiting = None
        if task.cancelled() or self.transport is None or self.transport.is_closing():
            return
        exc = task.exception()
        if exc is not None:
            self.server.ctx.log.error("kerberos: error serving %s over tcp: %r", self.peer, exc)
            self.transport.close()
            return
        self._reply(task.result())
        self._serve()
        if self.buffer and self.waiting is None:
            self._arm(TCP_PARTIAL_SECONDS)         # a message begun behind the held answer
        if self.eof and self.waiting is None and self.transport is not None:
            self.transport.close()                 # what was asked before the half-close is answered

    def eof_received(self) -> bool | None:
        """A client that half-closes after its requests still gets the answers held by a delay."""
        self.eof = True
        return True if self.waiting is not None else None

    def _reply(self, out: bytes | None) -> None:
        assert self.transport is not None
        if out is None:                            # dropped or malformed: close, as before
            self.transport.close()
        else:
            self.transport.write(struct.pack("!I", len(out)) + out)

    def _arm(self, seconds: float) -> None:
        self.deadline = asyncio.get_running_loop().time() + seconds

    def expire(self) -> None:
        if self.transport is not None and self.waiting is None:
            self.transport.close()

    def pause_writing(self) -> None:               # a client that does not read its replies
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - closed either way
        self.server.connections.discard(self)
        if self.waiting is not None:
            self.waiting.cancel()
        self.transport = None


def _krbtgt(realm: str) -> Principal:
    return Principal(krb_wire.NT_SRV_INST, ["krbtgt", realm])


def build_kdc(ctx: ServiceContext, directory: Directory) -> KerberosServer:
    """The KDC for `directory`'s domain, on ctx's clock, following password changes over LDAP."""
    realm = directory.domain.dns_name.upper()
    keys = KeyTable(directory, realm)
    keys.watch(directory)
    settings = directory.settings
    principals = Principals(ctx.state_dir, directory.domain, realm)
    skew = settings.kerberos_max_skew_seconds
    exchange = AsExchange(directory, keys, principals, ctx.clock.now, skew)
    tgs = TgsExchange(directory, principals, ctx.clock.now, skew)
    return KerberosServer(ctx, exchange, tgs, settings.kerberos_udp_max_reply)
