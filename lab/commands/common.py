"""What every subcommand shares: exit codes, printing, and the running lab."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from ..client import LabClient
from ..errors import LabError
from ..runtime import running_runtime
from ..state import load_topology

EXIT_OK, EXIT_FAILED, EXIT_LAB = 0, 1, 2
EXIT_USAGE = 2     # a name or value the lab does not know (as argparse's own usage errors)


def say(msg: str = "") -> None:
    print(msg, flush=True)


def err(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def running_topology(args: argparse.Namespace) -> dict[str, Any]:
    """The topology of the lab running in `--state-dir`; LabError when none runs."""
    topology = load_topology(args.state_dir)
    if topology is None or running_runtime(args.state_dir) is None:
        raise LabError(f"the lab is not running (state directory {args.state_dir}); start it with `lab up`")
    return topology


def lab_client(args: argparse.Namespace) -> LabClient:
    return LabClient(running_topology(args))


def seed_of(topology: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(Path(topology["seed"]).read_text()) or {}
