"""The docker runtime's tests: a lab in containers, brought up once for the module that asks
(tests/docker/support.py says when these tests are skipped and when they fail)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.docker_runtime import DockerRuntime

from .support import DockerLab, start_lab


@pytest.fixture(scope="module")
def docker_lab(tmp_path_factory) -> Iterator[DockerLab]:
    state_dir = tmp_path_factory.mktemp("docker-lab")
    try:
        yield start_lab(state_dir, agents=2)     # as the ci-docker scenarios run it: one lab, not two
    finally:
        DockerRuntime(state_dir).down(volumes=True)
