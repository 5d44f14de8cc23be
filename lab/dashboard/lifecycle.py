"""The control plane's handle on the dashboard process: where it listens, start it (`bring_up`,
`lab class up`), stop it (`lab down`), and the one-time sign-in link `lab open dashboard` prints.

Where it listens: a process-runtime lab serves it on its own subnet's `.90`, port 8080, next to
the services (`127.0.10.90:8080` for the default lab); a Docker lab's services live on a Docker
network, so the dashboard runs on the host on loopback, `127.0.0.1`, the first free port from 8090.
The address is recorded in `<state>/dashboard/process.json` with the pid.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .. import process_records as records
from ..errors import LabError
from ..state import load_topology

OCTET, PORT = 90, 8080                 # the process runtime: <subnet>.90:8080
DOCKER_HOST, DOCKER_PORT = "127.0.0.1", 8090
TICKET_SECONDS = 600                   # how long a sign-in link works (once)


def folder(state_dir: Path) -> Path:
    return records.private_dir(Path(state_dir) / "dashboard")


def _process_file(state_dir: Path) -> Path:
    return Path(state_dir) / "dashboard" / "process.json"


def process_row(state_dir: Path) -> dict[str, Any] | None:
    return records.read_row(_process_file(state_dir))


def url(state_dir: Path) -> str | None:
    """The running dashboard's address, or None."""
    row = process_row(state_dir)
    return str(row["url"]) if row else None


def answers(base: str) -> bool:
    """The dashboard at `base` answers /healthz now (`lab up` does not wait for its first answer)."""
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def address_for(topology: dict[str, Any]) -> tuple[str, int]:
    """The lab's dashboard address (module docstring)."""
    if topology.get("runtime") == "docker":
        port = next((p for p in range(DOCKER_PORT, DOCKER_PORT + 100) if _free(DOCKER_HOST, p)), DOCKER_PORT)
        return DOCKER_HOST, port
    return f"{topology['subnet']}.{OCTET}", PORT


def ensure(state_dir: Path, *, wait: bool = True) -> str | None:
    """Start the lab's dashboard unless one runs; its URL."""
    topology = load_topology(Path(state_dir))
    if topology is None:
        return None
    host, port = address_for(topology)
    return start(Path(state_dir), host=host, port=port, wait=wait)


def ensure_said(state_dir: Path) -> str:
    """`bring_up`'s start of the dashboard, as a line of its progress. The lab does not wait for
    it (its first answer takes a few seconds on a busy machine), and a dashboard that cannot
    start (its address taken) is said, not fatal: the lab works without it."""
    try:
        address = ensure(state_dir, wait=False)
    except LabError as exc:
        return f"dashboard not started: {exc}"
    return f"dashboard at {address} (`lab open dashboard` signs you in)" if address else "no dashboard: no topology"


def start(state_dir: Path, *, host: str, port: int, roster_state_dir: Path | None = None,
          wait: bool = True) -> str:
    """Start a dashboard, detached, for the lab in STATE_DIR or, with ROSTER_STATE_DIR, for the
    class whose roster is there (its own files still go to STATE_DIR/dashboard). Waits until it
    answers unless told not to; returns its URL. One that already runs is kept."""
    state_dir = Path(state_dir)
    if (running := url(state_dir)) is not None:
        return running
    if not _free(host, port):
        raise LabError(f"{host}:{port} is taken; the dashboard needs it")
    base = f"http://{host}:{port}"
    command = [sys.executable, "-m", "lab.dashboard", "--state-dir", str(state_dir), "--host", host,
               "--port", str(port)]
    if roster_state_dir is not None:
        command += ["--roster", str(roster_state_dir)]
    folder(state_dir)
    log = records.private_dir(state_dir / "logs") / "dashboard.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    cmd = " ".join(command[1:])
    deadline = time.monotonic() + 10
    # Recorded once the child runs the dashboard (exec done): `is_ours` matches the command line,
    # so a row written before would read as "not ours" and `stop` would miss the process.
    while cmd not in records.cmdline(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    row = records.row_for("dashboard", proc.pid, cmd) | {"url": base}
    records.write_private(_process_file(state_dir), json.dumps(row))
    return wait_ready(state_dir, proc, log) if wait else base


def wait_ready(state_dir: Path, proc: subprocess.Popen[bytes] | None, log: Path) -> str:
    """The dashboard's URL once it answers /healthz (20 s at most)."""
    base = url(state_dir) or ""
    host_port = base.removeprefix("http://")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None if proc is not None else process_row(state_dir) is None:
            _process_file(state_dir).unlink(missing_ok=True)
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise LabError(f"the dashboard did not start on {host_port}: {tail[0]}")
        if answers(base):
            return base
        time.sleep(0.1)
    stop(state_dir)
    raise LabError(f"the dashboard on {host_port} did not answer within 20 s (see {log})")


def stop(state_dir: Path) -> bool:
    """Stop the dashboard; True when one was running."""
    from ..process_runtime import stop_rows  # here: process_runtime imports this module

    row = process_row(state_dir)
    if row is not None:
        stop_rows([row], timeout=10)
    _process_file(state_dir).unlink(missing_ok=True)
    (Path(state_dir) / "dashboard" / "ticket.json").unlink(missing_ok=True)
    return row is not None


def sign_in_link(state_dir: Path) -> str:
    """A one-time sign-in link (`lab open dashboard`): a fresh ticket, good once within
    TICKET_SECONDS, written 0600 where only the lab's owner can read it. The dashboard swaps it for
    an HttpOnly session cookie and forgets it."""
    if url(state_dir) is None:
        raise LabError(f"no dashboard runs for {state_dir}; `lab up` starts it")
    base = wait_ready(state_dir, None, Path(state_dir) / "logs" / "dashboard.log")
    ticket = secrets.token_urlsafe(24)
    records.write_private(folder(state_dir) / "ticket.json",
                          json.dumps({"ticket": ticket, "expires": time.time() + TICKET_SECONDS}))
    return f"{base}/signin?ticket={ticket}"
