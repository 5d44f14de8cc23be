"""The lab inside another project's pytest suite (installed with the package: entry point `pytest11`).

Fixtures (nothing is autouse: a suite that asks for none starts no lab):
- `lab_session` (session): a seeded lab with two RADIUS agents on a free loopback subnet, in a
  temporary state directory, started at first use and stopped at the end of the session;
- `lab` (function): the same lab, reset to its seed state before the test (`lab reset`).
Both give a `Lab`: the CLI's verbs (login, phone, events, mail, import, activate, ad, reset), ready
boto3 clients (`lab.ds`, `lab.workspaces`) and the okta SDK's config (`lab.okta_config`).

Scenarios as pytest items: the YAML files under the folders named by the ini option
`lab_scenarios` (or `--lab-scenarios DIR`) are scenario files, one item each, named after the
scenario. Nothing else is collected: YAML elsewhere is left alone, and a file in those folders
that is not a valid scenario is a collection error naming its file and line. docs/ci.md shows both.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from . import supervisor
from . import topology as topo
from .client import LabClient
from .client_env import okta_sdk_config, org_https_url
from .commands.common import EXIT_OK
from .commands.lifecycle import cmd_reset
from .errors import LabError
from .process_runtime import ProcessRuntime, check_ports_free
from .provision import enrol_okta_verify
from .runtime import LabSpec, running_lab
from .scenarios import model
from .scenarios.blank_lab import blank_lab, blank_subnet
from .scenarios.outcome import Outcome
from .scenarios.runner import Runner
from .scenarios.story import story

log = logging.getLogger("lab.pytest")
# Where a session looks for a free subnet unless told (`--lab-subnet`, ini `lab_subnets`): away from
# the default lab (127.0.10) and the lab's own tests (127.0.2x-12x).
DEFAULT_CANDIDATES = [f"127.0.{third}" for third in range(200, 255)]
LOCKS = Path(tempfile.gettempdir())


class Lab(LabClient):
    """A running lab as a test drives it: LabClient's calls plus what the CLI adds."""

    def __init__(self, topology: dict[str, Any]) -> None:
        super().__init__(topology)
        self.state_dir = Path(topology["state_dir"])
        self.subnet: str = topology["subnet"]
        self.fresh = True          # not used since it was started or reset

    @cached_property
    def ds(self) -> Any:
        """boto3's Directory Service client (AD Connector), signed with the lab's keys."""
        return self.aws("ds")

    @cached_property
    def workspaces(self) -> Any:
        """boto3's WorkSpaces client, signed with the lab's keys."""
        return self.aws("workspaces")

    @property
    def okta_config(self) -> dict[str, Any]:
        """The okta SDK's config: `okta.client.Client(lab.okta_config)`, the org over HTTPS with
        the lab CA trusted (lab/client_env.py's okta_sdk_config)."""
        return okta_sdk_config(self.topology)

    def phone(self, user: str) -> str:
        """`lab phone code USER`: the code the user's Okta Verify shows now."""
        return self.phone_code(user)

    def reset_lab(self, blank: bool = False) -> None:
        """`lab reset [--blank]`: every service back to its seed (or blank) state, healthy or not."""
        if cmd_reset(argparse.Namespace(state_dir=self.state_dir, blank=blank)) != EXIT_OK:
            raise LabError(f"lab reset left services unhealthy; their logs are in {self.state_dir / 'logs'}")
        self.topology["blank"] = blank
        self.fresh = True

    def run_scenario(self, scenario: model.Scenario | str | Path) -> Outcome:
        """Run one scenario (a loaded one, or a file's path) against this lab; its Outcome."""
        if not isinstance(scenario, model.Scenario):
            scenario = model.load(Path(scenario))
        self.fresh = False
        return Runner(self, self.state_dir).run(scenario)


