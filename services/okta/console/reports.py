"""Reports → System Log: the org's `GET /api/v1/logs`, filtered by time, user and event type;
the table refreshes itself with htmx every few seconds (new events appear without reloading)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import error_of
from .client import ApiError

if TYPE_CHECKING:
    from . import Console

PERIODS = [("15m", "Last 15 minutes", 900), ("1h", "Last hour", 3600), ("24h", "Last 24 hours", 86400),
           ("7d", "Last 7 days", 7 * 86400)]


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    return {"period": q.get("period") or "24h", "user": (q.get("user") or "").strip(),
            "eventType": (q.get("eventType") or "").strip()}


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def _events(console: Console, request: Request, f: dict[str, str]) -> list[dict[str, Any]]:
    seconds = next((s for key, _, s in PERIODS if key == f["period"]), 86400)
    since = dt.datetime.fromtimestamp(console.org.now() - seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    clauses = []
    if f["eventType"]:
        clauses.append(f'eventType sw "{_quote(f["eventType"])}"')
    if f["user"]:
        u = _quote(f["user"])
        clauses.append(f'(actor.alternateId sw "{u}" or target.alternateId sw "{u}")')
    return await console.api(request).get("/api/v1/logs", since=since, sortOrder="DESCENDING", limit=100,
                                          filter=" and ".join(clauses) or None)


def router(console: Console) -> APIRouter:
    r = APIRouter()

    @r.get("/admin/reports/syslog")
    async def syslog(request: Request) -> Response:
        f = _filters(request)
        error, events = None, []
        try:
            events = await _events(console, request, f)
        except ApiError as exc:
            error = error_of(exc)
        return console.render(request, "admin/syslog.html", section="syslog", title="System Log", f=f,
                              periods=PERIODS, events=events, error=error, status_code=200 if error is None else 400)

    @r.get("/admin/reports/syslog/rows")
    async def rows(request: Request) -> Response:
        f = _filters(request)
        try:
            events = await _events(console, request, f)
        except ApiError:
            events = []
        return console.render(request, "admin/syslog_rows.html", section="syslog", events=events)

    return r
