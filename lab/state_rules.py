"""What a state directory was made for, and starting afresh when a lab of another kind is asked for.

`<state>/lab.json` records the choices the services' data was made with: runtime, subnet, RADIUS
agents, blank or seeded, and the seed file (its path and a digest of its text). `lab up` with the
same choices resumes the data; with different ones it says what differs and what it discards (the
services' data directories and their event journals; the credentials are kept), then starts afresh.
A directory from before this record existed is judged by its topology.json.

Everything written here is private to its owner: directories 0700, files 0600.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import process_records as records
from . import topology as topo

if TYPE_CHECKING:    # runtime.py imports this module
    from .runtime import LabSpec

Progress = Callable[[str], None]

RECORD = "lab.json"
# What `lab down --volumes` and starting afresh leave: the admin credentials (boto3 profiles and
# scripts keep working), and the docker runtime's compose files (rewritten by every `lab up`).
KEPT = ("credentials.json", "docker", "docker.json")


def default_subnet(runtime: str) -> str:
    if runtime == "docker":
        from .docker_compose import DEFAULT_SUBNET as DOCKER_SUBNET
        return os.environ.get("LAB_DOCKER_SUBNET") or DOCKER_SUBNET
    return topo.DEFAULT_SUBNET


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def wanted(spec: LabSpec, runtime: str) -> dict[str, Any]:
    """The record a lab brought up with `spec` gets."""
    seed = Path(spec.seed or topo.SEED_DEFAULT).resolve()
    return {"runtime": runtime, "subnet": spec.subnet or default_subnet(runtime), "agents": spec.agents,
            "blank": bool(spec.blank), "seed": str(seed), "seed_digest": _digest(seed)}


def recorded(state_dir: Path) -> dict[str, Any] | None:
    """What the directory's data was made for; None when it holds no lab."""
    try:
        return json.loads((state_dir / RECORD).read_text())
    except (OSError, ValueError):
        pass
    try:   # an older directory: its topology says most of it
        topology = json.loads((state_dir / "topology.json").read_text())
    except (OSError, ValueError):
        return None
    return {"runtime": topology.get("runtime", "process"), "subnet": topology.get("subnet"),
            "agents": len(topo.radius_agents(topology)), "blank": bool(topology.get("blank")),
            "seed": topology.get("seed"), "seed_digest": None}


def remember(state_dir: Path, record: dict[str, Any]) -> None:
    records.private_dir(state_dir)
    records.write_private(state_dir / RECORD, json.dumps(record, indent=2))


def describe(record: dict[str, Any]) -> str:
    agents = f"{record.get('agents')} RADIUS agent{'s' if record.get('agents') != 1 else ''}"
    return (f"a {'blank' if record.get('blank') else 'seeded'} lab ({record.get('runtime')} runtime, subnet "
            f"{record.get('subnet')}, {agents})")


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How `new` differs from `old`, in words; [] when the data can be resumed."""
    out = []
    if old.get("runtime") != new["runtime"]:
        out.append(f"runtime {old.get('runtime')} -> {new['runtime']}")
    if old.get("subnet") != new["subnet"]:
        out.append(f"subnet {old.get('subnet')} -> {new['subnet']}")
    if int(old.get("agents") or 1) != new["agents"]:
        out.append(f"RADIUS agents {old.get('agents')} -> {new['agents']}")
    if bool(old.get("blank")) != new["blank"]:
        out.append("blank -> seeded" if old.get("blank") else "seeded -> blank")
    if not new["blank"] and not old.get("blank"):
        if old.get("seed") and Path(old["seed"]).resolve() != Path(new["seed"]):
            out.append(f"seed file {old['seed']} -> {new['seed']}")
        elif old.get("seed_digest") and old["seed_digest"] != new["seed_digest"]:
            out.append(f"the seed file {new['seed']} has changed since")
    return out


def data_paths(state_dir: Path) -> list[Path]:
    """The services' data in the directory: one folder per service, their event journals and
    logs, the supervisor's notes, the Windows firewall's rules, the topology and this record."""
    names = set(topo.SERVICES) | {topo.SECOND_AGENT[0], "events", "logs", "supervisor", "firewall"}
    out = [state_dir / n for n in sorted(names) if (state_dir / n).is_dir()]
    out += [state_dir / f for f in (RECORD, "topology.json") if (state_dir / f).exists()]
    return out


def docker_volumes(state_dir: Path) -> list[str]:
    """The named volumes of the directory's docker lab (its services' data), [] when it has none."""
    try:
        conf = json.loads((state_dir / "docker.json").read_text())
    except (OSError, ValueError):
        return []
    return [f"{conf['project']}_{name}-state" for name in conf.get("services", [])]


def state_summary(state_dir: Path) -> str:
    """What removing the directory's lab state takes away and what it keeps, in one line ("" when
    there is nothing to remove)."""
    gone = [p.name + ("/" if p.is_dir() else "") for p in data_paths(state_dir)]
    gone += [f"volume {v}" for v in docker_volumes(state_dir)]
    if not gone:
        return ""
    kept = [k for k in KEPT if (state_dir / k).exists()]
    return f"removing {', '.join(gone)} from {state_dir}" + (f" (keeping {', '.join(kept)})" if kept else "")


def delete_state(state_dir: Path) -> None:
    """Remove the services' data folders, journals, logs, topology and record (the docker volumes
    are removed by `compose down --volumes`)."""
    for path in data_paths(state_dir):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def settle(state_dir: Path, spec: LabSpec, runtime: str, progress: Progress) -> dict[str, Any]:
    """Before a lab is brought up: resume the directory's data when it was made for the same
    choices; otherwise discard it (saying what and why). Records the choices; returns them."""
    new = wanted(spec, runtime)
    old = recorded(state_dir)
    if old is not None:
        diffs = differences(old, new)
        if diffs:
            why = f"this state directory was made for {describe(old)}; asked for {describe(new)} ({'; '.join(diffs)})"
            summary = state_summary(state_dir)
            if summary:
                progress(f"{why}: starting afresh, {summary}")
            if old.get("runtime") == "docker" and docker_volumes(state_dir):
                from .docker_runtime import DockerRuntime
                DockerRuntime(state_dir).down(volumes=True)
            delete_state(state_dir)
    remember(state_dir, new)
    return new
