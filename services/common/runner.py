"""Runs one service as one process: its admin API, its HTTP APIs and its protocol servers, in one
asyncio loop, until SIGTERM or SIGINT.

Sockets are bound here, before anything starts serving, so a port already in use fails the start
with the service's name and the port instead of a traceback from deep inside a server library.

State is private to the user the service runs as (TOTP seeds, shared secrets, activation tokens
live there): the runner sets a umask of 077 before anything is written, so every file a service
or a library (SQLite's -wal/-shm included) creates is 0600 and every directory 0700, in both
runtimes; what an older lab left more open is tightened at start.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import ssl as ssl_module
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from .admin import HealthCheck, ResetHook, _always_ready, _nothing, make_admin_app
from .context import ServiceContext, load_topology
from .events import Journal

EXIT_PORT_IN_USE = 3
EXIT_BAD_CONFIG = 4

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class PortInUse(Exception):
    def __init__(self, service: str, proto: str, host: str, port: int, reason: str):
        super().__init__(f"{service}: cannot listen on {host}:{port}/{proto}: {reason}")


@dataclass
class Service:
    """What a service hands the runner."""
    http_apps: dict[str, FastAPI] = field(default_factory=dict)       # port kind -> app
    tasks: list[Callable[[], Coroutine[Any, Any, Any]]] = field(default_factory=list)   # e.g. serve_tcp()
    health: HealthCheck = _always_ready
    reset: ResetHook = _nothing
    on_stop: Callable[[], Awaitable[None]] | None = None
    # Routes a service adds to its admin API (same port and token), e.g. EC2's /admin/network.
    admin_routes: Callable[[FastAPI], None] | None = None


def bind_tcp(ctx: ServiceContext, kind: str) -> socket.socket:
    return _bind(ctx, kind, socket.SOCK_STREAM)


def bind_udp(ctx: ServiceContext, kind: str) -> socket.socket:
    return _bind(ctx, kind, socket.SOCK_DGRAM)


class TcpListener:
    """A stream server on the port kind's TCP socket, as one of a Service's tasks.

    The socket is bound when the listener is made (so a port in use fails the start, see above);
    serving starts when the runner calls it. `up` is for health checks."""

    def __init__(self, ctx: ServiceContext, kind: str, handler: StreamHandler | None,
                 ssl: ssl_module.SSLContext | None = None,
                 protocol: Callable[[], asyncio.Protocol] | None = None):
        self.kind = kind
        self.sock = bind_tcp(ctx, kind)
        self.handler, self.ssl, self.protocol = handler, ssl, protocol
        self.server: asyncio.Server | None = None

    async def __call__(self) -> None:
        if self.protocol is not None:   # a protocol per connection instead of a stream handler
            self.server = await asyncio.get_running_loop().create_server(self.protocol, sock=self.sock, ssl=self.ssl)
        else:
            assert self.handler is not None
            self.server = await asyncio.start_server(self.handler, sock=self.sock, ssl=self.ssl)
        async with self.server:
            await self.server.serve_forever()

    @property
    def up(self) -> bool:
        return self.server is not None and self.server.is_serving()


class UdpListener:
    """A datagram endpoint on the port kind's UDP socket, as one of a Service's tasks (bound when
    made, like TcpListener); it serves until the runner cancels it."""

    def __init__(self, ctx: ServiceContext, kind: str, protocol: Callable[[], asyncio.DatagramProtocol]):
        self.kind = kind
        self.sock = bind_udp(ctx, kind)
        self.protocol = protocol
        self.transport: asyncio.DatagramTransport | None = None

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(self.protocol, sock=self.sock)
        try:
            await asyncio.Event().wait()
        finally:
            self.transport.close()

    @property
    def up(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


def serve_tcp(ctx: ServiceContext, kind: str, handler: StreamHandler | None = None,
              ssl: ssl_module.SSLContext | None = None,
              protocol: Callable[[], asyncio.Protocol] | None = None) -> TcpListener:
    """A task serving `handler(reader, writer)` on port kind `kind` (TLS from the first byte with `ssl`),
    or each connection with the asyncio protocol `protocol()` makes."""
    return TcpListener(ctx, kind, handler, ssl, protocol)


def serve_udp(ctx: ServiceContext, kind: str, protocol: Callable[[], asyncio.DatagramProtocol]) -> UdpListener:
    """A task serving datagrams on port kind `kind` with the protocol `protocol()` makes."""
    return UdpListener(ctx, kind, protocol)


def _bind(ctx: ServiceContext, kind: str, sock_type: int) -> socket.socket:
    host, port = ctx.host, ctx.port(kind)
    proto = "tcp" if sock_type == socket.SOCK_STREAM else "udp"
    # Name the protocol: asyncio turns Nagle off on accepted connections only for IPPROTO_TCP
    # sockets; with protocol 0 every small reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, sock_type,
                         socket.IPPROTO_TCP if sock_type == socket.SOCK_STREAM else socket.IPPROTO_UDP)
    if sock_type == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(ctx.name, proto, host, port, exc.strerror or str(exc)) from None
    if sock_type == socket.SOCK_STREAM:
        sock.listen(512)
    sock.setblocking(False)
    return sock


class _QuietServer(uvicorn.Server):
    """uvicorn server that leaves signal handling to the runner (several share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _http_server(app: FastAPI) -> _QuietServer:
    # httptools: uvicorn's C HTTP parser, about twice as cheap per request as h11 (bench/README.md).
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, http=_HTTP_PROTOCOL)
    return _QuietServer(config)


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# Declared dependencies (pyproject.toml); a checkout whose venv predates them still runs, on the
# pure-Python h11 parser and asyncio's own loop.
_HTTP_PROTOCOL = "httptools" if _installed("httptools") else "h11"


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's event loop where installed (libuv: cheaper sockets, timers and callbacks for every
    service), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return lambda main: uvloop.run(main)


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(
        level=os.environ.get("LAB_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s [{name}] %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return logging.getLogger(f"lab.{name}")


def run(name: str, build: Callable[[ServiceContext], Awaitable[Service]]) -> None:
    """Entry point of `python -m services.<name>`."""
    # FastAPI asks of each route's parameters whether they are pydantic v1 models by importing
    # pydantic.v1 (~1.5 MB and ~40 ms of CPU in every service); the lab has none. Marked absent,
    # that import fails and FastAPI answers "no", its own path for a pydantic without v1. Here,
    # not at import: a test process importing the runner keeps pydantic.v1 for its own libraries.
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(prog=f"python -m services.{name.replace('-', '_')}",
                                     description=f"Run the lab's {name} service.")
    parser.add_argument("--topology", default=os.environ.get("LAB_TOPOLOGY"),
                        help="the lab topology JSON written by `lab up` (env LAB_TOPOLOGY)")
    parser.add_argument("--service", default=name,
                        help=f"this instance's name in the topology (default {name}; e.g. a second agent)")
    args = parser.parse_args()
    os.umask(0o077)
    name = args.service
    if not args.topology:
        parser.error("--topology (or LAB_TOPOLOGY) is required")
    log = setup_logging(name)
    try:
        topology = load_topology(args.topology)
        topology["services"][name]
    except (OSError, ValueError, KeyError) as exc:
        log.error("cannot read the topology %s: %s", args.topology, exc)
        sys.exit(EXIT_BAD_CONFIG)
    ctx = ServiceContext(name=name, topology=topology, log=log)
    journal_path = Path(topology["state_dir"]) / "events" / f"{name}.jsonl"
    make_private(ctx.state_dir, journal_path.parent)
    ctx.journal = Journal(name, ctx.clock, journal_path)
    try:
        _event_loop_runner()(_serve(ctx, build))
    except PortInUse as exc:
        log.error("%s", exc)
        sys.exit(EXIT_PORT_IN_USE)
    except (ValueError, TypeError, KeyError) as exc:
        # A bad setting or seed found while building the service: one line, not a traceback.
        log.error("%s cannot start: %s: %s", name, exc.__class__.__name__, exc)
        sys.exit(EXIT_BAD_CONFIG)


def make_private(*directories: Path) -> None:
    """Directories 0700 and the files in them 0600 (a lab made before the umask left them 0755
    and 0644). Only what this user owns; anything else is left as it is."""
    for directory in directories:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in [directory, *directory.rglob("*")]:
            try:
                if path.is_symlink() or path.stat().st_uid != os.getuid():
                    continue
                path.chmod(0o700 if path.is_dir() else 0o600)
            except OSError:
                continue        # vanished meanwhile, or not ours to change


def _trim_heap() -> None:
    """glibc's malloc_trim: free pages inside the C heap go back to the system (Python frees
    objects, but glibc keeps the pages unless the heap's top is free); nothing elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass        # not glibc (musl, macOS): its allocator keeps what it keeps


async def _serve(ctx: ServiceContext, build: Callable[[ServiceContext], Awaitable[Service]]) -> None:
    admin_sock = bind_tcp(ctx, "admin")
    # What the imports made (modules, classes, functions: ~60,000 objects) lives as long as the
    # process: moved out of the collector's reach, so the collection below and every later full
    # one visit only what the service made since (the one below took ~45 ms of each start).
    gc.freeze()
    service = await build(ctx)
    # Building leaves garbage (a service model's whole file read and narrowed, the Region table:
    # services/common/aws_models.py), some in cycles the collector's oldest generation may not visit
    # for a long time; freed now, before any serving, and the heap's free pages handed back
    # (bench/README.md, RSS).
    gc.collect()
    _trim_heap()
    http_socks = {kind: bind_tcp(ctx, kind) for kind in service.http_apps}
    admin = make_admin_app(ctx, service.health, service.reset)
    if service.admin_routes is not None:
        service.admin_routes(admin)

    servers = [(_http_server(admin), admin_sock)]
    servers += [(_http_server(app), http_socks[kind]) for kind, app in service.http_apps.items()]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    running = [asyncio.create_task(srv.serve(sockets=[sock])) for srv, sock in servers]
    running += [asyncio.create_task(task()) for task in service.tasks]
    ctx.record("service.start", outcome="ok", endpoints={k: f"{ctx.host}:{v}" for k, v in ctx.me["ports"].items()})
    ctx.log.info("listening: %s", ", ".join(f"{k} {ctx.host}:{v}" for k, v in ctx.me["ports"].items()))

    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stopper and task.exception() is not None:
            ctx.log.error("a server of %s stopped: %r", ctx.name, task.exception())
    ctx.log.info("stopping")
    for srv, _ in servers:
        srv.should_exit = True
    for task in running[len(servers):]:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    if service.on_stop is not None:
        await service.on_stop()
    await ctx.close_peer_clients()
    ctx.record("service.stop", outcome="ok")
