"""A blank lab for the scenarios that start from nothing (the walkthrough): brought up beside the
running lab, on its own loopback subnet and state directory, and stopped afterwards.

Its timers are shortened so AWS's asynchronous stages and the agents' polls do not dominate the
run; the behaviour is otherwise the default lab's.
"""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import process_runtime as pr
from .. import topology as topo

SUBNET = "127.0.76"
FAST = {
    "ad-agent": {"poll_wait_seconds": 2},
    "radius-agent": {"app_refresh_seconds": 1},
    "ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
    "workspaces": {"stage_delay_seconds": 0.3},
}


@contextlib.contextmanager
def blank_lab(base_state_dir: Path, progress=lambda _: None) -> Iterator[dict[str, Any]]:
    state = base_state_dir / "blank-lab"
    shutil.rmtree(state, ignore_errors=True)
    topology = topo.build(state, subnet=SUBNET, blank=True, credentials=topo.load_or_create_credentials(state))
    for service, settings in FAST.items():
        if service in topology["services"]:
            topology["services"][service]["settings"].update(settings)
    path = pr.write_topology(state, topology)
    pr.check_ports_free(topology, list(topology["services"]))
    progress(f"bringing up a blank lab on {SUBNET}.x for the scenarios that start from nothing")
    try:
        started = pr.start(path, topology, list(topology["services"]))
        pr.wait_healthy(topology, started, timeout=90)
        yield topology
    finally:
        pr.stop(state)
