"""The lab's supervisor: one detached process per lab that restarts a crashed service.

`lab up` (process runtime) starts it as `python -m lab.supervisor --state-dir DIR` once every
service is healthy; `lab down` stops it first, then the services, so nothing restarts what is
being stopped. Its own pid is recorded like the services' (`<state>/supervisor/process.json`).
It is part of the control plane: it never imports `services` and talks to them through
`/healthz` only (no admin token needed).

The policy is systemd's `Restart=on-failure` with a start limit: a service whose recorded process
is gone (killed, crashed, or hung: alive but not answering /healthz for HANG_SECONDS) is started
again after a backoff of 1, 2, 4, 8... s (at most MAX_BACKOFF); BURST crashes within WINDOW seconds
and it is left stopped ("failed", with its log's last lines). A row marked `stopping` (a stop on
purpose: `lab down`, `lab restart`) is never restarted; a process started by someone else for a
service (`lab up`, `lab restart`, or by hand, found by its admin address) is taken as the new one.

What it tells (all 0600 under the state directory):
  supervisor/state.json     per service: state, crashes, restarts, last exit, log tail when failed
  events/supervisor.jsonl   its events (`lab events` merges them): supervisor.crash, .restart,
                            .adopted, .gave_up, .hung, .start, .stop
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from . import process_records as records
from .process_runtime import check_ports_free, start_one, stop_rows, tail
from .state import journal_events, load_topology

NAME = "supervisor"
TICK = 0.5              # seconds between looks
BACKOFF = 1.0           # first restart delay; doubled per crash in the window
MAX_BACKOFF = 30.0
BURST, WINDOW = 5, 120.0    # systemd's StartLimitBurst / StartLimitIntervalSec
HANG_SECONDS = 30.0     # alive but no answer from /healthz this long: killed and restarted
PROBE_EVERY = 5.0       # /healthz at most this often per service: a crash is seen from its pid at
                        # every tick; the probe only has to catch a hang, which takes HANG_SECONDS
START_GRACE = 60.0      # a (re)started service may take this long before it must answer
IDLE_EXIT = 10.0        # nothing recorded to supervise this long (the lab was stopped): exit


def folder(state_dir: Path) -> Path:
    return state_dir / NAME


# -- the daemon's bookkeeping ------------------------------------------------------------------

@dataclass
class Watch:
    """What the supervisor knows of one service."""
    pid: int | None = None                 # the process it last saw recorded
    state: str = "running"                 # running | restarting | failed
    crashes: list[float] = field(default_factory=list)    # monotonic times, within WINDOW
    restarts: int = 0
    crash_count: int = 0
    last_exit: str | None = None
    last_crash: str | None = None
    restart_at: float | None = None
    since: float = field(default_factory=time.monotonic)   # when this pid was first seen
    answered: float = field(default_factory=time.monotonic)  # last answer from /healthz
    probed: float = 0.0                    # when /healthz was last asked
    log_tail: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"state": self.state, "pid": self.pid, "restarts": self.restarts, "crashes": self.crash_count,
                "last_exit": self.last_exit, "last_crash": self.last_crash, "log_tail": self.log_tail}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """Events in the services' shape, appended to `events/supervisor.jsonl`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = records.private_dir(state_dir / "events") / f"{NAME}.jsonl"
        self.seq = len(supervisor_events(state_dir))

    def record(self, kind: str, service: str, outcome: str, **fields: Any) -> None:
        self.seq += 1
        event = {"seq": self.seq, "time": _now_iso(), "ts": round(time.time(), 6), "service": NAME, "kind": kind,
                 "peer": service, "outcome": outcome, "trace": None, "fields": {"service": service, **fields}}
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(json.dumps(event) + "\n")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"


