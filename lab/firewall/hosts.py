"""The Windows firewall of the lab's two Windows hosts, and which addresses each host has.

InstanceRDC is the `dc` service's host; InstanceOkta is every address its agents use (the RADIUS
agents and the AD agent: one instance, several private IPs). The firewall is the host's own, not
EC2's: the control plane keeps it in `<state>/firewall/windows.json` (0600), and the enforcer
compiles it after the security groups (lab/firewall/compiler.py).

The model: an unlisted port is open (the lab's Windows hosts come with the inbound rules the
walkthrough creates); `block PORT/PROTO` closes it; `allow PORT/PROTO` replaces a block of the
same port, protocol and source (the fix). A rule naming a source (`--from`) beats one for any source.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import process_records as records
from ..errors import UsageError
from .compiler import FIREWALL_HOSTS, WindowsRule

ALIASES = {"instancerdc": "InstanceRDC", "dc": "InstanceRDC", "instanceokta": "InstanceOkta", "okta": "InstanceOkta"}
OKTA_PACKAGES = ("services.radius_agent", "services.ad_agent")


def host_named(name: str) -> str:
    """InstanceRDC / InstanceOkta from what a person typed (case-insensitive; `dc`, `okta`)."""
    try:
        return ALIASES[name.lower()]
    except KeyError:
        raise UsageError(f"no Windows host {name!r}: InstanceRDC (alias dc) or InstanceOkta (alias okta)") from None


def instances(topology: dict[str, Any]) -> dict[str, list[str]]:
    """{InstanceRDC: [dc's address], InstanceOkta: [each agent's address]} of a topology."""
    services = topology["services"]
    okta = [svc["host"] for svc in services.values() if svc.get("package") in OKTA_PACKAGES]
    return {"InstanceRDC": [services["dc"]["host"]] if "dc" in services else [], "InstanceOkta": okta}


def parse_port(text: str) -> tuple[int, str]:
    """`1812/udp` → (1812, "udp"); UsageError in Windows' terms otherwise."""
    port, _, proto = text.partition("/")
    proto = proto.lower()
    if proto not in ("tcp", "udp") or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"{text!r}: a port is PORT/PROTO with PORT 1-65535 and PROTO tcp or udp, e.g. 1812/udp")
    return int(port), proto


def _path(state_dir: Path) -> Path:
    return state_dir / "firewall" / "windows.json"


def load(state_dir: Path) -> list[WindowsRule]:
    try:
        rows = json.loads(_path(state_dir).read_text())
    except (OSError, ValueError):
        return []
    return [WindowsRule(**row) for row in rows if isinstance(row, dict) and row.get("host") in FIREWALL_HOSTS]


def save(state_dir: Path, rules: list[WindowsRule]) -> None:
    records.private_dir(state_dir / "firewall")
    rows = [{"host": r.host, "action": r.action, "port": r.port, "protocol": r.protocol, "source": r.source}
            for r in rules]
    records.write_private(_path(state_dir), json.dumps(rows, indent=2))


def change(state_dir: Path, host: str, action: str, port: int, protocol: str, source: str | None) -> WindowsRule:
    """Add a rule, replacing the one of the same host, port, protocol and source."""
    rule = WindowsRule(host, action, port, protocol, source)
    kept = [r for r in load(state_dir)
            if (r.host, r.port, r.protocol, r.source) != (host, port, protocol, source)]
    save(state_dir, [*kept, rule])
    return rule


def clear(state_dir: Path) -> None:
    """Back to the seed's firewall (no deviations): `lab reset` and each scenario's start."""
    _path(state_dir).unlink(missing_ok=True)
