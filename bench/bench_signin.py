"""End-to-end WorkSpaces sign-ins with a code: throughput and p50/p99 at several concurrency levels.

Path measured: client → workspaces → ad-connector → radius-agent → okta (code verify) → back, then
ad-connector → dc (SRV discovery, user bind, attribute search) → workspaces → client. Every hop is
a real process on loopback. Reference, measured in the same run: the same code verification sent
straight to the RADIUS agent (Access-Request → agent → org), i.e. the Okta half alone; the ratio
says what the AWS half (WorkSpaces, AD Connector, the DC) adds on top.

A TOTP code can be used once per 30 s step, so the bench seeds its own users (bench001...) and
signs each in with the previous, current and next step's codes (all inside the org's window).

    .venv/bin/python bench/bench_signin.py [--users 60] [--levels 1,4,16] [--subnet 127.0.79]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import process_runtime as pr
from lab import provision
from lab import topology as topo
from lab.client import LabClient
from services.ad_connector import radius_client


def bench_seed(users: int) -> dict:
    seed = yaml.safe_load(topo.SEED_DEFAULT.read_text())
    for i in range(1, users + 1):
        seed["users"].append({"sam": f"bench{i:03d}", "given_name": "Bench", "surname": f"User{i:03d}",
                              "password": f"Bench-Passw0rd-{i:03d}", "state": "enabled",
                              "groups": ["WorkSpaces Users"], "workspace": True,
                              "okta": {"status": "ACTIVE", "assigned": True, "okta_verify": True}})
    return seed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_level(jobs: list[tuple[str, str, str]], concurrency: int, sign_in) -> tuple[float, list[float], int]:
    queue = list(jobs)
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            job = queue.pop()
            started = time.perf_counter()
            ok = await sign_in(*job)
            latencies.append(time.perf_counter() - started)
            failures += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=60, help="bench users; 2 × users sign-ins in all")
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--subnet", default="127.0.79")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    state = Path(tempfile.mkdtemp(prefix="bench-signin-"))
    seed_path = state / "seed.yaml"
    seed_path.write_text(yaml.safe_dump(bench_seed(args.users)))
    topology = topo.build(state, subnet=args.subnet, seed=seed_path,
                          credentials=topo.load_or_create_credentials(state))
    # Okta's per-minute API limits (600 on the factor endpoints) would turn a benchmark into the
    # rate-limit scenario; lift them here, and say so.
    topology["services"]["okta"]["settings"]["rate_limits"] = {
        prefix: 1_000_000 for prefix in ("default", "/api/v1/users", "/api/v1/apps", "/api/v1/radius", "/api/v1/authn")}
    path = pr.write_topology(state, topology)
    pr.check_ports_free(topology, list(topology["services"]))
    print(f"starting the lab on {args.subnet}.x with {args.users} bench users ...", flush=True)
    try:
        started = pr.start(path, topology, list(topology["services"]))
        pr.wait_healthy(topology, started, timeout=120)
        provision.enrol_okta_verify(topology, yaml.safe_load(seed_path.read_text()))
        client = LabClient(topology)
        users = [f"bench{i:03d}" for i in range(1, args.users + 1)]
        # Codes per user: previous, current and next step; split between the reference and levels.
        codes = {u: [client.phone_code(u, s) for s in (-1, 0, 1)] for u in users}
        reg = client.registration_code()
        ws = f"http://{topology['services']['workspaces']['host']}:{topology['services']['workspaces']['ports']['api']}"
        agent = topology["services"]["radius-agent"]
        secret = topology["credentials"]["radius_shared_secret"].encode()

        reasons: dict[str, int] = {}

        async def e2e(user: str, password: str, code: str) -> bool:
            resp = await http.post(f"{ws}/client/signin", json={"registrationCode": reg, "username": user,
                                                                 "password": password, "mfaCode": code})
            if resp.status_code != 200:
                reason = resp.json().get("reason", str(resp.status_code))
                reasons[reason] = reasons.get(reason, 0) + 1
            return resp.status_code == 200

        async def agent_only(user: str, _password: str, code: str) -> bool:
            result = await radius_client.authenticate(
                servers=[agent["host"]], port=agent["ports"]["radius"], secret=secret, username=user,
                mfa_code=code, source_ip=topology["services"]["ad-connector"]["settings"]["connect_ips"][0],
                timeout=5, retries=0, nas_identifier="bench")
            return result.outcome == "accept"

        passwords = {p["sam"]: p["password"] for p in yaml.safe_load(seed_path.read_text())["users"]}
        reference_jobs = [(u, passwords[u], codes[u][0]) for u in users]
        # Every (user, code) pair is used once: the levels share the pairs of the other two steps.
        pairs = [(u, passwords[u], codes[u][i]) for i in (1, 2) for u in users]
        shares = [pairs[k::len(levels)] for k in range(len(levels))]

        async def measure():
            global http
            http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64))
            ref = await run_level(reference_jobs, 4, agent_only)
            out = []
            for level, jobs in zip(levels, shares, strict=True):
                out.append((level, await run_level(jobs, level, e2e)))
            await http.aclose()
            return ref, out

        ref, results = asyncio.run(measure())
        ref_p50 = statistics.median(ref[1])
        print("(the org's rate limits are lifted for this run)")
        print(f"reference: code verification straight to the agent (4 in flight): "
              f"{len(ref[1]) / ref[0]:.0f}/s, p50 {ref_p50 * 1000:.1f} ms, p99 {percentile(ref[1], 99) * 1000:.1f} ms"
              f", {ref[2]} failed")
        print(f"{'concurrency':>11} {'sign-ins/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p50 / reference':>16} {'failed':>7}")
        for level, (elapsed, lat, failed) in results:
            p50 = statistics.median(lat)
            print(f"{level:>11} {len(lat) / elapsed:>11.1f} {p50 * 1000:>8.1f} {percentile(lat, 99) * 1000:>8.1f}"
                  f" {p50 / ref_p50:>15.1f}x {failed:>7}")
        if reasons:
            print(f"failed sign-ins by reason: {reasons}")
    finally:
        pr.stop(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
