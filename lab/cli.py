"""The `lab` command: start, inspect and drive the lab.

Exit codes: 0 success; 1 the thing asked for failed as the real system would fail it (a sign-in
refused, a service unhealthy); 2 usage or lab errors (bad arguments, lab not running, a port in use).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from . import docker_runtime as dr
from . import process_runtime as pr
from . import provision
from . import topology as topo
from .client import AD_ACCOUNT_CHANGES, LabClient, LabClientError
from .state import default_state_dir, load_topology
from .timeline import format_event, timeline

EXIT_OK, EXIT_FAILED, EXIT_LAB = 0, 1, 2


class UsageError(Exception):
    pass


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def _err(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _running(state_dir: Path) -> list[dict[str, Any]]:
    """The lab's running services here, whichever runtime started them ([{"name", ...}])."""
    return pr.running(state_dir) or dr.running(state_dir)


def _running_topology(args) -> dict[str, Any]:
    topology = load_topology(args.state_dir)
    if topology is None or not _running(args.state_dir):
        raise pr.LabError(f"the lab is not running (state directory {args.state_dir}); start it with `lab up`")
    return topology


def _seed(topology: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(Path(topology["seed"]).read_text()) or {}


# -- up / down / status / logs ---------------------------------------------------------------

def cmd_up(args) -> int:
    state_dir: Path = args.state_dir
    already = _running(state_dir)
    if already:
        _say(f"the lab is already running ({len(already)} services, state in {state_dir}); "
             "`lab status` shows them, `lab down` stops them")
        return EXIT_OK
    if args.runtime == "docker":
        return _up_docker(args)
    started_at = time.monotonic()
    creds = topo.load_or_create_credentials(state_dir)
    topology = topo.build(state_dir, subnet=args.subnet, standard_ports=args.standard_ports,
                          blank=args.blank, credentials=creds, agents=args.agents,
                          seed=Path(args.seed).resolve() if args.seed else topo.SEED_DEFAULT)
    path = pr.write_topology(state_dir, topology)
    names = list(topology["services"])
    pr.check_ports_free(topology, names)
    _say(f"starting {len(names)} services (state in {state_dir})")
    try:
        started = pr.start(path, topology, names)
        pr.wait_healthy(topology, started, timeout=args.timeout or 60,
                        progress=lambda name, _: _say(f"  {name:<15} healthy"))
        if not args.blank:
            provision.enrol_okta_verify(topology, _seed(topology), progress=lambda m: _say(f"  {m}"))
    except (pr.LabError, provision.ProvisionError, httpx.HTTPError) as exc:
        pr.stop(state_dir)
        raise pr.LabError(f"lab up failed, everything it started is stopped again: {exc}") from None
    _say(f"the lab is up in {time.monotonic() - started_at:.1f} s")
    _print_endpoints(topology)
    return EXIT_OK


def _up_docker(args) -> int:
    """`lab up --runtime docker`: the same lab as containers (lab/docker_runtime.py)."""
    started_at = time.monotonic()
    _say(f"starting the lab in containers (state in {args.state_dir})")
    topology = dr.up(args.state_dir, subnet=None if args.subnet == topo.DEFAULT_SUBNET else args.subnet,
                     seed=Path(args.seed).resolve() if args.seed else None, blank=args.blank,
                     agents=args.agents, timeout=args.timeout or dr.DEFAULT_TIMEOUT,
                     progress=lambda m: _say(f"  {m}"))
    _say(f"the lab is up in {time.monotonic() - started_at:.1f} s")
    _print_endpoints(topology)
    return EXIT_OK


def _print_endpoints(topology: dict[str, Any]) -> None:
    for name, svc in topology["services"].items():
        eps = "  ".join(f"{k} {v}" for k, v in topo.endpoints(svc).items())
        _say(f"  {name:<15} {eps}")


def cmd_down(args) -> int:
    stopped = pr.stop(args.state_dir) + dr.down(args.state_dir, volumes=getattr(args, "volumes", False))
    _say(f"stopped {', '.join(stopped)}" if stopped else "the lab is not running")
    return EXIT_OK


def cmd_status(args) -> int:
    topology = load_topology(args.state_dir)
    alive = {p["name"] for p in _running(args.state_dir)}
    if topology is None or not alive:
        if args.json:
            _say(json.dumps({"runtime": None, "running": False, "services": {}}))
        else:
            _say("the lab is not running")
        return EXIT_FAILED
    health = LabClient(topology).health()
    creds = topology["credentials"]
    status = {
        "runtime": topology["runtime"],
        "running": True,
        "state_dir": topology["state_dir"],
        "services": {name: {"healthy": health[name] and name in alive, "endpoints": topo.endpoints(svc)}
                     for name, svc in topology["services"].items()},
        "credentials": {k: creds[k] for k in ("okta_api_token", "radius_shared_secret", "aws_access_key_id",
                                              "aws_secret_access_key", "aws_region") if k in creds},
    }
    if args.json:
        _say(json.dumps(status, indent=2))
    else:
        _say(f"runtime {status['runtime']}, state in {status['state_dir']}")
        for name, svc in status["services"].items():
            eps = "  ".join(f"{k} {v}" for k, v in svc["endpoints"].items())
            _say(f"  {name:<15} {'healthy' if svc['healthy'] else 'UNHEALTHY':<9} {eps}")
    return EXIT_OK if all(s["healthy"] for s in status["services"].values()) else EXIT_FAILED


def cmd_logs(args) -> int:
    topology = load_topology(args.state_dir)
    if topology is None:
        raise pr.LabError("the lab has never been started here; no logs")
    names = [args.service] if args.service else list(topology["services"])
    for name in names:
        if name not in topology["services"]:
            raise UsageError(f"no service {name!r}; services: {', '.join(topology['services'])}")
        path = args.state_dir / "logs" / f"{name}.log"
        if topology.get("runtime") == "docker":
            lines = dr.logs(args.state_dir, name, args.lines)
        else:
            lines = path.read_text(errors="replace").splitlines()[-args.lines:] if path.exists() else []
        if len(names) > 1:
            _say(f"==> {name} <==")
        for line in lines:
            _say(line)
    return EXIT_OK


# -- people, sign-ins, the phone -------------------------------------------------------------

def _user_row(person: dict[str, Any], domain: str) -> dict[str, Any]:
    okta = person.get("okta") or {}
    return {"username": person["sam"], "upn": f"{person['sam']}@{domain}", "password": person["password"],
            "ad_state": person.get("state", "enabled"), "okta_status": okta.get("status"),
            "assigned": bool(okta.get("assigned")), "okta_verify": bool(okta.get("okta_verify")),
            "workspace": bool(person.get("workspace"))}


def cmd_users(args) -> int:
    topology = load_topology(args.state_dir)
    seed = _seed(topology) if topology else yaml.safe_load(topo.SEED_DEFAULT.read_text())
    domain = seed["domain"]["dns_name"]
    rows = [_user_row(p, domain) for p in seed.get("users", [])]
    if args.json:
        _say(json.dumps(rows, indent=2))
        return EXIT_OK
    _say(f"{'username':<14}{'password':<20}{'AD state':<22}{'Okta':<10}{'assigned':<10}{'Okta Verify':<13}WorkSpace")
    for r in rows:
        _say(f"{r['username']:<14}{r['password']:<20}{r['ad_state']:<22}{r['okta_status'] or '-'!s:<10}"
             f"{'yes' if r['assigned'] else 'no':<10}{'yes' if r['okta_verify'] else 'no':<13}"
             f"{'yes' if r['workspace'] else 'no'}")
    return EXIT_OK


def _client(args) -> LabClient:
    return LabClient(_running_topology(args))


def cmd_login(args) -> int:
    client = _client(args)
    mfa = args.mfa
    if mfa is None:
        mfa = client.phone_code(args.user)
        if not args.json:
            _say(f"(MFA code from {args.user}'s Okta Verify)")
    try:
        result = client.login(args.user, args.password, mfa, args.registration_code)
    except httpx.HTTPError as exc:
        raise pr.LabError(f"cannot reach WorkSpaces: {exc}") from None
    if args.json:
        _say(json.dumps(result, indent=2))
    elif result["success"]:
        _say(f"signed in as {result['userName']}: connected to WorkSpace {result['workspaceId']} "
             f"({result.get('computerName')}) in {result['elapsed_seconds']:.2f} s")
    else:
        _say(result.get("message", "sign-in failed"))
    return EXIT_OK if result["success"] else EXIT_FAILED


def cmd_phone(args) -> int:
    client = _client(args)
    if args.phone_cmd == "code":
        code = client.phone_code(args.user)
        _say(json.dumps({"user": args.user, "code": code}) if args.json else code)
    elif args.phone_cmd == "respond":
        client.phone_respond(args.user, args.action, args.after)
        _say(f"{args.user}'s phone will {args.action} pushes" + (f" after {args.after:g} s" if args.after else ""))
    else:
        pushes = client.phone_pushes()
        _say(json.dumps(pushes, indent=2) if args.json else
             "\n".join(f"{p['received']} {p['login']} {p['action']} answered={p['answered']}" for p in pushes)
             or "no pushes yet")
    return EXIT_OK


# -- onboarding: AD import, activation, the mailbox -------------------------------------------

def cmd_import(args) -> int:
    job = _client(args).ad_import(full=not args.incremental, wait=args.timeout)
    if args.json:
        _say(json.dumps(job, indent=2))
    elif job["status"] == "COMPLETED":
        c = job.get("counts") or {}
        _say(f"imported from Active Directory: {c.get('users.created', 0)} users created (STAGED), "
             f"{c.get('users.updated', 0)} updated, {c.get('users.unchanged', 0)} unchanged; "
             f"{c.get('groups.created', 0)} groups created; {c.get('memberships.added', 0)} memberships added")
        changed = [f"{c[k]} {k.split('.')[1]}" for k in ("users.deactivated", "users.suspended", "users.reactivated")
                   if c.get(k)]
        if changed:       # the lifecycle rules of the integration acted on people disabled or enabled in AD
            _say("lifecycle: " + ", ".join(changed) + " (users disabled, enabled or gone in AD)")
    else:
        _say(f"the import failed: {job.get('error')}")
    return EXIT_OK if job["status"] == "COMPLETED" else EXIT_FAILED


def cmd_activate(args) -> int:
    result = _client(args).activate(args.user, send_email=not args.no_email)
    if args.json:
        _say(json.dumps(result, indent=2))
    elif args.no_email:
        _say(f"activated {result['login']}; activation link: {result.get('activationUrl')}")
    else:
        _say(f"activated {result['login']}; the activation email is in the mailbox (`lab mail {args.user}`)")
    return EXIT_OK


def cmd_ad(args) -> int:
    result = _client(args).ad_account(args.user, args.change)
    if args.json:
        _say(json.dumps(result, indent=2))
    else:
        done = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked",
                "must-change-password": "must change the password at next logon"}[args.change]
        _say(f"{result['user']}: {done} in AD ({result['dn']}, userAccountControl {result['userAccountControl']}); "
             "Okta sees it at the next import (`lab import`)")
    return EXIT_OK


