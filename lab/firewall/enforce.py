"""Putting the desired network in force for one lab: in the kernel (nftables) when the lab may,
else as drop faults in the receiving services (the fallback). Used by the enforcer loop and by
`lab firewall` (a Windows firewall change is applied at once, with the last desired state the
enforcer saw). One lock per lab, so the two never interleave."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .. import process_records as records
from .. import topology as topo
from ..state import admin_headers, admin_url
from . import gate, hosts, nft
from .compiler import LabNet, compile_ruleset, counters_from, guarded, table_name, verdict

# The services' data ports by kind: the transports they listen on and the protocol their faults name.
KINDS = {"dns": (("udp", "tcp"), "dns"), "kerberos": (("udp", "tcp"), "kerberos"), "ldap": (("tcp",), "ldap"),
         "ldaps": (("tcp",), "ldap"), "radius": (("udp",), "radius")}
EMPTY: dict[str, Any] = {"generation": 0, "interfaces": [], "groups": {}}


def folder(state_dir: Path) -> Path:
    return records.private_dir(state_dir / "firewall")


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    fd = os.open(folder(state_dir) / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lab_net(topology: dict[str, Any]) -> LabNet:
    """The compiler's view of a topology: subnet, admin port, Windows hosts, moved ports."""
    moved: dict[int, int] = {}
    if topology.get("runtime", "process") == "process":
        for _, ports in topo.SERVICES.values():
            for port in ports.values():
                moved[port] = topo.process_port(port, bool(topology.get("standard_ports")))
    # With Docker the host reaches the containers from the network's gateway (.1), its address there.
    machine = ("127.0.0.1",) + ((f"{topology['subnet']}.1",) if topology.get("runtime") == "docker" else ())
    return LabNet(subnet=topology["subnet"], admin_port=topo.ADMIN_PORT, instances=hosts.instances(topology),
                  port_map={p: m for p, m in moved.items() if p != m}, machine=machine)


def mode(topology: dict[str, Any]) -> tuple[str, str | None]:
    """("kernel", None), or ("fallback", why the kernel's rules cannot be changed)."""
    why = nft.unavailable_reason()
    if why is None and topology.get("runtime") == "docker" and not shutil.which("nsenter"):
        why = "`nsenter` is not installed (it enters the containers' network namespaces)"
    return ("kernel", None) if why is None else ("fallback", why)


def targets(state_dir: Path, topology: dict[str, Any]) -> dict[str, int | None]:
    """Where the table goes: {"host": None} for the process runtime; {container: its pid} for docker."""
    if topology.get("runtime") != "docker":
        return {"host": None}
    from .. import docker_engine as engine
    from ..docker_runtime import load_conf

    conf = load_conf(state_dir)
    if conf is None:
        return {}
    out: dict[str, int | None] = {}
    for name, row in engine.containers(conf).items():
        if row.get("state") == "running" and name in conf["services"] and row.get("pid"):
            out[name] = int(row["pid"])
    return out


def desired_saved(state_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder(state_dir) / "desired.json").read_text()))
    except (OSError, ValueError):
        return dict(EMPTY)


@dataclass
class Applied:
    mode: str
    seconds: float                       # compile + nft (or faults), what `lab firewall` and the docs quote
    targets: list[str] = field(default_factory=list)


def enforce(state_dir: Path, topology: dict[str, Any], desired: dict[str, Any] | None = None,
            only: dict[str, int | None] | None = None, how: str | None = None) -> Applied:
    """Compile the desired state (or the last saved one) with the Windows firewall and apply it
    everywhere (or to `only`, e.g. a container that just restarted). `how`: the mode when the
    caller knows it (the enforcer checks once at its start)."""
    started = time.monotonic()
    with locked(state_dir):
        if desired is None:
            desired = desired_saved(state_dir)
        else:
            records.write_private(folder(state_dir) / "desired.json", json.dumps(desired))
        net = lab_net(topology)
        windows = hosts.load(state_dir)
        how = how or mode(topology)[0]
        if how == "kernel":
            ruleset = compile_ruleset(desired, windows, net)
            where = only if only is not None else targets(state_dir, topology)
            table = table_name(topology["subnet"])
            for pid in where.values():      # each table keeps its counts for the rules that stay
                nft.apply(compile_ruleset(desired, windows, net, counters_from(nft.listing(table, pid))), pid)
                if pid is not None:
                    gate.open_for(pid)      # a container waits for its rules before it serves
            records.write_private(folder(state_dir) / "ruleset.nft", ruleset)
            records.write_private(folder(state_dir) / "targets.json", json.dumps(where))
            return Applied(how, time.monotonic() - started, list(where))
        _faults(state_dir, topology, desired, windows, net)
        return Applied(how, time.monotonic() - started, ["faults"])


