"""The docker runtime's test helpers: a lab in containers on a network of the tests' own.

Without a Docker engine (or without the image) these tests are skipped, saying why, unless
LAB_DOCKER_TESTS=1: then Docker must work and they fail loudly when it does not (CI sets it after
starting dockerd and building the images).
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lab import docker_compose as dc
from lab import docker_engine as engine
from lab.docker_runtime import DockerRuntime
from lab.errors import LabError
from lab.runtime import LabSpec, bring_up

# The tests' labs live on networks of their own, never a developer's `lab up --runtime docker`
# (172.28.10.x): the first of these /24s that no Docker network uses (two test runs at once get two).
# LAB_DOCKER_TEST_SUBNETS="a.b.c d.e.f" chooses others.
TEST_SUBNETS = os.environ.get("LAB_DOCKER_TEST_SUBNETS", " ".join(f"172.28.{n}" for n in range(97, 79, -1))).split()
# Compose projects of the tests are named with this prefix: what a killed earlier run left behind
# (stopped containers, networks, volumes of a project with nothing running) is theirs to clear, and
# nothing else is.
TEST_PROJECT_PREFIX = "owlabtest-"


def docker_required() -> bool:
    return os.environ.get("LAB_DOCKER_TESTS", "").strip().lower() in ("1", "true", "yes")


def need_docker() -> str:
    """The image to test with; skips (or, with LAB_DOCKER_TESTS=1, fails) when Docker cannot run it."""
    image = os.environ.get("LAB_IMAGE") or dc.DEFAULT_IMAGE
    why = engine.docker_unavailable_reason()
    if why is None and not engine.image_exists(image):
        why = f"the image {image} is not built (make images; without a registry: make base-image images)"
    if why is None:
        why = engine.stale_image(image)
    if why is None:
        try:
            engine.compose_command()
        except LabError as exc:
            why = str(exc)
    if why is not None:
        if docker_required():
            pytest.fail(f"LAB_DOCKER_TESTS=1 but Docker cannot run the lab: {why}", pytrace=False)
        pytest.skip(f"cannot run the lab in containers: {why} (LAB_DOCKER_TESTS=1 makes this an error)")
    return image


def _docker_lines(*args: str) -> list[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    return proc.stdout.split()


def clear_leftovers_of_earlier_test_runs() -> None:
    """Test projects with no running container are what a killed run left: remove them."""
    label = "com.docker.compose.project"
    rows = _docker_lines("ps", "--all", "--format", f'{{{{.Label "{label}"}}}}/{{{{.State}}}}/{{{{.ID}}}}')
    projects: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        project, state, cid = row.split("/")
        if project.startswith(TEST_PROJECT_PREFIX):
            projects.setdefault(project, []).append((state, cid))
    live = {p for p, cs in projects.items() if any(state == "running" for state, _ in cs)}
    for project, cs in projects.items():
        if project not in live:
            _docker_lines("rm", "--force", "--volumes", *[cid for _, cid in cs])
    for net in _docker_lines("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"):
        if net.startswith(TEST_PROJECT_PREFIX) and net.rsplit("_", 1)[0] not in live:
            _docker_lines("network", "rm", net)
    for vol in _docker_lines("volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"):
        if vol.startswith(TEST_PROJECT_PREFIX) and not any(vol.startswith(p + "_") for p in live):
            _docker_lines("volume", "rm", vol)


def free_subnet() -> str:
    """The first of TEST_SUBNETS that no Docker network overlaps."""
    used = []
    ids = _docker_lines("network", "ls", "--quiet")
    if ids:
        inspected = subprocess.run(["docker", "network", "inspect", *ids], capture_output=True, text=True)
        for net in json.loads(inspected.stdout or "[]"):
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    used.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
                except ValueError:
                    pass
    for subnet in TEST_SUBNETS:
        wanted = ipaddress.ip_network(f"{subnet}.0/24")
        if not any(u.version == 4 and u.overlaps(wanted) for u in used):
            return subnet
    pytest.fail(f"every test subnet is taken by a Docker network: {' '.join(TEST_SUBNETS)}", pytrace=False)


class DockerLab:
    def __init__(self, state_dir: Path, image: str, subnet: str):
        self.state_dir, self.image, self.subnet = state_dir, image, subnet
        self.topology: dict[str, Any] = {}
        self.spec: dict[str, Any] = {}
        self.project = TEST_PROJECT_PREFIX + hashlib.sha256(str(state_dir).encode()).hexdigest()[:8]
        self.runtime = DockerRuntime(state_dir, image=image, project=self.project)

    def url(self, service: str, kind: str = "api") -> str:
        svc = self.topology["services"][service]
        return f"http://{svc['host']}:{svc['ports'][kind]}"

    def up(self, **spec: Any) -> list[str]:
        """(Re)start the lab (`spec`: LabSpec's fields, kept from the first start: a restart asks for
        the same lab); returns the progress lines (which users were enrolled)."""
        self.spec = {**self.spec, **spec}
        lines: list[str] = []
        self.topology = bring_up(self.runtime, LabSpec(subnet=self.subnet, **self.spec), enrol=True,
                                 progress=lines.append)
        return lines


def start_lab(state_dir: Path, **kwargs: Any) -> DockerLab:
    image = need_docker()
    clear_leftovers_of_earlier_test_runs()
    lab = DockerLab(state_dir, image, free_subnet())
    lab.up(**kwargs)
    return lab
