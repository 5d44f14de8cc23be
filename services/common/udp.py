"""A UDP server protocol that answers each datagram with what an async `answer` returns.

Each datagram is answered in its own task, so a slow answer never holds up the next datagram; an
answer of None sends nothing (silent discard), and an error is logged, never raised into the loop.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

Answer = Callable[[bytes, str, str], Awaitable[bytes | None]]   # (data, peer address, "udp")


class UdpAnswerer(asyncio.DatagramProtocol):
    def __init__(self, answer: Answer, log: logging.Logger, what: str) -> None:
        self.answer, self.log, self.what = answer, log, what
        self.transport: asyncio.DatagramTransport | None = None
        # The loop keeps only weak references to tasks: hold each answer's until it is done.
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _reply(self, data: bytes, addr) -> None:
        try:
            out = await self.answer(data, addr[0], "udp")
        except Exception:
            self.log.exception("%s: error answering %s", self.what, addr[0])
            return
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        pass   # ICMP port unreachable from a client that has gone: nothing to do
