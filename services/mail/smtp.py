"""The mailbox's SMTP server: aiosmtpd (a well-kept asyncio SMTP server) on the runner's socket,
with the lab's fault hooks and events around it. ESMTP with SIZE (10 MB), 8BITMIME, SMTPUTF8,
PIPELINING and, when the lab issued it a certificate (services/common/tls.py), STARTTLS; no AUTH: the lab's mail
relay is an internal relay that accepts mail for anyone, as a test mail catcher does.

Faults (protocol "smtp", by peer): drop closes the connection at once, deny answers 554 instead
of the greeting, delay waits before each reply. Malformed commands get aiosmtpd's 500-series
replies; a failed STARTTLS handshake is one log line and a `tls_failed` event; an error inside
the lab's own hooks is logged with its traceback and answered 451, and the session goes on.

aiosmtpd has no hook before its greeting, so `_Server` wraps its `_handle_client` (the session
loop) for drop and deny; pyproject pins aiosmtpd below 2 and the fault tests cover the wrap."""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from services.common.context import ServiceContext

MAX_SIZE = 10 * 1024 * 1024
# aiosmtpd's own logger: at INFO it logs every connection and command line, at DEBUG every line
# of every message, and message bodies carry activation links (secrets). Warnings only.
logging.getLogger("mail.log").setLevel(logging.WARNING)

Deliver = Callable[[str, list[str], bytes, str | None], Awaitable[str]]


def _peer(session: Session) -> str | None:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def _utf8(address: str) -> bool:
    """With SMTPUTF8 on, aiosmtpd keeps bytes that are not UTF-8 as surrogates (RFC 6531 asks for
    UTF-8); such an address could not be stored or served as JSON, so it is refused."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Handler:
    """aiosmtpd's handler hooks (called positionally: server, session, envelope, ...): EHLO says
    PIPELINING, addresses must be UTF-8, recipients must have a domain, DATA goes into the Mailbox."""

    def __init__(self, ctx: ServiceContext, deliver: Deliver) -> None:
        self.ctx, self.deliver = ctx, deliver

    async def handle_EHLO(self, _server: SMTP, session: Session, _envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        # aiosmtpd reads each command as it comes, so a client may pipeline (RFC 2920); it just
        # does not say so.
        session.host_name = hostname          # what aiosmtpd does itself when there is no hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, _server: SMTP, _session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if not _utf8(address):
            return "553 5.6.7 Sender address is not valid UTF-8"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, _server: SMTP, _session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not _utf8(address):
            return "553 5.6.7 Recipient address is not valid UTF-8"
        if "@" not in address:        # aiosmtpd takes a bare local part; a relay cannot route it
            return "501 5.1.3 Bad recipient address syntax"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":         # the null reverse-path (bounces): stored as an empty sender
            mail_from = ""
        mid = await self.deliver(mail_from, list(envelope.rcpt_tos), envelope.original_content or b"",
                                 _peer(session))
        return f"250 2.0.0 OK queued as {mid}"


class _Server(SMTP):
    """One SMTP session (aiosmtpd makes one protocol object per connection)."""

    def __init__(self, ctx: ServiceContext, handler: _Handler, tls: ssl.SSLContext | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        super().__init__(handler, data_size_limit=MAX_SIZE, enable_SMTPUTF8=True,
                         hostname=ctx.me["host"], ident="ESMTP lab mail ready", tls_context=tls,
                         loop=loop)

    @property
    def peer(self) -> str | None:
        return _peer(self.session) if self.session is not None else None

    async def _handle_client(self) -> None:
        gate = self.ctx.faults.gate("smtp", self.peer)
        if gate.drop:
            self.ctx.record("mail.smtp", peer=self.peer, outcome="dropped_by_fault")
            if self.transport is not None:
                self.transport.close()
            return
        if gate.deny:
            await self.push(f"554 5.7.1 {self.hostname} no SMTP service here")
            self.ctx.record("mail.smtp", peer=self.peer, outcome="denied_by_fault")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            # The client's side of a STARTTLS handshake failed (it hung up, or spoke no TLS):
            # aiosmtpd closes the connection; the lab says so in one line.
            cause = error.__cause__ or error
            self.ctx.log.info("STARTTLS handshake from %s failed: %s", self.peer, cause.__class__.__name__)
            self.ctx.record("mail.smtp", peer=self.peer, outcome="tls_failed", reason=cause.__class__.__name__)
            return "454 4.7.0 TLS not available due to temporary reason"
        # A bug in our hooks (the Mailbox, the disk): logged whole, the client gets a transient
        # failure in SMTP's terms instead of the exception's text.
        self.ctx.log.error("SMTP session failed", exc_info=error)
        self.ctx.record("mail.smtp", peer=self.peer, outcome="error", reason=error.__class__.__name__)
        return "451 4.3.0 Local error in processing"

    async def push(self, status: Any) -> None:
        delay = self.ctx.faults.gate("smtp", self.peer).delay
        if delay:
            await asyncio.sleep(delay)
        await super().push(status)


async def serve(ctx: ServiceContext, sock: socket.socket, deliver: Deliver,
                tls: ssl.SSLContext | None = None) -> None:
    """Serve SMTP on an already bound, listening socket until cancelled."""
    loop = asyncio.get_running_loop()
    handler = _Handler(ctx, deliver)
    server = await loop.create_server(lambda: _Server(ctx, handler, tls, loop), sock=sock)
    async with server:
        await server.serve_forever()
