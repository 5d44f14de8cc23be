"""End-to-end WorkSpaces sign-ins with a code: throughput and p50/p99 at several concurrency levels.

Path measured: client → workspaces → ad-connector → radius-agent → okta (code verify) → back, then
ad-connector → dc (SRV discovery, user bind, attribute search) → workspaces → client. Every hop is
a real process on loopback. Reference, measured in the same run: the same code verification sent
straight to the RADIUS agent (Access-Request → agent → org), i.e. the Okta half alone; the ratio
says what the AWS half (WorkSpaces, AD Connector, the DC) adds on top.

A TOTP code can be used once per 30 s step and factor, and the org accepts one step either side
of now. So the bench seeds its own users (bench001...), gives the reference and each level a group
of its own, and reads each group's codes (the current and the next step's) from the phone just
before that group runs: both stay inside the org's window for at least 30 s, longer than any
group takes, and no (user, step) is used twice. A failure therefore means the lab failed; each is
still checked against the window at the moment it was answered and listed with what the agent and
the org said (their journals), and the exit status is 1 when any sign-in failed.

Two limits the real services have are lifted for the run, and the run says so: the org's API rate
limits (600/min on the factor endpoints), and the agent's worker pool (ragent.num_request_threads,
15: the lab's agent rejects a request when every worker is busy, so 16 in flight would measure
that rule instead of the path).

    .venv/bin/python bench/bench_signin.py [--users 400] [--levels 1,4,16] [--subnet 127.0.79]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
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

sys.path.insert(0, str(ROOT / "bench"))
from common import Report, cpu_seconds, profiled, top_entries


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


WINDOW_STEPS, PERIOD = 1, 30        # the org's totp_window_steps (default) and the TOTP period


def in_window(step: int, at: float) -> bool:
    return abs(int(at // PERIOD) - step) <= WINDOW_STEPS


async def run_level(jobs: list[tuple[str, str, str, int]], concurrency: int, sign_in,
                    expired: list[str]) -> tuple[float, list[float], int]:
    """Sign `jobs` (user, password, code, the code's step) in, `concurrency` at a time; a failure
    whose code had left the window when it was answered goes to `expired` (the bench's fault)."""
    queue = list(jobs)
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            user, password, code, step = queue.pop()
            started = time.perf_counter()
            ok = await sign_in(user, password, code)
            latencies.append(time.perf_counter() - started)
            if not ok:
                failures += 1
                if not in_window(step, time.time()):
                    expired.append(user)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


def save(ref, results, failed: int, expired: int, reasons: dict[str, int], said: list[str]) -> None:
    report = Report("signin")
    ref_rate = len(ref[1]) / ref[0]
    report.figure("reference: code verification straight to the agent (4 in flight)", ref_rate, "sign-ins/s",
                  p50_ms=round(statistics.median(ref[1]) * 1000, 1),
                  p99_ms=round(percentile(ref[1], 99) * 1000, 1), failed=ref[2])
    for level, (elapsed, lat, nfailed) in results:
        target = ">= 100" if level == 16 else None
        report.figure(f"end-to-end sign-in with a code, {level} in flight", len(lat) / elapsed, "sign-ins/s",
                      reference=ref_rate, target=target, target_on="value", concurrency=level,
                      p50_ms=round(statistics.median(lat) * 1000, 1), p99_ms=round(percentile(lat, 99) * 1000, 1),
                      failed=nfailed, p99_target_met=(percentile(lat, 99) <= 0.3 and nfailed == 0)
                      if level == 16 else None)
    report.note("failures", {"failed": failed, "code_outside_window": expired, "by_reason": reasons,
                             "lab_said": said})
    print(f"figures written to {report.save()}")


def why_rejected(state: Path) -> list[str]:
    """What the agent and the org said about the bench users' failed requests (their journals)."""
    counts: dict[str, int] = {}
    for service, kinds in (("radius-agent", {"radius.request"}), ("okta", {"okta.factor.verify"})):
        path = state / "events" / f"{service}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            event = json.loads(line)
            fields = event.get("fields") or {}
            if event["kind"] not in kinds or not str(fields.get("user", "")).startswith("bench"):
                continue
            if event.get("outcome") in ("accept", "SUCCESS", "challenge"):
                continue
            key = f"{service}: {event.get('outcome')}: {fields.get('reason') or ''}".rstrip(": ")
            counts[key] = counts.get(key, 0) + 1
    return [f"{n} × {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=400,
                        help="bench users, split between the reference and the levels; 2 sign-ins each "
                             "(400: 200 sign-ins a level with the default levels, ~1 s at 16 in flight on a "
                             "quiet machine; fewer make p99 the slowest few)")
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--subnet", default="127.0.79")
    parser.add_argument("--agent-threads", type=int, default=0,
                        help="ragent.num_request_threads for the run (default: twice the highest level, "
                             "at least 15, the agent's own default)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy these services during the last level "
                        "(--profile-services), raw stacks in DIR and top entries printed")
    parser.add_argument("--profile-services", default="okta,ad-connector,workspaces,radius-agent")
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
    threads = args.agent_threads or max(15, 2 * max(levels))
    topology["services"]["radius-agent"].setdefault("settings", {})["ragent.num_request_threads"] = threads
    path = pr.write_topology(state, topology)
    pr.check_ports_free(topology, list(topology["services"]))
    print(f"starting the lab on {args.subnet}.x with {args.users} bench users ...", flush=True)
    try:
        started = pr.start(path, topology, list(topology["services"]))
        pr.wait_healthy(topology, started, timeout=120)
        provision.enrol_okta_verify(topology, yaml.safe_load(seed_path.read_text()))
        client = LabClient(topology)
        users = [f"bench{i:03d}" for i in range(1, args.users + 1)]
        groups = [users[k::len(levels) + 1] for k in range(len(levels) + 1)]    # reference, then each level
        passwords = {p["sam"]: p["password"] for p in yaml.safe_load(seed_path.read_text())["users"]}

        def jobs_for(group: list[str]) -> list[tuple[str, str, str, int]]:
            """Each user's current and next step's code, read now (both valid >= 30 s from now)."""
            now = int(time.time() // PERIOD)
            out = []
            for u in group:
                for offset in (0, 1):
                    out.append((u, passwords[u], client.phone_code(u, offset), now + offset))
            if int(time.time() // PERIOD) != now:       # a step began while reading: read again
                return jobs_for(group)
            return out
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

        expired: list[str] = []
        pids = {p["name"]: p["pid"] for p in pr.load_processes(state) if p.get("name") in topology["services"]}
        cpu: dict[int, dict[str, float]] = {}      # level -> service -> ms of CPU per sign-in

        async def level_with_cpu(level: int, group: list[str]):
            jobs = jobs_for(group)
            before = {n: cpu_seconds(p) for n, p in pids.items()}
            with contextlib.ExitStack() as stack:
                if args.profile and level == levels[-1]:
                    for name in args.profile_services.split(","):
                        stack.enter_context(profiled(pids.get(name), Path(args.profile) / f"{name}.raw",
                                                     seconds=len(jobs) / level * 0.5 + 1))
                result = await run_level(jobs, level, e2e, expired)
            cpu[level] = {n: 1000 * (cpu_seconds(p) - before[n]) / max(len(jobs), 1) for n, p in pids.items()}
            return result

        async def measure():
            global http
            http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64))
            ref = await run_level(jobs_for(groups[0]), 4, agent_only, expired)
            out = []
            for level, group in zip(levels, groups[1:], strict=True):
                out.append((level, await level_with_cpu(level, group)))
            await http.aclose()
            return ref, out

        ref, results = asyncio.run(measure())
        ref_p50 = statistics.median(ref[1])
        print(f"(lifted for this run: the org's rate limits; the agent's worker pool is {threads} threads)")
        print(f"reference: code verification straight to the agent (4 in flight): "
              f"{len(ref[1]) / ref[0]:.0f}/s, p50 {ref_p50 * 1000:.1f} ms, p99 {percentile(ref[1], 99) * 1000:.1f} ms"
              f", {ref[2]} failed")
        print(f"{'concurrency':>11} {'sign-ins/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p50 / reference':>16} {'failed':>7}")
        for level, (elapsed, lat, failed) in results:
            p50 = statistics.median(lat)
            print(f"{level:>11} {len(lat) / elapsed:>11.1f} {p50 * 1000:>8.1f} {percentile(lat, 99) * 1000:>8.1f}"
                  f" {p50 / ref_p50:>15.1f}x {failed:>7}")
        print("CPU per sign-in by service (ms), the busiest first:")
        for level, by in cpu.items():
            print(f"{level:>11}  " + ", ".join(f"{n} {ms:.1f}" for n, ms in sorted(by.items(), key=lambda kv: -kv[1])
                                              if ms >= 0.05))
        for name in (args.profile_services.split(",") if args.profile else []):
            top = top_entries(Path(args.profile) / f"{name}.raw", 10)
            print(f"profile {name} (self time, % of busy samples):")
            for frame, share in top["self"]:
                print(f"  {share:5.1f}%  {frame}")
            print("  by package: " + ", ".join(f"{p} {s:.0f}%" for p, s in top["package"]))
        failed = ref[2] + sum(r[2] for _, r in results)
        if failed:
            print(f"failed sign-ins by WorkSpaces reason: {reasons}; {len(expired)} of them with a code "
                  "outside the org's window when answered (the bench's fault); what the lab said:")
            for line in why_rejected(state):
                print(f"  {line}")
        save(ref, results, failed, len(expired), reasons, why_rejected(state) if failed else [])
        return 1 if failed else 0
    finally:
        pr.stop(state)
        shutil.rmtree(state, ignore_errors=True)      # credentials and TOTP seeds: nothing left behind


if __name__ == "__main__":
    sys.exit(main())