def counters(state_dir: Path, topology: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Packets per rule id, `drop:<address>` and `fw:...`, summed over every table of the lab."""
    total: dict[str, dict[str, int]] = {}
    for pid in targets(state_dir, topology).values():
        for name, c in counters_from(nft.listing(table_name(topology["subnet"]), pid)).items():
            entry = total.setdefault(name, {"packets": 0, "bytes": 0})
            entry["packets"] += c["packets"]
            entry["bytes"] += c["bytes"]
    return total


def remove(state_dir: Path, topology: dict[str, Any]) -> list[str]:
    """Take away everything the enforcer added (`lab down`): the table(s), the fallback's faults."""
    removed = []
    table = table_name(topology["subnet"])
    with locked(state_dir):
        where: dict[str, int | None] = {"host": None}
        with contextlib.suppress(OSError, ValueError):
            where.update(json.loads((folder(state_dir) / "targets.json").read_text()))
        if nft.unavailable_reason() is None:
            for name, pid in where.items():
                if nft.delete(table, pid):
                    removed.append(name)
        _clear_faults(state_dir, topology)
        for leftover in ("ruleset.nft", "targets.json", "desired.json"):
            (folder(state_dir) / leftover).unlink(missing_ok=True)
    return removed


# -- the fallback: drop faults in the receiving services ----------------------------------------

def fallback_faults(topology: dict[str, Any], desired: dict[str, Any], windows: list[hosts.WindowsRule],
                    net: LabNet) -> list[tuple[str, dict[str, Any]]]:
    """(service, fault) pairs that drop what the rules would drop: per receiving service, data port
    and sending lab address, when every transport of that port is closed to that sender."""
    senders = sorted({i["address"] for i in desired.get("interfaces", [])} |
                     {s["host"] for s in topology["services"].values()})
    closed = set(guarded(desired)) | {a for r in windows for a in net.instances.get(r.host, [])}
    out = []
    for name, svc in topology["services"].items():
        if svc["host"] not in closed:
            continue
        for kind, port in svc["ports"].items():
            if kind not in KINDS:
                continue
            transports, protocol = KINDS[kind]
            for src in senders:
                if src != svc["host"] and all(verdict(desired, windows, net, src, svc["host"], t, port)
                                              for t in transports):
                    out.append((name, {"action": "drop", "protocol": protocol, "port": port, "peer": src}))
    return out


def _faults(state_dir: Path, topology: dict[str, Any], desired: dict[str, Any],
            windows: list[hosts.WindowsRule], net: LabNet) -> None:
    _clear_faults(state_dir, topology)
    added: list[list[Any]] = []
    with httpx.Client(timeout=5.0, headers=admin_headers(topology)) as http:
        for service, fault in fallback_faults(topology, desired, windows, net):
            try:
                resp = http.post(f"{admin_url(topology, service)}/faults", json=fault)
                if resp.status_code == 200:
                    added.append([service, resp.json()["id"]])
            except (httpx.HTTPError, ValueError, KeyError):
                continue          # a service that is down gets its faults at the next change
    records.write_private(folder(state_dir) / "fallback.json", json.dumps(added))


def _clear_faults(state_dir: Path, topology: dict[str, Any]) -> None:
    path = folder(state_dir) / "fallback.json"
    try:
        added = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    with httpx.Client(timeout=5.0, headers=admin_headers(topology)) as http:
        for service, fault_id in added:
            if service in topology["services"]:
                with contextlib.suppress(httpx.HTTPError):
                    http.delete(f"{admin_url(topology, service)}/faults/{fault_id}")
    path.unlink(missing_ok=True)
