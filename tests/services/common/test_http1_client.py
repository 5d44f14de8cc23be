"""services/common/http1.py against real servers on loopback (127.0.186.x): uvicorn for the usual
answers, and a raw socket server for the awkward ones (a kept-alive connection closed while idle,
an answer cut in the middle, a server that never answers)."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from services.common.http1 import Http1Client, HttpError

HOST = "127.0.186.10"
CLIENT_IP = "127.0.186.11"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/users")
    async def users(request: Request) -> JSONResponse:
        after = int(request.query_params.get("after", "0"))
        headers = {"Link": f'<http://{HOST}/users?after={after + 1}>; rel="next"'} if after < 2 else {}
        return JSONResponse([{"id": after, "peer": request.client.host if request.client else None,
                              "port": request.client.port if request.client else None,
                              "trace": request.headers.get("x-lab-trace"),
                              "auth": request.headers.get("authorization")}], headers=headers)

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"got": await request.json()}, status_code=201)

    @app.get("/missing")
    async def missing() -> JSONResponse:
        return JSONResponse({"errorCode": "E0000007"}, status_code=404)

    @app.get("/chunked")
    async def chunked() -> StreamingResponse:
        async def parts():
            for part in (b'{"a": ', b'[1, 2, ', b'3]}'):
                yield part
        return StreamingResponse(parts(), media_type="application/json")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    config = uvicorn.Config(_app(), host=HOST, port=18080, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://{HOST}:18080"
    srv.should_exit = True
    thread.join(10)


def run(coro):
    return asyncio.run(coro)


def test_requests_reuse_one_kept_alive_connection_from_the_local_address(server: str) -> None:
    async def go():
        client = Http1Client(server, headers={"Authorization": "SSWS t"}, local_address=CLIENT_IP)
        try:
            first = await client.request("GET", "/users", timeout=5, headers={"X-Lab-Trace": "abc"})
            second = await client.request("GET", "/users", timeout=5)
            return first, second
        finally:
            await client.aclose()
    first, second = run(go())
    assert first.status_code == 200 and first.reason_phrase == "OK"
    body1, body2 = first.json()[0], second.json()[0]
    assert body1["peer"] == CLIENT_IP and body1["auth"] == "SSWS t" and body1["trace"] == "abc"
    assert body2["port"] == body1["port"], "the second request should reuse the kept-alive connection"
    assert body2["trace"] is None, "a per-request header must not stick to the connection"
    assert first.links["next"]["url"] == f"http://{HOST}/users?after=1"


def test_params_json_bodies_errors_and_chunked_answers(server: str) -> None:
    async def go():
        client = Http1Client(server)
        try:
            page = await client.request("GET", "/users", params={"after": 2}, timeout=5)
            echo = await client.request("POST", "/echo", json={"passCode": "123456"}, timeout=5)
            missing = await client.request("GET", "/missing", timeout=5)
            chunked = await client.request("GET", "/chunked", timeout=5)
            return page, echo, missing, chunked
        finally:
            await client.aclose()
    page, echo, missing, chunked = run(go())
    assert page.json()[0]["id"] == 2 and page.links == {}
    assert echo.status_code == 201 and echo.json() == {"got": {"passCode": "123456"}}
    assert missing.status_code == 404 and missing.reason_phrase == "Not Found"
    assert missing.json()["errorCode"] == "E0000007"
    assert chunked.json() == {"a": [1, 2, 3]}


class RawServer:
    """A TCP server answering each connection with `behaviour(conn)`; counts connections."""

    def __init__(self, port: int, behaviour) -> None:
        self.sock = socket.create_server((HOST, port))
        self.behaviour = behaviour
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.behaviour, args=(conn, self.connections), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    def answer_once_then_close(conn: socket.socket, _n: int) -> None:
        with conn:
            _read_request(conn)
            conn.sendall(OK)     # keep-alive promised, then closed: as a server's idle timeout does
            time.sleep(0.2)

    srv = RawServer(18081, answer_once_then_close)

    async def go():
        client = Http1Client(f"http://{HOST}:18081")
        try:
            first = await client.request("GET", "/", timeout=5)
            await asyncio.sleep(0.5)
            second = await client.request("GET", "/", timeout=5)
            return first.status_code, second.status_code
        finally:
            await client.aclose()
    try:
        assert run(go()) == (200, 200)
        assert srv.connections == 2
    finally:
        srv.close()


def test_a_cut_answer_a_refused_connection_and_a_silent_server_are_errors() -> None:
    def cut(conn: socket.socket, _n: int) -> None:
        with conn:
            _read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":")

    def silent(conn: socket.socket, _n: int) -> None:
        with conn:
            _read_request(conn)
            time.sleep(3)

    cut_srv, silent_srv = RawServer(18082, cut), RawServer(18083, silent)

    async def go():
        errors = []
        for url, timeout in ((f"http://{HOST}:18082", 5), (f"http://{HOST}:18084", 5),
                             (f"http://{HOST}:18083", 0.3)):
            client = Http1Client(url)
            try:
                await client.request("GET", "/", timeout=timeout)
            except (HttpError, TimeoutError) as exc:
                errors.append(type(exc).__name__)
            finally:
                await client.aclose()
        return errors
    try:
        assert run(go()) == ["HttpError", "HttpError", "TimeoutError"]
    finally:
        cut_srv.close()
        silent_srv.close()


def test_http_or_https_to_one_origin() -> None:
    """HTTPS itself is exercised by the RADIUS agent's tests (their fake org serves it with the lab
    CA's certificate) and the config-tls-inspection-proxy scenario (a certificate refused)."""
    with pytest.raises(ValueError, match="http or https"):
        Http1Client("ftp://example.test")
    assert Http1Client("https://example.test").port == 443 and Http1Client("http://example.test").port == 80
