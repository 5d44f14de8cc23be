"""A bounded soak run: `python -m lab.soak --minutes N` (`make soak SOAK_MINUTES=N`).

It brings up a lab of its own (`lab up` on its own subnet and state directory), then for N minutes
runs a steady mix: code sign-ins (alice, a fresh code each time: Okta refuses a replayed one) and
push sign-ins (bob), AD imports, admin changes (an AD account disabled and enabled again), a
service clock nudged by a few seconds, and once a minute a random service killed with SIGKILL (the
supervisor brings it back; the time it takes is measured). At the end it checks: every sign-in got
an answer (success, or the client's documented failure with its reason; a refused connection only
while a service was down), sign-ins work again, no push left WAITING past its life, each service's
RSS and event journal within bounds, `PRAGMA integrity_check` ok on every SQLite file. It prints a
report and exits 1 on any violation. The lab is stopped afterwards.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from .client import LabClient, LabClientError
from .state import load_topology

RSS_LIMIT_MB = 400          # per service process
JOURNAL_LIMIT_MB = 64       # per service event journal
BACK_WITHIN = 120.0         # seconds a killed service has to come back


def lab(state_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def pids(state_dir: Path) -> dict[str, int]:
    try:
        return {r["name"]: r["pid"] for r in json.loads((state_dir / "processes.json").read_text())}
    except (OSError, ValueError):
        return {}


class Soak:
    def __init__(self, state_dir: Path, minutes: float, seed: int) -> None:
        self.state_dir, self.minutes = state_dir, minutes
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.failures: dict[str, int] = {}        # documented failures by reason
        self.violations: list[str] = []
        self.comebacks: list[tuple[str, float]] = []
        self.down: set[str] = set()               # services killed and not back yet
        self.used_codes: set[str] = set()
        self.topology: dict[str, Any] = {}

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    # -- the mix -------------------------------------------------------------------------------
    def signins(self, user: str, push: bool) -> None:
        client = LabClient(self.topology)
        while not self.stop.is_set():
            try:
                mfa = "push" if push else self.fresh_code(client, user)
                answer = client.login(user, mfa=mfa)
                if answer["success"]:
                    self.count(f"sign-in {'push' if push else 'code'} ok")
                elif answer.get("reason") and answer.get("message"):
                    self.count(f"sign-in {'push' if push else 'code'} refused")
                    with self.lock:
                        self.failures[answer["reason"]] = self.failures.get(answer["reason"], 0) + 1
                else:
                    self.violation(f"{user}: a failed sign-in without the client's message: {answer}")
            except (httpx.TransportError, LabClientError) as exc:
                if self.stop.is_set():    # the run ended while waiting for a fresh code
                    break
                if self.down:     # a killed service: its port is closed until it is back
                    self.count("sign-in unreachable while a service was down")
                    time.sleep(0.5)
                else:
                    self.violation(f"{user}: {exc.__class__.__name__}: {exc} with every service up")
            except httpx.HTTPError as exc:
                self.violation(f"{user}: {exc.__class__.__name__}: {exc}")

    def fresh_code(self, client: LabClient, user: str) -> str:
        deadline = time.monotonic() + 40
        while not self.stop.is_set():
            code = client.phone_code(user)
            if code not in self.used_codes or time.monotonic() > deadline:
                self.used_codes.add(code)
                return code
            time.sleep(0.5)
        raise LabClientError("stopping")

    def admin(self) -> None:
        """Imports, an AD change and its undoing, a clock nudged: one every few seconds."""
        client = LabClient(self.topology)
        disabled = False
        while not self.stop.wait(5):
            job = self.random.choice(["import", "ad", "clock"])
            try:
                if job == "import":
                    result = client.ad_import(full=self.random.random() < 0.3, wait=90)
                    self.count(f"import {result['status'].lower()}")
                elif job == "ad":
                    client.ad_account("carol", "enable" if disabled else "disable")
                    disabled = not disabled
                    self.count("AD change")
                else:
                    service = self.random.choice(list(self.topology["services"]))
                    client.set_clock(service, self.random.uniform(-3, 3))
                    self.count("clock nudged")
            except (httpx.HTTPError, LabClientError) as exc:
                self.count(f"admin change failed while a service was down ({job})" if self.down
                           else f"admin change failed ({job})")
                if not self.down and job != "import":
                    self.violation(f"{job}: {exc.__class__.__name__}: {exc} with every service up")
        if disabled:
            client.ad_account("carol", "enable")

    def killer(self) -> None:
        while not self.stop.wait(60 - time.time() % 60 if self.minutes >= 1 else 20):
            service = self.random.choice(list(self.topology["services"]))
            old = pids(self.state_dir).get(service)
            if old is None:
                continue
            with self.lock:
                self.down.add(service)
            signal_at = time.monotonic()
            try:
                import os
                os.kill(old, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.count("services killed")
            back = self.wait_back(service, old)
            with self.lock:
                self.down.discard(service)
            if back is None:
                self.violation(f"{service} did not come back within {BACK_WITHIN:.0f} s of kill -9")
            else:
                self.comebacks.append((service, back - signal_at))

    def wait_back(self, service: str, old: int) -> float | None:
        svc = self.topology["services"][service]
        url = f"http://{svc['host']}:{svc['ports']['admin']}/healthz"
        deadline = time.monotonic() + BACK_WITHIN
        while time.monotonic() < deadline:
            if pids(self.state_dir).get(service) not in (None, old):
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        return time.monotonic()
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        return None

    # -- the run and the checks ----------------------------------------------------------------
    def run(self, subnet: str) -> int:
        started = time.monotonic()
        up = lab(self.state_dir, "up", "--subnet", subnet)
        if up.returncode != 0:
            print(f"soak: lab up failed:\n{up.stdout}\n{up.stderr}", file=sys.stderr)
            return 2
        self.topology = load_topology(self.state_dir) or {}
        print(f"soak: lab up in {time.monotonic() - started:.1f} s on {subnet}.x, state in {self.state_dir}; "
              f"running for {self.minutes:g} min", flush=True)
        try:
            workers = [threading.Thread(target=self.signins, args=("alice", False), daemon=True),
                       threading.Thread(target=self.signins, args=("bob", True), daemon=True),
                       threading.Thread(target=self.admin, daemon=True),
                       threading.Thread(target=self.killer, daemon=True)]
            for worker in workers:
                worker.start()
            self.stop.wait(self.minutes * 60)
            self.stop.set()
            for worker in workers:
                worker.join(timeout=700)
            self.final_checks()
        finally:
            lab(self.state_dir, "down")
        return self.report(time.monotonic() - started)

    def final_checks(self) -> None:
        client = LabClient(self.topology)
        for service in self.topology["services"]:
            client.set_clock(service, 0)
        if not client.login("bob", mfa="push")["success"]:
            self.violation("a push sign-in failed at the end, with every service up")
        if not client.login("alice", mfa=self.fresh_code_final(client))["success"]:
            self.violation("a code sign-in failed at the end, with every service up")
        self.check_pushes(client)
        self.rss, self.journals, self.sqlite = {}, {}, {}
        for name, pid in pids(self.state_dir).items():
            try:
                rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("VmRSS:")) / 1024
            except (OSError, StopIteration):
                continue
            self.rss[name] = rss
            if rss > RSS_LIMIT_MB:
                self.violation(f"{name} uses {rss:.0f} MB RSS (limit {RSS_LIMIT_MB})")
        for path in sorted((self.state_dir / "events").glob("*.jsonl")):
            size = path.stat().st_size / 2**20
            self.journals[path.stem] = size
            if size > JOURNAL_LIMIT_MB:
                self.violation(f"{path.stem}'s journal is {size:.1f} MB (limit {JOURNAL_LIMIT_MB})")
        for path in sorted(p for p in self.state_dir.rglob("*") if p.suffix in (".sqlite3", ".sqlite", ".db")):
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            self.sqlite[str(path.relative_to(self.state_dir))] = verdict
            if verdict != "ok":
                self.violation(f"{path}: integrity_check says {verdict}")

    def fresh_code_final(self, client: LabClient) -> str:
        self.stop.clear()
        try:
            return self.fresh_code(client, "alice")
        finally:
            self.stop.set()

    def check_pushes(self, client: LabClient) -> None:
        """Every push the org sent is finished, or WAITING only within its life."""
        now = time.time()
        users: dict[str, str] = {}
        self.pushes = 0
        for event in client.events("okta"):
            if event["kind"] != "okta.push.send":
                continue
            f = event["fields"]
            login = f.get("user")
            if login not in users:
                users[login] = client.okta("GET", f"/api/v1/users/{login}").json()["id"]
            resp = client.okta("GET", f"/api/v1/users/{users[login]}/factors/{f['factor']}/transactions/"
                               f"{f['transaction']}")
            self.pushes += 1
            if resp.status_code != 200:
                continue       # the org was reset or the transaction is gone: nothing left waiting
            body = resp.json()
            expires = body.get("expiresAt")
            if body.get("factorResult") == "WAITING" and expires and \
                    time.mktime(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone < now - 5:
                self.violation(f"push {f['transaction']} still WAITING past {expires}")

    def report(self, seconds: float) -> int:
        print(f"\nsoak report: {seconds / 60:.1f} min in all")
        for what, n in sorted(self.counts.items()):
            print(f"  {what:<55} {n}")
        if self.failures:
            print("  sign-ins refused, by the client's reason: "
                  + ", ".join(f"{r} {n}" for r, n in sorted(self.failures.items())))
        print(f"  push transactions checked: {getattr(self, 'pushes', 0)}")
        if self.comebacks:
            times = sorted(t for _, t in self.comebacks)
            print(f"  back after kill -9: min {times[0]:.1f} s, median {times[len(times) // 2]:.1f} s, "
                  f"max {times[-1]:.1f} s (" + ", ".join(f"{s} {t:.1f} s" for s, t in self.comebacks) + ")")
        for name, rss in sorted(getattr(self, "rss", {}).items()):
            print(f"  {name:<15} RSS {rss:6.1f} MB   journal {self.journals.get(name, 0):6.2f} MB")
        for path, verdict in sorted(getattr(self, "sqlite", {}).items()):
            print(f"  integrity_check {path}: {verdict}")
        if self.violations:
            print(f"\n{len(self.violations)} violation(s):")
            for v in self.violations:
                print(f"  - {v}")
            return 1
        print("\nno violations")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the mix runs (default 2)")
    parser.add_argument("--subnet", default="127.0.44", help="the soak lab's loopback subnet (default 127.0.44)")
    parser.add_argument("--state-dir", type=Path, default=None, help="default: a new temporary directory")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the time)")
    args = parser.parse_args(argv)
    state_dir = (args.state_dir or Path(tempfile.mkdtemp(prefix="lab-soak-"))).resolve()
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"soak: random seed {seed}")
    return Soak(state_dir, args.minutes, seed).run(args.subnet)


if __name__ == "__main__":
    raise SystemExit(main())
