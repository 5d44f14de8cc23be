"""The connector's client UDP sockets (Kerberos, RADIUS, DNS): bound to a connector address and
connected to the server, made here and handed to the loop.

`loop.create_datagram_endpoint(local_addr=..., remote_addr=...)` makes the same socket, but uvloop
first resolves both addresses through getaddrinfo on its thread pool, even for IP literals: a
fifth of the connector's CPU per sign-in (py-spy, bench_signin.py). The socket is the same one
(same bind, same connect, so ICMP errors still reach it); a host name still goes the loop's way.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import TypeVar

P = TypeVar("P", bound=asyncio.BaseProtocol)


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


async def connected_udp(factory: Callable[[], P], host: str, port: int,
                        source: str | None) -> tuple[asyncio.DatagramTransport, P]:
    """A datagram endpoint from `source` (any address when None) to `host`:`port`."""
    loop = asyncio.get_running_loop()
    remote, local = _ip(host), _ip(source)
    if remote is None or (source and (local is None or local.version != remote.version)):
        return await loop.create_datagram_endpoint(
            factory, local_addr=(source, 0) if source else None, remote_addr=(host, port))
    sock = socket.socket(socket.AF_INET6 if remote.version == 6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
        return await loop.create_datagram_endpoint(factory, sock=sock)
    except BaseException:
        sock.close()
        raise
