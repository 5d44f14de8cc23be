"""`lab up`, `down`, `status`, `logs` and `reset`: the lab as a whole."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .. import provision
from .. import topology as topo
from ..client import LabClient
from ..errors import LabError, UsageError
from ..runtime import LabSpec, bring_up, running_runtime, runtime_named, runtimes
from ..state import load_topology
from .common import EXIT_FAILED, EXIT_OK, lab_client, say


def cmd_up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    running = running_runtime(state_dir)
    if running:
        say(f"the lab is already running ({len(running.running())} services, state in {state_dir}); "
            "`lab status` shows them, `lab down` stops them")
        return EXIT_OK
    started_at = time.monotonic()
    spec = LabSpec(subnet=args.subnet, seed=Path(args.seed).resolve() if args.seed else None, blank=args.blank,
                   agents=args.agents, standard_ports=args.standard_ports)
    topology = bring_up(runtime_named(args.runtime, state_dir), spec, enrol=True, timeout=args.timeout, progress=say)
    say(f"the lab is up in {time.monotonic() - started_at:.1f} s")
    print_endpoints(topology)
    return EXIT_OK


def print_endpoints(topology: dict[str, Any]) -> None:
    for name, svc in topology["services"].items():
        eps = "  ".join(f"{k} {v}" for k, v in topo.endpoints(svc).items())
        say(f"  {name:<15} {eps}")


def cmd_down(args: argparse.Namespace) -> int:
    volumes = getattr(args, "volumes", False)    # absent when `lab scenarios run` stops the lab it brought up
    stopped = [name for runtime in runtimes(args.state_dir) for name in runtime.down(volumes=volumes)]
    say(f"stopped {', '.join(stopped)}" if stopped else "the lab is not running")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    topology = load_topology(args.state_dir)
    runtime = running_runtime(args.state_dir)
    alive = set(runtime.status()) if runtime else set()
    if topology is None or not alive:
        if args.json:
            say(json.dumps({"runtime": None, "running": False, "services": {}}))
        else:
            say("the lab is not running")
        return EXIT_FAILED
    health = LabClient(topology).health()
    creds = topology["credentials"]
    status = {
        "runtime": topology["runtime"],
        "running": True,
        "state_dir": topology["state_dir"],
        "services": {name: {"healthy": health[name] and name in alive, "endpoints": topo.endpoints(svc)}
                     for name, svc in topology["services"].items()},
        "credentials": {k: creds[k] for k in ("okta_api_token", "radius_shared_secret", "aws_access_key_id",
                                              "aws_secret_access_key", "aws_region") if k in creds},
    }
    if args.json:
        say(json.dumps(status, indent=2))
    else:
        say(f"runtime {status['runtime']}, state in {status['state_dir']}")
        for name, svc in status["services"].items():
            eps = "  ".join(f"{k} {v}" for k, v in svc["endpoints"].items())
            say(f"  {name:<15} {'healthy' if svc['healthy'] else 'UNHEALTHY':<9} {eps}")
    return EXIT_OK if all(s["healthy"] for s in status["services"].values()) else EXIT_FAILED


def cmd_logs(args: argparse.Namespace) -> int:
    topology = load_topology(args.state_dir)
    if topology is None:
        raise LabError("the lab has never been started here; no logs")
    runtime = runtime_named(topology.get("runtime") or "process", args.state_dir)
    names = [args.service] if args.service else list(topology["services"])
    for name in names:
        if name not in topology["services"]:
            raise UsageError(f"no service {name!r}; services: {', '.join(topology['services'])}")
        lines = runtime.logs(name, args.lines)
        if len(names) > 1:
            say(f"==> {name} <==")
        for line in lines:
            say(line)
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    lab = lab_client(args)
    lab.reset()
    if not lab.topology.get("blank"):
        provision.enrol_okta_verify(lab.topology, lab.seed())
    say("every service is back to its seed state")
    return EXIT_OK
