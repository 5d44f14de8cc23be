"""One lab for the whole e2e run, brought up through the `lab` CLI exactly as a user would."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SUBNET = "127.0.77"


def run_lab(state_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parents[2])


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("lab")
    up = run_lab(state_dir, "up", "--subnet", SUBNET)
    try:
        assert up.returncode == 0, f"lab up failed:\n{up.stdout}\n{up.stderr}"
        status = json.loads(run_lab(state_dir, "status", "--json").stdout)
        yield LabHandle(state_dir, status)
    finally:
        down = run_lab(state_dir, "down")
        assert down.returncode == 0, down.stderr


class LabHandle:
    def __init__(self, state_dir: Path, status: dict):
        self.state_dir = state_dir
        self.status = status

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return run_lab(self.state_dir, *args, timeout=timeout)

    def url(self, service: str, kind: str = "api") -> str:
        return self.status["services"][service]["endpoints"][kind]
