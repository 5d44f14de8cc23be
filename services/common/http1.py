"""A small HTTP/1.1 client on kept-alive connections, for a service's hot path to one peer.

Why not httpx there: the RADIUS agent makes four calls to the org per passcode, and httpx (with
httpcore, anyio and h11 under it) cost ~1 ms of CPU per call; this client costs a fraction of that
(bench/README.md has the figures). It does only what such a path needs: one origin, plain HTTP
or HTTPS with the caller's SSL context (the agents trust the lab CA only), requests with a JSON
or empty body, responses with Content-Length or chunked bodies (parsed by httptools, uvicorn's C
parser), a bounded pool of kept-alive connections leaving from a given
local address, and one timeout covering the whole exchange. No redirects, no cookies, no
compression: callers that need them use httpx.

A kept-alive connection the server closed while idle is noticed (the transport reports it) and
dropped; if the server closes it just as a request is written, before any byte of an answer, the
request is sent again on a new connection (the server never read it), as httpx does.
"""
from __future__ import annotations

import asyncio
import json as _json
import ssl
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools


class HttpError(Exception):
    """No HTTP answer: the connection was refused, reset or closed mid-answer, or the answer was
    not HTTP."""


class Response:
    __slots__ = ("content", "headers", "reason_phrase", "status_code")

    def __init__(self, status: int, reason: str, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.reason_phrase, self.headers, self.content = status, reason, headers, content

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return _json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """RFC 8288 `Link` header by rel, the shape httpx gives: {"next": {"url": ..., "rel": "next"}}."""
        out: dict[str, dict[str, str]] = {}
        for part in self.headers.get("link", "").split(","):
            url, _, params = part.strip().partition(";")
            if not url.startswith("<"):
                continue
            link = {"url": url.strip("<> ")}
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key:
                    link[key.lower()] = value.strip('"')
            out[link.get("rel", link["url"])] = link
        return out


class _Connection(asyncio.Protocol):
    """One TCP connection; one request at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.answer: asyncio.Future[Response] | None = None
        self.received = False            # any byte of the current answer
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self._reason = ""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._name = b""

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"the answer is not HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection closed before the answer was complete{f': {exc}' if exc else ''}"))

    # -- httptools callbacks ---------------------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        self._reason = reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        keep = self._parser.should_keep_alive()
        response = Response(status, self._reason, self._headers, b"".join(self._body))
        self._reset()
        if not keep:
            self.close()
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(response)

    # -- ours ------------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(exc)

    def send(self, request: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.received = False
        self.transport.write(request)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http1Client:
    """Requests to one `http://` or `https://host:port` origin, `max_connections` at a time, kept
    alive; HTTPS verified with `ssl_context` (default: the system's trust store)."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 20,
                 local_address: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"Http1Client speaks http or https to one origin, not {base_url!r}")
        self.host, self.port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = None
        if url.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.local_address = local_address
        host_header = url.netloc
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host_header, **(headers or {})}.items())
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()

    async def aclose(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                      headers: dict[str, str] | None = None, timeout: float) -> Response:
        """Send one request and read its answer within `timeout` seconds (TimeoutError past it,
        HttpError without an answer)."""
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
        body = b"" if json is None else _json.dumps(json, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self._head}"
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if json is not None:
            head += "Content-Type: application/json\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body)}\r\n"
        raw = (head + "\r\n").encode("latin-1") + body
        async with asyncio.timeout(timeout):
            async with self._slots:
                return await self._exchange(raw)

    async def _exchange(self, raw: bytes) -> Response:
        conn, reused = await self._connection()
        try:
            try:
                response = await conn.send(raw)
            except HttpError:
                if not (reused and not conn.received):
                    raise
                conn.close()        # the server closed an idle connection as we wrote: resend once
                self._open.discard(conn)
                conn, _ = await self._new_connection(), False
                response = await conn.send(raw)
        except BaseException:
            conn.close()            # cancelled, timed out or broken: its answer may still come
            self._open.discard(conn)
            raise
        if conn.closed:
            self._open.discard(conn)
        else:
            self._idle.append(conn)
        return response

    async def _connection(self) -> tuple[_Connection, bool]:
        while self._idle:
            conn = self._idle.pop()          # the most recently used: the least likely to be closed
            if not conn.closed:
                return conn, True
            self._open.discard(conn)
        return await self._new_connection(), False

    async def _new_connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        local = (self.local_address, 0) if self.local_address else None
        try:
            _, conn = await loop.create_connection(_Connection, self.host, self.port, local_addr=local, ssl=self.ssl,
                                                   server_hostname=self.host if self.ssl else None)
        except OSError as exc:      # ssl.SSLError too: the cause is kept (tls.describe_error reads it)
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self._open.add(conn)
        return conn

