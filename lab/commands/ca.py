"""`lab ca [show|trust|untrust]`: the lab's CA, and the trainee's browsers trusting it.

The org serves its pages over HTTPS with a certificate from the lab CA (<state>/ca/ca.pem, made by
the first `lab up`). `trust` adds that CA to the user's NSS databases (Chromium's ~/.pki/nssdb and
Firefox's profiles: lab/browser_trust.py), so the pages open without a certificate warning;
`untrust` takes it out again. Other systems: the command prints how to add the file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import browser_trust as trust
from ..ca import ca_cert_path
from ..errors import LabError
from .common import EXIT_FAILED, EXIT_OK, err, say

EPILOG = """examples:
  lab ca                 where the CA certificate is, its fingerprint, which browsers trust it
  lab ca trust           Chromium and Firefox on this machine trust the lab's pages
  lab ca untrust         take it out again

exit codes: 0 done; 1 certutil missing or refusing (it says why); 2 no CA yet (`lab up` makes it)"""


def add_parser(sub: Any) -> None:
    cmd = sub.add_parser("ca", help="the lab CA: where it is, and trusting it in this machine's browsers",
                         description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("action", nargs="?", choices=["show", "trust", "untrust"], default="show")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=cmd_ca)


def _ca_file(args: argparse.Namespace) -> Path:
    path = ca_cert_path(args.state_dir)
    if not path.is_file():
        raise LabError(f"no lab CA in {args.state_dir} yet: `lab up` makes it")
    return path


def cmd_ca(args: argparse.Namespace) -> int:
    ca = _ca_file(args)
    try:
        dbs = trust.databases()
        if args.action == "trust":
            changed = [str(db) for db in dbs if trust.install(ca, db)]
        elif args.action == "untrust":
            changed = [str(db) for db in dbs if trust.remove(ca, db)]
        else:
            changed = []
        trusted_in = [str(db) for db in dbs if trust.installed(ca, db)]
    except trust.TrustError as exc:
        err(str(exc))
        if args.action != "untrust":
            say(f"The CA certificate is {ca}; to trust it by hand:\n" + trust.HOW_ELSEWHERE.format(ca=ca))
        return EXIT_FAILED
    view = {"ca_certificate": str(ca), "fingerprint_sha256": trust.fingerprint(ca), "nickname": trust.nickname(ca),
            "trusted_in": trusted_in, "changed": changed}
    if args.json:
        say(json.dumps(view, indent=2))
        return EXIT_OK
    say(f"lab CA: {ca}\nSHA-256 fingerprint: {view['fingerprint_sha256']}")
    if args.action == "trust":
        say(f"trusted in {', '.join(trusted_in)}" + ("" if changed else " (already)")
            + "\nRestart a browser that was open so it reads it.")
    elif args.action == "untrust":
        say(f"removed from {', '.join(changed)}" if changed else "no browser database held it")
    else:
        say(f"trusted in: {', '.join(trusted_in)}" if trusted_in else
            "no browser database on this machine trusts it yet: `lab ca trust`")
    if args.action != "untrust":
        say("Other systems (copy the file there first):\n" + trust.HOW_ELSEWHERE.format(ca=ca))
    return EXIT_OK
