"""The scenario step vocabulary, in one table: `ACTIONS`.

Each action says which parameters a step may give it (the schema check in model.py), what the
runner does for it (runner.py), and how `lab demo` tells it to a class (demo.py). A new action is
one entry here. docs/scenarios.md describes them for scenario writers.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import provision
from ..client import LabClient, LabClientError
from .expectations import describe, event_matches
from .outcome import Outcome, StepFailed
from .placeholders import dig, resolve

if TYPE_CHECKING:
    from .runner import Runner

_STEP_CODE = re.compile(r"^code([+-]\d+)?$")
LOGIN_PARAMS = frozenset({"user", "password", "mfa", "registration_code"})
LOGIN_EXPECT = frozenset({"result", "message", "reason", "max_seconds", "min_seconds"})


@dataclass
class Step:
    """One step as the runner runs it."""
    runner: Runner
    index: int                       # its number in the scenario, from 1
    spec: dict[str, Any]             # the step as written: {action: parameters, expect: ...}
    outcome: Outcome

    @property
    def arg(self) -> Any:
        """The action's parameters."""
        return self.spec[action_of(self.spec)]


@dataclass(frozen=True)
class Action:
    params: frozenset[str] | None               # the keys its mapping may have; None: not a mapping
    run: Callable[[Step], None]
    tell: Callable[[Any], str] | None = None    # `lab demo`'s sentence for it; None: the action's name


# -- the steps -------------------------------------------------------------------------------

def _say(step: Step) -> None:
    step.runner.progress(f"    {step.arg}")


def _phone(step: Step) -> None:
    arg = step.arg
    step.runner.client.phone_respond(arg["user"], arg.get("respond", "approve"), float(arg.get("after", 0)))


def _phone_scan(step: Step) -> None:
    """A second phone (`device`) scans an enrolment QR code's text (`uri`, e.g. a remembered `$qr`)."""
    r = step.runner
    arg = resolve(dict(step.arg), r.client, r.remembered)
    try:
        r.client.phone_scan(str(arg["uri"]), str(arg.get("device", "Lab iPhone")))
    except LabClientError as exc:
        raise StepFailed(f"step {step.index}: the phone did not enrol: {exc}") from None


def _phone_remove(step: Step) -> None:
    try:
        step.runner.client.phone_remove(str(step.arg["user"]), str(step.arg["device"]))
    except LabClientError as exc:
        raise StepFailed(f"step {step.index}: {exc}") from None


def _fault(step: Step) -> None:
    spec = dict(step.arg)
    step.runner.client.add_fault(spec.pop("service"), spec)


def _clock(step: Step) -> None:
    step.runner.client.set_clock(step.arg["service"], float(step.arg["offset"]))


def _fresh_minute(step: Step) -> None:
    """Wait for the next calendar minute unless this one has `arg` seconds left: the org's rate
    limits count per calendar minute, as Okta's do, so steps that must meet one limit cannot
    straddle two minutes."""
    left = 60 - time.time() % 60
    if left < float(step.arg):
        step.runner.progress(f"    (waiting {left:.0f} s for a fresh minute)")
        time.sleep(left + 0.1)


def _restart(step: Step) -> None:
    step.runner.restart(str(step.arg))


def _wait_for(step: Step) -> None:
    wait_for_event(step.runner.client, step.index, step.arg, step.runner.marks)


def wait_for_event(client: LabClient, index: int, spec: dict[str, Any], since: dict[str, int]) -> None:
    """Until an event matching `spec` is recorded after the marks `since` (or `timeout` seconds)."""
    deadline = time.monotonic() + float(spec.get("timeout", 30))
    while time.monotonic() < deadline:
        if any(event_matches(e, spec) for e in client.events(spec.get("service"), since=since)):
            return
        time.sleep(0.1)
    raise StepFailed(f"step {index}: no event {describe(spec)} within {spec.get('timeout', 30)} s")


def _ad_import(step: Step) -> None:
    job = step.runner.client.ad_import()
    if job["status"] != "COMPLETED":
        raise StepFailed(f"step {step.index}: the AD import ended {job['status']}: {job.get('error')}")


def _ad_account(step: Step) -> None:
    try:
        step.runner.client.ad_account(str(step.arg["user"]), str(step.arg["change"]))
    except LabClientError as exc:
        raise StepFailed(f"step {step.index}: {exc}") from None


def _activation_email(step: Step) -> None:
    r = step.runner
    user = resolve({"u": step.arg["user"]}, r.client, r.remembered)["u"]
    try:
        provision.follow_activation_email(r.client.topology, user, progress=r.progress)
    except provision.ProvisionError as exc:
        raise StepFailed(f"step {step.index}: {exc}") from None


# -- sign-ins --------------------------------------------------------------------------------

