"""Events as lines a person reads: one per event, time, service, what happened, and to whom."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def format_event(e: dict[str, Any]) -> str:
    fields = " ".join(f"{k}={v}" for k, v in e.get("fields", {}).items() if v not in (None, "", [], {}))
    peer = f" peer={e['peer']}" if e.get("peer") else ""
    outcome = f" -> {e['outcome']}" if e.get("outcome") else ""
    return f"{e['time'][11:23]} {e['service']:<13} {e['kind']}{outcome}{peer} {fields}".rstrip()


def timeline(events: Iterable[dict[str, Any]]) -> str:
    return "\n".join(format_event(e) for e in events)
