"""`lab events`: the merged, time-ordered events of every service (and the lab's supervisor), once
or followed live."""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from .. import supervisor
from ..errors import UsageError
from ..timeline import format_event
from .common import EXIT_OK, lab_client, say


def _with_supervisor(args: argparse.Namespace, events: list[dict[str, Any]], since: int = 0) -> list[dict[str, Any]]:
    """The services' events merged with the supervisor's (restarts, crashes), in time order."""
    if args.service not in (None, supervisor.NAME):
        return events
    merged = events + supervisor.supervisor_events(args.state_dir, since)
    return sorted(merged, key=lambda e: (e["ts"], e["service"], e["seq"]))


def cmd_events(args: argparse.Namespace) -> int:
    client = lab_client(args)
    known = [*client.topology["services"], supervisor.NAME]
    if args.service is not None and args.service not in known:
        raise UsageError(f"no service {args.service!r}; services: {', '.join(known)}")
    events = _with_supervisor(args, client.events(args.service) if args.service != supervisor.NAME else [])
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
        fresh = client.events(args.service, since=marks) if args.service != supervisor.NAME else []
        for e in _with_supervisor(args, fresh, marks.get(supervisor.NAME, 0)):
            marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
            say(json.dumps(e) if args.json else format_event(e))