OKTA_HTTP_SWITCH = "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """An environment variable set for a while, then as it was."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _lock(subnet: str) -> int | None:
    """An exclusive lock on the subnet among the sessions of this machine (released when the
    process ends); None when another session holds it."""
    fd = os.open(LOCKS / f"okta-workspaces-lab-{subnet}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _free(subnet: str, agents: int, state_dir: Path) -> bool:
    """Every port the lab (and its blank lab) would bind on this subnet is free now."""
    for net, n in ((subnet, agents), (blank_subnet(subnet), 1)):
        planned = topo.build(state_dir, subnet=net, agents=n)
        try:
            check_ports_free(planned, planned["services"])
        except LabError:
            return False
    return True


class LabSession:
    """The labs of one pytest session, started at first use and stopped at its end."""

    def __init__(self, config: pytest.Config) -> None:
        self.candidates: list[str] = (config.getoption("lab_subnet") or config.getini("lab_subnets")
                                      or DEFAULT_CANDIDATES)
        self.agents = int(config.getini("lab_agents") or 2)
        self.keep_state = bool(config.getoption("lab_keep_state"))
        self.state_dir: Path | None = None
        self.subnet: str | None = None
        self._lock_fd: int | None = None
        self._seeded: Lab | None = None
        self._failed: str | None = None      # why the lab did not start: said once, not retried per test
        self._blank: dict[str, Any] | None = None
        self._stack = contextlib.ExitStack()

    def _claim_subnet(self) -> str:
        assert self.state_dir is not None
        for subnet in self.candidates:
            fd = _lock(subnet)
            if fd is None:
                continue
            if _free(subnet, self.agents, self.state_dir):
                self._lock_fd = fd
                return subnet
            os.close(fd)
        raise LabError(f"no free subnet for the lab among {', '.join(self.candidates)} (each in use by another "
                       "session or process); name free ones with --lab-subnet or the ini option lab_subnets")

    def _start(self) -> None:
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="okta-workspaces-lab-"))
            self.subnet = self._claim_subnet()

    def seeded(self) -> Lab:
        """The seeded lab, started now if it is not running yet."""
        if self._failed:
            raise LabError(self._failed)
        if self._seeded is None:
            try:
                self._seeded = self._start_seeded()
            except Exception as exc:
                self._failed = f"the lab did not start: {exc}"
                raise
        return self._seeded

    def _start_seeded(self) -> Lab:
        self._start()
        assert self.state_dir is not None
        log.info("starting a lab on %s.x in %s", self.subnet, self.state_dir)
        spec = LabSpec(subnet=self.subnet, agents=self.agents)
        topology = self._stack.enter_context(running_lab(ProcessRuntime(self.state_dir), spec, progress=log.info))
        lab = Lab(topology)
        self._stack.callback(lab.close)
        if org_https_url(topology) is None:      # an org without certificates (an older lab)
            self._stack.enter_context(_environ(OKTA_HTTP_SWITCH, "true"))
        enrol_okta_verify(topology, lab.seed())
        supervisor.spawn(self.state_dir)    # as `lab up`: a crashed service is restarted
        return lab

    def blank(self) -> dict[str, Any]:
        """The blank lab's topology (for the scenarios that start from nothing), started now if needed."""
        if self._blank is None:
            self._start()
            assert self.state_dir is not None and self.subnet is not None
            self._blank = self._stack.enter_context(blank_lab(self.state_dir, blank_subnet(self.subnet),
                                                              progress=log.info))
        return self._blank

    def stop(self) -> None:
        self._stack.close()
        self._seeded, self._blank = None, None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.state_dir is not None and not self.keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def summary(self) -> str | None:
        if self.state_dir is None:
            return None
        kept = f"state kept in {self.state_dir}" if self.keep_state else "state removed"
        return f"okta-workspaces-lab: a lab ran on {self.subnet}.x; {kept}"


SESSION = pytest.StashKey[LabSession]()


def _labs(config: pytest.Config) -> LabSession:
    return config.stash[SESSION]


# -- options and hooks ---------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("okta-workspaces-lab", "the Okta MFA for Amazon WorkSpaces lab")
    group.addoption("--lab-scenarios", action="append", default=[], metavar="DIR",
                    help="a folder of scenario YAML files to collect as tests (repeatable; adds to the ini "
                         "option lab_scenarios)")
    group.addoption("--lab-subnet", action="append", default=[], metavar="SUBNET",
                    help="a loopback subnet the lab may use, e.g. 127.0.201 (repeatable: the first free one "
                         "is taken; default: one free in 127.0.200-254)")
    group.addoption("--lab-keep-state", action="store_true",
                    help="keep the lab's state directory (the services' logs) after the session")
    parser.addini("lab_scenarios", type="paths", default=[],
                  help="folders of scenario YAML files collected as tests (relative to the ini file)")
    parser.addini("lab_subnets", type="args", default=[], help="loopback subnets the lab may use")
    parser.addini("lab_agents", default="2", help="Okta RADIUS agents in the lab: 1 or 2 (default 2)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION] = LabSession(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _labs(session.config).stop()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    line = _labs(config).summary()
    if line:
        terminalreporter.write_line(line)


def _scenario_dirs(config: pytest.Config) -> list[Path]:
    given = [Path(d) for d in config.getoption("lab_scenarios")]
    return [d.resolve() for d in [*config.getini("lab_scenarios"), *given]]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    resolved = file_path.resolve()
    if any(resolved.is_relative_to(d) for d in _scenario_dirs(parent.config)):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def lab_session(pytestconfig: pytest.Config) -> Iterator[Lab]:
    """A seeded lab for the whole session, on a free subnet, in a temporary state directory."""
    labs = _labs(pytestconfig)
    yield labs.seeded()
    labs.stop()


@pytest.fixture
def lab(lab_session: Lab) -> Lab:
    """The session's lab, reset to its seed state (unless nothing has used it since)."""
    if not lab_session.fresh or lab_session.topology.get("blank"):
        lab_session.reset_lab()
    lab_session.fresh = False
    return lab_session


# -- scenario files as items ---------------------------------------------------------------------

class ScenarioFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.scenario.name)
        self.outcome = outcome


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = model.load(self.path)
        except model.ScenarioError as exc:
            raise self.CollectError(f"not a valid scenario file: {exc}") from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: model.Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        for tag in scenario.tags:          # `-k ci` selects the scenarios tagged ci
            self.extra_keyword_matches.add(tag)

    def runtest(self) -> None:
        labs = _labs(self.config)
        if self.scenario.requires.get("blank"):
            topology = labs.blank()
            runner = Runner(LabClient(topology), Path(topology["state_dir"]))
        else:
            lab = labs.seeded()
            if lab.topology.get("blank"):      # a test made it blank (lab.reset_lab(blank=True))
                lab.reset_lab()
            lab.fresh = False
            runner = Runner(lab, lab.state_dir)
        outcome = runner.run(self.scenario)
        if outcome.skipped:
            pytest.skip(outcome.skipped)
        if not outcome.passed:
            raise ScenarioFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return story(excinfo.value.outcome)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name}: {self.scenario.title}"
