"""`lab firewall HOST [allow|block PORT/PROTO [--from ADDRESS]]`: the Windows firewall of
InstanceRDC (alias dc) and InstanceOkta (alias okta), as the walkthrough's "Windows firewall rule".

Without an action it lists the host's inbound rules with their packet counters; with one it adds
the rule (replacing the one for the same port, protocol and source) and puts it in force at once.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import LabError, UsageError
from ..firewall import enforce, hosts, lifecycle
from ..state import load_topology
from .common import EXIT_OK, say

EPILOG = """examples:
  lab firewall okta                         InstanceOkta's rules and how many packets each matched
  lab firewall okta block 1812/udp          what a missing inbound rule does to RADIUS
  lab firewall InstanceOkta allow 1812/udp  the walkthrough's rule: the fix
  lab firewall dc block 88/udp --from 127.0.10.41

An unlisted port is open (the lab's Windows hosts have the walkthrough's rules); a rule naming a
source beats one for any source. The security group must allow the traffic too."""


def add_parser(sub: Any) -> None:
    fw = sub.add_parser("firewall", help="the Windows firewall of InstanceRDC / InstanceOkta: list, allow, block",
                        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fw.add_argument("host", help="InstanceRDC (alias dc) or InstanceOkta (alias okta), any case")
    fw.add_argument("action", nargs="?", choices=["allow", "block"], help="add an inbound rule")
    fw.add_argument("port", nargs="?", metavar="PORT/PROTO", help="e.g. 1812/udp, 389/tcp")
    fw.add_argument("--from", dest="source", metavar="ADDRESS", help="only traffic from this IPv4 address")
    fw.add_argument("--json", action="store_true")
    fw.set_defaults(func=cmd_firewall)


def cmd_firewall(args: argparse.Namespace) -> int:
    host = hosts.host_named(args.host)
    if args.action and not args.port:
        raise UsageError(f"lab firewall {args.host} {args.action} needs PORT/PROTO, e.g. 1812/udp")
    if args.port and not args.action:
        raise UsageError("say allow or block before PORT/PROTO")
    if args.source and not args.action:
        raise UsageError("--from goes with allow or block")
    topology = load_topology(args.state_dir)
    if topology is None:
        raise LabError(f"no lab in {args.state_dir}; start it with `lab up`")
    changed = lifecycle.change(args.state_dir, host, args.action, args.port, args.source) if args.action else None
    view = listing(args.state_dir, topology, host)
    if args.json:
        say(json.dumps(dict(view, changed=changed), indent=2))
        return EXIT_OK
    if changed and changed["apply_ms"] is None:
        say(f"{changed['rule']} saved; the lab is not running: `lab up` puts it in force")
    elif changed:
        say(f"{changed['rule']} in force ({changed['mode']}, {changed['apply_ms']} ms)")
    say(f"{host} ({', '.join(view['addresses']) or 'no address'}): {lifecycle.describe(view['network'])}")
    if not view["rules"]:
        say("  no rules: every port open (the walkthrough's inbound rules)")
    for r in view["rules"]:
        source = f"from {r['source']}" if r["source"] else "from any"
        say(f"  {r['action']:<6} {r['port']}/{r['protocol']:<4} {source:<22} packets {r['packets']}")
    return EXIT_OK


def listing(state_dir: Any, topology: dict[str, Any], host: str) -> dict[str, Any]:
    """A host's rules in the order they are evaluated, with the packets each matched."""
    counts = enforce.counters(state_dir, topology) if enforce.mode(topology)[0] == "kernel" else {}
    rules = sorted((r for r in hosts.load(state_dir) if r.host == host), key=lambda r: r.source is None)
    return {"host": host, "addresses": hosts.instances(topology).get(host, []),
            "network": lifecycle.status(state_dir),
            "rules": [{"action": r.action, "port": r.port, "protocol": r.protocol, "source": r.source,
                       "name": r.name, "packets": counts.get(r.name, {}).get("packets", 0)} for r in rules]}
