"""Judging a scenario by its events: which events match an expectation, and how many, in which order."""
from __future__ import annotations

from typing import Any


def event_matches(event: dict[str, Any], spec: dict[str, Any]) -> bool:
    if spec.get("service") and event["service"] != spec["service"]:
        return False
    kind = spec["kind"]
    if kind.endswith("*"):
        if not event["kind"].startswith(kind[:-1]):
            return False
    elif event["kind"] != kind:
        return False
    if "outcome" in spec and str(event.get("outcome")) != str(spec["outcome"]):
        return False
    fields = event.get("fields", {})
    # `fields` must be equal; `contains` only contain the text (a log reason is a sentence)
    return (all(str(fields.get(k)) == str(v) for k, v in (spec.get("fields") or {}).items())
            and all(str(v) in str(fields.get(k, "")) for k, v in (spec.get("contains") or {}).items()))


def describe(spec: dict[str, Any]) -> str:
    parts = [spec.get("service") or "*", spec["kind"]]
    if "outcome" in spec:
        parts.append(f"-> {spec['outcome']}")
    if spec.get("fields"):
        parts.append(" ".join(f"{k}={v}" for k, v in spec["fields"].items()))
    if spec.get("contains"):
        parts.append(" ".join(f"{k}~{v!r}" for k, v in spec["contains"].items()))
    return " ".join(parts)


def check_events(events: list[dict[str, Any]], expect: dict[str, Any]) -> list[str]:
    failures = []
    for spec in expect.get("events", []):
        n = sum(1 for e in events if event_matches(e, spec))
        lo, hi = spec.get("min"), spec.get("max")
        if spec.get("absent"):
            lo = hi = 0
        if "count" in spec:
            lo = hi = spec["count"]
        if lo is None and hi is None:
            lo = 1
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else \
                f"at most {hi}" if lo is None else f"{lo} to {hi}"
            failures.append(f"expected {want} event(s) {describe(spec)}, saw {n}")
    position = -1
    for spec in expect.get("order", []):
        later = [i for i, e in enumerate(events) if i > position and event_matches(e, spec)]
        if not later:
            failures.append(f"expected {describe(spec)} after the previous event in `order`, saw none")
            break
        position = later[0]
    return failures
