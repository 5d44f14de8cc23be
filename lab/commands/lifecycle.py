"""`lab up`, `down`, `status`, `logs`, `restart` and `reset`: the lab as a whole."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import httpx

from .. import agent_token, provision, state_rules, supervisor
from .. import topology as topo
from ..client import LabClient
from ..dashboard import lifecycle as dashboard
from ..errors import LabError, UsageError
from ..firewall import lifecycle as firewall
from ..process_runtime import check_ports_free
from ..runtime import LabSpec, Runtime, bring_up, running_runtime, runtime_named, runtimes
from ..state import admin_url, load_topology
from .common import EXIT_FAILED, EXIT_OK, running_topology, say, seed_of


def spec_of(args: argparse.Namespace) -> LabSpec:
    return LabSpec(subnet=args.subnet, seed=Path(args.seed).resolve() if args.seed else None, blank=args.blank,
                   agents=args.agents or 1, standard_ports=args.standard_ports)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    running = running_runtime(state_dir)
    spec = spec_of(args)
    if running:
        return _resume(running, args, spec)
    started_at = time.monotonic()
    if (args.runtime or "process") == "process" and spec.subnet and not spec.subnet.startswith("127."):
        # Refused before anything in the state directory changes (a new subnet would discard its data).
        raise UsageError(f"--subnet {spec.subnet}: the process runtime serves on loopback addresses, "
                         f"127.x.y (default {topo.DEFAULT_SUBNET}); other networks need --runtime docker")
    runtime = runtime_named(args.runtime or "process", state_dir)
    topology = bring_up(runtime, spec, enrol=True, timeout=args.timeout, progress=say)
    if runtime.name == "process":
        supervisor.spawn(state_dir)
    say(f"the lab is up in {time.monotonic() - started_at:.1f} s")
    say(firewall.describe(firewall.status(state_dir)))
    print_endpoints(topology)
    return EXIT_OK


def _given(args: argparse.Namespace, spec: LabSpec) -> dict[str, Any]:
    """The choices the command line states explicitly (a plain `lab up` on a running lab asks for
    nothing in particular: it completes the lab as it is)."""
    given: dict[str, Any] = {}
    if args.runtime:
        given["runtime"] = args.runtime
    if args.subnet:
        given["subnet"] = args.subnet
    if args.agents:
        given["agents"] = args.agents
    if args.blank:
        given["blank"] = True
    if args.seed:
        given["seed"] = str(spec.seed)
    return given


def _resume(runtime: Runtime, args: argparse.Namespace, spec: LabSpec) -> int:
    """`lab up` on a running lab: refuse choices that differ from it, start what is missing, and
    exit 0 only when every service is healthy."""
    state_dir: Path = args.state_dir
    topology = load_topology(state_dir)
    if topology is None:
        raise LabError(f"services run from {state_dir} but its topology.json is gone; `lab down` first")
    made_for = state_rules.recorded(state_dir) or {}
    made_for.setdefault("runtime", runtime.name)
    clash = []
    for key, value in _given(args, spec).items():
        have = made_for.get(key)
        if key == "seed" and have:
            have = str(Path(have).resolve())
        if have is not None and have != value:
            clash.append(f"--{key} {value if key != 'blank' else ''}".rstrip() + f" (running: {have})")
    if clash:
        raise LabError(f"the lab running in {state_dir} is {state_rules.describe(made_for)}, not what was asked: "
                       f"{'; '.join(clash)}. Run `lab down` first (`lab up` then starts afresh with the new "
                       "choices), or `lab up` without them")
    step = lambda message: say(f"  {message}")  # noqa: E731
    alive = set(runtime.status())
    missing = [name for name in topology["services"] if name not in alive]
    timeout = args.timeout or runtime.default_timeout
    if missing:
        say(f"the lab is partly running ({len(alive)} of {len(topology['services'])} services, state in "
            f"{state_dir}): starting {', '.join(missing)}")
        if runtime.name == "process":
            check_ports_free(topology, missing)
        runtime.up(topology, missing, timeout=timeout, progress=step)
    else:
        say(f"the lab is already running ({len(alive)} services, state in {state_dir})")
    agent_token.ensure(runtime, topology, step)
    firewall.ensure(state_dir)
    if runtime.name == "process":
        supervisor.spawn(state_dir)
    step(dashboard.ensure_said(state_dir))      # one that runs is kept
    unhealthy = wait_all_healthy(topology, timeout)
    if unhealthy:
        say("not healthy: " + "; ".join(f"{n} ({why})" for n, why in unhealthy.items())
            + ". `lab status` and `lab logs SERVICE` say more; `lab reset` or `lab restart SERVICE` may help")
        return EXIT_FAILED
    if not topology.get("blank"):
        provision.enrol_okta_verify(topology, seed_of(topology), progress=step)
    say("every service is healthy; `lab status` shows them, `lab down` stops them")
    return EXIT_OK


def wait_all_healthy(topology: dict[str, Any], timeout: float) -> dict[str, str]:
    """Wait until every service answers /healthz with 200; {service: why} of those that did not."""
    deadline = time.monotonic() + timeout
    while True:
        unhealthy = {n: why for n, (ok, why) in health_details(topology).items() if not ok}
        if not unhealthy or time.monotonic() > deadline:
            return unhealthy
        time.sleep(0.3)


def health_details(topology: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """{service: (healthy, why)} from each /healthz (which needs no admin token)."""
    out = {}
    with httpx.Client(timeout=3) as http:
        for name in topology["services"]:
            try:
                resp = http.get(f"{admin_url(topology, name)}/healthz")
                try:
                    detail = str(resp.json().get("detail", resp.status_code))
                except ValueError:
                    detail = f"HTTP {resp.status_code}"
                out[name] = (resp.status_code == 200, detail)
            except httpx.HTTPError as exc:
                out[name] = (False, f"no answer from its admin API ({exc.__class__.__name__})")
    return out


def print_endpoints(topology: dict[str, Any]) -> None:
    for name, svc in topology["services"].items():
        eps = "  ".join(f"{k} {v}" for k, v in topo.endpoints(svc).items())
        say(f"  {name:<15} {eps}")


def cmd_down(args: argparse.Namespace) -> int:
    volumes = getattr(args, "volumes", False)    # absent when `lab scenarios run` stops the lab it brought up
    summary = state_rules.state_summary(args.state_dir) if volumes else ""
    if summary:
        say(f"lab down --volumes: {summary}")
    stopped = [name for runtime in runtimes(args.state_dir) for name in runtime.down(volumes=volumes)]
    say(f"stopped {', '.join(stopped)}" if stopped else "the lab is not running")
    if volumes:
        state_rules.delete_state(args.state_dir)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    topology = load_topology(args.state_dir)
    runtime = running_runtime(args.state_dir)
    alive = runtime.status() if runtime else {}
    watched = supervisor.status(args.state_dir).get("services", {})
    if topology is None or not alive:
        if args.json:
            say(json.dumps({"runtime": None, "running": False, "services": {}}))
        else:
            say("the lab is not running")
            _say_failed(watched)
        return EXIT_FAILED
    health = LabClient(topology).health()
    creds = topology["credentials"]
    docker_restarts = {row["name"]: row.get("restarts") for row in runtime.running()} if runtime else {}
    services = {}
    for name, svc in topology["services"].items():
        watch = watched.get(name, {})
        services[name] = {"healthy": health[name] and name in alive, "endpoints": topo.endpoints(svc),
                          "restarts": watch.get("restarts", docker_restarts.get(name) or 0)}
        if watch.get("state") in ("restarting", "failed"):
            services[name]["supervisor"] = {k: watch.get(k) for k in ("state", "last_exit", "last_crash",
                                                                      "log_tail")}
    dashboard_url = dashboard.url(args.state_dir)
    status = {
        "runtime": topology["runtime"],
        "running": True,
        "state_dir": topology["state_dir"],
        "supervisor": _supervisor_line(args.state_dir, topology["runtime"]),
        # What clients trust the lab's TLS with (LDAPTLS_CACERT, smtplib's cafile): lab/ca.py.
        "ca_certificate": (topology.get("ca") or {}).get("cert"),
        "network": firewall.status(args.state_dir),
        "dashboard": dashboard_url,
        "dashboard_ready": dashboard_url is not None and dashboard.answers(dashboard_url),
        "services": services,
        "credentials": {k: creds[k] for k in ("okta_api_token", "radius_shared_secret", "aws_access_key_id",
                                              "aws_secret_access_key", "aws_region") if k in creds},
    }
    if args.json:
        say(json.dumps(status, indent=2))
    else:
        say(f"runtime {status['runtime']}, state in {status['state_dir']}; supervisor: {status['supervisor']}")
        if status["ca_certificate"]:
            say(f"CA certificate (trust it for LDAPS, StartTLS and the org's HTTPS pages: `lab ca trust`): "
                f"{status['ca_certificate']}")
        say(firewall.describe(status["network"]))
        say(f"dashboard: {status['dashboard'] or 'not running'}" + (
            "" if not status["dashboard"] else " (`lab open dashboard` signs you in)" if status["dashboard_ready"]
            else " (starting: it answers in a few seconds; `lab open dashboard` waits for it)"))
        for name, svc in status["services"].items():
            eps = "  ".join(f"{k} {v}" for k, v in svc["endpoints"].items())
            restarts = f"restarts {svc['restarts']}" if svc["restarts"] else ""
            say(f"  {name:<15} {'healthy' if svc['healthy'] else 'UNHEALTHY':<9} {restarts:<11} {eps}".rstrip())
        _say_failed(watched)
    return EXIT_OK if all(s["healthy"] for s in status["services"].values()) else EXIT_FAILED


def _supervisor_line(state_dir: Path, runtime: str) -> str:
    if runtime == "docker":
        return "Docker's restart policy (on-failure)"
    row = supervisor.process_row(state_dir)
    return f"running (pid {row['pid']})" if row else "not running (crashed services are not restarted)"


def _say_failed(watched: dict[str, Any]) -> None:
    for name, watch in watched.items():
        if watch.get("state") == "restarting":
            say(f"  {name}: crashed ({watch.get('last_exit')}), restarting")
        elif watch.get("state") == "failed":
            say(f"  {name}: FAILED, left stopped after {watch.get('crashes')} crashes "
                f"(last: {watch.get('last_exit')}); its last log lines:")
            for line in watch.get("log_tail") or []:
                say(f"    {line}")


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


def cmd_restart(args: argparse.Namespace) -> int:
    topology = running_topology(args)
    if args.service not in topology["services"]:
        raise UsageError(f"no service {args.service!r}; services: {', '.join(topology['services'])}")
    runtime = running_runtime(args.state_dir)
    assert runtime is not None     # running_topology said so
    started = time.monotonic()
    runtime.restart(args.service)
    say(f"{args.service} restarted, healthy in {time.monotonic() - started:.1f} s")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    """Every service back to its seed state (or, `--blank`, to a blank lab), on a healthy lab or
    not: what answers is reset through its admin API, what does not is restarted."""
    topology = running_topology(args)
    runtime = running_runtime(args.state_dir)
    assert runtime is not None
    blank = bool(getattr(args, "blank", False))
    if blank != bool(topology.get("blank")):
        return _reset_afresh(runtime, args, topology, blank)
    alive = set(runtime.status())
    client = LabClient(topology)
    restarted = []
    for name in topology["services"]:
        try:
            if name not in alive:
                raise httpx.ConnectError("not running")
            client.post_admin(name, "/reset")
        except httpx.HTTPError as exc:
            say(f"  {name} does not answer ({exc.__class__.__name__}): restarting it")
            runtime.restart(name)
            restarted.append(name)
    agent_token.ensure(runtime, topology, say)
    firewall.reset(args.state_dir)
    if runtime.name == "process":
        supervisor.spawn(args.state_dir)
    unhealthy = wait_all_healthy(topology, runtime.default_timeout)
    if unhealthy:
        say("reset, but not healthy: " + "; ".join(f"{n} ({why})" for n, why in unhealthy.items()))
        return EXIT_FAILED
    for name in restarted:           # a restart keeps a service's state (the DC's changes, the org's db)
        client.post_admin(name, "/reset")
    if not topology.get("blank"):
        provision.enrol_okta_verify(topology, client.seed())
    say("every service is back to its " + ("blank" if topology.get("blank") else "seed") + " state"
        + (f" ({', '.join(restarted)} restarted)" if restarted else ""))
    return EXIT_OK


def _reset_afresh(runtime: Runtime, args: argparse.Namespace, topology: dict[str, Any], blank: bool) -> int:
    """A seeded lab made blank, or a blank one seeded: the same lab started afresh with the other
    choice (the services' data is made for one or the other)."""
    made_for = state_rules.recorded(args.state_dir) or {}
    seed = made_for.get("seed") or topology.get("seed")
    spec = LabSpec(subnet=topology["subnet"], seed=Path(seed) if seed else None, blank=blank,
                   agents=len(topo.radius_agents(topology)), standard_ports=bool(topology.get("standard_ports")))
    say(f"resetting the lab to a {'blank' if blank else 'seeded'} one: stopping it, then starting afresh")
    runtime.down()
    bring_up(runtime, spec, enrol=True, progress=say)
    if runtime.name == "process":
        supervisor.spawn(args.state_dir)
    say("every service is back to its " + ("blank" if blank else "seed") + " state")
    return EXIT_OK
