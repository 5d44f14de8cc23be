"""Running scenarios against a live lab, isolated from each other through the admin APIs."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import docker_runtime as dr
from .. import process_runtime as pr
from .. import provision
from ..client import LabClient, LabClientError
from .model import Scenario

_STEP_CODE = re.compile(r"^code([+-]\d+)?$")


class StepFailed(Exception):
    pass


@dataclass
class Outcome:
    scenario: Scenario
    passed: bool
    seconds: float
    failures: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    logins: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    topology: dict[str, Any] | None = None   # the lab it ran in (for drawing its events)


def event_matches(event: dict[str, Any], spec: dict[str, Any]) -> bool:
    if spec.get("service") and event["service"] != spec["service"]:
        return False
    kind = spec["kind"]
    if kind.endswith("*"):
        if not event["kind"].startswith(kind[:-1]):
            return False
    elif event["kind"] != kind:
        return False
    if "outcome" in spec and str(event.get("outcome")) != str(spec["outcome"]):
        return False
    fields = event.get("fields", {})
    return all(str(fields.get(k)) == str(v) for k, v in (spec.get("fields") or {}).items())


def describe(spec: dict[str, Any]) -> str:
    parts = [spec.get("service") or "*", spec["kind"]]
    if "outcome" in spec:
        parts.append(f"-> {spec['outcome']}")
    if spec.get("fields"):
        parts.append(" ".join(f"{k}={v}" for k, v in spec["fields"].items()))
    return " ".join(parts)


def check_events(events: list[dict[str, Any]], expect: dict[str, Any]) -> list[str]:
    failures = []
    for spec in expect.get("events", []):
        n = sum(1 for e in events if event_matches(e, spec))
        lo, hi = spec.get("min"), spec.get("max")
        if spec.get("absent"):
            lo = hi = 0
        if "count" in spec:
            lo = hi = spec["count"]
        if lo is None and hi is None:
            lo = 1
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else \
                f"at most {hi}" if lo is None else f"{lo} to {hi}"
            failures.append(f"expected {want} event(s) {describe(spec)}, saw {n}")
    position = -1
    for spec in expect.get("order", []):
        later = [i for i, e in enumerate(events) if i > position and event_matches(e, spec)]
        if not later:
            failures.append(f"expected {describe(spec)} after the previous event in `order`, saw none")
            break
        position = later[0]
    return failures


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

    def isolate(self, settings: dict[str, dict[str, Any]] | None = None) -> None:
        """Every service back to its seed state (with the scenario's settings, if any), and Okta
        Verify enrolled again."""
        for service, overrides in (settings or {}).items():
            self._apply_settings(service, overrides)
        self.client.reset()
        if not self.client.topology.get("blank"):
            provision.enrol_okta_verify(self.client.topology, self.client.seed())
        # Enrolment leaves events too; the scenario is judged only on what follows.
        self.marks = self.client.event_marks()

    def unmet(self, requires: dict[str, Any]) -> str | None:
        if bool(requires.get("blank")) != bool(self.client.topology.get("blank")):
            return "needs a blank lab (lab up --blank)" if requires.get("blank") else "needs a seeded lab"
        agents = sum(1 for s in self.client.topology["services"].values()
                     if s.get("package") == "services.radius_agent")
        if agents < int(requires.get("agents", 1)):
            return f"needs a lab with {requires['agents']} RADIUS agents (lab up --agents {requires['agents']})"
        return None

    def run(self, scenario: Scenario) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(scenario, passed=False, seconds=0.0, topology=self.client.topology)
        self._last_code: dict[str, str] = {}
        self._restore: dict[str, dict[str, Any]] = {}
        self.remembered: dict[str, Any] = {}   # `remember:` of aws steps, used later as `$name`
        outcome.skipped = self.unmet(scenario.requires)
        if outcome.skipped:
            outcome.passed = True
            return outcome
        try:
            self.isolate(scenario.given.get("settings"))
            self._given(scenario.given)
            for index, step in enumerate(scenario.steps, 1):
                if self.before_step:
                    self.before_step(index, step)
                self._step(index, step, outcome)
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
        except Exception as exc:  # a lab error is a failed scenario with its reason, not a crash
            outcome.error = f"{exc.__class__.__name__}: {exc}"
            outcome.failures.append(f"error: {outcome.error}")
            outcome.events = self._events_quietly()
        finally:
            self._restore_settings()
        outcome.seconds = time.monotonic() - started
        outcome.passed = not outcome.failures
        return outcome

    def _events_quietly(self) -> list[dict[str, Any]]:
        try:
            return self.client.events(since=getattr(self, "marks", None))
        except Exception:
            return []

    # -- given and steps -------------------------------------------------------------------------
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
        agents = [n for n, s in self.client.topology["services"].items() if s.get("package") == "services.radius_agent"]
        since = self.client.event_marks()
        for agent in agents:
            self.client.post_admin(agent, "/reset")
        for agent in agents:
            self._wait_for(0, {"service": agent, "kind": "radius.apps", "timeout": 10}, since=since)

    def _set_radius(self, settings: dict[str, Any]) -> None:
        """UpdateRadius through boto3, then wait for RadiusStatus to leave Creating."""
        ds = self.client.aws("ds")
        directory_id = self.client.directory_id()
        ds.update_radius(DirectoryId=directory_id, RadiusSettings=_with_directory(dict(settings), self.client))
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
        pr.write_topology(self.state_dir, topology)
        self._restart(service)

    def _restore_settings(self) -> None:
        topology = self.client.topology
        for service, original in self._restore.items():
            topology["services"][service]["settings"] = original
        if self._restore:
            pr.write_topology(self.state_dir, topology)
            for service in self._restore:
                self._restart(service)
        self._restore = {}

    def _step(self, index: int, step: dict[str, Any], outcome: Outcome) -> None:
        action = next(k for k in step if k != "expect")
        arg = step[action]
        if action == "say":
            self.progress(f"    {arg}")
        elif action == "login":
            self._login(index, arg, step.get("expect") or {}, outcome)
        elif action == "parallel":
            self._parallel(index, arg, outcome)
        elif action == "phone":
            self.client.phone_respond(arg["user"], arg.get("respond", "approve"), float(arg.get("after", 0)))
        elif action == "fault":
            spec = dict(arg)
            self.client.add_fault(spec.pop("service"), spec)
        elif action == "clock":
            self.client.set_clock(arg["service"], float(arg["offset"]))
        elif action == "restart":
            self._restart(str(arg))
        elif action == "wait_for":
            self._wait_for(index, arg)
        elif action == "aws":
            self._aws(index, arg)
        elif action == "aws_wait":
            self._aws_wait(index, arg)
        elif action == "okta":
            self._okta(index, arg)
        elif action == "ad_import":
            job = self.client.ad_import()
            if job["status"] != "COMPLETED":
                raise StepFailed(f"step {index}: the AD import ended {job['status']}: {job.get('error')}")
        elif action == "ad_account":
            try:
                self.client.ad_account(str(arg["user"]), str(arg["change"]))
            except LabClientError as exc:
                raise StepFailed(f"step {index}: {exc}") from None
        elif action == "activation_email":
            user = _with_directory({"u": arg["user"]}, self.client, self.remembered)["u"]
            try:
                provision.follow_activation_email(self.client.topology, user, progress=self.progress)
            except provision.ProvisionError as exc:
                raise StepFailed(f"step {index}: {exc}") from None

    def _mfa(self, user: str, mfa: Any) -> str:
        text = str(mfa if mfa is not None else "code")
        match = _STEP_CODE.match(text)
        if match:
            code = self.client.phone_code(user, int(match.group(1) or 0))
        elif text == "replay":
            if user not in self._last_code:
                raise StepFailed(f"mfa: replay needs an earlier code sign-in of {user}")
            code = self._last_code[user]
        elif text == "wrong":
            near = {self.client.phone_code(user, s) for s in (-1, 0, 1)}
            code = next(f"{n:06d}" for n in range(100000, 1000000, 7919) if f"{n:06d}" not in near)
        else:
            return text
        self._last_code[user] = code
        return code

    def _login(self, index: int, arg: dict[str, Any], expect: dict[str, Any], outcome: Outcome,
               resolved: bool = False) -> None:
        arg = _with_directory(dict(arg), self.client, self.remembered)
        user = arg["user"]
        mfa = arg["mfa"] if resolved else self._mfa(user, arg.get("mfa"))
        result = self.client.login(user, arg.get("password"), mfa, arg.get("registration_code"),
                                   trace=uuid.uuid4().hex[:16])
        result["step"] = index
        outcome.logins.append(result)
        got = "success" if result["success"] else "failure"
        problems = []
        if "result" in expect and expect["result"] != got:
            problems.append(f"result {got} (expected {expect['result']})")
        for key in ("message", "reason"):
            if key in expect and result.get(key) != expect[key]:
                problems.append(f"{key} {result.get(key)!r} (expected {expect[key]!r})")
        if "max_seconds" in expect and result["elapsed_seconds"] > float(expect["max_seconds"]):
            problems.append(f"took {result['elapsed_seconds']} s (expected at most {expect['max_seconds']} s)")
        if "min_seconds" in expect and result["elapsed_seconds"] < float(expect["min_seconds"]):
            problems.append(f"took {result['elapsed_seconds']} s (expected at least {expect['min_seconds']} s)")
        if problems:
            raise StepFailed(f"step {index}, login {user} with mfa {arg.get('mfa', 'code')}: " + "; ".join(problems))

    def _parallel(self, index: int, entries: list[dict[str, Any]], outcome: Outcome) -> None:
        """Sign-ins at the same time (each `after` seconds from the start), judged one by one."""
        from concurrent.futures import ThreadPoolExecutor

        # Codes are read before anyone starts: the phone answers quickly, the sign-ins may not.
        prepared = [dict(e["login"], mfa=self._mfa(e["login"]["user"], e["login"].get("mfa"))) for e in entries]

        def one(n: int) -> str | None:
            time.sleep(float(entries[n].get("after", 0)))
            try:
                self._login(index, prepared[n], entries[n].get("expect") or {}, outcome, resolved=True)
            except StepFailed as exc:
                return str(exc)
            return None

        with ThreadPoolExecutor(max_workers=len(entries)) as pool:
            problems = [p for p in pool.map(one, range(len(entries))) if p]
        if problems:
            raise StepFailed("; ".join(problems))

    def _restart(self, service: str) -> None:
        topology = self.client.topology
        if topology.get("runtime") == "docker":
            dr.restart(self.state_dir, [service])
            return
        if topology.get("runtime") != "process":
            raise StepFailed(f"restart is not available in the {topology.get('runtime')} runtime yet")
        pr.stop(self.state_dir, [service])
        started = pr.start(self.state_dir / "topology.json", topology, [service])
        pr.wait_healthy(topology, started, timeout=60)

    def _aws(self, index: int, arg: dict[str, Any]) -> Any:
        """One AWS call through boto3; `expect_error` names the AWS error code it must fail with."""
        from botocore.exceptions import ClientError

        client = self.client.aws(arg.get("service", "ds"))
        method = getattr(client, _snake(arg["operation"]))
        params = _with_directory(dict(arg.get("params") or {}), self.client, self.remembered)
        try:
            result = method(**params)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if arg.get("expect_error") == code:
                return None
            raise StepFailed(f"step {index}: {arg['operation']} failed with {code}: "
                             f"{exc.response['Error'].get('Message')}") from None
        if arg.get("expect_error"):
            raise StepFailed(f"step {index}: {arg['operation']} succeeded (expected {arg['expect_error']})")
        expected = _with_directory(dict(arg.get("expect") or {}), self.client, self.remembered)
        for path, want in expected.items():
            got = _dig(result, path)
            if got != want:
                raise StepFailed(f"step {index}: {arg['operation']} {path} is {got!r} (expected {want!r})")
        for name, path in (arg.get("remember") or {}).items():
            self.remembered[f"${name}"] = _dig(result, path)
        return result

    def _okta(self, index: int, arg: dict[str, Any]) -> None:
        """One call to the org's API with the admin's SSWS token, as an admin's script makes it."""
        arg = _with_directory(dict(arg), self.client, self.remembered)
        method = arg.get("method", "GET")
        resp = self.client.okta(method, arg["path"], arg.get("json"), arg.get("params"))
        want = arg.get("expect_status")
        if (want is not None and resp.status_code != int(want)) or (want is None and resp.status_code >= 300):
            raise StepFailed(f"step {index}: {method} {arg['path']} answered {resp.status_code}"
                             f"{f' (expected {want})' if want is not None else ''}: {resp.text[:300]}")
        body = resp.json() if resp.content else None
        for name, path in (arg.get("remember") or {}).items():
            self.remembered[f"${name}"] = _dig(body, path)

    def _aws_wait(self, index: int, arg: dict[str, Any]) -> None:
        """Poll an AWS describe call until a value is reached, as a Terraform waiter does."""
        client = self.client.aws(arg.get("service", "ds"))
        method = getattr(client, _snake(arg["operation"]))
        params = _with_directory(dict(arg.get("params") or {}), self.client, self.remembered)
        deadline = time.monotonic() + float(arg.get("timeout", 30))
        got = None
        while time.monotonic() < deadline:
            got = _dig(method(**params), arg["path"])
            if got == arg["equals"]:
                return
            time.sleep(0.2)
        raise StepFailed(f"step {index}: {arg['operation']} {arg['path']} stayed {got!r} "
                         f"(expected {arg['equals']!r} within {arg.get('timeout', 30)} s)")

    def _wait_for(self, index: int, spec: dict[str, Any], since: dict[str, int] | None = None) -> None:
        deadline = time.monotonic() + float(spec.get("timeout", 30))
        since = since if since is not None else self.marks
        while time.monotonic() < deadline:
            if any(event_matches(e, spec) for e in self.client.events(spec.get("service"), since=since)):
                return
            time.sleep(0.1)
        raise StepFailed(f"step {index}: no event {describe(spec)} within {spec.get('timeout', 30)} s")


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def placeholders(client: LabClient) -> dict[str, str]:
    """Names a scenario may use for what depends on the topology: `$directory` (the seed's
    directory id), `$dc`, `$agent`, `$agent2` (addresses), `$nowhere` (an address nothing uses)."""
    services = client.topology["services"]
    seed_directory = (client.seed().get("aws") or {}).get("directory", {}).get("id", "")
    out = {"$directory": "" if client.topology.get("blank") else seed_directory, "$dc": services["dc"]["host"],
           "$agent": services["radius-agent"]["host"], "$nowhere": f"{client.topology['subnet']}.99"}
    if "radius-agent-2" in services:
        out["$agent2"] = services["radius-agent-2"]["host"]
    return out


def _with_directory(params: dict[str, Any], client: LabClient,
                    remembered: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scenario parameters with the placeholders (and remembered values) replaced."""
    names = placeholders(client) | (remembered or {})

    def swap(value: Any) -> Any:
        if isinstance(value, str) and value in names:
            return names[value]
        if isinstance(value, str) and "$" in value:
            for name in sorted(names, key=len, reverse=True):
                value = value.replace(name, str(names[name]))
            return value
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value
    return swap(params)


def _dig(data: Any, path: str) -> Any:
    """`DirectoryDescriptions.0.RadiusStatus` → data["DirectoryDescriptions"][0]["RadiusStatus"];
    in a list, `name=X` picks the first item whose `name` is X."""
    for part in path.split("."):
        if isinstance(data, list) and "=" in part:
            key, _, value = part.partition("=")
            data = next((item for item in data if isinstance(item, dict) and str(item.get(key)) == value), None)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data
