"""Benchmark of the radius-agent, as ratios against FreeRADIUS measured in the same run.

Reference: Debian's FreeRADIUS (`apt-get install freeradius`), started here in the foreground from
a temporary copy of /etc/freeradius/3.0 reduced to one virtual server on a loopback address of the
benchmark's own, answering PAP from a users file (no daemon, no system port, nothing left behind).
Measured: the real agent process (services.radius_agent) against the tests' fake org (its own
process: the real org's TOTP replay rule forbids reusing a code thousands of times), for
  - Status-Server (the wire path: decode, Message-Authenticator, reply; never touches the org),
  - Access-Request with a passcode (the full path: dedup, worker pool, User-Name resolution and
    factor verify at the org: three HTTPS calls, app users with expand=user, factors, verify).
Each client coroutine owns a UDP socket (its own source port, like one NAS) and sends one request
at a time; `--concurrency` of them run together (keep it below ragent.num_request_threads, 15).
Every row stops after `--requests` or `--seconds`, whichever comes first, so a run takes well
under a minute (use `--requests 200000` to let each row run its `--seconds`: 3000 Status-Servers
take a tenth of a second, too short for a profile). The load generator is one Python process on
uvloop, the same for both servers; each row prints its CPU per request beside the servers' (on the
2-core machine ~14 µs, against ~20 µs for the agent's Status-Server and ~30 µs for FreeRADIUS's:
when the client's figure times the rate nears 1 s a second, the client is the ceiling).

    .venv/bin/python bench/bench_radius.py [--requests 3000] [--seconds 5] [--concurrency 8]
        [--subnet 127.0.96] [--profile DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pyrad import packet as rp

sys.path.insert(0, str(ROOT / "bench"))
from common import Report, cpu_seconds, profiled, top_entries

FREERADIUS_CONF = Path("/etc/freeradius/3.0")
USER, CODE = "alice", "918273"          # the fake org's alice accepts this code; the users file too


# -- FreeRADIUS, the reference -------------------------------------------------------------------
def freeradius_binary() -> str | None:
    return shutil.which("freeradius") or shutil.which("radiusd") or \
        next((p for p in ("/usr/sbin/freeradius", "/usr/sbin/radiusd") if os.path.exists(p)), None)


def freeradius_config(dest: Path, host: str, port: int, secret: str) -> Path:
    """A copy of Debian's config with one virtual server (auth on host:port, `files` + `pap`), a
    client for 127.0.0.0/8, a users file, run and log directories inside `dest`, and no switch to
    the freerad user (so the temporary directory needs no permissions)."""
    raddb = dest / "raddb"
    shutil.copytree(FREERADIUS_CONF, raddb, symlinks=True)
    for link in (raddb / "sites-enabled").iterdir():
        link.unlink()
    for link in (raddb / "mods-enabled").iterdir():
        if link.name not in ("always", "expr", "files", "pap"):
            link.unlink()
    conf = (raddb / "radiusd.conf").read_text()
    conf = re.sub(r"(?m)^logdir = .*$", f"logdir = {dest}", conf)
    conf = re.sub(r"(?m)^run_dir = .*$", f"run_dir = {dest}", conf)
    conf = re.sub(r"(?m)^(\s*)(user|group) = freerad", r"\1#\2 = freerad", conf)
    (raddb / "radiusd.conf").write_text(conf)
    (raddb / "clients.conf").write_text(
        f'client lab {{\n\tipaddr = 127.0.0.0/8\n\tsecret = "{secret}"\n\trequire_message_authenticator = no\n}}\n')
    (raddb / "sites-enabled" / "bench").write_text(
        "server bench {\n"
        f"\tlisten {{\n\t\ttype = auth\n\t\tipaddr = {host}\n\t\tport = {port}\n\t}}\n"
        "\tauthorize {\n\t\tfiles\n\t\tpap\n\t}\n"
        "\tauthenticate {\n\t\tAuth-Type PAP {\n\t\t\tpap\n\t\t}\n\t}\n"
        "\tpost-auth {\n\t}\n}\n")
    (raddb / "mods-config" / "files" / "authorize").write_text(f'{USER} Cleartext-Password := "{CODE}"\n')
    return raddb


@contextlib.contextmanager
def freeradius(host: str, port: int, secret: str) -> Iterator[tuple[str, int]]:
    """FreeRADIUS in the foreground (`-f`), logging to a pipe; yields its version line and pid."""
    binary = freeradius_binary()
    if binary is None or not FREERADIUS_CONF.is_dir():
        raise RuntimeError("FreeRADIUS is not installed: apt-get install freeradius "
                           "(then stop the daemon the package may start: service freeradius stop)")
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory(prefix="bench-freeradius-") as tmp:
        raddb = freeradius_config(Path(tmp), host, port, secret)
        proc = subprocess.Popen([binary, "-f", "-d", str(raddb), "-l", "stdout"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip())
                if "Ready to process requests" in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        try:
            if not ready.wait(15) or proc.poll() is not None:
                raise RuntimeError("FreeRADIUS did not start:\n" + "\n".join(lines[-15:]))
            yield version, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- the load generator --------------------------------------------------------------------------
class OneNas(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes | None] | None = None

    def datagram_received(self, data, addr):  # noqa: ARG002 (asyncio's signature)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)

    def expire(self) -> None:
        """The timeout's callback: the request is lost (None), the worker moves on."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


