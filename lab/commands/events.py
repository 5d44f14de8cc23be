"""`lab events`: the merged, time-ordered events of every service, once or followed live."""
from __future__ import annotations

import argparse
import json
import time

from ..timeline import format_event
from .common import EXIT_OK, lab_client, say


def cmd_events(args: argparse.Namespace) -> int:
    client = lab_client(args)
    events = client.events(args.service)
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
        for e in client.events(args.service, since=marks):
            marks[e["service"]] = max(marks.get(e["service"], 0), e["seq"])
            say(json.dumps(e) if args.json else format_event(e))
