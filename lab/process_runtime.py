"""The process runtime: every service as its own OS process on its own loopback address.

`ProcessRuntime` is this runtime behind the `Runtime` interface (lab/runtime.py), which `lab up`,
the scenarios and the tests use through `bring_up`; it sits at the end, over these pieces: check the
ports are free, start each service in its own session (so `stop` can stop it and its children;
several at once are forked from one interpreter that has made the imports they share,
services/common/forkserver.py), wait for every `/healthz`, and record the pids it started in
`<state>/processes.json` (lab/process_records.py) so `stop` stops exactly those and nothing else.
"""
from __future__ import annotations

import contextlib
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

from . import ca
from . import process_records as records
from .client_env import plain_http_verify
from .errors import LabError
from .runtime import LabSpec, Progress, quiet
from .state import load_topology
from .topology import DEFAULT_SUBNET, SEED_DEFAULT, build, load_or_create_credentials, package_of, write_topology

# LabError and write_topology are named here too for the callers outside lab/ that use them as
# `process_runtime.LabError` / `process_runtime.write_topology` (bench/, tests/services).
__all__ = ["LabError", "ProcessRuntime", "Started", "check_ports_free", "load_processes", "running", "start",
           "stop", "wait_healthy", "write_topology"]

PROCESSES_FILE = records.PROCESSES_FILE
DEFAULT_TIMEOUT = 60.0    # seconds for every service to answer /healthz
FORK_TIMEOUT = 60.0       # seconds for the fork server to import and fork (~0.4 s unloaded)


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
            # ldap is UDP too (CLDAP); kpasswd, dns and kerberos serve both
            protos = ["udp"] if kind == "radius" else ["tcp", "udp"] if kind in ("dns", "kerberos", "kpasswd", "ldap") \
                else ["tcp"]
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
    """Start each service in its own session (so `stop` stops it and its children), its output
    appended to `<state>/logs/<name>.log` (0600), and record the pids. Several at once are forked
    from one interpreter that has imported what they all import (services/common/forkserver.py)."""
    names = list(names)
    if len(names) == 1:
        started = [start_one(topology_path, topology, names[0])]
    else:
        started = _fork(topology_path, topology, names)
    records.put(Path(topology["state_dir"]), [records.row_for(s.name, s.pid) for s in started])
    return started


def start_one(topology_path: Path, topology: dict[str, Any], name: str) -> Started:
    """Start one service in an interpreter of its own (not recorded: the caller records it, under
    the lock). The supervisor restarts this way: the service is its child, so it learns how it exits."""
    module, args = _command(topology_path, topology, name)
    log_path = _log(topology, name)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, *args],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=_env(topology_path))
    return Started(name, proc.pid, log_path)


