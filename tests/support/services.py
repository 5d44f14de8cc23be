"""Starting real service processes for tests, on a loopback subnet of the test's own.

Each test module picks its own subnet (127.0.<n>.x) so modules never collide with each other or
with a lab a developer is running on the default 127.0.10.x. The lab is brought up exactly as
`lab up` brings it up (lab/runtime.py's `bring_up`), only with the services a test needs.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lab import topology as topo
from lab.process_runtime import ProcessRuntime
from lab.runtime import LabSpec, running_lab


@contextlib.contextmanager
def running_services(
    names: list[str],
    state_dir: Path,
    subnet: str,
    *,
    seed: dict[str, Any] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    blank: bool = False,
    agents: int = 1,
    timeout: float = 60.0,
) -> Iterator[dict[str, Any]]:
    """Start `names` as processes; yield the topology; stop them all, whatever happened.
    `agents=2` adds "radius-agent-2" (the same program on octet 22, its own duplicate cache)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    seed_path = None
    if seed is not None:
        seed_path = state_dir / "seed.yaml"
        seed_path.write_text(yaml.safe_dump(seed))
    spec = LabSpec(subnet=subnet, seed=seed_path, blank=blank, agents=agents, settings=settings or {})
    with running_lab(ProcessRuntime(state_dir), spec, names=names, timeout=timeout) as topology:
        yield topology


def default_seed() -> dict[str, Any]:
    """A copy of the default seed, for a test to change."""
    return copy.deepcopy(yaml.safe_load(topo.SEED_DEFAULT.read_text()))


def url(topology: dict[str, Any], service: str, kind: str = "api") -> str:
    svc = topology["services"][service]
    return f"http://{svc['host']}:{svc['ports'][kind]}"
