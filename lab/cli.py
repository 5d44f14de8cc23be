"""The `lab` command: start, inspect and drive the lab. This module parses the command line and
dispatches to lab/commands/ (one module per job).

Exit codes: 0 success; 1 the thing asked for failed as the real system would fail it (a sign-in
refused, a service unhealthy); 2 usage or lab errors (bad arguments, lab not running, a port in use).
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from importlib import metadata
from pathlib import Path

import httpx

from . import completion, provision
from . import topology as topo
from .client import AD_ACCOUNT_CHANGES, LabClientError
from .commands.ca import add_parser as add_ca_parser
from .commands.classroom import add_parser as add_class_parser
from .commands.classroom import resolve_trainee
from .commands.common import EXIT_LAB, EXIT_OK, EXIT_USAGE, err, say
from .commands.env import cmd_env
from .commands.events import cmd_events
from .commands.firewall import add_parser as add_firewall_parser
from .commands.lifecycle import cmd_down, cmd_logs, cmd_reset, cmd_restart, cmd_status, cmd_up
from .commands.pages import cmd_open
from .commands.people import cmd_activate, cmd_ad, cmd_import, cmd_login, cmd_mail, cmd_phone, cmd_users
from .commands.scenarios import cmd_demo, cmd_scenarios
from .errors import LabError, UsageError
from .state import default_state_dir

STATE_DIR_HELP = ("where the lab keeps state, logs and its topology (env LAB_STATE_DIR; "
                  "default ~/.local/state/okta-workspaces-lab)")
TRAINEE_HELP = "work on trainee N's lab of the class in the state directory (`lab class up`)"


def version() -> str:
    try:
        return metadata.version("okta-workspaces-lab")
    except metadata.PackageNotFoundError:      # run from a source tree that was never installed
        return "unknown (not installed)"


def subnet_arg(value: str) -> str:
    """`--subnet`: the first three octets of an IPv4 address (`127.0.20`), nothing else."""
    parts = value.split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 255 and str(int(p)) == p for p in parts):
        raise argparse.ArgumentTypeError(f"{value!r} is not the first three octets of an IPv4 address "
                                         f"(like {topo.DEFAULT_SUBNET})")
    ipaddress.ip_network(f"{value}.0/24")
    return value


class _Sub:
    """add_parser for every command and action, each also taking `--state-dir` after its name
    (`lab status --state-dir D` as well as `lab --state-dir D status`)."""

    def __init__(self, action: argparse._SubParsersAction) -> None:
        self.action = action
        self.common = argparse.ArgumentParser(add_help=False)
        # SUPPRESS: absent after the command, the value given before it (or the default) stays.
        self.common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help=STATE_DIR_HELP)
        self.common.add_argument("--trainee", type=int, metavar="N", default=argparse.SUPPRESS, help=TRAINEE_HELP)

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.action.add_parser(name, parents=[self.common], **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="A local lab of Okta MFA for Amazon WorkSpaces.",
        epilog="Exit codes: 0 success, 1 refused/unhealthy (as the real system would), 2 usage or lab error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--state-dir", type=Path, default=None, help=STATE_DIR_HELP)
    parser.add_argument("--trainee", type=int, metavar="N", default=None, help=TRAINEE_HELP)
    sub = _Sub(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))

    up = sub.add_parser("up", help="start every service and wait until all are healthy")
    up.add_argument("--runtime", default=None, choices=["process", "docker"],
                    help="process (default: local processes, no Docker needed) or docker")
    up.add_argument("--blank", action="store_true", help="no AWS or Okta configuration: walk the walkthrough yourself")
    up.add_argument("--standard-ports", action="store_true",
                    help="use 389/88/53/80 (needs root) instead of +10000 (HTTP: 8080)")
    up.add_argument("--subnet", type=subnet_arg, default=None, help="first three octets of the loopback addresses "
                    f"(default {topo.DEFAULT_SUBNET})")
    up.add_argument("--seed", help="a seed YAML file instead of the default")
    up.add_argument("--agents", type=int, choices=[1, 2], default=None,
                    help="Okta RADIUS agents to run (default 1; 2: a second one on .22, with its own duplicate cache)")
    up.add_argument("--timeout", type=float, default=None,
                    help="seconds to wait for health (default 60; 180 with --runtime docker)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the supervisor, then exactly the processes or containers `lab up` started")
    down.add_argument("--volumes", action="store_true",
                      help="also remove the services' state (data folders, journals, logs; the containers' "
                           "volumes): a fresh lab next time; the credentials are kept")
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
    phone_sub = _Sub(phone.add_subparsers(dest="phone_cmd", required=True, metavar="ACTION"))
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

    activate = sub.add_parser("activate",
                              help="activate USER in Okta, as the admin does; the email goes to the mailbox")
    activate.add_argument("user", help="Okta login or its part before the @")
    activate.add_argument("--no-email", action="store_true", help="print the activation link instead (sendEmail=false)")
    activate.add_argument("--json", action="store_true")
    activate.set_defaults(func=cmd_activate)

    ad = sub.add_parser("ad", help="change an AD account as the domain admin does (an LDAP modify on the DC)")
    ad.add_argument("user", help="sAMAccountName, UPN or CORP\\name")
    ad.add_argument("change", choices=[*AD_ACCOUNT_CHANGES, "set-password"],
                    help="what to do to the account (set-password: unicodePwd over StartTLS)")
    ad.add_argument("--password", help="set-password: the new password (default: one line read from stdin)")
    ad.add_argument("--json", action="store_true")
    ad.set_defaults(func=cmd_ad)

    open_ = sub.add_parser("open", help="a page's address (admin, signin, mail, mail:USER, dashboard, or USER's "
                                       "phone), opened in a browser where there is a display")
    open_.add_argument("name", help="admin | signin | mail | mail:USER | dashboard | USER (their Okta Verify)")
    open_.add_argument("--no-browser", action="store_true", help="only print the address")
    open_.set_defaults(func=cmd_open)

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
    scen_sub = _Sub(scen.add_subparsers(dest="scen_cmd", required=True, metavar="ACTION"))
    scen_list = scen_sub.add_parser("list", help="the scenario catalog (shipped in the package)")
    scen_list.add_argument("--tag", action="append", default=[], help="only scenarios with this tag")
    scen_list.add_argument("--json", action="store_true")
    scen_run = scen_sub.add_parser("run", help="run scenarios (all, by NAME or PATH.yaml, or by --tag); exit 0 only "
                                   "if all pass")
    scen_run.add_argument("names", nargs="*", metavar="NAME", help="a catalog name, or a scenario file's path")
    scen_run.add_argument("--subnet", help="the lab's subnet when the run brings one up (default "
                          f"{topo.DEFAULT_SUBNET}); the blank lab's is derived from it")
    scen_run.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable)")
    scen_run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    scen_run.add_argument("--report", metavar="DIR", help="write an HTML report")
    scen.set_defaults(func=cmd_scenarios)

    demo = sub.add_parser("demo", help="narrate a scenario step by step for a class (all `demo` scenarios by default)")
    demo.add_argument("scenario", nargs="?")
    demo.add_argument("--no-pause", action="store_true", help="do not wait for Enter between steps")
    demo.add_argument("--browser", action="store_true",
                      help="narrate on the dashboard (`lab open dashboard`), paced by its Next step button")
    demo.set_defaults(func=cmd_demo)

    reset = sub.add_parser("reset", help="every service back to its seed state (faults, clocks too), healthy or "
                           "not: what answers is reset, what does not is restarted")
    reset.add_argument("--blank", action="store_true", help="back to a blank lab instead (starts it afresh)")
    reset.set_defaults(func=cmd_reset)

    restart = sub.add_parser("restart", help="stop one service and start it again, wait until it is healthy")
    restart.add_argument("service")
    restart.set_defaults(func=cmd_restart)

    env = sub.add_parser("env", help="export lines that point the AWS CLI, boto3, ldapsearch, kinit and the "
                         "okta SDK at the lab: eval \"$(lab env)\"")
    env.add_argument("--json", action="store_true")
    env.set_defaults(func=cmd_env)

    comp = sub.add_parser("completion", help="a shell completion script: source <(lab completion bash)")
    comp.add_argument("shell", choices=completion.SHELLS)
    comp.set_defaults(func=cmd_completion)
    add_firewall_parser(sub)
    add_ca_parser(sub)
    add_class_parser(sub)
    return parser


def cmd_completion(args: argparse.Namespace) -> int:
    say(completion.script(build_parser(), args.shell).rstrip())
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        resolve_trainee(args)
        return args.func(args)
    except (UsageError, LabClientError) as exc:
        err(str(exc))
        return EXIT_USAGE
    except LabError as exc:
        err(str(exc))
        return EXIT_LAB
    except provision.ProvisionError as exc:
        err(f"provisioning failed: {exc}")
        return EXIT_LAB
    except httpx.HTTPError as exc:
        err(f"cannot reach the lab: {exc}")
        return EXIT_LAB
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lab events | head`: the reader has gone, nothing more to say
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
