"""One interface for the two runtimes, and the one bring-up sequence every caller uses.

A runtime starts the topology's services somewhere: as local processes (lab/process_runtime.py,
the default) or as containers (lab/docker_runtime.py). `bring_up` is the sequence `lab up`, the
scenarios' blank lab and the tests share: the runtime prepares (refuses early when something is in
the way, writes the topology), starts the services and waits until each is healthy (the RADIUS
agents last, once the org accepts their token), and Okta Verify is enrolled if asked (while the
agents start); when anything fails, everything started is stopped again.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from . import provision
from . import topology as topo
from .errors import LabError

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress that says nothing (the tests' labs)."""


@dataclass
class LabSpec:
    """What lab to bring up; the runtime turns it into a topology (lab/topology.py)."""
    subnet: str | None = None         # first three octets; None: the runtime's default
    seed: Path | None = None          # a seed YAML file; None: lab/seeds/default.yaml
    blank: bool = False               # no AWS or Okta configuration (the walkthrough from its start)
    agents: int = 1                   # Okta RADIUS agents: 1, or 2 (a second on octet 22)
    standard_ports: bool = False      # the process runtime: 389/88/53/80 instead of +10000 (HTTP: 8080)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)   # per-service settings over the defaults


class Runtime(Protocol):
    name: str                 # as the topology records it: "process" or "docker"
    default_timeout: float    # seconds `up` waits for health unless told otherwise
    undone: str               # what `down` after a failed bring-up did, for its message
    state_dir: Path

    def prepare(self, spec: LabSpec, names: list[str] | None, progress: Progress) -> dict[str, Any]:
        """Refuse early (a port or network in use, no Docker), write the topology and the runtime's
        files, and return the topology; nothing is started yet."""
        ...

    def up(self, topology: dict[str, Any], names: list[str], *, timeout: float, progress: Progress) -> None:
        """Start `names` and return once each answers its /healthz; LabError says which did not."""
        ...

    def down(self, *, volumes: bool = False) -> list[str]:
        """Stop what this runtime started in the state directory; the services that were running."""
        ...

    def running(self) -> list[dict[str, Any]]:
        """The running services this runtime started here ([{"name", ...}]); [] when none."""
        ...

    def restart(self, service: str) -> None:
        """Stop one service and start it again with the topology.json as it is now, wait for health."""
        ...

    def logs(self, service: str, lines: int) -> list[str]:
        """The last `lines` lines of a service's log."""
        ...

    def status(self) -> dict[str, str | None]:
        """{service: its state as the runtime sees it} for the running services."""
        ...


def bring_up(runtime: Runtime, spec: LabSpec | None = None, *, names: list[str] | None = None,
             enrol: bool = False, timeout: float | None = None, progress: Progress = quiet,
             dashboard: bool | None = None) -> dict[str, Any]:
    """Bring the lab (or only `names`) up and return its topology once every service is healthy and,
    with `enrol` in a seeded lab, the seed users have Okta Verify. On failure everything started is
    stopped again and LabError says why.

    The state directory's data is resumed when it was made for the same choices, else discarded
    first (lab/state_rules.py). Every service but the RADIUS agents starts first: a revoked RADIUS
    agent token is renewed then (lab/agent_token.py), before the agents would wait on it in vain.
    The whole lab (no `names`) gets its dashboard (lab/dashboard/) unless `dashboard` is False."""
    from . import agent_token, state_rules  # here: both import this module

    spec = spec or LabSpec()
    dashboard = names is None if dashboard is None else dashboard
    state_rules.settle(runtime.state_dir, spec, runtime.name, progress)
    topology = runtime.prepare(spec, names, progress)
    names = names or list(topology["services"])
    # Only the RADIUS agents wait for the org's check of their API token: everything else starts
    # at once (each service waits for the peers it needs on its own: the AD agent retries the org).
    agents = set(topo.radius_agents(topology))
    first: list[str] = []
    if "okta" in names and agents & set(names):
        first = [n for n in names if n not in agents]
    rest = [n for n in names if n not in first]

    def step(message: str) -> None:
        progress(f"  {message}")

    wait = timeout or runtime.default_timeout
    from .firewall import lifecycle as firewall  # here: it imports the runtimes
    firewall.ensure(runtime.state_dir)   # before the services: their first packet meets the rules
    def enrol_seed() -> None:
        seed = yaml.safe_load(Path(topology["seed"]).read_text()) or {}
        provision.enrol_okta_verify(topology, seed, progress=step)

    enrolling = enrol and not spec.blank
    # Okta Verify is enrolled (the org and the phone, both up by then) while the agents start.
    early = enrolling and {"okta", "phone"} <= set(first)
    try:
        if first:
            runtime.up(topology, first, timeout=wait, progress=step)
            # An agent may be running already (compose starts AD Connector's dependencies with it):
            # a renewed token restarts the running ones.
            agent_token.ensure(runtime, topology, step)
        with ThreadPoolExecutor(max_workers=1) as pool:
            enrolment = pool.submit(enrol_seed) if early else None
            try:
                runtime.up(topology, rest, timeout=wait, progress=step)
            except BaseException:
                if enrolment is not None:
                    futures_wait([enrolment])   # its own failure, if any, says less than this one
                raise
            if enrolment is not None:
                enrolment.result()
        if enrolling and not early:
            enrol_seed()
    except (LabError, provision.ProvisionError, httpx.HTTPError) as exc:
        runtime.down()
        raise LabError(f"lab up failed, {runtime.undone}: {exc}") from None
    if dashboard:
        from .dashboard import lifecycle as dashboard_process  # here: it imports the runtimes
        step(dashboard_process.ensure_said(runtime.state_dir))
    return topology


@contextlib.contextmanager
def running_lab(runtime: Runtime, spec: LabSpec | None = None, *, names: list[str] | None = None,
                timeout: float | None = None, progress: Progress = quiet) -> Iterator[dict[str, Any]]:
    """`bring_up`, yield the topology, and stop the lab again whatever happened. A lab for one run
    (the tests', a scenario run's blank lab) gets no dashboard."""
    topology = bring_up(runtime, spec, names=names, timeout=timeout, progress=progress, dashboard=False)
    try:
        yield topology
    finally:
        runtime.down()


# -- which runtime ---------------------------------------------------------------------------

def runtimes(state_dir: Path) -> list[Runtime]:
    """Both runtimes for a state directory, the process runtime first."""
    from .docker_runtime import DockerRuntime  # here: each runtime module imports this one
    from .process_runtime import ProcessRuntime

    return [ProcessRuntime(state_dir), DockerRuntime(state_dir)]


def runtime_named(name: str, state_dir: Path) -> Runtime:
    """The runtime a topology names (`topology["runtime"]`)."""
    for runtime in runtimes(state_dir):
        if runtime.name == name:
            return runtime
    raise LabError(f"the topology names an unknown runtime {name!r}")


def running_runtime(state_dir: Path) -> Runtime | None:
    """The runtime whose services are running in this state directory, if any (at most one:
    `lab up` refuses while either runs)."""
    return next((runtime for runtime in runtimes(state_dir) if runtime.running()), None)
