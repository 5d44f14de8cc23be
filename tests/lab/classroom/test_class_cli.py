"""`lab class` in the process runtime: one class of three trainees for the module, on this test's
own subnets (127.66.1-3; their blank labs' 127.67.x), brought up as a trainer does: two trainees,
then a third added by a second `class up`."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.classroom import roster as roster_mod
from lab.client import LabClient
from tests.lab.support import ok, run_lab

BASE = "127.66"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A host index of the tests' own, so no class of a developer's stands in the way."""
    path = tmp_path_factory.mktemp("class-index") / "classes.json"
    old = os.environ.get("LAB_CLASS_INDEX")
    os.environ["LAB_CLASS_INDEX"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LAB_CLASS_INDEX", None)
    else:
        os.environ["LAB_CLASS_INDEX"] = old


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory, index: Path) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("class")
    try:
        first = ok(run_lab(state, "class", "up", "--trainees", "2", "--subnet-base", BASE, timeout=400))
        second = ok(run_lab(state, "class", "up", "--trainees", "3", "--json", timeout=400))
        yield {"state": state, "first": first, "second": json.loads(second.stdout)}
    finally:
        ok(run_lab(state, "class", "down", "--volumes"))


def trainee_dir(klass: dict[str, Any], n: int) -> Path:
    return roster_mod.trainee_dir(klass["state"], n)


def client(klass: dict[str, Any], n: int) -> LabClient:
    return LabClient(json.loads((trainee_dir(klass, n) / "topology.json").read_text()))


def pids(klass: dict[str, Any], n: int) -> dict[str, int]:
    rows = json.loads((trainee_dir(klass, n) / "processes.json").read_text())
    return {r["name"]: r["pid"] for r in rows}


def signins(klass: dict[str, Any], n: int) -> list[dict[str, Any]]:
    c = client(klass, n)
    try:
        return [e for e in c.events("workspaces") if e["kind"] == "workspaces.signin"]
    finally:
        c.close()


def test_each_trainee_has_a_lab_of_its_own(klass: dict[str, Any]) -> None:
    assert "[trainee-01]" in klass["first"].stdout and "[trainee-02]" in klass["first"].stdout
    # the second `up` added trainee 3 and left the two running ones alone
    results = {o["number"]: o["result"] for o in klass["second"]["outcomes"]}
    assert results == {1: "already up", 2: "already up", 3: "started"}
    roster = roster_mod.load(klass["state"])
    assert roster is not None and roster.runtime == "process"
    assert [(t.number, t.subnet) for t in roster.trainees] == [(1, f"{BASE}.1"), (2, f"{BASE}.2"), (3, f"{BASE}.3")]
    assert len({t.state_dir for t in roster.trainees}) == 3
    creds = [json.loads((trainee_dir(klass, n) / "credentials.json").read_text()) for n in (1, 2, 3)]
    for key in ("admin_token", "okta_api_token", "radius_shared_secret", "aws_secret_access_key"):
        assert len({c[key] for c in creds}) == 3, key
    assert oct((trainee_dir(klass, 1) / "credentials.json").stat().st_mode & 0o777) == "0o600"
    # each lab's services serve on its own subnet only
    for n in (1, 2, 3):
        topo = json.loads((trainee_dir(klass, n) / "topology.json").read_text())
        assert {svc["host"].rsplit(".", 1)[0] for svc in topo["services"].values()} == {f"{BASE}.{n}"}


def test_class_status_json_names_every_trainee_and_its_pages(klass: dict[str, Any]) -> None:
    result = ok(run_lab(klass["state"], "class", "status", "--json"))
    status = json.loads(result.stdout)
    assert status["healthy"] is True and status["runtime"] == "process"
    rows = {r["number"]: r for r in status["trainees"]}
    for n in (1, 2, 3):
        assert rows[n]["running"] and rows[n]["healthy"] and rows[n]["unhealthy"] == {}
        assert rows[n]["pages"]["signin"] == f"https://{BASE}.{n}.30:10443/login"     # the org advertises HTTPS
        assert rows[n]["pages"]["console"].startswith(f"http://{BASE}.{n}.80:")
        assert rows[n]["memory"]["processes"] >= 12        # ten services, supervisor, firewall enforcer
    assert "okta_api_token" not in result.stdout and "admin_token" not in result.stdout
    text = ok(run_lab(klass["state"], "class", "status")).stdout
    assert f"trainee-02  {BASE}.2.x" in text


