"""`lab class up|down|status|reset`: one lab per trainee on this host, and `lab --trainee N ...`,
which points any other command at trainee N's lab.

A class lives under the state directory: the roster (lab/classroom/roster.py) and one ordinary lab
per trainee in `<state>/class/trainee-NN/`, each on the subnet lab/classroom/subnets.py gives it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

from ..classroom import operations as ops
from ..classroom import roster as roster_mod
from ..classroom import subnets
from ..classroom.roster import Roster, Trainee
from ..dashboard import lifecycle as dashboard
from ..errors import LabError, UsageError
from ..k8s import cli as k8s_cli
from ..runtime import LabSpec, running_runtime
from .common import EXIT_FAILED, EXIT_LAB, EXIT_OK, say
from .pages import has_display

CLASS_DASHBOARD_OCTET = roster_mod.MAX_TRAINEES + 1     # the class dashboard's subnet: BASE.100

DESCRIPTION = """A class on one host: one lab per trainee, each on its own subnet (trainee N on BASE.N),
in its own state directory (<state>/class/trainee-NN) with its own credentials, seed and users.
`lab --trainee N COMMAND` runs any other command on trainee N's lab."""
EPILOG = """examples:
  lab class up --trainees 10            ten labs on 127.64.1 ... 127.64.10 (process runtime)
  lab class up --trainees 12            two more; the ten running are left alone
  lab class status                      every trainee: subnet, health, sign-in and console pages
  lab --trainee 7 login alice           any command, on trainee 7's lab
  lab --trainee 7 reset --blank         trainee 7's lab made blank; nobody else's is touched
  lab class down                        every trainee's lab stopped (their state kept)

docs/class.md says what each trainee gets and how many labs this host holds."""

def add_parser(sub: Any) -> None:
    """`lab class ...` under the `lab` parser's sub-commands (`sub`: lab/cli.py's `_Sub`)."""
    cls = sub.add_parser("class", help="a class: one lab per trainee on this host (up, down, status, reset)",
                         description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = type(sub)(cls.add_subparsers(dest="class_cmd", required=True, metavar="ACTION"))

    up = actions.add_parser("up", help="bring up trainees 1..N (only those not running), a few at a time")
    up.add_argument("--trainees", type=int, required=True, metavar="N", help=f"how many (1..{roster_mod.MAX_TRAINEES})")
    up.add_argument("--runtime", choices=["process", "docker"], default=None,
                    help="process (default) or docker; one runtime per class")
    up.add_argument("--blank", action="store_true", help="blank labs: each trainee walks the walkthrough")
    up.add_argument("--seed", help="a seed YAML file for every trainee's lab instead of the default")
    up.add_argument("--subnet-base", metavar="A.B", help="trainee N gets A.B.N (default 127.64 for processes, "
                    f"172.29 for containers; env {subnets.BASE_ENV})")
    up.add_argument("--parallel", type=int, default=ops.DEFAULT_PARALLEL, metavar="K",
                    help=f"labs started at once (default {ops.DEFAULT_PARALLEL}: fastest on 2 cores)")
    up.add_argument("--timeout", type=float, default=None, help="seconds each lab may take to be healthy "
                    "(default: the runtime's, 60 or 180)")
    up.add_argument("--json", action="store_true", help="one JSON document on stdout (progress on stderr)")
    up.set_defaults(func=cmd_class_up)

    down = actions.add_parser("down", help="stop every trainee's lab (their state and credentials are kept)")
    down.add_argument("--volumes", action="store_true", help="also remove each lab's service state (fresh labs "
                      "next time; credentials and subnets are kept)")
    down.set_defaults(func=cmd_class_down)

    status = actions.add_parser("status", help="every trainee: subnet, health, pages; exit 1 if any is unhealthy")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_class_status)

    reset = actions.add_parser("reset", help="trainee N's lab back to its seed (or blank) state: "
                               "the same as `lab --trainee N reset`")
    reset.add_argument("--blank", action="store_true", help="back to a blank lab instead")
    reset.set_defaults(func=cmd_class_reset)
    open_ = actions.add_parser("open", help="the class dashboard: a one-time sign-in link, opened in a browser "
                               "where there is a display")
    open_.add_argument("--no-browser", action="store_true", help="only print the link")
    open_.set_defaults(func=cmd_class_open)
    k8s_cli.add_parser(actions)       # `lab class manifests`: the class on Kubernetes (lab/k8s)


# -- lab --trainee N ---------------------------------------------------------------------------

def load_roster(state_dir: Path) -> Roster:
    roster = roster_mod.load(state_dir)
    if roster is None:
        raise UsageError(f"no class in {state_dir}: start one with `lab class up --trainees N`")
    return roster


