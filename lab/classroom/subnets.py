"""The one subnet allocator of class mode: which /24 each trainee's lab gets.

Trainee N of a class gets `BASE.N`, so a trainer can say where a trainee's lab is without looking
(trainee 7 on 127.64.7). BASE is two octets: 127.64 by default in the process runtime (loopback
addresses), 172.29 in containers (a private bridge network per trainee); `--subnet-base` or
LAB_CLASS_SUBNET_BASE chooses another, so tests and a second class on the same host keep apart.

A trainee's lab has a second subnet it may use: the blank lab `lab scenarios run` brings up beside
it, on lab/scenarios/blank_lab.py's `blank_subnet` (127.B.C -> 127.(B+1).C). The allocator keeps
both free, and refuses a subnet when
  - it is reserved: 127.0.x (the default lab 127.0.10 and the tests' labs) and 127.1.x (their blank
    labs), 172.28.x (the docker runtime's default lab and its tests);
  - another class on this host has it, or has it as a blank subnet (the host index of rosters);
  - something already listens on one of its addresses (any lab, the tests', anyone's: the kernel's
    socket tables say so, /proc/net/{tcp,udp});
  - (containers) a Docker network overlaps it.
Each refusal says which subnet and why.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import LabError, UsageError
from ..scenarios.blank_lab import blank_subnet
from . import roster as roster_mod

DEFAULT_BASE = {"process": "127.64", "docker": "172.29"}
BASE_ENV = "LAB_CLASS_SUBNET_BASE"
# Two-octet prefixes no class may use, and why.
RESERVED = {"127.0": "the default lab (127.0.10) and the tests' labs use 127.0.x",
            "127.1": "the blank labs of the default and test labs use 127.1.x",
            "172.28": "the docker runtime's default lab (172.28.10) and its tests use 172.28.x"}
# The host's index of class state directories (every user's classes bind the same loopback).
INDEX_ENV = "LAB_CLASS_INDEX"


class SubnetTaken(LabError):
    """A trainee's subnet cannot be used; the message says which and why."""


def base_for(runtime: str, given: str | None = None) -> str:
    """The class's two-octet base: given, else $LAB_CLASS_SUBNET_BASE, else the runtime's default;
    UsageError when it is malformed, reserved or not fit for the runtime."""
    base = given or os.environ.get(BASE_ENV) or DEFAULT_BASE[runtime]
    parts = base.split(".")
    if len(parts) != 2 or not all(p.isdigit() and int(p) <= 255 and str(int(p)) == p for p in parts):
        raise UsageError(f"subnet base {base!r}: two octets, like {DEFAULT_BASE[runtime]} (trainee N gets BASE.N)")
    if base in RESERVED:
        raise UsageError(f"subnet base {base}: {RESERVED[base]}; choose another (default {DEFAULT_BASE[runtime]})")
    net = ipaddress.ip_network(f"{base}.0.0/16")
    if runtime == "process":
        if not net.is_loopback:
            raise UsageError(f"subnet base {base}: the process runtime serves on loopback addresses (127.B)")
        blank_base = blank_subnet(f"{base}.1").rsplit(".", 1)[0]
        if blank_base in RESERVED:
            raise UsageError(f"subnet base {base}: its trainees' blank labs would be on {blank_base}.x, and "
                             f"{RESERVED[blank_base]}")
    elif not net.is_private or net.is_loopback:
        raise UsageError(f"subnet base {base}: containers need a private, non-loopback network (like 172.29)")
    return base


def subnet_of(base: str, number: int) -> str:
    if not 1 <= number <= roster_mod.MAX_TRAINEES:
        raise UsageError(f"trainee numbers run from 1 to {roster_mod.MAX_TRAINEES}, not {number}")
    return f"{base}.{number}"


def related(subnet: str) -> set[str]:
    """The subnets a lab on SUBNET may use: its own and its blank lab's (loopback only)."""
    return {subnet, blank_subnet(subnet)} if subnet.startswith("127.") else {subnet}


# -- who uses what -----------------------------------------------------------------------------

def listening_subnets() -> dict[str, str]:
    """{subnet: "ADDRESS:PORT/PROTO"} of every IPv4 socket bound to a specific address on this host
    (TCP listeners, bound UDP sockets), from the kernel's tables."""
    out: dict[str, str] = {}
    for proto in ("tcp", "udp"):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or (proto == "tcp" and fields[3] != "0A"):    # 0A: LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            addr = ".".join(str(int(hex_addr[i:i + 2], 16)) for i in (6, 4, 2, 0))   # little-endian
            if addr == "0.0.0.0":
                continue
            out.setdefault(addr.rsplit(".", 1)[0], f"{addr}:{int(hex_port, 16)}/{proto}")
    return out