def test_the_class_has_one_dashboard_with_a_tile_per_trainee(klass: dict[str, Any]) -> None:
    """`class up` starts the trainer's dashboard beside the trainees (BASE.100.90:8080), not one per
    trainee; `lab class open` gives a one-time sign-in link, and its session sees every trainee."""
    status = json.loads(ok(run_lab(klass["state"], "class", "status", "--json")).stdout)
    assert status["dashboard"] == f"http://{BASE}.100.90:8080"
    for n in (1, 2, 3):
        assert not (trainee_dir(klass, n) / "dashboard" / "process.json").exists()
    link = ok(run_lab(klass["state"], "class", "open", "--no-browser")).stdout.strip()
    assert link.startswith(f"{status['dashboard']}/signin?ticket=")
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(link)
        assert page.status_code == 200, page.text
        for n in (1, 2, 3):
            assert f"trainee-0{n}" in page.text
    with httpx.Client(follow_redirects=True, timeout=30) as stranger:    # the link works once
        again = stranger.get(link)
        assert again.status_code == 200 and "trainee-01" not in again.text


def test_a_sign_in_on_one_trainee_is_seen_by_that_lab_only(klass: dict[str, Any]) -> None:
    before = {n: len(signins(klass, n)) for n in (1, 2, 3)}
    result = ok(run_lab(klass["state"], "--trainee", "2", "login", "alice", "--json"))
    assert json.loads(result.stdout)["success"] is True
    # --trainee after the command name works too
    ok(run_lab(klass["state"], "login", "bob", "--trainee", "2"))
    after = {n: len(signins(klass, n)) for n in (1, 2, 3)}
    assert after[2] == before[2] + 2
    assert after[1] == before[1] and after[3] == before[3]


def test_an_unknown_trainee_or_class_is_a_usage_error(klass: dict[str, Any], tmp_path: Path) -> None:
    result = run_lab(klass["state"], "--trainee", "9", "status")
    assert result.returncode == 2 and "has no trainee 9 (trainees: 1, 2, 3)" in result.stderr
    result = run_lab(tmp_path, "--trainee", "1", "status")
    assert result.returncode == 2 and "no class in" in result.stderr
    result = run_lab(klass["state"], "--trainee", "1", "up", "--subnet", "127.66.7")
    assert result.returncode == 2 and "trainee-01's lab is on 127.66.1" in result.stderr
    result = run_lab(klass["state"], "class", "up", "--trainees", "3", "--runtime", "docker")
    assert result.returncode == 2 and "runs in the process runtime" in result.stderr


def test_resetting_one_trainee_leaves_the_others_alone(klass: dict[str, Any]) -> None:
    others = {n: pids(klass, n) for n in (1, 2)}
    marks = {n: client(klass, n).event_marks() for n in (1, 2, 3)}
    # to its seed (`lab class reset --trainee N` is `lab --trainee N reset`): every service of
    # trainee 3 records the reset, no service of 1 or 2 does
    ok(run_lab(klass["state"], "class", "reset", "--trainee", "3", timeout=300))

    def resets(n: int) -> set[str]:
        c = client(klass, n)
        try:
            return {e["service"] for e in c.events(since=marks[n]) if e["kind"] == "admin.reset"}
        finally:
            c.close()

    assert resets(3) >= {"dc", "okta", "workspaces", "ad-connector"}
    # to a blank lab: trainee 3 starts afresh, blank
    ok(run_lab(klass["state"], "--trainee", "3", "reset", "--blank", timeout=300))
    status = json.loads(ok(run_lab(klass["state"], "class", "status", "--json")).stdout)
    rows = {r["number"]: r for r in status["trainees"]}
    assert rows[3]["blank"] is True and rows[3]["healthy"]
    for n in (1, 2):
        assert rows[n]["blank"] is False and rows[n]["healthy"]
        assert pids(klass, n) == others[n]                  # not restarted
        assert resets(n) == set()                           # not reset either
    ok(run_lab(klass["state"], "--trainee", "1", "login", "alice"))


def test_class_down_stops_every_trainee_and_keeps_the_roster(klass: dict[str, Any]) -> None:
    result = ok(run_lab(klass["state"], "class", "down"))
    assert "3 of 3 trainee labs were running" in result.stdout
    assert "class dashboard stopped" in result.stdout
    status = run_lab(klass["state"], "class", "status", "--json")
    assert status.returncode == 1
    assert [r["running"] for r in json.loads(status.stdout)["trainees"]] == [False, False, False]
    assert roster_mod.load(klass["state"]) is not None
