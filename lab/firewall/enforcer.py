"""The enforcer: one small process per lab that keeps the kernel's rules equal to the ec2 service's
security groups and the Windows firewall (`python -m lab.firewall.enforcer --state-dir DIR`).

Why a process of its own and not a part of the supervisor: the supervisor exists only in the
process runtime and only after `lab up` (tests and scenarios bring labs up without it), while the
rules are needed in both runtimes from the first start; and a long poll that blocks for 25 s does
not fit the supervisor's half-second look at every service. `bring_up` starts it, each runtime's
`down` stops it and removes the table(s) (lab/firewall/lifecycle.py).

The loop: long-poll the ec2 service's `GET /admin/network?after=G`; on a new generation compile
and apply it (lab/firewall/enforce.py) and `POST /admin/network/applied` with the counters. A
second thread reports the counters every few seconds (DescribeSecurityGroupRules shows them) and
watches the places the rules live: a container that restarted (new pid, new network namespace)
gets the table again at once, and a table someone deleted within TABLES_EVERY. For the process runtime
the table is the host's and outlives any service's restart: a restarted process is filtered from
its first packet (fail closed). A container's fresh namespace is empty until the watcher has seen
its new pid (within WATCH_EVERY); its service waits for that (lab/firewall/gate.py).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from .. import process_records as records
from ..errors import LabError
from ..state import admin_headers, admin_url, load_topology
from . import enforce, nft
from .compiler import table_name

NAME = "firewall"
EC2 = "ec2"
POLL_TIMEOUT = 35.0     # seconds: above the service's 25 s long poll
REPORT_EVERY = 3.0      # counters to the ec2 service (it also learns that an enforcer is alive)
WATCH_EVERY = 0.5       # a restarted container (a new pid) is seen within this
TABLES_EVERY = 5.0      # a table someone deleted by hand is seen within this (an nft call per place)
RETRY = 1.0             # the ec2 service not answering (starting, restarting): ask again after this
IDLE_EXIT = 10.0        # no lab process recorded this long (after some were): the lab was stopped, exit


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Enforcer:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        topology = load_topology(state_dir)
        if topology is None:
            raise LabError(f"no lab in {state_dir}")
        self.topology = topology
        self.stopping = threading.Event()
        self.generation: int | None = None
        self.lock = threading.Lock()
        self.placed: dict[str, int | None] = {}
        self.mode, self.why = enforce.mode(topology)
        self.last_ms: float | None = None
        self.http = httpx.Client(timeout=POLL_TIMEOUT, headers=admin_headers(topology))
        self.events = records.private_dir(state_dir / "events") / f"{NAME}.jsonl"
        self.seq = sum(1 for _ in self.events.open()) if self.events.exists() else 0

    # -- what it tells --------------------------------------------------------------------------
    def record(self, kind: str, outcome: str, **fields: Any) -> None:
        self.seq += 1
        event = {"seq": self.seq, "time": _now_iso(), "ts": round(time.time(), 6), "service": NAME, "kind": kind,
                 "peer": None, "outcome": outcome, "trace": None, "fields": fields}
        fd = os.open(self.events, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(json.dumps(event) + "\n")

    def write_status(self) -> None:
        records.write_private(enforce.folder(self.state_dir) / "status.json", json.dumps({
            "pid": os.getpid(), "mode": self.mode, "why": self.why, "generation": self.generation,
            "last_apply_ms": self.last_ms, "targets": sorted(self.placed)}))

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.record("firewall.start", "ok", mode=self.mode, why=self.why, pid=os.getpid())
        self.apply(None)                       # the last state it knew, before anything else
        threading.Thread(target=self.watch, daemon=True).start()
        while not self.stopping.is_set():
            if EC2 not in self.topology["services"]:
                self.stopping.wait(1.0)        # no ec2 service: the Windows firewall alone
                continue
            desired = self.poll()
            if desired is None:
                self.stopping.wait(RETRY)
                continue
            if desired.get("generation") != self.generation:
                answered = time.monotonic()
                if self.apply(desired):
                    self.last_ms = round((time.monotonic() - answered) * 1000, 1)
                    self.record("firewall.applied", "ok", generation=desired.get("generation"), ms=self.last_ms,
                                mode=self.mode)
                    self.report()
                self.write_status()
        self.record("firewall.stop", "ok")

    def poll(self) -> dict[str, Any] | None:
        url = f"{admin_url(self.topology, EC2)}/admin/network"
        params = {} if self.generation is None else {"after": self.generation}
        try:
            resp = self.http.get(url, params=params)
            if resp.status_code != 200:
                return None
            body = resp.json()
        except (httpx.HTTPError, ValueError):
            self.generation = None         # a restarted ec2 service counts its generations afresh
            return None
        return body if isinstance(body, dict) else None

    def apply(self, desired: dict[str, Any] | None, only: dict[str, int | None] | None = None) -> bool:
        with self.lock:
            try:
                applied = enforce.enforce(self.state_dir, self.topology, desired, only, how=self.mode)
            except LabError as exc:
                self.record("firewall.applied", "error", error=str(exc))
                return False
            if only is None:
                self.placed = dict(enforce.targets(self.state_dir, self.topology)) if applied.mode == "kernel" else {}
            else:
                self.placed.update(only)
            if desired is not None:
                self.generation = int(desired.get("generation") or 0)
        self.write_status()
        return True

    def report(self) -> None:
        if self.generation is None or EC2 not in self.topology["services"]:
            return
        counters = {k: {"packets": v["packets"]} for k, v in
                    (enforce.counters(self.state_dir, self.topology) if self.mode == "kernel" else {}).items()}
        try:
            httpx.post(f"{admin_url(self.topology, EC2)}/admin/network/applied", timeout=5.0,
                       headers=admin_headers(self.topology),
                       json={"generation": self.generation, "counters": counters})
        except httpx.HTTPError:
            pass

    def watch(self) -> None:
        """Counters every REPORT_EVERY; the table back where it went missing (a new container)."""
        reported = tables_checked = time.monotonic()
        idle_since: float | None = None
        seen = False                # a lab process was recorded once (a lab that never started is no lab stopped)
        while not self.stopping.wait(WATCH_EVERY):
            if self.mode == "kernel":
                # Cheap every time (two docker calls for all containers); the tables themselves
                # only every TABLES_EVERY: an nft call per container adds up with many labs.
                now = enforce.targets(self.state_dir, self.topology)
                table = table_name(self.topology["subnet"])
                look = time.monotonic() - tables_checked > TABLES_EVERY
                if look:
                    tables_checked = time.monotonic()
                missing = {n: p for n, p in now.items()
                           if self.placed.get(n, -1) != p or (look and not nft.exists(table, p))}
                if missing:
                    self.apply(None, only=missing)
                    self.record("firewall.reapplied", "ok", targets=sorted(missing))
            if time.monotonic() - reported > REPORT_EVERY:
                self.report()
                reported = time.monotonic()
            if not (self.state_dir / "topology.json").exists():
                self.stopping.set()
            elif self.topology.get("runtime") != "docker":
                if records.load(self.state_dir):
                    seen, idle_since = True, None
                elif seen:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > IDLE_EXIT:
                        self.stopping.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.firewall.enforcer",
                                     description="Keep the lab's nftables rules equal to its security groups "
                                                 "and Windows firewall (started by `lab up`).")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        Enforcer(args.state_dir.resolve()).run()
    except LabError as exc:
        print(f"lab.firewall.enforcer: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
