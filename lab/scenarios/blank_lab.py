"""A blank lab for the scenarios that start from nothing (the walkthrough): brought up beside the
running lab, on its own loopback subnet and state directory, and stopped afterwards.

Its subnet is derived from the seeded lab's, so two runs on one machine (each on its own subnet)
do not collide: 127.B.C gives 127.(B+1).C (127.254.C and 127.255.C give 127.(B-1).C); a lab
outside 127/8 (the docker runtime's network) gives 127.1.C. The default lab, 127.0.10, has its
blank lab on 127.1.10.

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

FAST: dict[str, dict[str, Any]] = {
    "ad-agent": {"poll_wait_seconds": 2},
    "radius-agent": {"app_refresh_seconds": 1},
    "ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
    "workspaces": {"stage_delay_seconds": 0.3},
}
TIMEOUT = 90.0


def blank_subnet(seeded_subnet: str) -> str:
    """The blank lab's loopback subnet for a seeded lab on `seeded_subnet` (the module's rule)."""
    octets = seeded_subnet.split(".")
    if len(octets) != 3 or not all(o.isdigit() for o in octets):
        raise ValueError(f"not a subnet (three octets): {seeded_subnet!r}")
    if octets[0] != "127":
        return f"127.1.{octets[2]}"
    second = int(octets[1])
    return f"127.{second + 1 if second < 254 else second - 1}.{octets[2]}"


@contextlib.contextmanager
def blank_lab(base_state_dir: Path, subnet: str, progress: Progress = quiet) -> Iterator[dict[str, Any]]:
    """A blank lab in `<base_state_dir>/blank-lab` on `subnet` (see blank_subnet), stopped at exit."""
    state = base_state_dir / "blank-lab"
    shutil.rmtree(state, ignore_errors=True)
    progress(f"bringing up a blank lab on {subnet}.x for the scenarios that start from nothing")
    spec = LabSpec(subnet=subnet, blank=True, settings=FAST)
    with running_lab(ProcessRuntime(state), spec, timeout=TIMEOUT) as topology:
        yield topology
