"""Start-up time and memory of the lab, as ratios against bare Python measured in the same run.

Measured: `lab up` (the real CLI, process runtime) from nothing to every service healthy and the
seed's users enrolled, then each service's resident memory (RSS, /proc; PSS beside it, which
counts a page the services share once across them) once it is up. References:
  - start-up: as many interpreters as the lab has services, started together, each importing what
    every service must (fastapi, uvicorn, httpx) and exiting: the floor of starting that many
    Python processes on this machine now;
  - memory: one bare FastAPI app (one route) served by uvicorn, as the services are served: the
    floor of a Python HTTP service.
The service count is printed with every figure. Runs `--repeat` times: memory is the least of
each service's; start-up is the median of each run's ratio (the reference is measured right after
that run's `lab up`, so both meet about the same load on a shared machine; the least seconds of
each are printed too). Each run also prints when `lab up` said it had started the services, the
first and the last healthy and the last enrolment (`phases_s_by_run` in reports/bench.json).

    .venv/bin/python bench/bench_startup.py [--repeat 3] [--subnet 127.0.188]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import Report, pss_mb, rss_mb

LAB = [str(Path(sys.executable).parent / "lab")]
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/health")
def health():
    return {"status": "ok"}
uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
"""


PHASES = {"started": "starting ", "first healthy": " healthy", "enrolled": "enrolled Okta Verify",
          "lab up done": "the lab is up"}


def lab_up(subnet: str, phases: dict[str, list[float]] | None = None) \
        -> tuple[float, dict[str, float], dict[str, float]]:
    """Seconds from `lab up` to healthy and enrolled, and each service's RSS and PSS (MB) right after.
    `phases` gains, per phase, the seconds at which `lab up` said it (its lines as they come:
    the services started, the first and last healthy, the last enrolment)."""
    state = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        started = time.perf_counter()
        said: dict[str, float] = {}
        proc = subprocess.Popen([*LAB, "--state-dir", str(state), "up", "--subnet", subnet], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            at = time.perf_counter() - started
            lines.append(line)
            for phase, text in PHASES.items():
                if text in line and (phase != "first healthy" or phase not in said):
                    said[phase] = at
            if " healthy" in line:
                said["last healthy"] = at
        proc.wait()
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"lab up failed ({proc.returncode}):\n{''.join(lines)[-4000:]}")
        if phases is not None:
            for phase, at in said.items():
                phases.setdefault(phase, []).append(round(at, 2))
        from lab import process_runtime as pr
        rows = [p for p in pr.load_processes(state)
                if p.get("name") and Path(f"/proc/{p['pid']}").exists() and p["name"] != "supervisor"]
        return seconds, {p["name"]: rss_mb(p["pid"]) for p in rows}, {p["name"]: pss_mb(p["pid"]) for p in rows}
    finally:
        subprocess.run([*LAB, "--state-dir", str(state), "down"], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def interpreters(n: int) -> float:
    """Seconds for n interpreters importing fastapi, uvicorn and httpx, started together."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", "import fastapi, uvicorn, httpx"]) for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - started


def bare_app_rss(host: str, port: int) -> float:
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, host, str(port)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)          # as settled as the lab's services are when they are measured
        return rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--subnet", default="127.0.188")
    args = parser.parse_args()
    ups, refs, bares = [], [], []
    rss: dict[str, float] = {}
    pss: dict[str, float] = {}
    phases: dict[str, list[float]] = {}
    for i in range(args.repeat):
        up, services, shares = lab_up(args.subnet, phases)
        n = len(services)
        ref = interpreters(n)
        bare = bare_app_rss(f"{args.subnet}.99", free_port(f"{args.subnet}.99"))
        print(f"run {i + 1}: lab up {up:.2f} s for {n} services; {n} interpreters {ref:.2f} s; "
              f"RSS {sum(services.values()):.0f} MB in all, bare app {bare:.0f} MB; lab up said: "
              + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in sorted(phases.items(), key=lambda kv: kv[1][-1])),
              flush=True)
        ups.append(up)
        refs.append(ref)
        bares.append(bare)
        rss = {k: min(v, rss.get(k, v)) for k, v in services.items()}
        pss = {k: min(v, pss.get(k, v)) for k, v in shares.items()}
    n = len(rss)
    up, ref, bare = min(ups), min(refs), min(bares)
    ratios = sorted(u / r for u, r in zip(ups, refs, strict=True))
    ratio = statistics.median(ratios)
    mean = sum(rss.values()) / n
    print(f"\nlab up to healthy and enrolled: {up:.2f} s for {n} services; {n} interpreters importing "
          f"fastapi, uvicorn, httpx: {ref:.2f} s; ratio by run {', '.join(f'{r:.2f}x' for r in ratios)}, "
          f"median {ratio:.2f}x")
    print(f"memory: {sum(rss.values()):.0f} MB for {n} services ({mean:.0f} MB each); bare FastAPI app "
          f"under uvicorn: {bare:.0f} MB ({mean / bare:.2f}x per service)")
    print(f"PSS (shared pages counted once across the services): {sum(pss.values()):.0f} MB for {n} "
          f"({sum(pss.values()) / n:.0f} MB each)")
    for name, mb in sorted(rss.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<16} {mb:6.1f} MB  {mb / bare:5.2f}x   PSS {pss.get(name, float('nan')):5.1f} MB")
    report = Report("startup")
    report.figure(f"lab up to healthy and enrolled ({n} services)", up, "s", reference=ref, ratio=ratio,
                  target="<= 1.3", services=n, ratios_by_run=[round(r, 2) for r in ratios],
                  reference_name=f"{n} interpreters importing fastapi, uvicorn, httpx",
                  phases_s_by_run=phases)
    report.figure(f"RSS per service ({n} services)", mean, "MB", reference=bare, target="<= 1.1",
                  services=n, total_mb=round(sum(rss.values()), 1), reference_name="bare FastAPI app under uvicorn",
                  per_service={k: round(v, 1) for k, v in rss.items()},
                  pss_total_mb=round(sum(pss.values()), 1), pss_per_service={k: round(v, 1) for k, v in pss.items()})
    print(f"figures written to {report.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
