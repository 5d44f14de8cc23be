"""`lab class` in containers: two trainees, each its own compose project and bridge network
(172.29.1 and 172.29.2, or LAB_CLASS_TEST_DOCKER_BASE), a sign-in on each, `down --volumes`.

Run only with LAB_DOCKER_TESTS=1 (as CI's docker job sets it): then Docker must work and the test
fails loudly when it does not (tests/docker/support.py)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.classroom import roster as roster_mod
from lab.classroom import usage
from lab.docker_runtime import load_conf
from tests.docker.support import docker_required, need_docker
from tests.lab.support import ok, run_lab

pytestmark = pytest.mark.skipif(not docker_required(), reason="containers: LAB_DOCKER_TESTS=1 runs them")
BASE = os.environ.get("LAB_CLASS_TEST_DOCKER_BASE", "172.29")


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need_docker()
    state = tmp_path_factory.mktemp("docker-class")
    old = os.environ.get("LAB_CLASS_INDEX")
    os.environ["LAB_CLASS_INDEX"] = str(state / "classes.json")
    try:
        up = ok(run_lab(state, "class", "up", "--trainees", "2", "--runtime", "docker", "--subnet-base", BASE,
                        "--json", timeout=900))
        yield {"state": state, "up": json.loads(up.stdout)}
    finally:
        ok(run_lab(state, "class", "down", "--volumes", timeout=600))
        if old is None:
            os.environ.pop("LAB_CLASS_INDEX", None)
        else:
            os.environ["LAB_CLASS_INDEX"] = old


def test_two_trainees_in_containers_sign_in_each_on_their_own_lab(klass: dict[str, Any]) -> None:
    state: Path = klass["state"]
    assert [o["result"] for o in klass["up"]["outcomes"]] == ["started", "started"]
    confs = [load_conf(roster_mod.trainee_dir(state, n)) for n in (1, 2)]
    assert [c["subnet"] for c in confs if c] == [f"{BASE}.1", f"{BASE}.2"]
    assert len({c["project"] for c in confs if c}) == 2
    status = json.loads(ok(run_lab(state, "class", "status", "--json")).stdout)
    assert status["runtime"] == "docker" and status["healthy"] is True
    # what a lab costs counts its containers' processes (make class-capacity CLASS_RUNTIME=docker)
    cost = usage.memory(roster_mod.trainee_dir(state, 1))
    assert cost["processes"] >= len(confs[0]["services"]) and cost["pss_mib"] > 0, cost
    for n in (1, 2):
        row = status["trainees"][n - 1]
        assert row["pages"]["signin"] == f"https://{BASE}.{n}.30:443/login"     # the org advertises HTTPS
        result = json.loads(ok(run_lab(state, "--trainee", str(n), "login", "alice", "--json")).stdout)
        assert result["success"] is True


def test_class_down_volumes_removes_every_trainee_lab(klass: dict[str, Any]) -> None:
    state: Path = klass["state"]
    ok(run_lab(state, "class", "down", "--volumes", timeout=600))
    status = json.loads(run_lab(state, "class", "status", "--json").stdout)
    assert [r["running"] for r in status["trainees"]] == [False, False]