def find_trainee(state_dir: Path, number: int) -> tuple[Roster, Trainee]:
    roster = load_roster(state_dir)
    trainee = roster.trainee(number)
    if trainee is None:
        have = ", ".join(str(t.number) for t in roster.trainees) or "none"
        raise UsageError(f"the class in {state_dir} has no trainee {number} (trainees: {have}); "
                         f"`lab class up --trainees {number}` adds trainees up to {number}")
    return roster, trainee


def resolve_trainee(args: argparse.Namespace) -> None:
    """`lab --trainee N COMMAND`: COMMAND works on trainee N's lab (its state directory; `up` and
    `scenarios run` get its subnet and the class's runtime unless given)."""
    number = getattr(args, "trainee", None)
    if number is None or args.command == "class":
        return
    roster, trainee = find_trainee(args.state_dir, number)
    args.state_dir = trainee.state_dir
    if hasattr(args, "subnet") and args.subnet is None:
        args.subnet = trainee.subnet
    elif hasattr(args, "subnet") and args.subnet != trainee.subnet:
        raise UsageError(f"--subnet {args.subnet}: {trainee.name}'s lab is on {trainee.subnet}")
    if args.command == "up" and args.runtime is None:
        args.runtime = roster.runtime


# -- the actions -------------------------------------------------------------------------------

def _whole_class(args: argparse.Namespace) -> None:
    if getattr(args, "trainee", None) is not None:
        raise UsageError(f"`lab class {args.class_cmd}` is for the whole class; for one trainee: "
                         f"`lab --trainee {args.trainee} {args.class_cmd}`")


def _start_class_dashboard(state_dir: Path, roster: Roster) -> str | None:
    """The trainer's dashboard for this class (one tile per trainee, each opening that trainee's
    picture): its URL, or None when it could not start (said; the class works without it). Its
    files go to the class folder; it reads the roster afresh as trainees are added."""
    if not roster.trainees:
        return None
    if roster.runtime == "docker":    # the labs are on Docker networks: the dashboard on the host's loopback
        host, port = dashboard.address_for({"runtime": "docker"})
    else:                             # beside the trainees: BASE.100 is never a trainee's (1..MAX_TRAINEES)
        host, port = f"{_base_of(roster)}.{CLASS_DASHBOARD_OCTET}.{dashboard.OCTET}", dashboard.PORT
    try:
        return dashboard.start(roster_mod.class_dir(state_dir), host=host, port=port, roster_state_dir=state_dir)
    except LabError as exc:
        say(f"class dashboard not started: {exc}")
        return None


def cmd_class_up(args: argparse.Namespace) -> int:
    _whole_class(args)
    state_dir: Path = args.state_dir
    if not 1 <= args.trainees <= roster_mod.MAX_TRAINEES:
        raise UsageError(f"--trainees {args.trainees}: from 1 to {roster_mod.MAX_TRAINEES}")
    if args.parallel < 1:
        raise UsageError(f"--parallel {args.parallel}: at least 1")
    roster = roster_mod.load(state_dir)
    runtime = args.runtime or (roster.runtime if roster else "process")
    if roster and roster.runtime != runtime:
        raise UsageError(f"the class in {state_dir} runs in the {roster.runtime} runtime, not {runtime} "
                         "(one runtime per class): use another --state-dir for a second class")
    if runtime == "docker" and os.environ.get("LAB_DOCKER_PROJECT"):
        raise UsageError("LAB_DOCKER_PROJECT names one compose project, and a class needs one per trainee: unset it")
    roster = roster or Roster(runtime=runtime)
    known = {t.number: t for t in roster.trainees}
    wanted = range(1, args.trainees + 1)
    base = subnets.base_for(runtime, args.subnet_base or _base_of(roster))
    running = {t.subnet for t in roster.trainees if running_runtime(t.state_dir) is not None}
    # Known trainees keep their subnet, new ones get BASE.N; all are checked (a stopped trainee's
    # subnet may have been taken since).
    given = subnets.allocate(state_dir, runtime, base, wanted, keep={n: t.subnet for n, t in known.items()},
                             running=running)
    roster.trainees = sorted([*roster.trainees, *ops.new_trainees(state_dir, {n: s for n, s in given.items()
                                                                            if n not in known})],
                             key=lambda t: t.number)
    roster_mod.save(state_dir, roster)
    chosen = [t for t in roster.trainees if t.number in wanted]
    out = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else say
    out(f"class in {state_dir}: {len(chosen)} trainees in the {runtime} runtime, {args.parallel} at a time")
    seed = Path(args.seed).resolve() if args.seed else None
    started = time.monotonic()
    outcomes = ops.start_all(roster, chosen, lambda t: LabSpec(subnet=t.subnet, seed=seed, blank=args.blank),
                             parallel=args.parallel, timeout=args.timeout, say=out)
    for outcome in outcomes:        # partly running: `lab up`'s own resume completes it, one at a time
        if outcome.result == "partly up":
            out(f"[{outcome.trainee.name}] partly up ({outcome.error}): completing it as `lab up` does")
            outcome.result = "failed" if _resume(outcome.trainee, runtime, args) else "started"
    url = _start_class_dashboard(state_dir, roster)
    if url:
        roster.dashboard = url
        roster_mod.save(state_dir, roster)
    failed = [o for o in outcomes if o.result == "failed"]
    elapsed = time.monotonic() - started
    if args.json:
        say(json.dumps({**roster.to_json(), "seconds": round(elapsed, 1),
                        "outcomes": [o.to_json() for o in outcomes]}, indent=2))
    else:
        say(f"{len(chosen) - len(failed)} of {len(chosen)} trainee labs up in {elapsed:.1f} s; "
            "`lab class status` shows their pages, `lab --trainee N status` one lab's credentials")
        for o in failed:
            say(f"  {o.trainee.name} FAILED: {o.error}")
    return EXIT_LAB if failed else EXIT_OK


