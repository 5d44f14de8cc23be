"""How the lab DC's LDAP costs grow with the directory: binds, searches by account name and a
one-entry lookup by UPN, at 3,000, 30,000 and 100,000 generated users.

Each size gets a fresh DC (start-up time and resident memory printed too); one client connection
(bench_ldap.py's pre-encoded BER client), back to back, for --seconds per figure, the best of
--rounds rounds. Bind and search latency should stay flat as the directory grows: the bind finds
its account by DN in a dict, the searches go through the directory's equality indexes
(sAMAccountName, userPrincipalName, distinguishedName, mail; services/dc/directory.py INDEXED),
so none of them walks the entries. No reference server: the comparison is the lab with itself.

    .venv/bin/python bench/bench_dc_scale.py [--sizes 3000,30000,100000] [--seconds 2] [--rounds 3]

Address: 127.0.97.10; LAB_BENCH_SUBNET changes 127.0.97.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_ldap import (
    BASE,
    RETURNED,
    SERVICE_ACCOUNT,
    Client,
    LdapError,
    Result,
    bind_request,
    equality,
    known_passwords,
    run_for,
    search_request,
    start_lab,
)
from common import rss_mb

from lab import process_runtime as pr

DOMAIN = "corp.example.com"


def dc_pid(state: Path) -> int:
    """The DC's process id, from the process runtime's record (`<state>/processes.json`)."""
    try:
        rows = json.loads((state / "processes.json").read_text())
    except (OSError, ValueError):
        return 0
    rows = rows.get("processes", rows) if isinstance(rows, dict) else rows
    return next((int(r["pid"]) for r in rows if isinstance(r, dict) and r.get("name") == "dc"), 0)


def best(rounds: int, fn) -> Result:
    out: Result | None = None
    for _ in range(rounds):
        r = fn()
        if out is None or r.rate > out.rate:
            out = r
    assert out is not None
    return out


def measure(host: str, port: int, users: int, generated: str, service: tuple[str, str],
            seconds: float, rounds: int) -> dict[str, Result]:
    # Every 100th generated user is disabled (services/dc/seeding.py): bind as the others, spread
    # over the whole directory so no cache of a few entries flatters the figure.
    step = max(1, users // 500)
    names = [f"user{i:05d}" for i in range(1, users + 1, step) if i % 100 != 0]
    binds = [bind_request(f"{n}@{DOMAIN}", generated) for n in names]
    by_sam = [search_request(BASE, equality("sAMAccountName", n), RETURNED) for n in names]
    by_upn = [search_request(BASE, equality("userPrincipalName", f"{n}@{DOMAIN}"), RETURNED) for n in names]

    def op_for(requests, entries: int | None):
        def op(c: Client, i: int) -> None:
            code, found, _ = c.call(requests[i % len(requests)])
            if code != 0 or (entries is not None and found != entries):
                raise LdapError(f"request {i % len(requests)}: code {code}, {found} entries")
        return op

    def run(requests, entries: int | None, bound: bool) -> Result:
        c = Client(host, port)
        try:
            if bound:
                c.bind(*service)
            return run_for(seconds / rounds, [c], op_for(requests, entries))
        finally:
            c.close()

    return {"bind": best(rounds, lambda: run(binds, None, False)),
            "search sAMAccountName": best(rounds, lambda: run(by_sam, 1, True)),
            "search userPrincipalName": best(rounds, lambda: run(by_upn, 1, True))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,30000,100000", help="generated users, comma-separated")
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    ap.add_argument("--rounds", type=int, default=3, help="--seconds is split into this many rounds")
    args = ap.parse_args()
    subnet = os.environ.get("LAB_BENCH_SUBNET", "127.0.97")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = []
    for size in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench-dc-scale-") as tmp:
            state = Path(tmp) / "lab"
            try:
                t0 = time.perf_counter()
                topology = start_lab(state, subnet, size, timeout=600)
                start_s = time.perf_counter() - t0
                svc = topology["services"]["dc"]
                known, generated = known_passwords(topology)
                service = (f"{SERVICE_ACCOUNT}@{DOMAIN}", known[SERVICE_ACCOUNT][0])
                results = measure(svc["host"], svc["ports"]["ldap"], size, generated, service,
                                  args.seconds, args.rounds)
                rows.append((size, start_s, rss_mb(dc_pid(state)), results))
            finally:
                pr.stop(state)
    print(f"lab dc LDAP by directory size: one connection, best of {args.rounds} rounds of "
          f"{args.seconds / args.rounds:.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'users':>7} {'start s':>7} {'RSS MB':>7}  {'operation':26} {'ops/s':>7} {'median':>9} {'p99':>9}")
    for size, start_s, rss, results in rows:
        for k, (name, r) in enumerate(results.items()):
            head = f"{size:7,d} {start_s:7.1f} {rss:7.0f}" if k == 0 else " " * 23
            print(f"{head}  {name:26} {r.rate:7,.0f} {r.median * 1e6:6.0f} us {r.p99 * 1e6:6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