def _fork(topology_path: Path, topology: dict[str, Any], names: list[str]) -> list[Started]:
    """Start `names` through the fork server; what it started is recorded even when it then fails,
    so the caller's clean-up stops those too."""
    logs = {name: _log(topology, name) for name in names}
    jobs = [{"name": name, "module": module, "args": args, "log": str(logs[name])}
            for name in names for module, args in [_command(topology_path, topology, name)]]
    server = subprocess.Popen([sys.executable, "-m", "services.common.forkserver"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(topology_path))
    try:
        out, err = server.communicate(json.dumps(jobs), timeout=FORK_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        out, err = server.communicate()     # the pids it wrote before it was killed: recorded below
        err = f"no answer within {FORK_TIMEOUT:.0f} s"
    started = []
    for line in out.splitlines():       # `<name> <pid>` of a service asked for; any other line is ignored
        parts = line.split()
        if len(parts) == 2 and parts[0] in logs and parts[1].isdigit():
            started.append(Started(parts[0], int(parts[1]), logs[parts[0]]))
    if server.returncode != 0 or len(started) != len(names):
        records.put(Path(topology["state_dir"]), [records.row_for(s.name, s.pid) for s in started])
        missing = [n for n in names if n not in {s.name for s in started}]
        raise LabError(f"the fork server failed{' to start ' + ', '.join(missing) if missing else ''}: "
                       f"{err.strip() or f'exit status {server.returncode}'}")
    return started


def _command(topology_path: Path, topology: dict[str, Any], name: str) -> tuple[str, list[str]]:
    """The module a service runs as and its arguments (`python -m <module> <args>`)."""
    return package_of(topology, name), ["--service", name, "--topology", str(topology_path)]


def _log(topology: dict[str, Any], name: str) -> Path:
    """`<state>/logs/<name>.log`: an older one made 0600; a new one is created 0600 by its opener."""
    path = records.private_dir(Path(topology["state_dir"]) / "logs") / f"{name}.log"
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, 0o600)
    return path


def _env(topology_path: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", LAB_TOPOLOGY=str(topology_path))


def wait_healthy(topology: dict[str, Any], started: list[Started], timeout: float = 60.0,
                 progress: Callable[[str, bool], None] | None = None) -> None:
    """Return when every started service answers /healthz with 200; raise with its log's tail."""
    deadline = time.monotonic() + timeout
    waiting = {s.name: s for s in started}
    last: dict[str, str] = {}    # each service's latest /healthz detail, to say why it is not ready
    with httpx.Client(timeout=2.0, verify=plain_http_verify()) as client:     # /healthz: plain HTTP
        while waiting:
            for name, s in list(waiting.items()):
                if not records.alive(s.pid):
                    raise LabError(f"{name} exited during start-up; last lines of {s.log}:\n{tail(s.log)}")
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
    """Stop the processes `start` recorded (all, or `names`), TERM first, KILL after `timeout`.
    The rows are marked `stopping` first, so the supervisor does not take the stop for a crash."""
    wanted = None if names is None else set(names)
    with records.locked(state_dir):
        rows = records.load(state_dir)
        for row in rows:
            if wanted is None or row["name"] in wanted:
                row["stopping"] = True
        records.save(state_dir, rows)
    chosen = [p for p in rows if p.get("stopping")]
    stop_rows(chosen, timeout)
    with records.locked(state_dir):
        gone = {(p["name"], p["pid"]) for p in chosen}
        records.save(state_dir, [p for p in records.load(state_dir) if (p["name"], p["pid"]) not in gone])
    return [p["name"] for p in chosen]


def stop_rows(rows: list[dict[str, Any]], timeout: float = 10.0) -> None:
    """TERM each row's process group, KILL what is left after `timeout`, reap our children."""
    for p in rows:
        if records.is_ours(p):
            _signal_group(p["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in rows:
        while records.is_ours(p) and time.monotonic() < deadline:
            time.sleep(0.05)
        if records.is_ours(p):
            _signal_group(p["pid"], signal.SIGKILL)
    for p in rows:
        _reap(p["pid"])


def load_processes(state_dir: Path) -> list[dict[str, Any]]:
    return records.load(state_dir)


def running(state_dir: Path) -> list[dict[str, Any]]:
    return [p for p in records.load(state_dir) if records.is_ours(p)]


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


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ProcessRuntime:
    """The lab as local processes, one per service on its own loopback address (the `Runtime`
    of lab/runtime.py). `lab up` adds the lab's supervisor (lab/supervisor.py), which restarts a
    crashed service; `down` stops the supervisor first, then the services."""
    name = "process"
    default_timeout = DEFAULT_TIMEOUT
    undone = "everything it started is stopped again"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def prepare(self, spec: LabSpec, names: list[str] | None, progress: Progress) -> dict[str, Any]:
        if spec.subnet and not spec.subnet.startswith("127."):
            raise LabError(f"--subnet {spec.subnet}: the process runtime serves on loopback addresses (127.x.y)")
        records.private_dir(self.state_dir)
        creds = load_or_create_credentials(self.state_dir)
        topology = build(self.state_dir, subnet=spec.subnet or DEFAULT_SUBNET, standard_ports=spec.standard_ports,
                         blank=spec.blank, credentials=creds, agents=spec.agents, seed=spec.seed or SEED_DEFAULT)
        for name, extra in spec.settings.items():
            topology["services"][name]["settings"].update(extra)
        ca.issue_for_topology(self.state_dir, topology)     # after the settings: advertise_ip is an address too
        write_topology(self.state_dir, topology)
        names = names or list(topology["services"])
        check_ports_free(topology, names)
        progress(f"starting {len(names)} services (state in {self.state_dir})")
        return topology

    def up(self, topology: dict[str, Any], names: list[str], *, timeout: float, progress: Progress) -> None:
        started = start(self.state_dir / "topology.json", topology, names)
        wait_healthy(topology, started, timeout=timeout, progress=lambda name, _: progress(f"{name:<15} healthy"))

    def down(self, *, volumes: bool = False) -> list[str]:  # noqa: ARG002 — `lab down` removes the state itself
        from . import supervisor  # here: the supervisor imports this module
        from .dashboard import lifecycle as dashboard
        from .firewall import lifecycle as firewall

        supervisor.stop(self.state_dir)      # first: nothing may restart what is being stopped
        dashboard.stop(self.state_dir)
        stopped = stop(self.state_dir)
        firewall.stop(self.state_dir)        # the enforcer, its nftables table and fallback faults
        return stopped

    def running(self) -> list[dict[str, Any]]:
        topology = load_topology(self.state_dir) if records.load(self.state_dir) else None
        if topology is not None:
            records.adopt(self.state_dir, topology)      # a service restarted by hand counts again
        return running(self.state_dir)

    def restart(self, service: str) -> None:
        topology = load_topology(self.state_dir)
        if topology is None:
            raise LabError(f"no lab in {self.state_dir}")
        if service not in topology["services"]:
            raise LabError(f"no service {service!r}; services: {', '.join(topology['services'])}")
        stop(self.state_dir, [service])
        check_ports_free(topology, [service])
        self.up(topology, [service], timeout=DEFAULT_TIMEOUT, progress=quiet)

    def logs(self, service: str, lines: int) -> list[str]:
        path = self.state_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []

    def status(self) -> dict[str, str | None]:
        return {p["name"]: "running" for p in self.running()}