def _base_of(roster: Roster) -> str | None:
    """A class keeps its base: the first trainee's subnet without its last octet."""
    return roster.trainees[0].subnet.rsplit(".", 1)[0] if roster.trainees else None


def _resume(trainee: Trainee, runtime: str, args: argparse.Namespace) -> int:
    from .lifecycle import cmd_up  # `lab up` on a running lab: start what is missing, wait for health

    up_args = argparse.Namespace(state_dir=trainee.state_dir, runtime=runtime, subnet=trainee.subnet,
                                 seed=args.seed, blank=args.blank, agents=None, standard_ports=False,
                                 timeout=args.timeout)
    try:
        return cmd_up(up_args)
    except LabError as exc:
        say(f"[{trainee.name}] FAILED: {exc}")
        return EXIT_LAB


def cmd_class_down(args: argparse.Namespace) -> int:
    _whole_class(args)
    roster = load_roster(args.state_dir)
    if dashboard.stop(roster_mod.class_dir(args.state_dir)):
        say("class dashboard stopped")
    roster.dashboard = None
    roster_mod.save(args.state_dir, roster)
    stopped = ops.stop_all(roster.trainees, volumes=args.volumes, parallel=4, say=say)
    say(f"{sum(1 for s in stopped.values() if s)} of {len(roster.trainees)} trainee labs were running and are "
        "stopped" + ("; their state is removed" if args.volumes else "") + f"; the roster stays in "
        f"{roster_mod.class_dir(args.state_dir)}")
    return EXIT_OK


def cmd_class_status(args: argparse.Namespace) -> int:
    _whole_class(args)
    roster = load_roster(args.state_dir)
    rows = ops.status_all(roster.trainees)
    healthy = all(r["healthy"] for r in rows)
    roster.dashboard = dashboard.url(roster_mod.class_dir(args.state_dir))     # the live one, not the last known
    if args.json:
        say(json.dumps({**roster.to_json(), "healthy": healthy, "trainees": rows}, indent=2))
    else:
        say(f"class in {args.state_dir}, {roster.runtime} runtime, {len(rows)} trainees"
            + (f"; dashboard {roster.dashboard} (`lab class open` signs you in)" if roster.dashboard else ""))
        for r in rows:
            state = ("healthy" if r["healthy"] else "UNHEALTHY") if r["running"] else "DOWN"
            mem = f"{r['memory']['pss_mib']:.0f} MiB" if r.get("memory") else ""
            say(f"  {r['name']}  {r['subnet'] + '.x':<14} {state:<9} {'blank' if r['blank'] else '':<5} {mem:>8}  "
                f"{r['pages'].get('signin', '')}  {r['pages'].get('console', '')}".rstrip())
            for service, why in r["unhealthy"].items():
                if r["running"]:
                    say(f"      {service}: {why}")
    return EXIT_OK if healthy and rows else EXIT_FAILED


def cmd_class_reset(args: argparse.Namespace) -> int:
    from .lifecycle import cmd_reset

    if getattr(args, "trainee", None) is None:
        raise UsageError("lab class reset needs --trainee N (one trainee's lab; the others are not touched)")
    _, trainee = find_trainee(args.state_dir, args.trainee)
    say(f"resetting {trainee.name}'s lab ({trainee.subnet}.x)")
    return cmd_reset(argparse.Namespace(state_dir=trainee.state_dir, blank=args.blank))


def cmd_class_open(args: argparse.Namespace) -> int:
    _whole_class(args)
    load_roster(args.state_dir)
    link = dashboard.sign_in_link(roster_mod.class_dir(args.state_dir))    # a fresh one-time link each time
    say(link)
    if has_display() and not args.no_browser:
        webbrowser.open(link)
    return EXIT_OK
