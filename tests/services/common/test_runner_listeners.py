"""The runner's listeners (`serve_tcp`, `serve_udp`) and the UDP answerer, on loopback ports the
kernel picks: bound when made, serving when run, `up` while serving, a busy port named."""
import asyncio
import logging
import socket

import pytest

from services.common.runner import PortInUse, serve_tcp, serve_udp
from services.common.udp import UdpAnswerer


class FakeContext:
    """The little of ServiceContext the listeners read."""
    name = "test"
    host = "127.0.0.1"

    def __init__(self, ports: dict[str, int] | None = None):
        self.ports = ports or {}

    def port(self, kind: str) -> int:
        return self.ports.get(kind, 0)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


def test_serve_tcp_binds_at_once_and_serves_when_run():
    async def scenario():
        listener = serve_tcp(FakeContext(), "echo", _echo)
        port = listener.sock.getsockname()[1]
        assert port and not listener.up
        task = asyncio.create_task(listener())
        for _ in range(100):
            if listener.up:
                break
            await asyncio.sleep(0.01)
        assert listener.up
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello\n")
        assert await reader.readline() == b"hello\n"
        writer.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not listener.up

    asyncio.run(scenario())


def test_serve_udp_answers_datagrams_until_cancelled():
    async def answer(data: bytes, peer: str, transport: str) -> bytes | None:
        if data == b"boom":
            raise RuntimeError("a bug in one answer")
        return None if data == b"quiet" else data.upper() + f" {transport}".encode()

    async def scenario():
        log = logging.getLogger("test")
        listener = serve_udp(FakeContext(), "echo", lambda: UdpAnswerer(answer, log, "echo"))
        port = listener.sock.getsockname()[1]
        task = asyncio.create_task(listener())
        await asyncio.sleep(0.05)
        assert listener.up
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.connect(("127.0.0.1", port))
            client.send(b"quiet")
            client.send(b"boom")
            client.send(b"ping")
            reply = await asyncio.wait_for(loop.sock_recv(client, 100), 2)
        assert reply == b"PING udp"     # the silent and the failing ones got nothing, and held nothing up
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not listener.up

    asyncio.run(scenario())


def test_a_busy_port_names_the_service_and_the_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(PortInUse, match=f"test: cannot listen on 127.0.0.1:{port}/tcp"):
            serve_tcp(FakeContext({"ldap": port}), "ldap", _echo)
