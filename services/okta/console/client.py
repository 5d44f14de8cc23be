"""The console's way to act: the org's own API, called in-process.

Every page action is the same `/api/v1/...` request a script would send, answered by the same
route code, so the rules, error messages (errorSummary, errorCauses), System Log events and lab
events are the API's, never a copy. The call goes through the ASGI app directly with a scope key
(`gate.CONSOLE_SCOPE`) that no HTTP request can carry, instead of an API token an admin could
list or revoke; it still passes the gate's rate limits, as the real console's calls do."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..gate import CONSOLE_SCOPE
from ..org import ACTING_ADMIN, user_actor

if TYPE_CHECKING:    # httpx is imported where a request is made (~3 MB of RSS a service that makes none)
    import httpx


@dataclass
class ApiError(Exception):
    """A refused call, with the org's own words for the page."""
    status: int
    summary: str
    causes: list[str] = field(default_factory=list)
    code: str = ""

    def __str__(self) -> str:
        return f"{self.code} {self.summary}"


def _console(app: ASGIApp, admin: dict[str, Any]) -> ASGIApp:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        acting = ACTING_ADMIN.set(user_actor(admin))      # the System Log's actor: this admin
        try:
            await app({**scope, CONSOLE_SCOPE: admin["id"]}, receive, send)
        finally:
            ACTING_ADMIN.reset(acting)
    return call


class OrgApi:
    """One page request's client of the org API, carrying the browser's address and User-Agent
    (so the System Log shows where the admin was)."""

    def __init__(self, app: ASGIApp, request: Request, admin: dict[str, Any]) -> None:
        import httpx
        client = (request.client.host, request.client.port) if request.client else ("127.0.0.1", 0)
        headers = {"User-Agent": request.headers.get("User-Agent", "okta-admin-console"),
                   "Accept": "application/json"}
        self._transport = httpx.ASGITransport(app=_console(app, admin), client=client)
        self._base = str(request.base_url).rstrip("/")
        self._headers = headers

    async def call(self, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None) -> httpx.Response:
        import httpx
        async with httpx.AsyncClient(transport=self._transport, base_url=self._base, headers=self._headers,
                                     timeout=60) as client:
            resp = await client.request(method, path, json=json, params=params)
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {}
            raise ApiError(resp.status_code, str(body.get("errorSummary") or resp.reason_phrase),
                           [str(c.get("errorSummary")) for c in body.get("errorCauses") or []],
                           str(body.get("errorCode") or ""))
        return resp

    async def get(self, path: str, **params: Any) -> Any:
        resp = await self.call("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})
        return resp.json()

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        resp = await self.call("POST", path, json=body, params=params or None)
        return resp.json() if resp.content else None

    async def put(self, path: str, body: Any = None) -> Any:
        resp = await self.call("PUT", path, json=body)
        return resp.json() if resp.content else None

    async def delete(self, path: str) -> None:
        await self.call("DELETE", path)
