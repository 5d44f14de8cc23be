"""Where a lab keeps its state, and reading back what `lab up` wrote there."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml


def default_state_dir() -> Path:
    """`$LAB_STATE_DIR`, else `$XDG_STATE_HOME/okta-workspaces-lab` (~/.local/state/...)."""
    if os.environ.get("LAB_STATE_DIR"):
        return Path(os.environ["LAB_STATE_DIR"]).resolve()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "okta-workspaces-lab"


def load_topology(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "topology.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def admin_url(topology: dict[str, Any], name: str) -> str:
    svc = topology["services"][name]
    return f"http://{svc['host']}:{svc['ports']['admin']}"


def admin_headers(topology: dict[str, Any]) -> dict[str, str]:
    """What every admin API call but /healthz carries: the lab's admin token."""
    return {"Authorization": f"Bearer {topology.get('credentials', {}).get('admin_token', '')}"}


def api_url(topology: dict[str, Any], name: str) -> str:
    svc = topology["services"][name]
    return f"http://{svc['host']}:{svc['ports']['api']}"


def domain_of(topology: dict[str, Any]) -> str:
    """The AD domain's DNS name, from the lab's seed (the DC is seeded in a blank lab too)."""
    try:
        seed = yaml.safe_load(Path(topology["seed"]).read_text()) or {}
    except (OSError, KeyError, yaml.YAMLError):
        seed = {}
    return str((seed.get("domain") or {}).get("dns_name") or "corp.example.com").lower()


def journal_events(state_dir: Path, name: str, since: int = 0) -> list[dict[str, Any]]:
    """A control-plane process's own events (`<state>/events/<name>.jsonl`: the supervisor's, the
    firewall enforcer's) after sequence number `since`; a damaged line is skipped."""
    try:
        lines = (Path(state_dir) / "events" / f"{name}.jsonl").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("seq", 0) > since:
            out.append(event)
    return out
