"""The process runtime: every service as its own OS process on its own loopback address.

`ProcessRuntime` is this runtime behind the `Runtime` interface (lab/runtime.py), which `lab up`,
the scenarios and the tests use through `bring_up`; it sits at the end, over these pieces: check the
ports are free, start each service in its own session (so `stop` can stop it and its children),
wait for every `/healthz`, and record the pids it started in `<state>/processes.json` so `stop`
stops exactly those and nothing else.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .errors import LabError
from .runtime import LabSpec, Progress, quiet
from .state import load_topology
from .topology import DEFAULT_SUBNET, SEED_DEFAULT, build, load_or_create_credentials, package_of, write_topology

# LabError and write_topology are named here too for the callers outside lab/ that use them as
# `process_runtime.LabError` / `process_runtime.write_topology` (bench/, tests/services).
__all__ = ["LabError", "ProcessRuntime", "Started", "check_ports_free", "load_processes", "running", "start",
           "stop", "wait_healthy", "write_topology"]

PROCESSES_FILE = "processes.json"
DEFAULT_TIMEOUT = 60.0    # seconds for every service to answer /healthz


@dataclass
class Started:
    name: str
    pid: int
    log: Path


def check_ports_free(topology: dict[str, Any], names: Iterable[str]) -> None:
    """Fail before starting anything when a service's port is taken, naming service and port."""
    for name in names:
        svc = topology["services"][name]
        for kind, port in svc["ports"].items():
            protos = ["udp"] if kind == "radius" else ["tcp", "udp"] if kind in ("dns", "kerberos") else ["tcp"]
            for proto in protos:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
                if proto == "tcp":  # as the services do: connections in TIME_WAIT must not count
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((svc["host"], port))
                except OSError as exc:
                    raise LabError(f"{name}: port {svc['host']}:{port}/{proto} ({kind}) is already in use"
                                   f" ({exc.strerror})") from None
                finally:
                    sock.close()


def start(topology_path: Path, topology: dict[str, Any], names: Iterable[str]) -> list[Started]:
    state_dir = Path(topology["state_dir"])
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    env = dict(os.environ, PYTHONUNBUFFERED="1", LAB_TOPOLOGY=str(topology_path))
    for name in names:
        log_path = logs / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", package_of(topology, name), "--service", name,
                 "--topology", str(topology_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )
        started.append(Started(name, proc.pid, log_path))
    _save_processes(state_dir, started)
    return started


def wait_healthy(topology: dict[str, Any], started: list[Started], timeout: float = 60.0,
                 progress: Callable[[str, bool], None] | None = None) -> None:
    """Return when every started service answers /healthz with 200; raise with its log's tail."""
    deadline = time.monotonic() + timeout
    waiting = {s.name: s for s in started}
    last: dict[str, str] = {}    # each service's latest /healthz detail, to say why it is not ready
    with httpx.Client(timeout=2.0) as client:
        while waiting:
            for name, s in list(waiting.items()):
                if not _alive(s.pid):
                    raise LabError(f"{name} exited during start-up; last lines of {s.log}:\n{_tail(s.log)}")
                svc = topology["services"][name]
                try:
                    resp = client.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz")
                    if resp.status_code == 200:
                        del waiting[name]
                        if progress:
                            progress(name, True)
                    else:
                        last[name] = str(resp.json().get("detail", resp.status_code))
                except (httpx.HTTPError, ValueError):
                    pass
            if waiting and time.monotonic() > deadline:
                why = "; ".join(f"{n} ({last.get(n, 'no answer from its admin API')})" for n in sorted(waiting))
                raise LabError(f"not healthy after {timeout:.0f} s: {why}")
            if waiting:
                time.sleep(0.1)


def stop(state_dir: Path, names: Iterable[str] | None = None, timeout: float = 10.0) -> list[str]:
    """Stop the processes `start` recorded (all, or `names`), TERM first, KILL after `timeout`."""
    recorded = load_processes(state_dir)
    chosen = [p for p in recorded if names is None or p["name"] in set(names)]
    for p in chosen:
        if _is_ours(p):
            _signal_group(p["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in chosen:
        while _is_ours(p) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_ours(p):
            _signal_group(p["pid"], signal.SIGKILL)
    for p in chosen:
        _reap(p["pid"])
    remaining = [p for p in recorded if p not in chosen]
    path = state_dir / PROCESSES_FILE
    if remaining:
        path.write_text(json.dumps(remaining, indent=2))
    elif path.exists():
        path.unlink()
    return [p["name"] for p in chosen]


def load_processes(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / PROCESSES_FILE
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text())
    except ValueError:
        return []


def running(state_dir: Path) -> list[dict[str, Any]]:
    return [p for p in load_processes(state_dir) if _is_ours(p)]


def _save_processes(state_dir: Path, started: list[Started]) -> None:
    old = [p for p in load_processes(state_dir) if p["name"] not in {s.name for s in started}]
    rows = old + [{"name": s.name, "pid": s.pid, "cmd": f"--service {s.name} ",
                   "started": _start_time(s.pid)} for s in started]
    (state_dir / PROCESSES_FILE).write_text(json.dumps(rows, indent=2))


def _start_time(pid: int) -> str | None:
    """The kernel's start time of pid: guards against killing a recycled pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _is_ours(p: dict[str, Any]) -> bool:
    pid = p["pid"]
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return p["cmd"] in cmdline and (p.get("started") in (None, _start_time(pid)))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ProcessRuntime:
    """The lab as local processes, one per service on its own loopback address (the `Runtime`
    of lab/runtime.py)."""
    name = "process"
    default_timeout = DEFAULT_TIMEOUT
    undone = "everything it started is stopped again"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def prepare(self, spec: LabSpec, names: list[str] | None, progress: Progress) -> dict[str, Any]:
        creds = load_or_create_credentials(self.state_dir)
        topology = build(self.state_dir, subnet=spec.subnet or DEFAULT_SUBNET, standard_ports=spec.standard_ports,
                         blank=spec.blank, credentials=creds, agents=spec.agents, seed=spec.seed or SEED_DEFAULT)
        for name, extra in spec.settings.items():
            topology["services"][name]["settings"].update(extra)
        write_topology(self.state_dir, topology)
        names = names or list(topology["services"])
        check_ports_free(topology, names)
        progress(f"starting {len(names)} services (state in {self.state_dir})")
        return topology

    def up(self, topology: dict[str, Any], names: list[str], *, timeout: float, progress: Progress) -> None:
        started = start(self.state_dir / "topology.json", topology, names)
        wait_healthy(topology, started, timeout=timeout, progress=lambda name, _: progress(f"{name:<15} healthy"))

    def down(self, *, volumes: bool = False) -> list[str]:  # noqa: ARG002 — volumes are the containers'
        return stop(self.state_dir)        # the state directory, the processes' state, is always kept

    def running(self) -> list[dict[str, Any]]:
        return running(self.state_dir)

    def restart(self, service: str) -> None:
        topology = load_topology(self.state_dir)
        if topology is None:
            raise LabError(f"no lab in {self.state_dir}")
        stop(self.state_dir, [service])
        self.up(topology, [service], timeout=DEFAULT_TIMEOUT, progress=quiet)

    def logs(self, service: str, lines: int) -> list[str]:
        path = self.state_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []

    def status(self) -> dict[str, str | None]:
        return {p["name"]: "running" for p in self.running()}
