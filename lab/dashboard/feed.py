"""A lab's events as server-sent events: the merged journals (the services' admin APIs and the
control plane's own: supervisor, firewall enforcer), each with the arrow it draws on the picture.

The page's EventSource gets the recent backlog first (`live: false`: the timeline shows it, the
picture does not animate it), then every new event as it is recorded (polled every 0.4 s, as
`lab events --follow` does).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..client import LabClient, LabClientError
from ..state import journal_events
from ..timeline import format_event
from . import arrows

CONTROL_PLANE = ("supervisor", "firewall")
BACKLOG = 300
POLL_SECONDS = 0.4
KEEPALIVE_POLLS = 25           # a comment line every ~10 s keeps proxies from closing the stream


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def merged(client: LabClient, state_dir: Path, marks: dict[str, int] | None) -> list[dict[str, Any]]:
    events = client.events(since=marks)
    for name in CONTROL_PLANE:
        events += journal_events(state_dir, name, (marks or {}).get(name, 0))
    return sorted(events, key=lambda e: (e["ts"], e["service"], e["seq"]))


def payload(event: dict[str, Any], topology: dict[str, Any], live: bool) -> dict[str, Any]:
    fields = event.get("fields") or {}
    return {"service": event.get("service"), "seq": event.get("seq"), "kind": event.get("kind"),
            "time": str(event.get("time", ""))[11:23], "outcome": event.get("outcome"),
            "user": str(fields.get("user") or "").split("@")[0], "line": format_event(event),
            "arrow": arrows.arrow(event, topology), "signin": arrows.sign_in_outcome(event), "live": live}


async def stream(client: LabClient, state_dir: Path, gone: Callable[[], Any]) -> AsyncIterator[str]:
    """SSE text until `gone()` (an awaitable: the browser left) says so."""
    topology = client.topology
    marks: dict[str, int] = {}

    def advance(events: list[dict[str, Any]]) -> None:
        for e in events:
            marks[e["service"]] = max(marks.get(e["service"], 0), int(e["seq"]))

    try:
        events = await asyncio.to_thread(merged, client, state_dir, None)
    except LabClientError as exc:
        yield sse({"error": str(exc)}, "problem")
        return
    advance(events)
    for e in events[-BACKLOG:]:
        yield sse(payload(e, topology, live=False))
    yield sse({"backlog": min(len(events), BACKLOG)}, "ready")
    quiet = 0
    while not await gone():
        await asyncio.sleep(POLL_SECONDS)
        try:
            fresh = await asyncio.to_thread(merged, client, state_dir, marks)
        except LabClientError as exc:
            yield sse({"error": str(exc)}, "problem")
            continue
        advance(fresh)
        for e in fresh:
            yield sse(payload(e, topology, live=True))
        quiet = 0 if fresh else quiet + 1
        if quiet >= KEEPALIVE_POLLS:
            quiet = 0
            yield ": keepalive\n\n"
