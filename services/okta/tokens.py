"""API tokens (`/api/v1/api-tokens`): list, get, revoke. Revoking the lab's token reproduces the
RADIUS agent's "all authentication fails, 401 E0000011" failure (docs/okta.md, "API tokens")."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import shapes
from .errors import not_found
from .gate import token_of
from .ids import digest
from .org import Audit, Org


def view(org: Org, t: dict[str, Any]) -> dict[str, Any]:
    return {"id": t["id"], "name": t["name"], "userId": t["userId"], "clientName": t["clientName"],
            "created": t["created"], "lastUpdated": t["lastUpdated"],
            "expiresAt": org.iso(t.get("lastUsedTs", org.now()) + org.settings.api_token_idle_days * 86400),
            "tokenWindow": t["tokenWindow"], "network": {"connection": "ANYWHERE"},
            "_links": {"self": shapes.link(org.href(f"/api/v1/api-tokens/{t['id']}"),
                                           hints={"allow": ["GET", "DELETE"]})}}


def router(org: Org) -> APIRouter:
    r = APIRouter()

    def find(request: Request, tid: str) -> dict[str, Any]:
        if tid == "current":
            d = digest(token_of(request) or "")
            t = next((x for x in org.store.all("api_tokens") if x["digest"] == d), None)
        else:
            t = org.store.get("api_tokens", tid)
        if t is None or t["status"] != "ACTIVE":
            raise not_found(tid, "ApiToken")
        return t

    @r.get("/api/v1/api-tokens")
    async def list_tokens():
        return shapes.respond([view(org, t) for t in org.store.all("api_tokens") if t["status"] == "ACTIVE"])

    @r.get("/api/v1/api-tokens/{tid}")
    async def read(tid: str, request: Request):
        return shapes.respond(view(org, find(request, tid)))

    @r.delete("/api/v1/api-tokens/{tid}")
    async def revoke(tid: str, request: Request):
        audit = Audit.of(request)
        t = find(request, tid)
        t["status"], t["lastUpdated"] = "REVOKED", org.iso()
        org.store.put("api_tokens", t["id"], t)
        org.syslog("system.api_token.revoke", audit=audit,
                   targets=[{"id": t["id"], "type": "Token", "alternateId": t["name"],
                             "displayName": t["name"], "detailEntry": None}])
        org.record("okta.token", audit, outcome="revoked", ref=t["id"], name=t["name"])
        return Response(status_code=204)

    return r
