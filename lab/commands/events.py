"""`lab events`: the merged, time-ordered events of every service and of the control plane's own
processes (the supervisor's restarts, the firewall enforcer's rule changes), once or followed live."""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from .. import supervisor
from ..errors import UsageError
from ..state import journal_events
from ..timeline import format_event
from .common import EXIT_OK, lab_client, say

# The control plane's processes that keep a journal of their own (<state>/events/<name>.jsonl).
CONTROL_PLANE = (supervisor.NAME, "firewall")


def _with_control_plane(args: argparse.Namespace, events: list[dict[str, Any]],
                        since: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The services' events merged with the control plane's, in time order."""
    merged = list(events)
    for name in CONTROL_PLANE:
        if args.service in (None, name):
            merged += journal_events(args.state_dir, name, (since or {}).get(name, 0))
    return sorted(merged, key=lambda e: (e["ts"], e["service"], e["seq"]))


def cmd_events(args: argparse.Namespace) -> int:
    client = lab_client(args)
    known = [*client.topology["services"], *CONTROL_PLANE]
    if args.service is not None and args.service not in known:
        raise UsageError(f"no service {args.service!r}; services: {', '.join(known)}")
    of_services = args.service not in CONTROL_PLANE
    events = _with_control_plane(args, client.events(args.service) if of_services else [])
    if args.json and not args.follow:
        say(json.dumps(events, indent=2))
        return EXIT_OK
    for e in events:
        say(json.dumps(e) if args.json else format_event(e))
    if not args.follow:
        return EXIT_OK
    marks: dict[str, int] = {}
    for e in events:
        marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
    while True:  # until Ctrl-C: the live timeline a class watches during a demo
        time.sleep(0.3)
        fresh = client.events(args.service, since=marks) if of_services else []
        for e in _with_control_plane(args, fresh, marks):
            marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
            say(json.dumps(e) if args.json else format_event(e))
