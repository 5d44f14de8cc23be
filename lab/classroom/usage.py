"""What a trainee's lab costs the host: the memory of its processes.

A lab is its services (`<state>/processes.json`; in containers, each container's first process),
its supervisor and its firewall enforcer, each the leader of a session of its own; every process in
those sessions counts (a service's children too). Docker's own daemons are shared by every lab and
not counted. RSS counts shared pages in every process that maps them, PSS shares them out: PSS summed
over the labs is what they take together, so capacity is judged on it.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from .. import process_records as records
from ..errors import LabError


def _container_pids(state_dir: Path) -> set[int]:
    """The host pids of a docker lab's running containers (none for a process lab)."""
    from .. import docker_engine, docker_runtime  # here: only a docker lab needs them
    conf = docker_runtime.load_conf(state_dir)
    if conf is None:
        return set()
    try:
        rows = docker_engine.containers(conf)
    except (LabError, OSError, ValueError, subprocess.TimeoutExpired):   # no engine: nothing to count
        return set()
    return {int(row["pid"]) for row in rows.values() if row.get("state") == "running" and row.get("pid")}


def lab_leaders(state_dir: Path) -> set[int]:
    """The pids the lab started and recorded: services (or containers), supervisor, firewall enforcer."""
    pids = {int(row["pid"]) for row in records.load(state_dir) if records.is_ours(row)}
    pids |= _container_pids(state_dir)
    for path in (state_dir / "supervisor" / "process.json", state_dir / "firewall" / "process.json"):
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(row, dict) and records.is_ours(row):
            pids.add(int(row["pid"]))
    return pids


def _session_of(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # after "(comm)": state ppid pgrp session ...; comm may hold spaces, so split after the last ")"
    return int(stat.rsplit(")", 1)[1].split()[3])


def lab_pids(state_dir: Path) -> list[int]:
    """Every live process in the sessions the lab's recorded processes lead."""
    leaders = lab_leaders(Path(state_dir))
    if not leaders:
        return []
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and _session_of(p) in leaders)


def _kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory(state_dir: Path) -> dict[str, Any]:
    """{"processes", "rss_mib", "pss_mib"} of the lab running in STATE_DIR (zeros when none runs)."""
    pids = lab_pids(state_dir)
    rss = sum(_kib(Path(f"/proc/{p}/status"), "VmRSS") for p in pids)
    pss = sum(_kib(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in pids)
    return {"processes": len(pids), "rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1)}
