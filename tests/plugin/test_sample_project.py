"""The pytest plugin as another team meets it: the lab's wheel built here (`pip wheel --no-deps`,
no index), installed into a fresh venv with no index (its dependencies are this venv's, through a
.pth file), and the sample project's suite run there: its fixture-based tests and a scenario item
pass, a deliberately failing scenario item fails with its steps told and lands in --junitxml.

Labs on 127.0.117-118 (their blank labs would be on 127.1.117-118)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.scenarios import model

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "sample_project"
SUBNETS = ["--lab-subnet", "127.0.117", "--lab-subnet", "127.0.118"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "build")


def run(cmd: list[str | Path], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the lab installed from a wheel built here, all without an index."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "source"          # a copy: the build's scratch folders stay out of the repository
    source.mkdir()
    for part in ("lab", "services"):
        shutil.copytree(REPO / part, source / part, ignore=IGNORE)
    shutil.copy(REPO / "pyproject.toml", source)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--disable-pip-version-check", "-w", root / "wheels", "."], cwd=source)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "wheels").glob("okta_workspaces_lab-*.whl"))
    venv = root / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip()
    # The dependencies: this venv's packages, appended to the new venv's path (its own come first).
    (Path(site) / "lab-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run([python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", wheel], cwd=root)
    assert installed.returncode == 0, installed.stderr
    where = run([python, "-c", "import lab; print(lab.__file__)"], cwd=root).stdout.strip()
    assert where.startswith(site), f"lab imported from {where}, not from the wheel installed in {site}"
    return venv


@pytest.fixture()
def project(tmp_path) -> Path:
    """A copy of the sample project (pytest writes its cache there)."""
    shutil.copytree(SAMPLE, tmp_path / "project", ignore=IGNORE)
    return tmp_path / "project"


def test_the_wheel_carries_the_whole_catalog(venv, tmp_path):
    listed = run([venv / "bin" / "lab", "scenarios", "list", "--json"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == [s.name for s in model.catalog()]
    assert all(r["file"].startswith(str(venv)) for r in rows)


def test_an_unknown_scenario_exits_2_with_the_known_ones(venv, tmp_path):
    result = run([venv / "bin" / "lab", "--state-dir", tmp_path, "scenarios", "run", "no-such-scenario"],
                 cwd=tmp_path)
    assert result.returncode == 2
    assert "no scenario named no-such-scenario" in result.stderr
    assert "push-approved" in result.stderr and "code-accepted" in result.stderr


def test_scenario_files_are_collected_from_the_named_folder_only(venv, project):
    result = run([venv / "bin" / "python", "-m", "pytest", "--collect-only", "-q"], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert "scenarios/sample-code-accepted.yaml::sample-code-accepted" in collected
    assert "scenarios/sample-deliberately-failing.yaml::sample-deliberately-failing" in collected
    assert len([c for c in collected if c.startswith("test_provisioning.py::")]) == 3
    assert not any("deploy.yaml" in c for c in collected)       # unrelated YAML is left alone
    for keyword in ("code-accepted", "everyday"):       # a scenario's name, or one of its tags
        chosen = run([venv / "bin" / "python", "-m", "pytest", "--collect-only", "-q", "-k", keyword], cwd=project)
        assert [line for line in chosen.stdout.splitlines() if "::" in line] == [
            "scenarios/sample-code-accepted.yaml::sample-code-accepted"]


def test_a_broken_scenario_file_is_a_collection_error_naming_file_and_line(venv, project):
    (project / "scenarios" / "broken.yaml").write_text("name: broken\ntitle: t\nsteps:\n  - dance: {}\n")
    result = run([venv / "bin" / "python", "-m", "pytest", "--collect-only", "-q"], cwd=project)
    assert result.returncode != 0
    assert "broken.yaml:4" in result.stdout and "exactly one action" in result.stdout


def test_the_sample_suite_passes_and_the_failing_scenario_reads_well(venv, project):
    junit = project / "junit.xml"
    result = run([venv / "bin" / "python", "-m", "pytest", *SUBNETS,
                  f"--junitxml={junit}"], cwd=project)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 failed, 4 passed" in out
    assert "FAILED scenarios/sample-deliberately-failing.yaml::sample-deliberately-failing" in out
    # The failure text is the scenario told step by step, then what went wrong and the events.
    assert "ok   1. bob types a code that is not his" in out
    assert "FAIL 2. bob opens the WorkSpaces client" in out
    assert "--   3. alice opens the WorkSpaces client" in out
    assert "result failure (expected success)" in out
    assert "radius.request -> reject" in out

    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"sample-code-accepted", "sample-deliberately-failing",
                          "test_the_directory_is_registered_and_alice_signs_in",
                          "test_the_okta_sdk_sees_the_seeded_users", "test_a_denied_push_is_refused"}
    failure = cases["sample-deliberately-failing"].find("failure")
    assert failure is not None and "FAIL 2." in (failure.text or "")
    assert all(case.find("failure") is None and case.find("error") is None
               for name, case in cases.items() if name != "sample-deliberately-failing")

    # --lf: the next run would take only the failed scenario.
    again = run([venv / "bin" / "python", "-m", "pytest", "--lf", "--collect-only", "-q"], cwd=project)
    assert [line for line in again.stdout.splitlines() if "::" in line] == [
        "scenarios/sample-deliberately-failing.yaml::sample-deliberately-failing"]


def test_x_stops_at_the_failing_scenario(venv, project):
    result = run([venv / "bin" / "python", "-m", "pytest", "-x", *SUBNETS], cwd=project)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 failed, 1 passed" in out           # the scenarios come first; the tests after it never ran