def cmd_mail(args) -> int:
    messages = _client(args).mail(args.user)
    if args.json:
        _say(json.dumps(messages, indent=2))
        return EXIT_OK
    if not messages:
        _say(f"no mail for {args.user}" if args.user else "the mailbox is empty")
        return EXIT_OK
    for m in messages:
        _say(f"{m['received']}  to {', '.join(m['envelope']['to'])}: {m['subject']}")
    if args.user:          # open the newest, as the user would
        _say("")
        _say(messages[-1]["text"].rstrip())
    return EXIT_OK


# -- events and reset ------------------------------------------------------------------------

def cmd_events(args) -> int:
    client = _client(args)
    events = client.events(args.service)
    if args.json and not args.follow:
        _say(json.dumps(events, indent=2))
        return EXIT_OK
    for e in events:
        _say(json.dumps(e) if args.json else format_event(e))
    if not args.follow:
        return EXIT_OK
    marks: dict[str, int] = {}
    for e in events:
        marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
    while True:  # until Ctrl-C: the live timeline a class watches during a demo
        time.sleep(0.3)
        for e in client.events(args.service, since=marks):
            marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
            _say(json.dumps(e) if args.json else format_event(e))


def cmd_reset(args) -> int:
    client = _client(args)
    client.reset()
    if not client.topology.get("blank"):
        provision.enrol_okta_verify(client.topology, client.seed())
    _say("every service is back to its seed state")
    return EXIT_OK


