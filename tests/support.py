"""Starting real service processes for tests, on a loopback subnet of the test's own.

Each test module picks its own subnet (127.0.<n>.x) so modules never collide with each other or
with a lab a developer is running on the default 127.0.10.x.
"""
from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from lab import process_runtime as pr
from lab import topology as topo


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
    seed_path = topo.SEED_DEFAULT
    if seed is not None:
        seed_path = state_dir / "seed.yaml"
        seed_path.write_text(yaml.safe_dump(seed))
    topology = topo.build(state_dir, subnet=subnet, seed=seed_path, blank=blank, agents=agents,
                          credentials=topo.load_or_create_credentials(state_dir))
    for name, extra in (settings or {}).items():
        topology["services"][name]["settings"].update(extra)
    path = pr.write_topology(state_dir, topology)
    pr.check_ports_free(topology, names)
    try:
        started = pr.start(path, topology, names)
        pr.wait_healthy(topology, started, timeout=timeout)
        yield topology
    finally:
        pr.stop(state_dir)


def default_seed() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(topo.SEED_DEFAULT.read_text()))


def url(topology: dict[str, Any], service: str, kind: str = "api") -> str:
    svc = topology["services"][service]
    return f"http://{svc['host']}:{svc['ports'][kind]}"


def wait_until(read: Callable[[], Any], done: Callable[[Any], bool] = bool, timeout: float = 15.0,
               interval: float = 0.1) -> Any:
    """Poll like Terraform's waiters: return the first value `done` accepts, or fail at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        time.sleep(interval)