@dataclass
class Row:
    name: str
    seconds: float
    latencies: list[float]
    lost: int
    cpu_ms: dict[str, float] | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies) or [0.0]
        return (statistics.median(lat) if q == 50 else lat[min(len(lat) - 1, int(len(lat) * q / 100))]) * 1000


async def load(server: tuple[str, int], packets: list[bytes], concurrency: int, source_ip: str,
               seconds: float, timeout: float = 3.0) -> tuple[float, list[float], int]:
    """Send `packets` from `concurrency` sockets, one outstanding each, until they run out or
    `seconds` pass; (elapsed seconds, latencies, lost)."""
    loop = asyncio.get_running_loop()
    queue = list(reversed(packets))
    latencies: list[float] = []
    lost = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal lost
        transport, proto = await loop.create_datagram_endpoint(OneNas, local_addr=(source_ip, 0))
        try:
            # one future and one timer a request (asyncio.wait_for adds a second future and
            # callbacks: the client's own CPU is the ceiling for the faster server)
            while queue and time.perf_counter() < stop_at:
                raw = queue.pop()
                proto.waiter = waiter = loop.create_future()
                timer = loop.call_later(timeout, proto.expire)
                started = time.perf_counter()
                transport.sendto(raw, server)
                answered = await waiter
                timer.cancel()
                if answered is None:
                    lost += 1
                else:
                    latencies.append(time.perf_counter() - started)
        finally:
            transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, lost


