"""The org's factor types (Okta's classic Org Factors API, Security → Multifactor → Factor Types):
`GET /api/v1/org/factors`, `POST /api/v1/org/factors/{id}/lifecycle/activate|deactivate`.

A factor type the admin deactivates is no longer offered by any enrolment policy (policies.py
drops it from `Enrollment.slots`), whatever the policy says; factors users already enrolled stay.
Every type starts ACTIVE (what the lab did before the console had this page). Okta Verify's push
is its own id here (`okta_push`) so "Enable Push Verification" can be cleared on its own."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from . import shapes
from .errors import OktaError, not_found
from .org import Audit, Org

# id -> (factorType, provider, the console's name), in the console's order.
TYPES: dict[str, tuple[str, str, str]] = {
    "okta_otp": ("token:software:totp", "OKTA", "Okta Verify"),
    "okta_push": ("push", "OKTA", "Okta Verify: Enable Push Verification"),
    "google_otp": ("token:software:totp", "GOOGLE", "Google Authenticator"),
    "okta_sms": ("sms", "OKTA", "SMS Authentication"),
    "okta_call": ("call", "OKTA", "Voice Call Authentication"),
    "okta_email": ("email", "OKTA", "Email Authentication"),
}
TABLE = "org_factors"


def status_of(org: Org, fid: str) -> str:
    doc = org.store.get(TABLE, fid)
    return str(doc["status"]) if doc else "ACTIVE"


def inactive(org: Org) -> set[tuple[str, str]]:
    """The (factorType, provider) pairs the admin has deactivated."""
    return {(t, p) for fid, (t, p, _) in TYPES.items() if status_of(org, fid) != "ACTIVE"}


def view(org: Org, fid: str) -> dict[str, Any]:
    ftype, provider, name = TYPES[fid]
    status = status_of(org, fid)
    op = "deactivate" if status == "ACTIVE" else "activate"
    return {"id": fid, "factorType": ftype, "provider": provider, "status": status, "name": name,
            "_links": {op: shapes.post_link(org.href(f"/api/v1/org/factors/{fid}/lifecycle/{op}"))}}


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/org/factors")
    async def list_types():
        return shapes.respond([view(org, fid) for fid in TYPES])

    @r.post("/api/v1/org/factors/{fid}/lifecycle/{op}")
    async def lifecycle(fid: str, op: str, request: Request):
        audit = Audit.of(request)
        if fid not in TYPES:
            raise not_found(fid, "OrgFactor")
        if op not in ("activate", "deactivate"):
            raise not_found(f"lifecycle/{op}", "Operation")
        wanted = "ACTIVE" if op == "activate" else "INACTIVE"
        if status_of(org, fid) == wanted:
            raise OktaError("E0000001", f"Factor {fid} is already {wanted.lower()}",
                            [f"factor: {fid} is already {wanted.lower()}"])
        org.store.put(TABLE, fid, {"id": fid, "status": wanted, "lastUpdated": org.iso()})
        name = TYPES[fid][2]
        org.syslog(f"system.mfa.factor.{op}", audit=audit, message=f"{op.capitalize()} factor type {name}",
                   targets=[{"id": fid, "type": "Factor", "alternateId": fid, "displayName": name,
                             "detailEntry": None}])
        org.record("okta.org.factor", audit, outcome=wanted, factor=fid)
        return shapes.respond(view(org, fid))

    return r
