"""The pids the process runtime started, kept in `<state>/processes.json` (mode 0600).

Both the CLI and the lab's supervisor (lab/supervisor.py) change this file, so every change is a
read-modify-write under an exclusive lock (`<state>/processes.lock`). A row is
`{"name", "pid", "cmd", "started"}`: `cmd` is a piece of the process's command line and `started`
the kernel's start time, so a recycled pid is never taken for ours. A row marked `"stopping"` is
being stopped on purpose: the supervisor leaves it alone (no restart race with `lab down`).

A service restarted by hand (the same `python -m services...` command) is found by the address it
listens on (its admin port) and adopted: `lab status` and `lab down` then know it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROCESSES_FILE = "processes.json"
LOCK_FILE = "processes.lock"


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) and keep it 0700: the lab's state is its owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file 0600, atomically (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """The exclusive lock every change of processes.json is made under."""
    private_dir(state_dir)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def load(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / PROCESSES_FILE
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return rows if isinstance(rows, list) else []


def save(state_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Write the rows (the caller holds the lock); no rows, no file."""
    path = state_dir / PROCESSES_FILE
    if rows:
        write_private(path, json.dumps(rows, indent=2))
    elif path.exists():
        path.unlink()


def row_for(name: str, pid: int, cmd: str | None = None) -> dict[str, Any]:
    return {"name": name, "pid": pid, "cmd": cmd if cmd is not None else f"--service {name} ",
            "started": start_time(pid)}


def put(state_dir: Path, new: list[dict[str, Any]]) -> None:
    """Record `new` rows, replacing the rows of the same names."""
    with locked(state_dir):
        names = {r["name"] for r in new}
        save(state_dir, [r for r in load(state_dir) if r["name"] not in names] + new)


def start_time(pid: int) -> str | None:
    """The kernel's start time of pid: guards against taking a recycled pid for ours."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_row(path: Path) -> dict[str, Any] | None:
    """A control-plane process's row (supervisor, enforcer, dashboard) when that process still runs."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and is_ours(row) else None


def is_ours(row: dict[str, Any]) -> bool:
    """The row's process still runs and is the one recorded (not a recycled pid)."""
    pid = row["pid"]
    if not alive(pid):
        return False
    return row["cmd"] in cmdline(pid) and row.get("started") in (None, start_time(pid))


# -- adopting a service restarted by hand ------------------------------------------------------

def _listening_inodes(host: str, port: int) -> set[str]:
    """Socket inodes listening on host:port/tcp (from /proc/net/tcp)."""
    want = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    inodes = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return set()
    for line in lines:
        cols = line.split()
        if len(cols) > 9 and cols[1] == want and cols[3] == "0A":     # 0A: LISTEN
            inodes.add(cols[9])
    return inodes


def listener_pid(host: str, port: int) -> int | None:
    """The pid of this user's process listening on host:port/tcp, if any."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(host, port)}
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:          # another user's process, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return int(entry.name)
            except OSError:
                continue
    return None


def find_by_hand(topology: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A row for the process serving `name`'s admin address that is a lab service (`python -m
    services...`) started outside the runtime, or None."""
    svc = topology["services"][name]
    pid = listener_pid(svc["host"], svc["ports"]["admin"])
    if pid is None:
        return None
    cmd = cmdline(pid)
    if "services." not in cmd:
        return None
    return {"name": name, "pid": pid, "cmd": cmd, "started": start_time(pid), "adopted": True}


def adopt(state_dir: Path, topology: dict[str, Any]) -> list[str]:
    """Adopt the services whose recorded process is gone but which answer again, started by hand.
    Returns the names adopted."""
    adopted = []
    with locked(state_dir):
        rows = load(state_dir)
        for i, row in enumerate(rows):
            if row.get("stopping") or row["name"] not in topology["services"] or is_ours(row):
                continue
            found = find_by_hand(topology, row["name"])
            if found:
                rows[i] = found
                adopted.append(row["name"])
        if adopted:
            save(state_dir, rows)
    return adopted
