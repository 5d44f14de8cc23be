"""How many trainee labs this host holds (`make class-capacity`, not in CI, not in `make bench`).

For each class size N (in processes or, with --runtime docker, containers; a state directory of
its own, subnets BASE.1..BASE.N):
`lab class up --trainees N` through the CLI (start-up time: the whole class, and each lab's own),
the memory of every lab (PSS and RSS of its processes, lab/classroom/usage.py) and what the host
has left, then every trainee signs in at once with a code (one WorkSpaces client sign-in per lab,
alice then bob: two rounds, LabClient.login as `lab login` does): p50/p99/max of those sign-ins.
Then `lab class down --volumes`. A size that would not fit in the host's available memory (at the
measured size of a lab, with a 15% margin) is skipped and said so.

    .venv/bin/python bench/class_capacity.py --trainees 10 30 [--parallel 2] [--base 127.68]
    .venv/bin/python bench/class_capacity.py --runtime docker --trainees 10      # base 172.29
    .venv/bin/python bench/class_capacity.py --compare-parallel 1,2,3 --compare-trainees 4
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.classroom import roster as roster_mod
from lab.classroom import usage
from lab.client import LabClient
from lab.state import load_topology

ROUNDS = ("alice", "bob")        # each round: every trainee's lab signs this user in, all at once
MARGIN = 1.15


def lab(state_dir: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sign_in_all(state_dir: Path) -> list[float]:
    """Every trainee signs in at once, ROUNDS times; the seconds each sign-in took."""
    roster = roster_mod.load(state_dir)
    assert roster is not None
    clients = [LabClient(load_topology(t.state_dir) or {}) for t in roster.trainees]
    latencies: list[float] = []
    try:
        for user in ROUNDS:
            codes = [c.phone_code(user) for c in clients]       # read first: the phones are not timed
            barrier = threading.Barrier(len(clients))

            def one(i: int, user: str = user, codes: list[str] = codes, barrier: threading.Barrier = barrier) -> float:
                barrier.wait()
                started = time.monotonic()
                result = clients[i].login(user, mfa=codes[i])
                if not result["success"]:
                    raise RuntimeError(f"{roster.trainees[i].name}: {user} was refused: {result.get('message')}")
                return time.monotonic() - started

            with ThreadPoolExecutor(max_workers=len(clients)) as pool:
                latencies += list(pool.map(one, range(len(clients))))
    finally:
        for c in clients:
            c.close()
    return latencies


def class_run(n: int, parallel: int, base: str, *, sign_in: bool = True, runtime: str = "process") -> dict[str, Any]:
    state_dir = Path(tempfile.mkdtemp(prefix=f"class-capacity-{n}-"))
    before = mem_available_mib()
    try:
        started = time.monotonic()
        up = lab(state_dir, "class", "up", "--trainees", str(n), "--parallel", str(parallel), "--subnet-base", base,
                 "--runtime", runtime, "--timeout", "300", "--json")
        wall = time.monotonic() - started
        if up.returncode != 0:
            raise RuntimeError(f"class up failed ({up.returncode}):\n{up.stdout[-2000:]}\n{up.stderr[-3000:]}")
        outcomes = json.loads(up.stdout)["outcomes"]
        roster = roster_mod.load(state_dir)
        assert roster is not None
        mems = [usage.memory(t.state_dir) for t in roster.trainees]
        after = mem_available_mib()
        row: dict[str, Any] = {
            "trainees": n, "runtime": runtime, "parallel": parallel, "up_seconds": round(wall, 1),
            "lab_seconds_median": round(statistics.median(o["seconds"] for o in outcomes), 1),
            "processes_per_lab": mems[0]["processes"],
            "pss_mib_per_lab": round(statistics.mean(m["pss_mib"] for m in mems), 1),
            "rss_mib_per_lab": round(statistics.mean(m["rss_mib"] for m in mems), 1),
            "host_mib_used": round(before - after), "host_mib_available_after": round(after),
        }
        if sign_in:
            lat = sign_in_all(state_dir)
            row.update(signins=len(lat), signin_p50_s=round(percentile(lat, 50), 3),
                       signin_p99_s=round(percentile(lat, 99), 3), signin_max_s=round(max(lat), 3))
        return row
    finally:
        started = time.monotonic()
        down = lab(state_dir, "class", "down", "--volumes")
        print(f"  (class down --volumes: exit {down.returncode}, {time.monotonic() - started:.1f} s)", flush=True)
        shutil.rmtree(state_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainees", type=int, nargs="*", default=[10, 30], help="class sizes (default 10 30)")
    parser.add_argument("--parallel", type=int, default=2, help="labs started at once (default 2)")
    parser.add_argument("--runtime", choices=("process", "docker"), default="process")
    parser.add_argument("--base", default=os.environ.get("CLASS_BASE"),
                        help="subnet base: trainee N on BASE.N, blank labs on BASE+1 (default 127.68; "
                             "172.29 in containers)")
    parser.add_argument("--compare-parallel", default="", help="e.g. 1,2,3: start-up time of one class per value")
    parser.add_argument("--compare-trainees", type=int, default=4)
    parser.add_argument("--json", metavar="FILE", help="also write the rows here")
    args = parser.parse_args()
    args.base = args.base or ("172.29" if args.runtime == "docker" else "127.68")
    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, {mem_available_mib():.0f} MiB available, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    rows = []
    for k in [int(v) for v in args.compare_parallel.split(",") if v]:
        row = class_run(args.compare_trainees, k, args.base, sign_in=False, runtime=args.runtime)
        print(f"parallel {k}: {args.compare_trainees} labs up in {row['up_seconds']} s "
              f"(each lab {row['lab_seconds_median']} s median)", flush=True)
        rows.append(row)
    per_lab = 0.0
    for n in args.trainees:
        need = n * per_lab * MARGIN
        if per_lab and need > mem_available_mib():
            print(f"{n} trainees: SKIPPED, would need ~{need:.0f} MiB ({per_lab:.0f} MiB PSS per lab x {n} + 15%), "
                  f"{mem_available_mib():.0f} MiB available", flush=True)
            rows.append({"trainees": n, "skipped": f"needs ~{need:.0f} MiB"})
            continue
        row = class_run(n, args.parallel, args.base, runtime=args.runtime)
        per_lab = row["pss_mib_per_lab"]
        rows.append(row)
        print(f"{n} trainees in {args.runtime} ({args.parallel} at a time): up in {row['up_seconds']} s (each lab "
              f"{row['lab_seconds_median']} s median); per lab {row['processes_per_lab']} processes, "
              f"{row['pss_mib_per_lab']} MiB PSS ({row['rss_mib_per_lab']} MiB RSS); host used {row['host_mib_used']} "
              f"MiB, {row['host_mib_available_after']} MiB left; {row['signins']} sign-ins at once: p50 "
              f"{row['signin_p50_s']} s, p99 {row['signin_p99_s']} s, max {row['signin_max_s']} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
