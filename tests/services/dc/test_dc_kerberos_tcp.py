"""The KDC's TCP connections in process (kerberos._TcpConnection and the server's sweep): a client
that goes quiet is closed, one that stops half-way through a message is closed sooner, several
requests share a connection, and a closed connection leaves nothing behind. The limits are made
short here; the DC runs with 30 s idle and 10 s for the rest of a message. No upper bound on a
wait: a busy machine only makes a close later."""
import asyncio
import struct
import time

import pytest
import yaml

from lab import topology as topo
from services.ad_connector import kerberos_auth as ka
from services.common.context import ServiceContext
from services.common.events import Journal
from services.dc import kerberos
from services.dc.directory import Directory
from services.dc.settings import DcSettings

REALM = "CORP.EXAMPLE.COM"


@pytest.fixture
def kdc(tmp_path, monkeypatch):
    monkeypatch.setattr(kerberos, "TCP_IDLE_SECONDS", 0.6)
    monkeypatch.setattr(kerberos, "TCP_PARTIAL_SECONDS", 0.3)
    monkeypatch.setattr(kerberos, "SWEEP_SECONDS", 0.05)
    seed = yaml.safe_load(topo.SEED_DEFAULT.read_text())
    directory = Directory(seed, time.time, DcSettings.from_settings({"generated_users": 2}, seed))
    topology = {"state_dir": str(tmp_path), "services": {"dc": {"host": "127.0.0.1", "ports": {"kerberos": 0}}}}
    ctx = ServiceContext(name="dc", topology=topology)
    ctx.journal = Journal("dc", ctx.clock)
    return kerberos.build_kdc(ctx, directory)


async def _serve(kdc: kerberos.KerberosServer):
    server = await asyncio.get_running_loop().create_server(kdc.tcp_protocol, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _ask(reader, writer, message: bytes) -> bytes:
    writer.write(struct.pack("!I", len(message)) + message)
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    return await reader.readexactly(length)


def _as_req() -> bytes:
    return ka._as_req(REALM, ka.NT_PRINCIPAL, "alice", nonce=ka._nonce(), padata=None)


async def _closed_within(reader, seconds: float) -> float:
    """Seconds until the server closed the connection (EOF), failing after `seconds`."""
    start = time.monotonic()
    assert await asyncio.wait_for(reader.read(), seconds) == b""
    return time.monotonic() - start


def test_requests_share_a_connection_until_it_goes_quiet(kdc):
    async def run():
        server, port = await _serve(kdc)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):                      # each answered: PREAUTH_REQUIRED
            kind, err = ka._decode_reply(await _ask(reader, writer, _as_req()))
            assert kind == "error" and int(err["error-code"]) == ka.KDC_ERR_PREAUTH_REQUIRED
        assert len(kdc.connections) == 1
        assert await _closed_within(reader, 30) >= 0.5   # the idle limit counts from the last answer
        writer.close()
        await asyncio.sleep(0.05)
        assert kdc.connections == set() and kdc.sweeper is None
        server.close()
        await server.wait_closed()
    asyncio.run(run())


def test_a_message_left_half_way_closes_the_connection_sooner(kdc, monkeypatch):
    monkeypatch.setattr(kerberos, "TCP_IDLE_SECONDS", 600.0)     # so only the partial limit can close it
    async def run():
        server, port = await _serve(kdc)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        message = _as_req()
        writer.write(struct.pack("!I", len(message)) + message[:10])
        await _closed_within(reader, 30)
        writer.close()
        server.close()
        await server.wait_closed()
    asyncio.run(run())


def test_a_client_that_closes_leaves_nothing_behind(kdc):
    async def run():
        server, port = await _serve(kdc)
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await _ask(reader, writer, _as_req())
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.1)
        assert kdc.connections == set()
        await asyncio.sleep(0.1)
        assert kdc.sweeper is None              # no timer left running for nobody
        server.close()
        await server.wait_closed()
    asyncio.run(run())


def test_a_message_begun_behind_an_answer_held_by_a_delay_still_has_its_limit(kdc, monkeypatch):
    """Under a `delay` fault the first answer is held; the half of a second request sent behind
    it must still be closed by the unfinished-message limit once the answer has gone."""
    monkeypatch.setattr(kerberos, "TCP_IDLE_SECONDS", 600.0)
    kdc.ctx.faults.add({"action": "delay", "protocol": "kerberos", "seconds": 0.3})

    async def run():
        server, port = await _serve(kdc)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first, second = _as_req(), _as_req()
        writer.write(struct.pack("!I", len(first)) + first + struct.pack("!I", len(second)) + second[:10])
        (length,) = struct.unpack("!I", await asyncio.wait_for(reader.readexactly(4), 30))
        kind, err = ka._decode_reply(await reader.readexactly(length))
        assert kind == "error" and int(err["error-code"]) == ka.KDC_ERR_PREAUTH_REQUIRED
        await _closed_within(reader, 30)
        writer.close()
        server.close()
        await server.wait_closed()
    asyncio.run(run())
