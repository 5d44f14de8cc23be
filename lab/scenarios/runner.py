"""Running scenarios against a live lab, isolated from each other through the admin APIs.

The steps themselves are in steps.py (one table); the expectations on events in expectations.py.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import provision
from .. import topology as topo
from ..client import LabClient
from ..firewall import lifecycle as firewall
from ..runtime import runtime_named
from .expectations import check_events
from .model import Scenario
from .outcome import Outcome, StepFailed
from .placeholders import resolve
from .steps import ACTIONS, Step, action_of, tell, wait_for_event


class Runner:
    def __init__(self, client: LabClient, state_dir: Path, progress: Callable[[str], None] = lambda _: None,
                 before_step: Callable[[int, dict[str, Any]], None] | None = None,
                 after_step: Callable[[int, dict[str, Any], Outcome], None] | None = None):
        self.client = client
        self.state_dir = state_dir
        self.progress = progress
        # Hooks for demo mode: narrate a step before it runs, show what crossed the wire after.
        self.before_step = before_step
        self.after_step = after_step
        self.marks: dict[str, int] = {}            # each service's last event before the scenario began
        self.last_code: dict[str, str] = {}        # the code each user last signed in with (mfa: replay)
        self.remembered: dict[str, Any] = {}       # `remember:` of aws and okta steps, used later as `$name`
        self._restore: dict[str, dict[str, Any]] = {}

    def isolate(self, settings: dict[str, dict[str, Any]] | None = None) -> None:
        """Every service back to its seed state (with the scenario's settings, if any), and Okta
        Verify enrolled again."""
        for service, overrides in (settings or {}).items():
            self._apply_settings(service, overrides)
        self.client.reset()
        firewall.reset(self.state_dir)      # the Windows firewall back to the seed's (no rules)
        if not self.client.topology.get("blank"):
            provision.enrol_okta_verify(self.client.topology, self.client.seed())
        # Enrolment leaves events too; the scenario is judged only on what follows.
        self.marks = self.client.event_marks()

    def unmet(self, requires: dict[str, Any]) -> str | None:
        if bool(requires.get("blank")) != bool(self.client.topology.get("blank")):
            return "needs a blank lab (lab up --blank)" if requires.get("blank") else "needs a seeded lab"
        if len(topo.radius_agents(self.client.topology)) < int(requires.get("agents", 1)):
            return f"needs a lab with {requires['agents']} RADIUS agents (lab up --agents {requires['agents']})"
        missing = [s for s in requires.get("services") or [] if s not in self.client.topology["services"]]
        if missing:
            return f"needs a lab with the {', '.join(missing)} service"
        return None

    def run(self, scenario: Scenario) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(scenario, passed=False, seconds=0.0, topology=self.client.topology)
        self.last_code = {}
        self._restore = {}
        self.remembered = {}
        outcome.skipped = self.unmet(scenario.requires)
        if outcome.skipped:
            outcome.passed = True
            return outcome
        try:
            self.isolate(scenario.given.get("settings"))
            self._given(scenario.given)
            outcome.steps = [(index, tell(step), "not run") for index, step in enumerate(scenario.steps, 1)]
            for index, step in enumerate(scenario.steps, 1):
                if self.before_step:
                    self.before_step(index, step)
                outcome.steps[index - 1] = (index, outcome.steps[index - 1][1], "FAILED")
                ACTIONS[action_of(step)].run(Step(self, index, step, outcome))
                outcome.steps[index - 1] = (index, outcome.steps[index - 1][1], "ok")
                if self.after_step:
                    self.after_step(index, step, outcome)
            elapsed = time.monotonic() - started
            outcome.events = self.client.events(since=self.marks)
            outcome.failures += check_events(outcome.events, scenario.expect)
            limit = scenario.expect.get("max_seconds")
            if limit is not None and elapsed > float(limit):
                outcome.failures.append(f"expected the scenario to take at most {limit} s, it took {elapsed:.1f} s")
        except StepFailed as exc:
            outcome.failures.append(str(exc))
            outcome.events = self._events_quietly()
        except Exception as exc:  # noqa: BLE001 — a lab error is a failed scenario with its reason, not a crash
            outcome.error = f"{exc.__class__.__name__}: {exc}"
            outcome.failures.append(f"error: {outcome.error}")
            outcome.events = self._events_quietly()
        finally:
            self._restore_settings()
        outcome.seconds = time.monotonic() - started
        outcome.passed = not outcome.failures
        return outcome

    def restart(self, service: str) -> None:
        """Stop a service and start it again, in whichever runtime runs the lab; it reads the
        topology.json as it is now (the scenario's settings)."""
        runtime_named(self.client.topology["runtime"], self.state_dir).restart(service)

    def _events_quietly(self) -> list[dict[str, Any]]:
        try:
            return self.client.events(since=self.marks or None)
        except Exception:  # noqa: BLE001 — the scenario has failed already; its events are a bonus
            return []

    # -- given -----------------------------------------------------------------------------------
    def _given(self, given: dict[str, Any]) -> None:
        # Configuration first (RADIUS settings are probed by AWS as they change), then the people,
        # then what breaks: a fault applied earlier would fail the probe instead of the sign-in.
        if given.get("radius"):
            self._set_radius(given["radius"])
        if given.get("app"):
            self._set_app(given["app"])
        for user, behaviour in (given.get("phone") or {}).items():
            self.client.phone_respond(user, behaviour.get("respond", "approve"), float(behaviour.get("after", 0)))
        for service, offset in (given.get("clocks") or {}).items():
            self.client.set_clock(service, float(offset))
        for fault in given.get("faults") or []:
            spec = dict(fault)
            self.client.add_fault(spec.pop("service"), spec)

    def _set_app(self, settings: dict[str, Any]) -> None:
        """Change the WorkSpaces RADIUS app in the org, and have the agents pick it up now
        (instead of after their refresh interval)."""
        resp = self.client.okta("PUT", f"/api/v1/radius/apps/{self.client.workspaces_app_id()}", json=settings)
        if resp.status_code >= 300:
            raise StepFailed(f"the org refused the app settings: {resp.text[:300]}")
        agents = topo.radius_agents(self.client.topology)
        since = self.client.event_marks()
        for agent in agents:
            self.client.post_admin(agent, "/reset")
        for agent in agents:
            wait_for_event(self.client, 0, {"service": agent, "kind": "radius.apps", "timeout": 10}, since)

    def _set_radius(self, settings: dict[str, Any]) -> None:
        """UpdateRadius through boto3, then wait for RadiusStatus to leave Creating."""
        ds = self.client.aws("ds")
        directory_id = self.client.directory_id()
        ds.update_radius(DirectoryId=directory_id, RadiusSettings=resolve(dict(settings), self.client))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d = ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
            if d.get("RadiusStatus") != "Creating":
                return
            time.sleep(0.2)
        raise StepFailed("RadiusStatus stayed Creating for 60 s after UpdateRadius")

    def _apply_settings(self, service: str, overrides: dict[str, Any]) -> None:
        topology = self.client.topology
        if service not in topology["services"]:
            raise StepFailed(f"given.settings names no service {service!r}")
        current = topology["services"][service]["settings"]
        self._restore.setdefault(service, dict(current))
        current.update(overrides)
        topo.write_topology(self.state_dir, topology)
        self.restart(service)

    def _restore_settings(self) -> None:
        topology = self.client.topology
        for service, original in self._restore.items():
            topology["services"][service]["settings"] = original
        if self._restore:
            topo.write_topology(self.state_dir, topology)
            for service in self._restore:
                self.restart(service)
        self._restore = {}
