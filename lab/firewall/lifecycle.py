"""The control plane's handle on the enforcer: start it (`bring_up`), stop it and take away
everything it added (each runtime's `down`), and what `lab up` / `lab status` say about it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .. import process_records as records
from ..state import load_topology
from . import enforce, hosts


def _process_file(state_dir: Path) -> Path:
    return state_dir / "firewall" / "process.json"


def process_row(state_dir: Path) -> dict[str, Any] | None:
    return records.read_row(_process_file(state_dir))


def wanted(state_dir: Path, topology: dict[str, Any]) -> bool:
    """Whether the lab has something to enforce: an ec2 service (security groups) or Windows
    firewall rules. A lab without either has no table and no extra process."""
    return "ec2" in topology["services"] or bool(hosts.load(state_dir))


def gated(state_dir: Path, topology: dict[str, Any]) -> bool:
    """Whether a container must wait for its rules before it serves (lab/firewall/gate.py): the
    enforcer will run and the kernel enforces (in the fallback there is nothing to wait for)."""
    return wanted(state_dir, topology) and enforce.mode(topology)[0] == "kernel"


def ensure(state_dir: Path) -> int | None:
    """Start the enforcer when the lab has something to enforce (`wanted`)."""
    topology = load_topology(state_dir)
    if topology is None or not wanted(state_dir, topology):
        return None
    return spawn(state_dir)


def spawn(state_dir: Path) -> int:
    """Start the lab's enforcer, detached, unless one runs; returns its pid."""
    row = process_row(state_dir)
    if row is not None:
        return int(row["pid"])
    enforce.folder(state_dir)
    (state_dir / "firewall" / "status.json").unlink(missing_ok=True)
    log = records.private_dir(state_dir / "logs") / "firewall.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lab.firewall.enforcer", "--state-dir", str(state_dir)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    records.write_private(_process_file(state_dir), json.dumps(
        records.row_for("firewall", proc.pid, f"lab.firewall.enforcer --state-dir {state_dir}")))
    return proc.pid


def stop(state_dir: Path) -> list[str]:
    """Stop the enforcer, then remove its table(s) and fallback faults; the places it was removed from."""
    from ..process_runtime import stop_rows  # here: process_runtime imports this module

    row = process_row(state_dir)
    if row is not None:
        stop_rows([row], timeout=10)
    _process_file(state_dir).unlink(missing_ok=True)
    topology = load_topology(state_dir)
    if topology is None or not (state_dir / "firewall").exists():
        return []
    return enforce.remove(state_dir, topology)


def change(state_dir: Path, host_name: str, action: str, port_text: str, source: str | None) -> dict[str, Any]:
    """`lab firewall HOST allow|block PORT/PROTO [--from ADDRESS]`: save the rule and, when the lab
    runs, put it in force now. Returns {"rule", "mode" (kernel|fallback|saved), "apply_ms"}."""
    import ipaddress

    from ..errors import LabError, UsageError
    from ..runtime import running_runtime

    host = hosts.host_named(host_name)
    port, protocol = hosts.parse_port(port_text)
    if source is not None:
        try:
            source = str(ipaddress.IPv4Address(source))
        except ValueError:
            raise UsageError(f"--from {source!r} is not an IPv4 address") from None
    topology = load_topology(state_dir)
    if topology is None:
        raise LabError(f"no lab in {state_dir}; start it with `lab up`")
    rule = hosts.change(state_dir, host, action, port, protocol, source)
    if running_runtime(state_dir) is None:      # the next `lab up` puts it in force
        return {"rule": rule.name, "mode": "saved", "apply_ms": None}
    applied = enforce.enforce(state_dir, topology)
    ensure(state_dir)                            # keeps it in force across container restarts
    return {"rule": rule.name, "mode": applied.mode, "apply_ms": round(applied.seconds * 1000, 1)}


def reset(state_dir: Path) -> None:
    """The Windows firewall back to the seed's (no rules), in force at once: `lab reset` and the
    start of every scenario."""
    topology = load_topology(state_dir)
    if topology is None or not hosts.load(state_dir):
        return
    hosts.clear(state_dir)
    if (state_dir / "firewall" / "ruleset.nft").exists() or process_row(state_dir) is not None:
        enforce.enforce(state_dir, topology)


def status(state_dir: Path) -> dict[str, Any]:
    """{"mode": kernel|fallback, "why", "running", "generation", "last_apply_ms"} ({} without a lab)."""
    topology = load_topology(state_dir)
    if topology is None:
        return {}
    try:
        body = dict(json.loads((state_dir / "firewall" / "status.json").read_text()))
    except (OSError, ValueError):
        how, why = enforce.mode(topology)
        body = {"mode": how, "why": why}
    body["running"] = process_row(state_dir) is not None
    return body


def describe(body: dict[str, Any]) -> str:
    """One line for `lab up` and `lab status`."""
    if not body:
        return "network rules: no lab"
    if body.get("mode") == "fallback":
        return (f"network rules: NOT enforced by the kernel ({body.get('why')}); security groups and the Windows "
                "firewall fall back to drop faults inside the receiving services")
    state = "enforcer running" if body.get("running") else "enforcer NOT running"
    if body.get("generation") is None:
        return f"network rules: enforced by nftables ({state}; no security groups yet: the Windows firewall only)"
    return f"network rules: enforced by nftables ({state}, security groups generation {body.get('generation')})"
