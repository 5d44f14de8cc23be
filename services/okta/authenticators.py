"""The org's authenticators as the Identity Engine's Authenticators API shows them
(`GET /api/v1/authenticators`, `GET /api/v1/authenticators/{id}`), read-only: a view over the
factor types (`org_factors.py`), so the two never disagree. Okta Verify is ACTIVE while its TOTP or
its push type is; the phone authenticator while SMS or voice is; the password always.

Ids are made once per org and stored (`aut…`), as Okta's are stable; turning an authenticator on
or off is done on the factor types (`/api/v1/org/factors/{id}/lifecycle/…`)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from . import org_factors, shapes
from .errors import not_found
from .ids import new_id
from .org import Org

# key -> (type, name, the factor type ids behind it; empty = always on)
AUTHENTICATORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "okta_email": ("email", "Email", ("okta_email",)),
    "okta_password": ("password", "Password", ()),
    "okta_verify": ("app", "Okta Verify", ("okta_otp", "okta_push")),
    "phone_number": ("phone", "Phone", ("okta_sms", "okta_call")),
    "google_otp": ("app", "Google Authenticator", ("google_otp",)),
}
TABLE = "authenticators"


def _record(org: Org, key: str) -> dict[str, Any]:
    doc = org.store.get(TABLE, key)
    if doc is None:
        doc = org.store.put(TABLE, key, {"key": key, "id": new_id("aut"), "created": org.iso()})
    return doc


def _settings(org: Org, key: str, on: set[str]) -> dict[str, Any]:
    """The few settings Okta shows that the lab's org decides."""
    if key == "okta_email":
        return {"allowedFor": "any", "tokenLifetimeInMinutes": max(1, org.settings.factor_code_ttl_seconds // 60)}
    if key == "phone_number":
        return {"allowedFor": "any", "methods": sorted(m for f, m in (("okta_sms", "sms"), ("okta_call", "voice"))
                                                      if f in on)}
    if key == "okta_verify":
        return {"allowedFor": "any", "methods": sorted(m for f, m in (("okta_otp", "totp"), ("okta_push", "push"))
                                                      if f in on)}
    if key == "okta_password":
        return {"allowedFor": "any"}
    return {}


def view(org: Org, key: str) -> dict[str, Any]:
    kind, name, types = AUTHENTICATORS[key]
    doc = _record(org, key)
    on = {fid for fid in types if org_factors.status_of(org, fid) == "ACTIVE"}
    status = "ACTIVE" if not types or on else "INACTIVE"
    changed = [d["lastUpdated"] for d in (org.store.get(org_factors.TABLE, fid) for fid in types) if d]
    base = org.href(f"/api/v1/authenticators/{doc['id']}")
    return {"type": kind, "id": doc["id"], "key": key, "status": status, "name": name,
            "created": doc["created"], "lastUpdated": max([doc["created"], *changed]),
            "settings": _settings(org, key, on), "_links": {"self": shapes.link(base)}}


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/authenticators")
    async def list_authenticators():
        return shapes.respond([view(org, key) for key in AUTHENTICATORS])

    @r.get("/api/v1/authenticators/{aid}")
    async def read(aid: str):
        key = next((k for k in AUTHENTICATORS if _record(org, k)["id"] == aid), None)
        if key is None:
            raise not_found(aid, "Authenticator")
        return shapes.respond(view(org, key))

    return r