def mfa_code(r: Runner, user: str, mfa: Any) -> str:
    """What the user types in the MFA field: `code[+-N]` (the phone's code N steps away), `replay`
    (this scenario's last code of the user), `wrong` (valid for no step near now), or literally."""
    text = str(mfa if mfa is not None else "code")
    match = _STEP_CODE.match(text)
    if match:
        code = r.client.phone_code(user, int(match.group(1) or 0))
    elif text == "replay":
        if user not in r.last_code:
            raise StepFailed(f"mfa: replay needs an earlier code sign-in of {user}")
        code = r.last_code[user]
    elif text == "wrong":
        near = {r.client.phone_code(user, s) for s in (-1, 0, 1)}
        code = next(f"{n:06d}" for n in range(100000, 1000000, 7919) if f"{n:06d}" not in near)
    else:
        return text
    r.last_code[user] = code
    return code


def _login(step: Step) -> None:
    login(step.runner, step.index, step.arg, step.spec.get("expect") or {}, step.outcome)


def login(r: Runner, index: int, arg: dict[str, Any], expect: dict[str, Any], outcome: Outcome,
          resolved: bool = False) -> None:
    """One client sign-in, judged against the step's `expect`."""
    arg = resolve(dict(arg), r.client, r.remembered)
    user = arg["user"]
    mfa = arg["mfa"] if resolved else mfa_code(r, user, arg.get("mfa"))
    result = r.client.login(user, arg.get("password"), mfa, arg.get("registration_code"),
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


def _parallel(step: Step) -> None:
    """Sign-ins at the same time (each `after` seconds from the start), judged one by one."""
    r, index, outcome, entries = step.runner, step.index, step.outcome, step.arg
    # Codes are read before anyone starts: the phone answers quickly, the sign-ins may not.
    prepared = [dict(e["login"], mfa=mfa_code(r, e["login"]["user"], e["login"].get("mfa"))) for e in entries]

    def one(n: int) -> str | None:
        time.sleep(float(entries[n].get("after", 0)))
        try:
            login(r, index, prepared[n], entries[n].get("expect") or {}, outcome, resolved=True)
        except StepFailed as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=len(entries)) as pool:
        problems = [p for p in pool.map(one, range(len(entries))) if p]
    if problems:
        raise StepFailed("; ".join(problems))


# -- the admin's calls: boto3 for AWS, the org's API -------------------------------------------

def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _aws(step: Step) -> None:
    """One AWS call through boto3; `expect_error` names the AWS error code it must fail with."""
    r, arg = step.runner, step.arg
    client = r.client.aws(arg.get("service", "ds"))
    params = resolve(dict(arg.get("params") or {}), r.client, r.remembered)
    judge_aws_call(step, arg["operation"], getattr(client, _snake(arg["operation"])), params)


def judge_aws_call(step: Step, name: str, method: Callable[..., Any], params: dict[str, Any]) -> None:
    """Make one boto3 call and judge it against the step's `expect_error`, `expect` (paths into the
    answer) and `remember` (values kept as `$name`): shared by the `aws` and `ec2` steps."""
    from botocore.exceptions import ClientError  # here: only scenarios with AWS steps need botocore

    r, index, arg = step.runner, step.index, step.arg
    try:
        result = method(**params)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if arg.get("expect_error") == code:
            return
        raise StepFailed(f"step {index}: {name} failed with {code}: "
                         f"{exc.response['Error'].get('Message')}") from None
    if arg.get("expect_error"):
        raise StepFailed(f"step {index}: {name} succeeded (expected {arg['expect_error']})")
    expected = resolve(dict(arg.get("expect") or {}), r.client, r.remembered)
    for path, want in expected.items():
        got = dig(result, path)
        if got != want:
            raise StepFailed(f"step {index}: {name} {path} is {got!r} (expected {want!r})")
    for key, path in (arg.get("remember") or {}).items():
        r.remembered[f"${key}"] = dig(result, path)


def _aws_wait(step: Step) -> None:
    """Poll an AWS describe call until a value is reached, as a Terraform waiter does."""
    r, index, arg = step.runner, step.index, step.arg
    client = r.client.aws(arg.get("service", "ds"))
    method = getattr(client, _snake(arg["operation"]))
    params = resolve(dict(arg.get("params") or {}), r.client, r.remembered)
    deadline = time.monotonic() + float(arg.get("timeout", 30))
    got = None
    while time.monotonic() < deadline:
        got = dig(method(**params), arg["path"])
        if got == arg["equals"]:
            return
        time.sleep(0.2)
    raise StepFailed(f"step {index}: {arg['operation']} {arg['path']} stayed {got!r} "
                     f"(expected {arg['equals']!r} within {arg.get('timeout', 30)} s)")


def _okta(step: Step) -> None:
    """One call to the org's API with the admin's SSWS token, as an admin's script makes it."""
    r, index = step.runner, step.index
    arg = resolve(dict(step.arg), r.client, r.remembered)
    method = arg.get("method", "GET")
    resp = r.client.okta(method, arg["path"], arg.get("json"), arg.get("params"))
    want = arg.get("expect_status")
    if (want is not None and resp.status_code != int(want)) or (want is None and resp.status_code >= 300):
        raise StepFailed(f"step {index}: {method} {arg['path']} answered {resp.status_code}"
                         f"{f' (expected {want})' if want is not None else ''}: {resp.text[:300]}")
    body = resp.json() if resp.content else None
    for name, path in (arg.get("remember") or {}).items():
        r.remembered[f"${name}"] = dig(body, path)


