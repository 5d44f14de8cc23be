"""A class's labs brought up, stopped and looked at, a few at a time.

Every trainee's lab is an ordinary lab in its own state directory (roster.trainee_dir), brought up
with the same `bring_up` as `lab up` (lab/runtime.py) on the subnet lab/classroom/subnets.py gave
it, with its own credentials (made per state directory), seed and users. The labs start a few at a
time (`parallel`): on a 2-core host each start is bound by the CPU (a dozen Python interpreters
importing), so more at once only queues them (docs/class.md has the measurements).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .. import provision, state_rules, supervisor
from .. import topology as topo
from ..errors import LabError
from ..runtime import LabSpec, bring_up, running_runtime, runtime_named, runtimes
from ..state import admin_url, load_topology
from . import roster as roster_mod
from . import usage
from .roster import Roster, Trainee

Say = Callable[[str], None]
DEFAULT_PARALLEL = 2
# The pages a trainee opens, by service: (service, page) as topology.endpoints names them.
PAGES = (("okta", "signin"), ("okta", "admin_console"), ("aws-console", "console"), ("workspaces", "web_access"),
         ("mail", "mailbox"), ("phone", "phones"))


@dataclass
class Outcome:
    trainee: Trainee
    result: str                  # started | already up | failed
    seconds: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.trainee.number, "name": self.trainee.name, "subnet": self.trainee.subnet,
                "state_dir": str(self.trainee.state_dir), "result": self.result, "seconds": round(self.seconds, 1),
                "error": self.error}


def unhealthy(topology: dict[str, Any]) -> dict[str, str]:
    """{service: why} of the services whose /healthz does not answer 200."""
    out = {}
    with httpx.Client(timeout=3) as http:
        for name in topology["services"]:
            try:
                resp = http.get(f"{admin_url(topology, name)}/healthz")
                if resp.status_code != 200:
                    out[name] = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                out[name] = f"no answer ({exc.__class__.__name__})"
    return out


def start_trainee(trainee: Trainee, runtime_name: str, spec: LabSpec, *, timeout: float | None,
                  say: Say) -> Outcome:
    """Bring one trainee's lab up, as `lab up` does (bring_up, then its supervisor); a lab that
    already runs healthy is left alone. A lab partly running is left for `resume` (Outcome
    "partly up"): `lab up`'s resume path completes it."""
    started = time.monotonic()

    def progress(message: str) -> None:
        say(f"[{trainee.name}] {message.strip()}")

    try:
        running = running_runtime(trainee.state_dir)
        if running is not None:
            topology = load_topology(trainee.state_dir)
            bad = unhealthy(topology) if topology else {"topology": "topology.json is gone"}
            if not bad:
                progress(f"already up on {trainee.subnet}.x")
                return Outcome(trainee, "already up")
            return Outcome(trainee, "partly up", error="; ".join(f"{n} ({why})" for n, why in bad.items()))
        runtime = runtime_named(runtime_name, trainee.state_dir)
        # No dashboard of its own: the class dashboard shows every trainee's picture (and saves memory).
        bring_up(runtime, spec, enrol=True, timeout=timeout, progress=progress, dashboard=False)
        if runtime.name == "process":
            supervisor.spawn(trainee.state_dir)
    except (LabError, provision.ProvisionError, httpx.HTTPError, OSError) as exc:
        progress(f"FAILED: {exc}")
        return Outcome(trainee, "failed", time.monotonic() - started, error=str(exc))
    seconds = time.monotonic() - started
    progress(f"up on {trainee.subnet}.x in {seconds:.1f} s")
    return Outcome(trainee, "started", seconds)


def start_all(roster: Roster, trainees: list[Trainee], spec_for: Callable[[Trainee], LabSpec], *,
              parallel: int, timeout: float | None, say: Say) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="trainee") as pool:
        futures = [pool.submit(start_trainee, t, roster.runtime, spec_for(t), timeout=timeout, say=say)
                   for t in trainees]
        return [f.result() for f in futures]


def stop_trainee(trainee: Trainee, *, volumes: bool) -> list[str]:
    """`lab down [--volumes]` for one trainee's lab: the services that were running."""
    stopped = [name for runtime in runtimes(trainee.state_dir) for name in runtime.down(volumes=volumes)]
    if volumes:
        state_rules.delete_state(trainee.state_dir)
    return stopped


def stop_all(trainees: list[Trainee], *, volumes: bool, parallel: int, say: Say) -> dict[int, list[str]]:
    def one(t: Trainee) -> tuple[int, list[str]]:
        stopped = stop_trainee(t, volumes=volumes)
        say(f"[{t.name}] " + (f"stopped {len(stopped)} services" if stopped else "was not running")
            + (" and removed its state" if volumes else ""))
        return t.number, stopped

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="trainee") as pool:
        return dict(pool.map(one, trainees))


def trainee_status(trainee: Trainee) -> dict[str, Any]:
    """One trainee's row of `lab class status`: subnet, running, health, the pages' addresses."""
    row: dict[str, Any] = {"number": trainee.number, "name": trainee.name, "subnet": trainee.subnet,
                           "state_dir": str(trainee.state_dir), "running": False, "healthy": False,
                           "unhealthy": {}, "blank": None, "pages": {}}
    topology = load_topology(trainee.state_dir)
    runtime = running_runtime(trainee.state_dir)
    if topology is None or runtime is None:
        return row
    alive = set(runtime.status())
    bad = unhealthy(topology)
    bad.update({n: "not running" for n in topology["services"] if n not in alive})
    row.update(running=True, healthy=not bad, unhealthy=bad, blank=bool(topology.get("blank")),
               runtime=runtime.name)
    for service, page in PAGES:
        if service in topology["services"]:
            url = topo.endpoints(topology["services"][service]).get(page)
            if url:
                row["pages"][page] = url
    if runtime.name == "process":
        row["memory"] = usage.memory(trainee.state_dir)
    return row


def status_all(trainees: list[Trainee], parallel: int = 4) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="trainee") as pool:
        return list(pool.map(trainee_status, trainees))


def new_trainees(state_dir: Path, subnets: dict[int, str]) -> list[Trainee]:
    return [Trainee(number=n, state_dir=roster_mod.trainee_dir(state_dir, n), subnet=s)
            for n, s in sorted(subnets.items())]