# -- scenarios -------------------------------------------------------------------------------

def _run_scenarios(runner, scenarios, outcomes: list, total: int) -> None:
    for scenario in scenarios:
        _say(f"[{len(outcomes) + 1}/{total}] {scenario.name}: {scenario.title}")
        outcome = runner.run(scenario)
        outcomes.append(outcome)
        if outcome.skipped:
            _say(f"  SKIP: {outcome.skipped}")
        elif outcome.passed:
            _say(f"  PASS in {outcome.seconds:.1f} s")
        else:
            _say(f"  FAIL in {outcome.seconds:.1f} s")
            for failure in outcome.failures:
                _say(f"    - {failure}")
            _say("    event timeline:")
            for line in timeline(outcome.events).splitlines():
                _say(f"      {line}")


def cmd_scenarios(args) -> int:
    from .scenarios import junit, model
    from .scenarios.runner import Runner

    try:
        chosen = model.select(model.catalog(), args.names if args.scen_cmd == "run" else [], args.tag)
    except model.ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.scen_cmd == "list":
        if args.json:
            _say(json.dumps([{"name": s.name, "title": s.title, "tags": s.tags, "file": str(s.path)}
                             for s in chosen], indent=2))
        else:
            for s in chosen:
                _say(f"{s.name:<40} {','.join(s.tags):<22} {s.title}")
        return EXIT_OK
    if not chosen:
        raise UsageError("no scenario matches")
    seeded = [s for s in chosen if not s.requires.get("blank")]
    blank = [s for s in chosen if s.requires.get("blank")]
    outcomes: list = []
    started = time.monotonic()
    topology_for_report = None
    if seeded:
        brought_up = False
        if not _running(args.state_dir):
            _say("no lab is running here: bringing one up for the run (two RADIUS agents, for every scenario)")
            up_args = argparse.Namespace(**vars(args), runtime="process", blank=False, standard_ports=False,
                                         subnet=topo.DEFAULT_SUBNET, seed=None, timeout=60, agents=2)
            cmd_up(up_args)
            brought_up = True
        client = LabClient(_running_topology(args))
        topology_for_report = client.topology
        runner = Runner(client, args.state_dir, progress=_say)
        try:
            _run_scenarios(runner, seeded, outcomes, len(chosen))
        finally:
            if brought_up:
                cmd_down(args)
            else:   # leave the lab as the run found it: seeded, nothing broken
                runner.isolate()
    if blank:
        from .scenarios.blank_lab import blank_lab
        with blank_lab(args.state_dir, progress=_say) as topology:
            topology_for_report = topology_for_report or topology
            runner = Runner(LabClient(topology), Path(topology["state_dir"]), progress=_say)
            _run_scenarios(runner, blank, outcomes, len(chosen))
    skipped = sum(1 for o in outcomes if o.skipped)
    passed = sum(1 for o in outcomes if o.passed and not o.skipped)
    failed = len(outcomes) - passed - skipped
    _say(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
         + f" in {time.monotonic() - started:.1f} s")
    if args.junit:
        junit.write(outcomes, Path(args.junit), timeline)
        _say(f"JUnit report: {args.junit}")
    if args.report:
        from .scenarios import report
        _say(f"HTML report: {report.write(outcomes, Path(args.report), topology_for_report)}")
    return EXIT_OK if failed == 0 else EXIT_FAILED


