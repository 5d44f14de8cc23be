"""`lab open NAME`: the address of a page the lab serves, opened in a browser when there is one.

NAME is `admin` (the Okta admin console), `signin` (the org's sign-in page), `mail` (the mailbox;
`mail:alice` opens Alice's inbox), `dashboard` (the trainer's dashboard, through a one-time
sign-in link), or a person's username (`alice`: Okta Verify on her phone).
The URL is always printed; a browser opens only where a display exists (a lab on a server over
SSH prints the address for the trainer's own browser). The org's pages are HTTPS (the lab CA's
certificate): until `lab ca trust` has run, it says so on stderr."""
from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import browser_trust, people_view
from .. import topology as topo
from ..client import LabClient
from ..errors import UsageError
from .common import EXIT_OK, err, running_topology, say

PAGE_NAMES = {"admin", "console", "signin", "login", "mail", "mailbox", "aws", "aws-console", "webaccess",
              "web-access", "dashboard"}
PERSON_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def page_url(topology: dict[str, Any], name: str) -> str:
    services = topology["services"]

    def ep(service: str, page: str) -> str:
        if service not in services:
            raise UsageError(f"this lab runs no {service} service")
        return topo.endpoints(services[service])[page]

    if name in ("admin", "console"):
        return ep("okta", "admin_console")
    if name in ("signin", "login"):
        return ep("okta", "signin")
    if name in ("mail", "mailbox"):
        return ep("mail", "mailbox")
    if name in ("aws", "aws-console"):              # `console` is Okta's admin console
        return ep("aws-console", "console")
    if name in ("webaccess", "web-access"):
        return ep("workspaces", "web_access")
    if name.startswith("mail:") and set(name[5:]) <= PERSON_CHARS | {"@"} and name[5:]:
        return ep("mail", "mailbox") + "?to=" + quote(name[5:])
    person = name.split("@")[0]
    if person and set(person) <= PERSON_CHARS:
        return ep("phone", "phones") + "phone/" + quote(person.lower())
    raise UsageError(f"no page called {name!r}: admin, signin, mail, mail:USER, aws, webaccess or a username "
                     "(their phone)")


def has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _check_person(topology: dict[str, Any], name: str) -> None:
    """A person's phone page only for someone the directory has (they may not have enrolled yet)."""
    if name.split(":")[0] in PAGE_NAMES or "dc" not in topology["services"]:
        return
    client = LabClient(topology)
    try:
        accounts = [str(e.sAMAccountName.value) for e in people_view.ad_accounts(client)]
    finally:
        client.close()
    if name.split("@")[0].lower() not in {a.lower() for a in accounts}:
        raise UsageError(f"no page called {name!r} and no such person: admin, signin, mail, mail:USER, or one of "
                         f"{', '.join(accounts)}")


def _trust_hint(topology: dict[str, Any]) -> None:
    """An HTTPS page (the org's) shows a certificate warning until the browser trusts the lab CA:
    say so, on stderr (stdout stays the URL alone, for scripts), when no NSS database here has it."""
    ca_file = (topology.get("ca") or {}).get("cert")
    if ca_file and Path(ca_file).is_file() and not browser_trust.trusted_anywhere(Path(ca_file)):
        err(f"this page's certificate comes from the lab CA ({ca_file}), which this machine's browsers do "
            "not trust yet: run `lab ca trust` (it also says how on macOS and Windows), then restart the browser")


def cmd_open(args: argparse.Namespace) -> int:
    topology = running_topology(args)
    if args.name == "dashboard":
        from ..dashboard import lifecycle as dashboard
        url = dashboard.sign_in_link(args.state_dir)     # a fresh one-time link each time
    else:
        url = page_url(topology, args.name)
    _check_person(topology, args.name)
    say(url)
    if url.startswith("https://"):
        _trust_hint(topology)
    if has_display() and not args.no_browser:
        webbrowser.open(url)
    return EXIT_OK
