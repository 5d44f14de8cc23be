"""Benchmark of the radius-agent, as ratios against a reference measured in the same run.

Reference: a bare pyrad responder in its own process (decode, verify Message-Authenticator, answer
Access-Accept with M-A first; no org, no dedup, no logging) = the cost of the codec alone.
Measured: the real agent process (services.radius_agent) against the tests' fake org, for
  - Status-Server (the wire path: decode, M-A, reply; never touches the org),
  - Access-Request with a passcode (the full path: dedup, worker pool, 3 HTTP calls to the org).
Each client coroutine owns a UDP socket (its own source port, like one NAS) and sends one request
at a time; `--concurrency` of them run together (keep it below ragent.num_request_threads, 15).

    .venv/bin/python bench/bench_radius.py [--requests 2000] [--concurrency 8] [--subnet 127.0.86]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "services" / "radius_agent")]

from pyrad import packet as rp  # noqa: E402

from services.radius_agent import radius  # noqa: E402


# -- the reference server (run as a subprocess with --reference-server) --------------------------
def reference_server(host: str, port: int, secret: str) -> None:
    class Proto(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            try:
                req = radius.parse(data, addr, port, secret.encode(), require_message_authenticator=True)
            except radius.Discard:
                return
            self.transport.sendto(radius.encode_reply(req, radius.ACCESS_ACCEPT), addr)

    async def main():
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Proto, local_addr=(host, port))
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the load generator --------------------------------------------------------------------------
class OneNas(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data, addr):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


async def load(server: tuple[str, int], packets: list[bytes], concurrency: int, source_ip: str,
               timeout: float = 5.0) -> tuple[float, list[float], int]:
    """Send `packets` from `concurrency` sockets, one outstanding each; (seconds, latencies, lost)."""
    loop = asyncio.get_running_loop()
    queue = list(reversed(packets))
    latencies: list[float] = []
    lost = 0

    async def worker() -> None:
        nonlocal lost
        transport, proto = await loop.create_datagram_endpoint(OneNas, local_addr=(source_ip, 0))
        try:
            while queue:
                raw = queue.pop()
                proto.waiter = loop.create_future()
                started = time.perf_counter()
                transport.sendto(raw, server)
                try:
                    await asyncio.wait_for(proto.waiter, timeout)
                    latencies.append(time.perf_counter() - started)
                except asyncio.TimeoutError:
                    lost += 1
        finally:
            transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, lost


def make_packets(n: int, secret: bytes, code: int, user: str | None, password: str | None) -> list[bytes]:
    from radius_agent_fakes import access_request
    return [access_request(secret, user, password, ident=i % 256, code=code).RequestPacket() for i in range(n)]


def report(name: str, seconds: float, latencies: list[float], lost: int, reference: float | None) -> float:
    rate = len(latencies) / seconds if seconds else 0.0
    lat = sorted(latencies) or [0.0]
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    ratio = f"{rate / reference:6.2f}x reference" if reference else "  (reference)   "
    print(f"{name:<42} {rate:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  lost {lost:4d}  {ratio}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--subnet", default="127.0.86")
    parser.add_argument("--reference-server", nargs=3, metavar=("HOST", "PORT", "SECRET"), help=argparse.SUPPRESS)
    parser.add_argument("--fake-org", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        host, port, secret = args.reference_server
        reference_server(host, int(port), secret)
        return

    if args.fake_org:
        serve_fake_org(Path(args.fake_org))
        return

    from lab import topology as topo
    from tests.support import running_services

    nas_ip = f"{args.subnet}.41"
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        creds = topo.load_or_create_credentials(state)
        secret = creds["radius_shared_secret"].encode()
        # the fake org in its own process, so the load generator does not share its GIL
        org = spawn([sys.executable, __file__, "--fake-org", str(state), "--subnet", args.subnet])
        ref_addr = (f"{args.subnet}.99", 1812)
        ref = spawn([sys.executable, __file__, "--reference-server", ref_addr[0], str(ref_addr[1]), secret.decode()])
        try:
            with running_services(["radius-agent"], state, args.subnet, timeout=30,
                                  settings={"radius-agent": {"push_poll_interval_seconds": 0.1}}) as topology:
                agent = topology["services"]["radius-agent"]
                run_rows(args, (agent["host"], agent["ports"]["radius"]), ref_addr, secret, nas_ip)
        finally:
            for proc in (ref, org):
                proc.terminate()
                proc.wait(timeout=5)


def spawn(cmd: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", f"{cmd[2]} did not start"
    return proc


def serve_fake_org(state: Path) -> None:
    from lab import topology as topo
    from radius_agent_harness import default_apps, default_users
    from radius_agent_fakes import FakeOrg
    subnet = sys.argv[sys.argv.index("--subnet") + 1]
    creds = topo.load_or_create_credentials(state)
    okta = topo.build(state, subnet=subnet)["services"]["okta"]
    FakeOrg(okta["host"], okta["ports"]["api"], creds["okta_api_token"],
            default_apps(creds["radius_shared_secret"]), default_users()).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def run_rows(args, agent_addr: tuple[str, int], ref_addr: tuple[str, int], secret: bytes, nas_ip: str) -> None:
    """The three rows: the reference first, then the agent's wire path, then its full path."""
    n, c = args.requests, args.concurrency
    print(f"{n} requests per row, {c} in flight, agent at {agent_addr[0]}:{agent_addr[1]}, "
          f"Python {sys.version.split()[0]}")
    code_n = max(n // 2, 100)
    ref_pkts = make_packets(n, secret, rp.AccessRequest, "alice", "918273")
    status_pkts = make_packets(n, secret, rp.StatusServer, None, None)
    code_pkts = make_packets(code_n, secret, rp.AccessRequest, "alice", "918273")
    asyncio.run(load(ref_addr, ref_pkts[:200], c, nas_ip))              # warm-up
    reference = report("reference: bare pyrad responder", *asyncio.run(load(ref_addr, ref_pkts, c, nas_ip)), None)
    report("agent: Status-Server", *asyncio.run(load(agent_addr, status_pkts, c, nas_ip)), reference)
    report("agent: Access-Request, passcode (fake org)",
           *asyncio.run(load(agent_addr, code_pkts, c, nas_ip)), reference)


if __name__ == "__main__":
    main()