def cmd_demo(args) -> int:
    from .demo import run_demo
    from .scenarios import model

    try:
        scenarios = model.catalog()
        chosen = model.select(scenarios, [args.scenario], []) if args.scenario else \
            [s for s in scenarios if "demo" in s.tags]
    except model.ScenarioError as exc:
        raise UsageError(str(exc)) from None
    client = _client(args)
    ok = True
    for scenario in chosen:
        ok &= run_demo(client, args.state_dir, scenario, _say, interactive=None if not args.no_pause else False).passed
    return EXIT_OK if ok else EXIT_FAILED


# -- the parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="A local lab of Okta MFA for Amazon WorkSpaces.",
        epilog="Exit codes: 0 success, 1 refused/unhealthy (as the real system would), 2 usage or lab error.")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the lab keeps state, logs and its topology (env LAB_STATE_DIR; "
                             "default ~/.local/state/okta-workspaces-lab)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start every service and wait until all are healthy")
    up.add_argument("--runtime", default="process", choices=["process", "docker"],
                    help="process (default: local processes, no Docker needed) or docker")
    up.add_argument("--blank", action="store_true", help="no AWS or Okta configuration: walk the walkthrough yourself")
    up.add_argument("--standard-ports", action="store_true", help="use 389/88/53/80 (needs root) instead of +10000")
    up.add_argument("--subnet", default=topo.DEFAULT_SUBNET, help="first three octets of the loopback addresses "
                    f"(default {topo.DEFAULT_SUBNET})")
    up.add_argument("--seed", help="a seed YAML file instead of the default")
    up.add_argument("--agents", type=int, choices=[1, 2], default=1,
                    help="Okta RADIUS agents to run (2: a second one on .22, with its own duplicate cache)")
    up.add_argument("--timeout", type=float, default=None,
                    help="seconds to wait for health (default 60; 180 with --runtime docker)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop exactly the processes or containers `lab up` started")
    down.add_argument("--volumes", action="store_true",
                      help="docker runtime: also remove the containers' state volumes (a fresh lab next time)")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="health and endpoints of every service, and the admin credentials")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="the last lines of a service's log (all services without SERVICE)")
    logs.add_argument("service", nargs="?")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.set_defaults(func=cmd_logs)

    users = sub.add_parser("users", help="the seed directory's users, demo passwords and account states")
    users.add_argument("--json", action="store_true")
    users.set_defaults(func=cmd_users)

    login = sub.add_parser("login", help="sign in with the WorkSpaces client: password, then a code or `push`")
    login.add_argument("user")
    login.add_argument("--password", help="AD password (default: the seed's demo password)")
    login.add_argument("--mfa", help="the MFA field: a 6-digit code or `push` (default: the phone's current code)")
    login.add_argument("--registration-code", help="WorkSpaces registration code (default: the seed's)")
    login.add_argument("--json", action="store_true")
    login.set_defaults(func=cmd_login)

    phone = sub.add_parser("phone", help="Okta Verify on the user's phone")
    phone_sub = phone.add_subparsers(dest="phone_cmd", required=True, metavar="ACTION")
    code = phone_sub.add_parser("code", help="the 6-digit code USER's Okta Verify shows now")
    code.add_argument("user")
    code.add_argument("--json", action="store_true")
    respond = phone_sub.add_parser("respond", help="how USER answers pushes: approve, deny or ignore")
    respond.add_argument("user")
    respond.add_argument("action", choices=["approve", "deny", "ignore"])
    respond.add_argument("--after", type=float, default=0.0, metavar="SECONDS", help="answer after this delay")
    pushes = phone_sub.add_parser("pushes", help="the pushes the phone received")
    pushes.add_argument("--json", action="store_true")
    phone.set_defaults(func=cmd_phone)

    imp = sub.add_parser("import", help="import AD users and groups into Okta now, through the Okta AD agent")
    imp.add_argument("--incremental", action="store_true", help="an incremental import (default: full)")
    imp.add_argument("--timeout", type=float, default=60, help="seconds to wait for the agent (default 60)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)

    activate = sub.add_parser("activate", help="activate USER in Okta, as the admin does; the email goes to the mailbox")
    activate.add_argument("user", help="Okta login or its part before the @")
    activate.add_argument("--no-email", action="store_true", help="print the activation link instead (sendEmail=false)")
    activate.add_argument("--json", action="store_true")
    activate.set_defaults(func=cmd_activate)

    ad = sub.add_parser("ad", help="change an AD account as the domain admin does (an LDAP modify on the DC)")
    ad.add_argument("user", help="sAMAccountName, UPN or CORP\\name")
    ad.add_argument("change", choices=list(AD_ACCOUNT_CHANGES), help="what to do to the account")
    ad.add_argument("--json", action="store_true")
    ad.set_defaults(func=cmd_ad)

    mail = sub.add_parser("mail", help="the users' mailbox; with USER, their mail and the newest message's text")
    mail.add_argument("user", nargs="?")
    mail.add_argument("--json", action="store_true")
    mail.set_defaults(func=cmd_mail)

    events = sub.add_parser("events", help="the merged, time-ordered events of all services")
    events.add_argument("--json", action="store_true")
    events.add_argument("--service", help="only this service's events")
    events.add_argument("-f", "--follow", action="store_true", help="keep printing new events as they happen")
    events.set_defaults(func=cmd_events)

    scen = sub.add_parser("scenarios", help="the scenario catalog: list it, or run it against the lab")
    scen_sub = scen.add_subparsers(dest="scen_cmd", required=True, metavar="ACTION")
    scen_list = scen_sub.add_parser("list", help="the scenarios in scenarios/")
    scen_list.add_argument("--tag", action="append", default=[], help="only scenarios with this tag")
    scen_list.add_argument("--json", action="store_true")
    scen_run = scen_sub.add_parser("run", help="run scenarios (all, by NAME, or by --tag); exit 0 only if all pass")
    scen_run.add_argument("names", nargs="*", metavar="NAME")
    scen_run.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable)")
    scen_run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    scen_run.add_argument("--report", metavar="DIR", help="write an HTML report")
    scen.set_defaults(func=cmd_scenarios)

    demo = sub.add_parser("demo", help="narrate a scenario step by step for a class (all `demo` scenarios by default)")
    demo.add_argument("scenario", nargs="?")
    demo.add_argument("--no-pause", action="store_true", help="do not wait for Enter between steps")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("reset", help="every service back to its seed state (faults, clocks, journals too)"
                   ).set_defaults(func=cmd_reset)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        return args.func(args)
    except (UsageError, LabClientError) as exc:
        _err(str(exc))
        return EXIT_LAB
    except pr.LabError as exc:
        _err(str(exc))
        return EXIT_LAB
    except provision.ProvisionError as exc:
        _err(f"provisioning failed: {exc}")
        return EXIT_LAB
    except httpx.HTTPError as exc:
        _err(f"cannot reach the lab: {exc}")
        return EXIT_LAB
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lab events | head`: the reader has gone, nothing more to say
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
