"""How cost grows with the directory: an AD import through the Okta AD agent, and the org's user
listing in pages, at several sizes.

  - import: the DC seeded with N extra people (in OU=Users, members of `WorkSpaces Users`), the
    admin's Import (`LabClient.ad_import`: the org queues the job, the AD agent reads the DC over
    LDAP and creates the users and memberships through the org's API); seconds from the request
    to COMPLETED. Target: 10,000 users under 60 s.
  - listing: the org's `GET /api/v1/users?limit=200` followed through `Link: rel="next"` to the
    end, as the SDKs do, over the users the import made (and more: `--list-sizes` adds users
    straight through the org's API in bulk first); seconds for the whole walk and for one page.
Only the services these need run (dc, okta, ad-agent, mail); the org's rate limits are lifted, as
a bench of the path and not of the rate-limit rule.

    .venv/bin/python bench/bench_import.py [--sizes 1000,3000,10000] [--list-sizes 100000] [--subnet 127.0.189]
        [--profile DIR]      # py-spy the agent and the org during the largest import; top entries printed
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import Report, cpu_seconds, py_spy, top_entries

from lab import process_runtime as pr
from lab import topology as topo
from lab.client import LabClient
from tests.support import running_services

SERVICES = ["dc", "okta", "ad-agent", "mail"]
PROFILED = ["ad-agent", "okta", "dc"]
NO_LIMITS = {p: 10_000_000 for p in ("default", "/api/v1/users", "/api/v1/apps", "/api/v1/radius",
                                      "/api/v1/authn", "/api/v1/groups")}


def seed_with(n: int) -> dict:
    seed = yaml.safe_load(topo.SEED_DEFAULT.read_text())
    for i in range(n):
        seed["users"].append({"sam": f"imp{i:06d}", "given_name": "Import", "surname": f"User{i:06d}",
                              "password": f"Imp-Passw0rd-{i:06d}", "state": "enabled",
                              "groups": ["WorkSpaces Users"], "workspace": False})
    return seed


@contextlib.contextmanager
def recording(pids: dict[str, int], folder: Path | None) -> Iterator[None]:
    """py-spy record of each pid into folder/<name>.raw while the block runs (it has no known
    length, so py-spy runs without --duration and is stopped with SIGINT, which saves its file)."""
    binary = py_spy()
    if folder is None or binary is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([binary, "record", "--pid", str(pid), "--rate", "100", "--nonblocking",
                               "--format", "raw", "--output", str(folder / f"{name}.raw")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, pid in pids.items()]
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def walk_pages(client: LabClient, limit: int = 200) -> tuple[int, int, float]:
    """Every user page by page; (users, pages, seconds)."""
    started = time.perf_counter()
    count = pages = 0
    resp = client.okta("GET", "/api/v1/users", params={"limit": limit})
    while True:
        resp.raise_for_status()
        count += len(resp.json())
        pages += 1
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return count, pages, time.perf_counter() - started
        parts = urlsplit(nxt)
        resp = client.okta("GET", f"{parts.path}?{parts.query}")


async def add_users(base: str, token: str, start: int, n: int, concurrency: int = 16) -> None:
    """n more (STAGED) users through the org's API, `concurrency` requests at a time."""
    headers = {"Authorization": f"SSWS {token}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:
        queue = list(range(start, start + n))

        async def worker() -> None:
            while queue:
                i = queue.pop()
                resp = await http.post("/api/v1/users", params={"activate": "false"}, json={"profile": {
                    "login": f"list{i:06d}@corp.example.com", "email": f"list{i:06d}@corp.example.com",
                    "firstName": "List", "lastName": f"User{i:06d}"}})
                resp.raise_for_status()
        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000", help="directory sizes to import")
    parser.add_argument("--list-sizes", default="", help="org sizes to list after the largest import "
                        "(users added through the API up to each), e.g. 30000,100000")
    parser.add_argument("--subnet", default="127.0.189")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="py-spy the agent, the org and the DC during the largest import (raw stacks in DIR)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    list_sizes = [int(x) for x in args.list_sizes.split(",") if x]
    report = Report("import")
    imports, listings = [], []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            state = Path(tmp)
            began = time.perf_counter()
            with running_services(SERVICES, state, args.subnet, seed=seed_with(n), timeout=600,
                                  settings={"okta": {"rate_limits": NO_LIMITS}}) as topology:
                up = time.perf_counter() - began
                client = LabClient(topology)
                pids = {p["name"]: p["pid"] for p in pr.load_processes(state) if p.get("name") in PROFILED}
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                started = time.perf_counter()
                with recording(pids, args.profile if n == sizes[-1] else None):
                    job = client.ad_import(full=True, wait=1800)
                seconds = time.perf_counter() - started
                cpu = {name: round(cpu_seconds(pid) - before[name], 1) for name, pid in pids.items()}
                print(f"  CPU seconds during the import: {cpu}", flush=True)
                created = (job.get("counts") or {}).get("users.created", job.get("result"))
                print(f"import of {n} users: {seconds:.1f} s ({n / seconds:.0f} users/s), job {job['status']}, "
                      f"created {created}; the lab took {up:.1f} s to start", flush=True)
                imports.append((n, seconds, job["status"]))
                report.figure(f"AD import of {n} users", seconds, "s", target="< 60" if n >= 10000 else None,
                              target_on="value", users=n, status=job["status"], lab_start_s=round(up, 1),
                              cpu_seconds=cpu)
                if args.profile and n == sizes[-1]:
                    for name in pids:
                        top = top_entries(args.profile / f"{name}.raw", 12)
                        report.note(f"profile {name}, {n} users", top)
                        print(f"profile {name} (self time, % of busy samples):")
                        for kind in ("self", "package"):
                            for fn, pct in top[kind]:
                                print(f"  {kind:<8} {pct:5.1f}%  {fn}")
                if n == sizes[-1]:
                    total = n
                    for size in [n, *list_sizes]:
                        if size > total:
                            asyncio.run(add_users(f"http://{topology['services']['okta']['host']}:"
                                                  f"{topology['services']['okta']['ports']['api']}",
                                                  topology["credentials"]["okta_api_token"], total, size - total))
                            total = size
                        users, pages, secs = walk_pages(client)
                        print(f"listing {users} users in {pages} pages of 200: {secs:.1f} s "
                              f"({1000 * secs / pages:.1f} ms a page)", flush=True)
                        listings.append((users, pages, secs))
                        report.figure(f"listing {users} users in pages of 200", secs, "s", users=users,
                                      pages=pages, ms_per_page=round(1000 * secs / pages, 1))
    print("\n| users imported | seconds | users/s | status |\n|---:|---:|---:|---|")
    for n, s, status in imports:
        print(f"| {n:,} | {s:.1f} | {n / s:.0f} | {status} |")
    if listings:
        print("\n| users listed | pages | seconds | ms a page |\n|---:|---:|---:|---:|")
        for users, pages, secs in listings:
            print(f"| {users:,} | {pages} | {secs:.1f} | {1000 * secs / pages:.1f} |")
    print(f"figures written to {report.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
