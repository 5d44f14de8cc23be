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

from ..process_runtime import ProcessRuntime
from ..runtime import LabSpec, Progress, quiet, running_lab

SUBNET = "127.0.76"
FAST: dict[str, dict[str, Any]] = {
    "ad-agent": {"poll_wait_seconds": 2},
    "radius-agent": {"app_refresh_seconds": 1},
    "ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
    "workspaces": {"stage_delay_seconds": 0.3},
}
TIMEOUT = 90.0


@contextlib.contextmanager
def blank_lab(base_state_dir: Path, progress: Progress = quiet) -> Iterator[dict[str, Any]]:
    state = base_state_dir / "blank-lab"
    shutil.rmtree(state, ignore_errors=True)
    progress(f"bringing up a blank lab on {SUBNET}.x for the scenarios that start from nothing")
    spec = LabSpec(subnet=SUBNET, blank=True, settings=FAST)
    with running_lab(ProcessRuntime(state), spec, timeout=TIMEOUT) as topology:
        yield topology