def _ec2(step: Step) -> None:
    from ..firewall.scenario_steps import ec2_step  # here: it imports this package's modules
    ec2_step(step)


def _firewall(step: Step) -> None:
    from ..firewall.scenario_steps import firewall_step
    firewall_step(step)


# -- how `lab demo` tells them ---------------------------------------------------------------

def _tell_login(arg: dict[str, Any]) -> str:
    mfa = str(arg.get("mfa", "code"))
    what = "the word push" if mfa.lower() == "push" else \
        "the code Okta Verify shows" if mfa == "code" else f"{mfa} in the MFA field"
    password = "a wrong password" if "password" in arg else "their AD password"
    return (f"{arg['user']} opens the WorkSpaces client and signs in with {password} and {what}. "
            "The client sends all three at once to WorkSpaces, which asks AD Connector to authenticate.")


def _tell_phone(arg: dict[str, Any]) -> str:
    after = f" after {arg['after']} s" if arg.get("after") else ""
    return f"On {arg['user']}'s phone, Okta Verify will {arg.get('respond', 'approve')} the next push{after}."


def _tell_fault(arg: dict[str, Any]) -> str:
    return (f"Something breaks: {arg.get('action')} {arg.get('protocol') or 'all'} traffic at "
            f"{arg['service']}" + (f" from {arg['peer']}" if arg.get("peer") else "") + ".")


# -- the table -------------------------------------------------------------------------------

ACTIONS: dict[str, Action] = {
    "say": Action(None, _say, tell=str),
    "login": Action(LOGIN_PARAMS, _login, tell=_tell_login),
    "phone": Action(frozenset({"user", "respond", "after"}), _phone, tell=_tell_phone),
    # Several Okta Verify devices: another phone scans a QR code, or is taken off (issue 17).
    "phone_scan": Action(frozenset({"uri", "device"}), _phone_scan,
                         tell=lambda arg: f"The user scans the QR code with another phone, {arg.get('device')}."),
    "phone_remove": Action(frozenset({"user", "device"}), _phone_remove,
                           tell=lambda arg: f"{arg['user']} removes the account from {arg['device']}."),
    "fault": Action(frozenset({"service", "action", "protocol", "port", "peer", "seconds", "target"}), _fault,
                    tell=_tell_fault),
    "clock": Action(frozenset({"service", "offset"}), _clock,
                    tell=lambda arg: f"{arg['service']}'s clock moves {arg['offset']} s away from the others."),
    "restart": Action(None, _restart, tell=lambda arg: f"{arg} restarts."),
    "fresh_minute": Action(None, _fresh_minute,
                           tell=lambda arg: f"We wait for a minute with {arg} s left: the org counts per minute."),
    "wait_for": Action(frozenset({"service", "kind", "outcome", "fields", "timeout"}), _wait_for,
                       tell=lambda arg: f"We wait until {arg.get('service', 'a service')} records {arg['kind']}."),
    # `remember: {name: path}` keeps a value of the answer for later steps, as `$name`.
    "aws": Action(frozenset({"service", "operation", "params", "expect_error", "expect", "remember"}), _aws),
    "aws_wait": Action(frozenset({"service", "operation", "params", "path", "equals", "timeout"}), _aws_wait),
    "okta": Action(frozenset({"method", "path", "json", "params", "expect_status", "remember"}), _okta),
    # The admin's Import button: AD users and groups into the org.
    "ad_import": Action(None, _ad_import),
    # The AD admin disables, enables or unlocks an account (an LDAP modify).
    "ad_account": Action(frozenset({"user", "change"}), _ad_account),
    # The user follows the emailed link and enrols Okta Verify.
    "activation_email": Action(frozenset({"user"}), _activation_email),
    # A list of login steps run at once, each optionally `after` N seconds.
    "parallel": Action(None, _parallel),
    # boto3's EC2 client (security groups); `$sg:InstanceOkta`, `$sgr:InstanceOkta:udp:1812` name ids.
    "ec2": Action(frozenset({"call", "params", "expect_error", "expect", "remember"}), _ec2,
                  tell=lambda arg: f"The admin changes the network with boto3's EC2 client: {arg.get('call')}."),
    # The Windows firewall of InstanceRDC / InstanceOkta, as `lab firewall HOST allow|block PORT/PROTO`.
    "firewall": Action(frozenset({"host", "action", "port", "from"}), _firewall,
                       tell=lambda arg: f"On {arg.get('host')}, the Windows firewall: {arg.get('action')} "
                                        f"{arg.get('port')}."),
}


def action_of(step: dict[str, Any]) -> str:
    """A step's action: its one key besides `expect`."""
    return next(k for k in step if k != "expect")


def tell(step: dict[str, Any]) -> str:
    """What `lab demo` says before a step."""
    action = action_of(step)
    narrate = ACTIONS[action].tell
    return narrate(step[action]) if narrate else action
