"""What the control plane's tests share: the `lab` CLI as a user runs it, and the recorded pids."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ldap3

from lab.client import LabClient

ROOT = Path(__file__).resolve().parents[2]


def run_lab(state_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@contextlib.contextmanager
def lab_up(state_dir: Path, *args: str) -> Iterator[Path]:
    """`lab up ARGS` in `state_dir`; `lab down` afterwards whatever happened."""
    try:
        ok(run_lab(state_dir, "up", *args))
        yield state_dir
    finally:
        down = run_lab(state_dir, "down")
        assert down.returncode == 0, down.stderr


def status(state_dir: Path) -> dict[str, Any]:
    return json.loads(run_lab(state_dir, "status", "--json").stdout)


def topology(state_dir: Path) -> dict[str, Any]:
    return json.loads((state_dir / "topology.json").read_text())


def pid_of(state_dir: Path, service: str) -> int:
    rows = json.loads((state_dir / "processes.json").read_text())
    return next(r["pid"] for r in rows if r["name"] == service)


def supervisor_pid(state_dir: Path) -> int | None:
    try:
        return json.loads((state_dir / "supervisor" / "process.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def kill9(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def healthy(topo: dict[str, Any], service: str) -> bool:
    svc = topo["services"][service]
    try:
        return httpx.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_back(state_dir: Path, service: str, old_pid: int, timeout: float = 120) -> float:
    """Seconds until `service` runs as a new process that answers /healthz with 200."""
    started = time.monotonic()
    topo = topology(state_dir)
    while time.monotonic() - started < timeout:
        with contextlib.suppress(OSError, ValueError, StopIteration):
            if pid_of(state_dir, service) != old_pid and healthy(topo, service):
                return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{service} did not come back within {timeout} s; "
                         f"supervisor: {(state_dir / 'supervisor' / 'state.json').read_text()}")


def events_of(state_dir: Path, service: str | None = None) -> list[dict[str, Any]]:
    args = ["events", "--json"] + (["--service", service] if service else [])
    return json.loads(ok(run_lab(state_dir, *args)).stdout)


def carol_disabled(topo: dict[str, Any]) -> bool:
    """Is carol's account disabled in the DC (read over LDAP as the domain admin)?"""
    dc = topo["services"]["dc"]
    conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ports"]["ldap"], get_info=ldap3.NONE),
                            user="CORP\\Administrator", password=admin_password(topo))
    assert conn.bind()
    conn.search("DC=corp,DC=example,DC=com", "(sAMAccountName=carol)", attributes=["userAccountControl"])
    uac = int(conn.entries[0].userAccountControl.value)
    conn.unbind()
    return bool(uac & 2)


def admin_password(topo: dict[str, Any]) -> str:
    seed = LabClient(topo).seed()
    return next(p["password"] for p in seed["users"] if p["sam"] == "Administrator")
