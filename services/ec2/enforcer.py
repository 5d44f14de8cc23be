"""The link to the enforcer (the control plane that turns security groups into kernel rules).

Admin API (the admin port and its Bearer token, like every service's /admin):
- `GET /admin/network[?after=G]`: the groups, rules and interfaces of generation > G (a long poll
  of at most `long_poll_seconds`), plus `applied`, the last generation the enforcer reported.
- `POST /admin/network/applied` `{"generation", "counters"}`: the enforcer's report once a
  generation is in force, with accepted packets per rule and default-deny drops per address.

A mutating EC2 call returns once its generation is applied, as AWS answers once a rule is in
place: it waits only while an enforcer is present (heard from within `enforcer_fresh_seconds`, or
in a long poll now), at most `apply_wait_seconds`; with none it returns at once. Every wait is
an `ec2.rules_applied` event with the milliseconds it took.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from services.common.context import ServiceContext

from .network import Network
from .settings import Ec2Settings

MAX_COUNTERS = 10_000


class EnforcerLink:
    def __init__(self, ctx: ServiceContext, network: Network, settings: Ec2Settings) -> None:
        self.ctx, self.network, self.settings = ctx, network, settings
        self.applied = 0
        self.counters: dict[str, int] = {}
        self._heard: float | None = None          # time.monotonic() of the last poll or report
        self._polling = 0
        self._changed = asyncio.Event()
        self._reported = asyncio.Event()
        network.on_change = self._on_change

    # -- events ---------------------------------------------------------------------------------
    def _on_change(self, _generation: int) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def present(self) -> bool:
        return self._polling > 0 or (self._heard is not None and
                                     time.monotonic() - self._heard <= self.settings.enforcer_fresh_seconds)

    async def _wait(self, which: str, timeout: float) -> None:
        event = self._changed if which == "changed" else self._reported
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    # -- what mutating calls wait for -------------------------------------------------------------
    async def wait_applied(self, operation: str, trace: str | None) -> None:
        generation = self.network.generation
        if not self.present():
            self.ctx.record("ec2.rules_applied", outcome="no_enforcer", operation=operation, generation=generation,
                            milliseconds=0, trace=trace)
            return
        started = time.monotonic()
        deadline = started + self.settings.apply_wait_seconds
        while self.applied < generation and time.monotonic() < deadline:
            await self._wait("reported", deadline - time.monotonic())
        milliseconds = round((time.monotonic() - started) * 1000, 1)
        outcome = "applied" if self.applied >= generation else "timeout"
        self.ctx.record("ec2.rules_applied", outcome=outcome, operation=operation, generation=generation,
                        applied=self.applied, milliseconds=milliseconds, trace=trace)
        self.ctx.log.info("%s: generation %d %s after %.1f ms", operation, generation, outcome, milliseconds)

    # -- the admin routes -------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return self.network.snapshot() | {"applied": self.applied}

    def register(self, admin: FastAPI) -> None:
        @admin.get("/admin/network")
        async def network(after: int | None = None) -> JSONResponse:
            if after is not None:
                if after < 0:
                    raise HTTPException(400, "after must be a generation (a whole number, 0 or more)")
                self._polling += 1
                try:
                    deadline = time.monotonic() + self.settings.long_poll_seconds
                    while self.network.generation <= after and time.monotonic() < deadline:
                        await self._wait("changed", deadline - time.monotonic())
                finally:
                    self._polling -= 1
                    self._heard = time.monotonic()
            return JSONResponse(self.document())

        @admin.post("/admin/network/applied")
        async def applied(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                raise HTTPException(400, "body must be a JSON object") from None
            generation, counters = _report(body, self.network.generation)
            self._heard = time.monotonic()
            self.applied = generation
            self.counters = counters
            event, self._reported = self._reported, asyncio.Event()
            event.set()
            return Response(status_code=204)


def _report(body: Any, current: int) -> tuple[int, dict[str, int]]:
    """The report's generation and packet counters, checked (a 400 names what is wrong)."""
    if not isinstance(body, dict) or set(body) - {"generation", "counters"}:
        raise HTTPException(400, 'body must be {"generation": N, "counters": {...}}')
    generation = body.get("generation")
    if isinstance(generation, bool) or not isinstance(generation, int) or not 0 <= generation <= current:
        raise HTTPException(400, f"generation must be a whole number from 0 to the current generation ({current})")
    raw = body.get("counters") or {}
    if not isinstance(raw, dict) or len(raw) > MAX_COUNTERS:
        raise HTTPException(400, f"counters must be an object of at most {MAX_COUNTERS} entries")
    counters = {}
    for key, value in raw.items():
        packets = value.get("packets") if isinstance(value, dict) else None
        if isinstance(packets, bool) or not isinstance(packets, int) or packets < 0 or len(key) > 100:
            raise HTTPException(400, f'counters["{key[:100]}"] must be {{"packets": N}} with N a whole number >= 0')
        counters[key] = packets
    return generation, counters
