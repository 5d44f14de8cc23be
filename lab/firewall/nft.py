"""Running `nft`: on the host (process runtime) or inside a container's network namespace, entered
from the host (`nsenter -t PID -n`, the pid from `docker inspect`). Only the lab's own table is
ever named."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from ..errors import LabError

TIMEOUT = 10.0


class NftError(LabError):
    """`nft` refused a ruleset or could not run."""


def unavailable_reason() -> str | None:
    """Why this lab may not change the kernel's rules (None: it may)."""
    if os.geteuid() != 0:
        return "not running as root"
    if not shutil.which("nft"):
        return "nftables is not installed (no `nft`)"
    probe = _run(["nft", "list", "tables"], None)
    if probe.returncode != 0:
        return f"`nft list tables` failed: {probe.stderr.strip() or probe.returncode}"
    return None


def _command(args: list[str], pid: int | None) -> list[str]:
    return (["nsenter", "-t", str(pid), "-n"] + args) if pid else args


def _run(args: list[str], pid: int | None, text: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(_command(args, pid), input=text, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 127, "", str(exc))


def apply(ruleset: str, pid: int | None = None) -> None:
    """`nft -f -` of a whole table: nft applies the file in one transaction, or none of it."""
    proc = _run(["nft", "-f", "-"], pid, ruleset)
    if proc.returncode != 0:
        where = f" in the network namespace of pid {pid}" if pid else ""
        raise NftError(f"nft refused the ruleset{where}: {proc.stderr.strip()}")


def delete(table: str, pid: int | None = None) -> bool:
    """Remove the lab's table; True when there was one."""
    return _run(["nft", "delete", "table", "inet", table], pid).returncode == 0


def exists(table: str, pid: int | None = None) -> bool:
    return _run(["nft", "list", "table", "inet", table], pid).returncode == 0


def listing(table: str, pid: int | None = None) -> dict[str, Any]:
    """`nft -j list table` ({} when the table is not there)."""
    proc = _run(["nft", "-j", "list", "table", "inet", table], pid)
    if proc.returncode != 0:
        return {}
    try:
        return dict(json.loads(proc.stdout))
    except ValueError:
        return {}


def container_pid(container: str) -> int | None:
    """A running container's init pid (its network namespace), None when it does not run."""
    try:
        proc = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container], capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    pid = proc.stdout.strip()
    return int(pid) if proc.returncode == 0 and pid.isdigit() and int(pid) > 0 else None
