"""`lab scenarios run` and `lab demo` as a user runs them: a scenario file by path, `--subnet` (two
runs side by side, each with its blank lab on a subnet derived from its own), unknown names, and
the demo's narration (no agent chatter, each line once, colour only on a terminal).

Labs on 127.0.115 and 127.0.116 (blank labs on 127.1.115 and 127.1.116)."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from lab.client import LabClient
from lab.demo import run_demo
from lab.scenarios import model
from lab.scenarios.blank_lab import blank_subnet
from tests.lab.support import ROOT, lab_up, ok, run_lab, topology

SEEDED = """\
name: by-path-code-accepted
title: alice signs in with her code (a scenario file of the user's own)
steps:
  - login: {user: alice, mfa: code}
    expect: {result: success}
expect:
  events:
    - {service: radius-agent, kind: radius.request, outcome: accept, count: 1}
"""
BLANK = """\
name: by-path-blank
title: a blank lab has no directory until the admin connects one
requires: {blank: true}
steps:
  - aws: {service: ds, operation: describe_directories, expect: {DirectoryDescriptions: []}}
"""


def test_the_blank_lab_subnet_is_derived_from_the_seeded_one():
    assert blank_subnet("127.0.10") == "127.1.10"
    assert blank_subnet("127.0.115") == "127.1.115"
    assert blank_subnet("127.254.3") == "127.253.3"
    assert blank_subnet("127.255.3") == "127.254.3"
    assert blank_subnet("172.28.10") == "127.1.10"       # the docker network's lab: its blank lab on loopback
    with pytest.raises(ValueError):
        blank_subnet("127.0.1.5")


def test_unknown_names_and_bad_subnets_are_usage_errors(tmp_path):
    unknown = run_lab(tmp_path, "scenarios", "run", "no-such-scenario")
    assert unknown.returncode == 2
    assert "no scenario named no-such-scenario; known scenarios:" in unknown.stderr
    assert all(s.name in unknown.stderr for s in model.catalog())
    missing = run_lab(tmp_path, "scenarios", "run", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "no scenario file" in missing.stderr
    subnet = run_lab(tmp_path, "scenarios", "run", "code-accepted", "--subnet", "10.0.0.1")
    assert subnet.returncode == 2 and "not a subnet" in subnet.stderr
    demo = run_lab(tmp_path, "demo", "no-such-scenario", "--no-pause")
    assert demo.returncode == 2 and "known scenarios:" in demo.stderr


def test_two_runs_side_by_side_each_on_its_own_subnets(tmp_path):
    files = tmp_path / "mine"
    files.mkdir()
    (files / "seeded.yaml").write_text(SEEDED)
    (files / "blank.yaml").write_text(BLANK)
    runs = {}
    for subnet in ("127.0.115", "127.0.116"):
        state = tmp_path / subnet
        runs[subnet] = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "--state-dir", str(state), "scenarios", "run", "--subnet", subnet,
             str(files / "seeded.yaml"), str(files / "blank.yaml"), "code-wrong", "--junit", str(state / "junit.xml")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for subnet, proc in runs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
        assert f"bringing one up on {subnet}.x" in out
        assert f"blank lab on {blank_subnet(subnet)}.x" in out
        assert "3 passed, 0 failed" in out
        cases = [c.get("name") for c in ET.parse(tmp_path / subnet / "junit.xml").getroot().iter("testcase")]
        assert cases == ["code-wrong", "by-path-code-accepted", "by-path-blank"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_up(tmp_path_factory.mktemp("scenario-runs"), "--subnet", "127.0.115") as state:
        yield state


def test_a_failing_scenario_file_is_told_step_by_step_in_output_and_junit(lab, tmp_path):
    path = tmp_path / "failing.yaml"
    path.write_text("name: failing\ntitle: bob's wrong code wrongly expected to work\nsteps:\n"
                    "  - say: bob mistypes\n  - login: {user: bob, mfa: wrong}\n    expect: {result: success}\n"
                    "  - login: {user: alice, mfa: code}\n")
    result = run_lab(lab, "scenarios", "run", str(path), "--junit", str(tmp_path / "junit.xml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ok   1. bob mistypes" in result.stdout
    assert "FAIL 2. bob opens the WorkSpaces client" in result.stdout
    assert "--   3. alice opens the WorkSpaces client" in result.stdout
    failure = ET.parse(tmp_path / "junit.xml").getroot().find("testcase/failure")
    assert failure is not None and "result failure (expected success)" in (failure.text or "")
    assert "FAIL 2." in (failure.text or "")


def test_a_subnet_other_than_the_running_labs_is_refused(lab):
    result = run_lab(lab, "scenarios", "run", "code-accepted", "--subnet", "127.0.116")
    assert result.returncode == 2
    assert "is on 127.0.115.x, not --subnet 127.0.116" in result.stderr


def test_demo_tells_each_line_once_without_the_agents_chatter(lab):
    client = LabClient(topology(lab))
    lines: list[str] = []
    scenario = next(s for s in model.catalog() if s.name == "push-approved")
    outcome = run_demo(client, lab, scenario, lines.append, interactive=False, colour=False)
    assert outcome.passed, outcome.failures
    said = "\n".join(lines)
    assert said.count(scenario.title) == 1
    told = next(step["say"] for step in scenario.steps if "say" in step)
    assert said.count(told) == 1
    assert "agent.poll" not in said and "agent.register" not in said
    assert "okta.push.answer -> SUCCESS" in said
    assert "\x1b[" not in said


def test_demo_in_colour_on_a_terminal_and_plain_otherwise(lab):
    client = LabClient(topology(lab))
    lines: list[str] = []
    scenario = next(s for s in model.catalog() if s.name == "code-accepted")
    run_demo(client, lab, scenario, lines.append, interactive=False, colour=True)
    said = "\n".join(lines)
    assert f"\x1b[1m== {scenario.title}\x1b[0m" in said
    assert "\x1b[32mThe scenario went as expected.\x1b[0m" in said
    # The command itself: its output is a pipe here, so plain; NO_COLOR keeps it plain on a terminal too.
    piped = ok(run_lab(lab, "demo", "code-accepted", "--no-pause"))
    assert "\x1b[" not in piped.stdout and piped.stdout.count(scenario.title) == 1


def test_demo_on_a_pseudo_terminal_is_coloured_unless_no_color(lab):
    import os
    import pty

    def on_a_terminal(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "--state-dir", str(lab), "demo", "code-accepted",
                                 "--no-pause"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=follower,
                                stderr=follower, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:          # the pty's other side closed: the command ended
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=120)
        os.close(leader)
        assert proc.returncode == 0
        return b"".join(chunks).decode(errors="replace")

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[32mThe scenario went as expected." in on_a_terminal(env)
    assert "\x1b[" not in on_a_terminal(env | {"NO_COLOR": "1"})

