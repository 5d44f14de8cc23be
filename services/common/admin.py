"""The control plane beside each data plane: /healthz, /events, /reset, /faults, /clock.

The lab CLI and the scenario runner use these; real clients never need them. Everything but
`GET /healthz` takes the lab's admin token (admin_auth.py); every input is checked with bounds
before anything changes, and bodies are capped at ADMIN_BODY_LIMIT (http_guard.py).
"""
from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from .admin_auth import AdminAuth
from .context import ServiceContext
from .http_guard import BodyGuard

ADMIN_BODY_LIMIT = 64 * 1024        # a fault or a clock offset is a few dozen bytes
MAX_CLOCK_OFFSET = 10 * 365 * 86400.0   # ±10 years: beyond that datetime and TLS dates break

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]
ResetHook = Callable[[], Awaitable[None]]


async def _always_ready() -> tuple[bool, str]:
    return True, "ready"


async def _nothing() -> None:
    return None


def make_admin_app(
    ctx: ServiceContext,
    health: HealthCheck = _always_ready,
    reset: ResetHook = _nothing,
) -> FastAPI:
    app = FastAPI(title=f"{ctx.name} admin", docs_url=None, redoc_url=None, openapi_url=None)
    assert ctx.journal is not None
    journal = ctx.journal
    # Added last = runs first: an unauthenticated caller is refused before its body is read.
    app.add_middleware(BodyGuard, limit=ADMIN_BODY_LIMIT)
    app.add_middleware(AdminAuth, token=ctx.topology.get("credentials", {}).get("admin_token"))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            ok, detail = await health()
        except Exception as exc:  # noqa: BLE001 - a failing probe is "not ready", not a 500
            ok, detail = False, f"health check failed: {exc}"
        body = {"service": ctx.name, "healthy": ok, "detail": detail}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/events")
    async def events(since: int = 0) -> list[dict[str, Any]]:
        if since < 0:
            raise HTTPException(400, "since must be a non-negative event number")
        return journal.since(since)

    @app.post("/reset")
    async def do_reset() -> dict[str, Any]:
        ctx.faults.clear()
        ctx.clock.offset_seconds = 0.0
        await reset()
        journal.clear()
        journal.record("admin.reset", outcome="ok")
        return {"service": ctx.name, "reset": True}

    @app.get("/faults")
    async def list_faults() -> list[dict[str, Any]]:
        return ctx.faults.all()

    @app.post("/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        spec = await _json_object(request)
        try:
            fault = ctx.faults.add(spec)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        journal.record("admin.fault", outcome="added", **spec)
        return {"id": fault.id}

    @app.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        ctx.faults.clear()
        journal.record("admin.fault", outcome="cleared")
        return {"cleared": True}

    @app.delete("/faults/{fault_id}")
    async def remove_fault(fault_id: int) -> dict[str, Any]:
        if not ctx.faults.remove(fault_id):
            raise HTTPException(404, f"no fault {fault_id}")
        return {"removed": fault_id}

    @app.get("/clock")
    async def get_clock() -> dict[str, Any]:
        return {"now": ctx.clock.iso(), "offset_seconds": ctx.clock.offset_seconds}

    @app.post("/clock")
    async def set_clock(request: Request) -> dict[str, Any]:
        body = await _json_object(request)
        ctx.clock.offset_seconds = _offset(body)
        journal.record("admin.clock", outcome="set", offset_seconds=ctx.clock.offset_seconds)
        return {"now": ctx.clock.iso(), "offset_seconds": ctx.clock.offset_seconds}

    return app


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


def _offset(body: dict[str, Any]) -> float:
    """`offset_seconds`, a finite JSON number within ±MAX_CLOCK_OFFSET (no strings: "nan" and
    "1e20" parse as floats and would stop every date computation in the service)."""
    unknown = set(body) - {"offset_seconds"}
    if unknown:
        raise HTTPException(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    value = body.get("offset_seconds", 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > MAX_CLOCK_OFFSET:
        raise HTTPException(400, f"offset_seconds must be a number of seconds within ±{MAX_CLOCK_OFFSET:.0f} "
                                 "(10 years)")
    return float(value)
