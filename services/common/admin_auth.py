"""Who may use a service's admin API: whoever holds the lab's admin token.

`Authorization: Bearer <admin_token>` (credentials.json's `admin_token`, carried to every service
in the topology) on every call but `GET /healthz`, which health checks (compose, the runtimes)
make without it. A missing or wrong token is a 401 with `WWW-Authenticate: Bearer`; a service
started with no token refuses every call but /healthz (fail closed). The comparison takes the
same time whatever the guess.
"""
from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = {("GET", "/healthz"), ("HEAD", "/healthz")}


class AdminAuth:
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
        if self.expected is None:
            await _refuse(send, "this service has no admin token configured: its admin API is closed")
        elif not hmac.compare_digest(given, self.expected):
            await _refuse(send, "the admin API needs 'Authorization: Bearer <admin_token>' "
                                "(admin_token in the lab's credentials.json)")
        else:
            await self.app(scope, receive, send)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer realm="lab-admin"')]})
    await send({"type": "http.response.body", "body": body})
