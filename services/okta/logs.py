"""The System Log API: `GET /api/v1/logs` with since / until / filter / q / sortOrder / limit /
after, and the `Link: rel="next"` Okta always sends on polling requests. `q` is a keyword search
over the event's type, message, actor and targets (all keywords must match)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from . import shapes
from .errors import invalid
from .expressions import parse
from .org import Org


def _epoch(value: str, name: str) -> float:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid(name, "must be an ISO 8601 timestamp") from None


def searched_text(ev: dict[str, Any]) -> str:
    """What `q` searches, lowercased: the event type, displayMessage, the actor's and every
    target's id, alternateId and displayName, and the client's IP address (Okta: keyword matching
    against the event's attribute values, which names the actor and targets)."""
    parts = [ev.get("eventType"), ev.get("displayMessage"), (ev.get("client") or {}).get("ipAddress")]
    for who in [ev.get("actor") or {}, *(ev.get("target") or [])]:
        parts += [who.get("id"), who.get("alternateId"), who.get("displayName")]
    return "\n".join(str(p) for p in parts if p).lower()


def matches(ev: dict[str, Any], words: list[str]) -> bool:
    """Every keyword must be found (case-insensitive). **Lab choice**: a keyword matches inside a
    value (`alice` finds `alice@corp.example.com`, `system.mfa` finds `system.mfa.factor.activate`),
    more lenient than Okta's whole-keyword match."""
    text = searched_text(ev)
    return all(w in text for w in words)


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/logs")
    async def logs(request: Request):
        qp = request.query_params
        since = _epoch(qp["since"], "since") if qp.get("since") else org.now() - 7 * 86400
        until = _epoch(qp["until"], "until") if qp.get("until") else None
        order = (qp.get("sortOrder") or "ASCENDING").upper()
        if order not in ("ASCENDING", "DESCENDING"):
            raise invalid("sortOrder", "must be ASCENDING or DESCENDING")
        limit = shapes.int_param(request, "limit", 100, 1, 1000)
        after = None
        if qp.get("after"):
            try:
                after = int(qp["after"])
            except ValueError:
                raise invalid("after", "not a valid cursor") from None
        pred = parse(qp["filter"]) if qp.get("filter") else None
        words = (qp.get("q") or "").lower().split()
        events, last = [], None
        for seq, ev in org.store.logs(since, until, after, order == "DESCENDING"):
            if pred is not None and not pred(ev):
                continue
            if words and not matches(ev, words):
                continue
            events.append(ev)
            last = seq
            if len(events) >= limit:
                break
        base = str(request.url).split("?")[0]
        params = {k: v for k, v in qp.items() if k != "after"}
        links = [f'<{base}?{urlencode(params)}>; rel="self"' if params else f'<{base}>; rel="self"']
        polling = until is None and order == "ASCENDING"
        cursor = last if last is not None else after
        if polling or len(events) >= limit:
            nxt = {**params, "after": cursor} if cursor is not None else params
            links.append(f'<{base}?{urlencode(nxt)}>; rel="next"')
        return shapes.respond(events, headers={"Link": ", ".join(links)})

    return r
