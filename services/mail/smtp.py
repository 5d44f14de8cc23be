"""A small SMTP server (RFC 5321 subset) on asyncio: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
VRFY, QUIT; enough for smtplib, aiosmtplib, swaks or `telnet`. No AUTH and no STARTTLS: the lab's
mail relay is an internal relay that accepts mail for anyone, as a test mail catcher does.

Faults (protocol "smtp"): drop closes the connection at once, deny answers 554 to the greeting,
delay waits before each reply. A malformed command gets a 500-series reply, never a traceback."""
from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable

from services.common.context import ServiceContext

MAX_SIZE = 10 * 1024 * 1024
MAX_LINE = 4096
_ADDR = re.compile(r"^(?:FROM|TO):\s*<([^>]*)>", re.IGNORECASE)

Deliver = Callable[[str, list[str], bytes, str | None], Awaitable[str]]


class _Session:
    def __init__(self, ctx: ServiceContext, deliver: Deliver, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.ctx, self.deliver, self.reader, self.writer = ctx, deliver, reader, writer
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if peer else None
        self.helo: str | None = None
        self.reset()

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt: list[str] = []

    async def reply(self, text: str) -> None:
        delay = self.ctx.faults.match(protocol="smtp", peer=self.peer, action="delay")
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def run(self) -> None:
        host = self.ctx.me["host"]
        if self.ctx.faults.match(protocol="smtp", peer=self.peer, action="drop"):
            self.ctx.record("mail.smtp", peer=self.peer, outcome="dropped_by_fault")
            return
        if self.ctx.faults.match(protocol="smtp", peer=self.peer, action="deny"):
            await self.reply(f"554 5.7.1 {host} no SMTP service here")
            self.ctx.record("mail.smtp", peer=self.peer, outcome="denied_by_fault")
            return
        await self.reply(f"220 {host} ESMTP lab mail ready")
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                await self.reply("500 5.5.2 Line too long")
                return
            except asyncio.IncompleteReadError:
                return
            if len(line) > MAX_LINE:
                await self.reply("500 5.5.2 Line too long")
                continue
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = text.partition(" ")
            handler = getattr(self, f"do_{verb.upper()}", None) if verb.isalpha() else None
            if handler is None:
                await self.reply("502 5.5.1 Command not recognized")
                continue
            if await handler(arg.strip()) is False:
                return

    async def do_EHLO(self, arg: str) -> None:
        if not arg:
            await self.reply("501 5.5.4 Syntax: EHLO hostname")
            return
        self.helo = arg
        self.reset()
        host = self.ctx.me["host"]
        await self.reply(f"250-{host} Hello {arg}\r\n250-SIZE {MAX_SIZE}\r\n250-8BITMIME\r\n250 HELP")

    async def do_HELO(self, arg: str) -> None:
        if not arg:
            await self.reply("501 5.5.4 Syntax: HELO hostname")
            return
        self.helo = arg
        self.reset()
        await self.reply(f"250 {self.ctx.me['host']}")

    async def do_MAIL(self, arg: str) -> None:
        if self.helo is None:
            await self.reply("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            await self.reply("503 5.5.1 Error: nested MAIL command")
            return
        m = _ADDR.match(arg)
        if not m or not arg.upper().startswith("FROM:"):
            await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        self.mail_from = m.group(1)
        await self.reply("250 2.1.0 OK")

    async def do_RCPT(self, arg: str) -> None:
        if self.mail_from is None:
            await self.reply("503 5.5.1 Error: need MAIL command")
            return
        m = _ADDR.match(arg)
        if not m or not arg.upper().startswith("TO:") or "@" not in m.group(1):
            await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        self.rcpt.append(m.group(1))
        await self.reply("250 2.1.5 OK")

    async def do_DATA(self, _arg: str) -> None:
        if not self.rcpt:
            await self.reply("503 5.5.1 Error: need RCPT command")
            return
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        size = 0
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b".."):
                line = line[1:]                       # dot-unstuffing (RFC 5321 4.5.2)
            size += len(line)
            if size <= MAX_SIZE:
                lines.append(line)
        if size > MAX_SIZE:
            self.reset()
            await self.reply("552 5.3.4 Message too big")
            return
        mid = await self.deliver(self.mail_from or "", list(self.rcpt), b"".join(lines), self.peer)
        self.reset()
        await self.reply(f"250 2.0.0 OK queued as {mid}")

    async def do_RSET(self, _arg: str) -> None:
        self.reset()
        await self.reply("250 2.0.0 OK")

    async def do_NOOP(self, _arg: str) -> None:
        await self.reply("250 2.0.0 OK")

    async def do_VRFY(self, _arg: str) -> None:
        await self.reply("252 2.0.0 Cannot VRFY user, but will accept message")

    async def do_QUIT(self, _arg: str) -> bool:
        await self.reply("221 2.0.0 Bye")
        return False


async def serve(ctx: ServiceContext, sock: socket.socket, deliver: Deliver) -> None:
    """Serve SMTP on an already bound, listening socket until cancelled."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _Session(ctx, deliver, reader, writer).run()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=sock, limit=1024 * 1024)
    async with server:
        await server.serve_forever()