def docker_subnets() -> dict[str, str]:
    """{subnet: network name} of the Docker networks' IPv4 /24s ({} without Docker)."""
    try:
        ids = subprocess.run(["docker", "network", "ls", "--quiet"], capture_output=True, text=True,
                             timeout=30).stdout.split()
        if not ids:
            return {}
        nets = json.loads(subprocess.run(["docker", "network", "inspect", *ids], capture_output=True, text=True,
                                         timeout=30).stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    out = {}
    for net in nets:
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                other = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if other.version == 4:
                for sub in (other.subnets(new_prefix=24) if other.prefixlen < 24 else [other.supernet(new_prefix=24)]):
                    out[str(sub.network_address).rsplit(".", 1)[0]] = str(net.get("Name"))
                    if len(out) > 4096:      # a /12 default pool: enough to say it overlaps
                        break
    return out


def index_path() -> Path:
    if os.environ.get(INDEX_ENV):
        return Path(os.environ[INDEX_ENV])
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime_dir) / f"okta-workspaces-lab-classes-{os.getuid()}.json"


@contextlib.contextmanager
def locked_index() -> Iterator[list[str]]:
    """The host index of class state directories, locked; what the body leaves in the list is saved."""
    path = index_path()
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            dirs = [str(d) for d in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            dirs = []
        yield dirs
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(set(dirs))))
        tmp.replace(path)


def other_classes(dirs: Iterable[str], mine: Path) -> dict[str, str]:
    """{subnet: "trainee-NN of the class in DIR"} for the other classes the index names (their own
    subnets and their blank labs')."""
    out = {}
    for d in dirs:
        if Path(d).resolve() == Path(mine).resolve():
            continue
        other = roster_mod.load(Path(d))
        for t in other.trainees if other else []:
            for sub in related(t.subnet):
                out[sub] = f"{t.name} of the class in {d}"
    return out


# -- the allocation ----------------------------------------------------------------------------

def check(subnet: str, *, listening: dict[str, str], classes: dict[str, str], networks: dict[str, str],
          mine: set[str]) -> None:
    """SubnetTaken when SUBNET (or its blank lab's) is in use; `mine`: this class's running labs'
    subnets, which are not in the way of themselves."""
    for sub in sorted(related(subnet)):
        role = "" if sub == subnet else f" (the blank lab's subnet of {subnet})"
        prefix = sub.rsplit(".", 1)[0]
        if prefix in RESERVED:
            raise SubnetTaken(f"{sub}{role} is reserved: {RESERVED[prefix]}")
        if sub in classes:
            raise SubnetTaken(f"{sub}{role} belongs to {classes[sub]}")
        if sub in listening and subnet not in mine:
            raise SubnetTaken(f"{sub}{role} is in use on this host: something listens on {listening[sub]}")
        if sub in networks and subnet not in mine:
            raise SubnetTaken(f"{sub}{role} overlaps the Docker network {networks[sub]!r}")


def allocate(state_dir: Path, runtime: str, base: str, numbers: Iterable[int], *, keep: dict[int, str] | None = None,
             running: set[str] | None = None) -> dict[int, str]:
    """{trainee number: subnet} for NUMBERS: the subnet the roster gave it (`keep`), else BASE.N;
    each checked (SubnetTaken says which and why), and the class recorded in the host index so no
    other class is handed the same. `running`: the subnets of this class's labs that already run
    (their own listeners are no reason to refuse)."""
    keep, running = keep or {}, running or set()
    with locked_index() as dirs:
        # a class whose state directory was removed holds nothing any more
        dirs[:] = [d for d in dirs if (roster_mod.class_dir(Path(d)) / roster_mod.ROSTER_FILE).exists()]
        classes = other_classes(dirs, state_dir)
        listening = listening_subnets()
        networks = docker_subnets() if runtime == "docker" else {}
        out = {}
        for number in numbers:
            subnet = keep.get(number) or subnet_of(base, number)
            check(subnet, listening=listening, classes=classes, networks=networks, mine=running)
            out[number] = subnet
        if str(Path(state_dir).resolve()) not in dirs:
            dirs.append(str(Path(state_dir).resolve()))
    return out


def forget(state_dir: Path) -> None:
    """Take a class out of the host index (its state directory is gone or holds no class)."""
    with locked_index() as dirs:
        dirs[:] = [d for d in dirs if Path(d).resolve() != Path(state_dir).resolve()]
