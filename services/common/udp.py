"""A UDP server protocol that answers each datagram with what `answer` returns.

`answer(data, peer, "udp")` returns the reply (bytes), None to send nothing (silent discard), or an
awaitable of either. A reply ready at once is sent from `datagram_received` itself: no task, no
loop round trip, which was most of a DNS query's cost. An awaitable (a fault's delay, a slow
answer) is awaited in a task of its own, so it never holds up the next datagram. An error is
logged, never raised into the loop.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

Reply = bytes | None
Answer = Callable[[bytes, str, str], Reply | Awaitable[Reply]]   # (data, peer address, "udp")


class UdpAnswerer(asyncio.DatagramProtocol):
    def __init__(self, answer: Answer, log: logging.Logger, what: str) -> None:
        self.answer, self.log, self.what = answer, log, what
        self.transport: asyncio.DatagramTransport | None = None
        # The loop keeps only weak references to tasks: hold each answer's until it is done.
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            out = self.answer(data, addr[0], "udp")
        except Exception:
            self.log.exception("%s: error answering %s", self.what, addr[0])
            return
        if not isinstance(out, Awaitable):      # bytes, bytearray (dnslib's) or None: ready now
            self._send(out, addr)
            return
        task = asyncio.get_running_loop().create_task(self._reply(out, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _reply(self, later: Awaitable[Reply], addr) -> None:
        try:
            out = await later
        except Exception:
            self.log.exception("%s: error answering %s", self.what, addr[0])
            return
        self._send(out, addr)

    def _send(self, out: Reply, addr) -> None:
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        pass   # ICMP port unreachable from a client that has gone: nothing to do