class Supervisor:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.watches: dict[str, Watch] = {}
        self.exits: dict[int, str] = {}          # our children's exit statuses, by pid
        self.journal = Journal(state_dir)
        self.stopping = False
        self.http = httpx.Client(timeout=2.0)
        self.written = ""                        # state.json as last written: rewritten on change only

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        self.journal.record("supervisor.start", NAME, "ok", pid=os.getpid())
        idle_since: float | None = None
        while not self.stopping:
            supervised = self.tick()
            if supervised:
                idle_since = None
            else:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > IDLE_EXIT:
                    break
            time.sleep(TICK)
        self.journal.record("supervisor.stop", NAME, "ok")
        self.http.close()

    def tick(self) -> int:
        """One look at every recorded service; returns how many are supervised."""
        self._reap()
        topology = load_topology(self.state_dir)
        if topology is None:
            return 0
        now = time.monotonic()
        to_probe: list[tuple[str, dict[str, Any]]] = []
        with records.locked(self.state_dir):
            rows = records.load(self.state_dir)
            changed = False
            for i, row in enumerate(rows):
                name = row["name"]
                if row.get("stopping") or name not in topology["services"]:
                    continue
                watch = self.watches.setdefault(name, Watch(pid=row["pid"]))
                if watch.pid != row["pid"]:          # started anew by someone else: a fresh start
                    watch.pid, watch.state, watch.restart_at = row["pid"], "running", None
                    watch.since = watch.answered = now
                    watch.log_tail, watch.crashes = [], []
                if records.is_ours(row):
                    to_probe.append((name, row))
                    continue
                new = self._dead(topology, name, row, watch, now)
                if new is not None:
                    rows[i] = new
                    changed = True
            if changed:
                records.save(self.state_dir, rows)
            supervised = sum(1 for r in rows if not r.get("stopping"))
        for name, row in to_probe:
            self._probe(topology, name, row, now)
        self._write_state()
        return supervised

    def _dead(self, topology: dict[str, Any], name: str, row: dict[str, Any], watch: Watch,
              now: float) -> dict[str, Any] | None:
        """The recorded process is gone: note the crash, wait out the backoff, start it again.
        Returns the new row when it was (re)started or adopted."""
        if watch.state == "failed":
            return None
        if watch.state == "running":                 # just noticed
            watch.crashes = [t for t in watch.crashes if now - t < WINDOW] + [now]
            watch.crash_count += 1
            watch.last_exit = self._exit_of(row["pid"])
            watch.last_crash = _now_iso()
            log = Path(topology["state_dir"]) / "logs" / f"{name}.log"
            if len(watch.crashes) >= BURST:
                watch.state = "failed"
                watch.log_tail = tail(log, 15).splitlines()
                self.journal.record("supervisor.gave_up", name, "failed", crashes=len(watch.crashes),
                                    window_seconds=WINDOW, last_exit=watch.last_exit)
                return None
            delay = min(MAX_BACKOFF, BACKOFF * 2 ** (len(watch.crashes) - 1))
            watch.state, watch.restart_at = "restarting", now + delay
            self.journal.record("supervisor.crash", name, "crashed", pid=row["pid"], last_exit=watch.last_exit,
                                restart_in_seconds=delay)
            return None
        if watch.restart_at is not None and now < watch.restart_at:
            return None
        by_hand = records.find_by_hand(topology, name)
        if by_hand is not None:
            self.journal.record("supervisor.adopted", name, "ok", pid=by_hand["pid"])
            new = by_hand
        else:
            try:
                check_ports_free(topology, [name])
            except Exception as exc:  # noqa: BLE001 — a port taken by a stranger: a failed start, retried
                watch.state = "running"      # counted as the next crash at the next look
                watch.last_exit = str(exc)
                return None
            started = start_one(Path(self.state_dir) / "topology.json", topology, name)
            new = records.row_for(name, started.pid)
            watch.restarts += 1
            self.journal.record("supervisor.restart", name, "ok", pid=started.pid, restarts=watch.restarts)
        watch.pid, watch.state, watch.restart_at = new["pid"], "running", None
        watch.since = watch.answered = now
        return new

    def _probe(self, topology: dict[str, Any], name: str, row: dict[str, Any], now: float) -> None:
        """/healthz answered at all (200 or 503) counts as alive; silence past the grace is a hang."""
        watch = self.watches[name]
        if now - watch.probed < PROBE_EVERY:
            return
        watch.probed = now
        svc = topology["services"][name]
        try:
            self.http.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz")
            watch.answered = now
            return
        except httpx.HTTPError:
            pass
        if now - watch.since > START_GRACE and now - watch.answered > HANG_SECONDS:
            self.journal.record("supervisor.hung", name, "killed", pid=row["pid"],
                                silent_seconds=round(now - watch.answered, 1))
            stop_rows([row], timeout=5)

    def _exit_of(self, pid: int) -> str:
        if pid in self.exits:
            return self.exits.pop(pid)
        try:                     # our child, dead since the last reap
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return _describe(status)
        except ChildProcessError:
            pass
        return "exited (started by `lab up`, not by the supervisor: its exit status is unknown)"

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exits[pid] = _describe(status)

    def _write_state(self) -> None:
        body = json.dumps({"pid": os.getpid(), "services": {name: w.view() for name, w in self.watches.items()}},
                          indent=2)
        if body != self.written:
            records.write_private(folder(self.state_dir) / "state.json", body)
            self.written = body


# -- the control plane's handle on it ------------------------------------------------------------

def _process_file(state_dir: Path) -> Path:
    return folder(state_dir) / "process.json"


def process_row(state_dir: Path) -> dict[str, Any] | None:
    """The supervisor's recorded process, when it runs."""
    return records.read_row(_process_file(state_dir))


def spawn(state_dir: Path) -> int:
    """Start the lab's supervisor, detached, unless one runs; returns its pid."""
    row = process_row(state_dir)
    if row is not None:
        return int(row["pid"])
    records.private_dir(folder(state_dir))
    (folder(state_dir) / "state.json").unlink(missing_ok=True)
    log = records.private_dir(state_dir / "logs") / f"{NAME}.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lab.supervisor", "--state-dir", str(state_dir)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    records.write_private(_process_file(state_dir),
                          json.dumps(records.row_for(NAME, proc.pid, f"lab.supervisor --state-dir {state_dir}")))
    return proc.pid


def stop(state_dir: Path) -> bool:
    """Stop the supervisor (TERM, then KILL); True when one was running."""
    row = process_row(state_dir)
    if row is not None:
        stop_rows([row], timeout=10)
    _process_file(state_dir).unlink(missing_ok=True)
    return row is not None


def status(state_dir: Path) -> dict[str, Any]:
    """What the supervisor last wrote ({} when none has run): per service state and counts."""
    try:
        body = json.loads((folder(state_dir) / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    body["running"] = process_row(state_dir) is not None
    return body


def supervisor_events(state_dir: Path, since: int = 0) -> list[dict[str, Any]]:
    return journal_events(state_dir, NAME, since)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.supervisor",
                                     description="Restart the lab's crashed services (started by `lab up`).")
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    if load_topology(state_dir) is None:
        print(f"lab.supervisor: no lab in {state_dir}", file=sys.stderr)
        return 2
    Supervisor(state_dir).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
