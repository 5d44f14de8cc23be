"""A UDP server protocol that answers each datagram with what `answer` returns.

`answer(data, peer, "udp")` returns the reply (bytes), None to send nothing (silent discard), or an
awaitable of either. A reply ready at once is sent from `datagram_received` itself: no task, no
loop round trip, which was most of a DNS query's cost. An awaitable (a fault's delay, a slow
answer) is awaited in a task of its own, so it never holds up the next datagram. An error is
logged, never raised into the loop. `ReplyFromDestination`: the same for a service whose replies
must come from the address each request was sent to (IP_PKTINFO).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
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


LocalAnswer = Callable[[bytes, str, str, "str | None"], Awaitable[Reply]]   # ..., the address it was sent to
_PKTINFO = struct.Struct("=I4s4s")          # struct in_pktinfo: ifindex, spec_dst, addr (Linux, ip(7))
IP_PKTINFO = 8                               # Linux's <netinet/in.h>; Python's socket has it from 3.12 on


class ReplyFromDestination:
    """A UDP server task that answers each datagram from the address the datagram was sent to.

    A socket bound to the wildcard (0.0.0.0, as a service in a container may be) sends its replies
    from whatever address the kernel's route picks, which need not be the one the client asked;
    a client that checks the sender (kpasswd's KRB-PRIV carries the server's address, RFC 3244)
    refuses the reply. IP_PKTINFO tells each datagram's destination (recvmsg's ancillary data) and
    sets the reply's source (sendmsg's), as MIT's KDC does for its wildcard sockets. `answer(data,
    peer, "udp", destination)` is awaited in a task per datagram (for services with few requests:
    kpasswd). Used as a Service task like runner.UdpListener, with the socket runner.bind_udp made."""

    def __init__(self, sock: socket.socket, answer: LocalAnswer, log: logging.Logger, what: str) -> None:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setblocking(False)
        self.sock, self.answer, self.log, self.what = sock, answer, log, what
        self.serving = False
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def up(self) -> bool:
        return self.serving

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.sock.fileno(), self._readable)
        self.serving = True
        try:
            await asyncio.Event().wait()
        finally:
            self.serving = False
            loop.remove_reader(self.sock.fileno())
            self.sock.close()

    def _readable(self) -> None:
        for _ in range(64):                 # then let the loop run other work
            try:
                data, ancillary, _flags, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(_PKTINFO.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:                 # an ICMP error queued for an earlier reply
                continue
            destination = None
            for level, kind, cdata in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(cdata) >= _PKTINFO.size:
                    destination = socket.inet_ntoa(_PKTINFO.unpack_from(cdata)[2])    # the header's address
            task = asyncio.get_running_loop().create_task(self._reply(data, addr, destination))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _reply(self, data: bytes, addr, destination: str | None) -> None:
        try:
            out = await self.answer(data, addr[0], "udp", destination)
        except Exception:
            self.log.exception("%s: error answering %s", self.what, addr[0])
            return
        if out is None or self.sock.fileno() < 0:
            return
        ancillary = [] if destination is None else [
            (socket.IPPROTO_IP, IP_PKTINFO, _PKTINFO.pack(0, socket.inet_aton(destination), bytes(4)))]
        try:
            self.sock.sendmsg([out], ancillary, 0, addr)
        except OSError as exc:              # the client's buffer is full, or it has gone
            self.log.debug("%s: reply to %s not sent: %s", self.what, addr[0], exc)
