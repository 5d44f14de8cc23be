"""What stands in front of `/api/v1/*`: the SSWS API token check (401 E0000011; tokens are kept
as digests in the store, can be revoked, and expire after `api_token_idle_days` unused, as
Okta's 30-day sliding window), per-minute rate-limit buckets with Okta's X-Rate-Limit-* headers
and 429 E0000047, and an `X-Okta-Request-Id` on every answer.

Also the answer of the per-username limit of `/api/v1/authn` ("Authenticate the same user",
4 per second, setting `authn_user_limit_per_second`, 0 turns it off; counted by
`limits.RateLimiter.take_user` for every primary authentication). A violation is 429 E0000047
with the X-Rate-Limit-* headers of that limit and a System Log `system.operation.rate_limit.violation`
(outcome FAILURE, reason `user_rate_limited`, once per user and second). See docs/okta.md,
"Rate limits"."""
from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders

from .errors import OktaError, error_response
from .ids import digest, new_id
from .org import Audit, Org, user_actor, user_target

OPEN_PATHS = ("/qr/",)     # enrolment QR links carry their own token
PUBLIC_PREFIX = "/api/v1/authn"   # public apps call it without a token; trusted apps send SSWS
CONSOLE_SCOPE = "okta.console"    # set only by console/client.py in-process (no HTTP request can)


def ensure_token(org: Org, secret: str, name: str = "Lab admin token") -> dict[str, Any]:
    """Register the lab's API token once; a revoked one stays revoked across restarts."""
    d = digest(secret)
    for t in org.store.all("api_tokens"):
        if t["digest"] == d:
            return t
    now = org.iso()
    t = {"id": new_id("00T"), "name": name, "digest": d, "status": "ACTIVE", "created": now,
         "lastUpdated": now, "lastUsedTs": org.now(), "clientName": "Okta API", "userId": "lab-admin",
         "tokenWindow": "P30D"}
    return org.store.put("api_tokens", t["id"], t)


def user_limit_error(org: Org, audit: Audit, username: str, user: dict[str, Any] | None,
                     limit: int, reset: int, first: bool) -> OktaError:
    """The 429 of the per-username authn limit, with its System Log event and lab event."""
    org.record("okta.ratelimit", audit, outcome="exceeded", path=PUBLIC_PREFIX, limit=limit,
               scope="user", user=username)
    if first:
        org.syslog("system.operation.rate_limit.violation", audit=audit, result="FAILURE",
                   reason="user_rate_limited", severity="WARN",
                   actor=user_actor(user) if user else None, targets=[user_target(user)] if user else None,
                   message=f"Rate limit violation: authenticate the same user ({limit} per second)",
                   debug={"rateLimitBucketUri": "/api/v1/authn", "rateLimitScopeType": "USER",
                          "threshold": limit, "timeSpan": 1, "timeUnit": "SECONDS",
                          "rateLimitSecondsToReset": max(0, reset - int(org.now()))})
    headers = {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": "0",
               "X-Rate-Limit-Reset": str(reset), "Date": email.utils.formatdate(org.now(), usegmt=True)}
    return OktaError("E0000047", headers=headers)


def install(app: FastAPI, org: Org) -> None:
    app.add_middleware(Gate, org=org)


class Gate:
    """The gate as plain ASGI middleware: Starlette's `@app.middleware("http")` runs each request
    in a task group of its own and re-streams the answer, which cost the org a fifth of its CPU
    in an import of 10,000 users (bench/README.md)."""

    def __init__(self, app: Callable[..., Awaitable[None]], org: Org) -> None:
        self.app, self.org = app, org
        self.tokens = Tokens(org)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        org = self.org
        request = Request(scope)
        path = scope["path"]
        request_id = new_id("", 20)
        added: dict[str, str] = {}         # headers for the answer, unless it has them already
        if path.startswith("/api/v1/") and not any(p in path for p in OPEN_PATHS):
            audit = Audit.of(request)
            public = path.startswith(PUBLIC_PREFIX) and "Authorization" not in request.headers
            public = public or CONSOLE_SCOPE in scope    # the admin console's in-process calls
            failure = None if public else _check_token(org, self.tokens, request)
            if failure is not None:
                org.record("okta.auth", audit, outcome=failure, path=path, method=request.method)
                refused = error_response(OktaError("E0000011"))
                refused.headers["X-Okta-Request-Id"] = request_id
                await org.store.committed()
                await refused(scope, receive, send)
                return
            taken = org.limiter.take(path)
            added = {"X-Rate-Limit-Limit": str(taken.limit), "X-Rate-Limit-Remaining": str(taken.remaining),
                     "X-Rate-Limit-Reset": str(taken.reset)}
            if not taken.allowed:
                org.record("okta.ratelimit", audit, outcome="exceeded", path=path, limit=taken.limit)
                org.syslog("system.operation.rate_limit.violation", audit=audit, result="DENY",
                           severity="WARN", message=f"Rate limit violation on {path}")
                headers = {**added, "Date": email.utils.formatdate(org.now(), usegmt=True),
                           "X-Okta-Request-Id": request_id}
                await org.store.committed()      # the System Log event before the answer
                await error_response(OktaError("E0000047", headers=headers))(scope, receive, send)
                return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                await org.store.committed()          # what the answer tells is committed before it goes out
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                for key, value in added.items():     # a per-user 429 keeps its own headers
                    if key not in headers:
                        headers[key] = value
                headers["X-Okta-Request-Id"] = request_id
                message = {**message, "headers": headers.raw}
            await send(message)
        await self.app(scope, receive, send_with_headers)


def token_of(request: Request) -> str | None:
    """The token of `Authorization: SSWS <token>`. The okta SDK 3.4.x sends `SSWS<token>`
    without the space (its generated auth settings), and works against real Okta, so that
    spelling is accepted too."""
    header = request.headers.get("Authorization", "").strip()
    if not header.startswith("SSWS"):
        return None
    secret = header[4:].strip()
    return secret or None


class Tokens:
    """The API tokens by digest, read from the store again only after a token was written
    (created, revoked, its last use recorded) or the org wiped: every API request asks, and
    reading and decoding every token each time cost 5% of the org's CPU in an import."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.version: tuple[int, int] | None = None
        self.by_digest: dict[str, dict[str, Any]] = {}

    def find(self, d: str) -> dict[str, Any] | None:
        version = self.org.store.version("api_tokens")
        if version != self.version:
            self.by_digest = {t["digest"]: t for t in self.org.store.all("api_tokens")}
            self.version = version
        return self.by_digest.get(d)


def _check_token(org: Org, tokens: Tokens, request: Request) -> str | None:
    """None when the SSWS token is good, else why not (for the lab event; the caller only ever
    sees E0000011)."""
    secret = token_of(request)
    if secret is None:
        return "missing_token"
    tok = tokens.find(digest(secret))
    if tok is None:
        return "invalid_token"
    if tok["status"] != "ACTIVE":
        return "revoked_token"
    now = org.now()
    idle_days = org.settings.api_token_idle_days
    if now - tok.get("lastUsedTs", now) > idle_days * 86400:
        return "expired_token"
    if now - tok.get("lastUsedTs", 0) > 60:     # sliding window; write at most once a minute
        tok["lastUsedTs"] = now
        org.store.put("api_tokens", tok["id"], tok)
    return None