def run_client(coro: Coroutine[Any, Any, T]) -> T:
    """The load generator on uvloop, as the agent runs: asyncio's own loop cost the client about
    a third more CPU a request, and at ~20 µs a request the client is as busy as either server."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def make_packets(n: int, secret: bytes, code: int, user: str | None, password: str | None) -> list[bytes]:
    from tests.services.radius_agent.fakes import access_request
    return [access_request(secret, user, password, ident=i % 256, code=code).RequestPacket() for i in range(n)]


def measure(name: str, server: tuple[str, int], packets: list[bytes], args, nas_ip: str,
            pids: dict[str, int] | None = None, profile: str | None = None) -> Row:
    run_client(load(server, packets[:100], args.concurrency, nas_ip, 2.0))           # warm-up
    before = {k: cpu_seconds(p) for k, p in (pids or {}).items()}
    client_before = time.process_time()
    target = (pids or {}).get("radius-agent")
    raw = Path(args.profile) / f"{profile}.raw" if args.profile and profile else None
    with profiled(target, raw, args.seconds):
        row = Row(name, *run_client(load(server, packets[100:], args.concurrency, nas_ip, args.seconds)))
    done = max(len(row.latencies), 1)
    row.cpu_ms = {k: 1000 * (cpu_seconds(p) - before[k]) / done for k, p in (pids or {}).items()}
    # the load generator's own CPU: near 1000 / rate ms a request, it is the ceiling, not the server
    row.cpu_ms["client"] = 1000 * (time.process_time() - client_before) / done
    cpu = "".join(f"  {k} {ms:.3f} ms CPU/req" for k, ms in row.cpu_ms.items())
    print(f"  {name:<52} {row.rate:8.0f} req/s  p50 {row.pct(50):7.2f} ms  p99 {row.pct(99):7.2f} ms"
          f"  lost {row.lost}{cpu}", flush=True)
    return row


def ratios(label: str, agent: Row, reference: Row | None) -> None:
    if reference is None or not reference.rate or not agent.latencies:
        print(f"  {label:<40} no FreeRADIUS reference in this run")
        return
    print(f"  {label:<40} throughput {agent.rate / reference.rate:6.3f}x   "
          f"p50 latency {agent.pct(50) / max(reference.pct(50), 1e-6):7.1f}x   "
          f"p99 latency {agent.pct(99) / max(reference.pct(99), 1e-6):7.1f}x")


# -- the run ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="per row, at most")
    parser.add_argument("--seconds", type=float, default=5.0, help="per row, at most")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--subnet", default="127.0.96")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy the agent during each of its rows (raw stacks in DIR, top entries printed "
                             "and kept in reports/bench.json); the profiled run is a little slower")
    parser.add_argument("--fake-org", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_org:
        serve_fake_org(Path(args.fake_org), args.subnet)
        return

    from lab import topology as topo
    from tests.support import running_services

    began = time.monotonic()
    nas_ip = f"{args.subnet}.41"
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        creds = topo.load_or_create_credentials(state)
        secret = creds["radius_shared_secret"]
        n = args.requests + 100
        status_pkts = make_packets(n, secret.encode(), rp.StatusServer, None, None)
        code_pkts = make_packets(n, secret.encode(), rp.AccessRequest, USER, CODE)
        print(f"{args.requests} requests or {args.seconds:g} s per row, {args.concurrency} in flight, "
              f"Python {sys.version.split()[0]}", flush=True)

        ref_status = ref_code = None
        fr_addr = (f"{args.subnet}.98", 1812)
        try:
            with freeradius(fr_addr[0], fr_addr[1], secret) as (version, fr_pid):
                print(f"reference: {version} at {fr_addr[0]}:{fr_addr[1]}")
                ref_status = measure("FreeRADIUS: Status-Server", fr_addr, status_pkts, args, nas_ip,
                                     {"freeradius": fr_pid})
                ref_code = measure("FreeRADIUS: Access-Request, PAP from a users file", fr_addr, code_pkts,
                                   args, nas_ip, {"freeradius": fr_pid})
        except RuntimeError as exc:
            print(f"reference: not measured: {exc}")

        # the fake org in its own process, so the load generator does not share its GIL
        org = spawn([sys.executable, __file__, "--fake-org", str(state), "--subnet", args.subnet])
        try:
            with running_services(["radius-agent"], state, args.subnet, timeout=30,
                                  settings={"radius-agent": {"push_poll_interval_seconds": 0.1}}) as topology:
                svc = topology["services"]["radius-agent"]
                agent_addr = (svc["host"], svc["ports"]["radius"])
                print(f"measured: the lab's radius-agent at {agent_addr[0]}:{agent_addr[1]}, "
                      "fake org in its own process")
                from lab import process_runtime as pr
                pids = {p["name"]: p["pid"] for p in pr.load_processes(state) if p["name"] == "radius-agent"}
                pids["org"] = org.pid
                status = measure("agent: Status-Server", agent_addr, status_pkts, args, nas_ip, pids,
                                 profile="agent-status")
                code = measure("agent: Access-Request, passcode verified at the org", agent_addr, code_pkts,
                               args, nas_ip, pids, profile="agent-passcode")
        finally:
            org.terminate()
            org.wait(timeout=5)
    print("ratios (agent / FreeRADIUS):")
    ratios("Status-Server", status, ref_status)
    ratios("Access-Request (passcode vs PAP)", code, ref_code)
    print(f"total {time.monotonic() - began:.1f} s")
    save(args, status, ref_status, code, ref_code)


def save(args, status: Row, ref_status: Row | None, code: Row, ref_code: Row | None) -> None:
    """Every figure and ratio into reports/bench.json (bench/common.py), with the profiles' tops."""
    report = Report("radius")
    for row, ref, target, extra_target in ((status, ref_status, ">= 0.8", None),
                                           (code, ref_code, None, ">= 1000")):
        report.figure(row.name, row.rate, "req/s", reference=ref.rate if ref else None,
                      target=target or extra_target, target_on="ratio" if target else "value",
                      p50_ms=round(row.pct(50), 2), p99_ms=round(row.pct(99), 2), lost=row.lost,
                      concurrency=args.concurrency,
                      reference_name=ref.name if ref else None)
    agent_cpu = (code.cpu_ms or {}).get("radius-agent")
    if agent_cpu is not None:
        report.figure("agent: CPU per passcode request", agent_cpu, "ms", target="<= 1.0", target_on="value")
    if args.profile:
        for name in ("agent-status", "agent-passcode"):
            top = top_entries(Path(args.profile) / f"{name}.raw")
            report.note(f"profile {name}", top)
            print(f"profile {name} (self time, % of samples):")
            for frame, share in top["self"]:
                print(f"  {share:5.1f}%  {frame}")
            print("  by package: " + ", ".join(f"{p} {s:.0f}%" for p, s in top["package"]))
    print(f"figures written to {report.save()}")


def spawn(cmd: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", f"{cmd[2]} did not start"
    return proc


def serve_fake_org(state: Path, subnet: str) -> None:
    import ssl

    from lab import ca
    from lab import topology as topo
    from tests.services.radius_agent.fakes import FakeOrg
    from tests.services.radius_agent.support import default_apps, default_users
    creds = topo.load_or_create_credentials(state)
    plan = topo.build(state, subnet=subnet)
    okta = plan["services"]["okta"]
    # the agent calls the org over HTTPS verified against the lab CA, as in tests/services/radius_agent
    ca.issue_for_topology(state, plan)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(okta["tls"]["cert"], okta["tls"]["key"])
    FakeOrg(okta["host"], okta["ports"]["https"], creds.get("okta_agent_token", creds["okta_api_token"]),
            default_apps(creds["radius_shared_secret"]), default_users(), tls=tls).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
