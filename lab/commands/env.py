"""`lab env`: the environment for the usual clients (lab/client_env.py), as `export` lines for
`eval "$(lab env)"`, or JSON."""
from __future__ import annotations

import argparse
import json
import shlex

from ..client_env import client_env
from .common import EXIT_OK, running_topology, say


def cmd_env(args: argparse.Namespace) -> int:
    env = client_env(args.state_dir, running_topology(args))
    if args.json:
        say(json.dumps(env, indent=2))
    else:
        say("# eval \"$(lab env)\": the AWS CLI, boto3, ldapsearch, kinit and the okta SDK (HTTPS) then use the lab")
        for name, value in env.items():
            say(f"export {name}={shlex.quote(value)}")
    return EXIT_OK
