"""Security → Multifactor: Factor Types (activate / deactivate, `/api/v1/org/factors`) and Factor
Enrollment (MFA_ENROLL policies in priority order: add one for a group with each factor Required /
Optional / Disabled, add a rule, reorder); Security → API → Tokens (list, revoke). Everything is the
Org Factors, Policy and API Tokens APIs' requests."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from . import error_of
from .client import ApiError

if TYPE_CHECKING:
    from . import Console

# The factors an enrolment policy sets (policy key, what the console calls it).
FACTORS = [("okta_otp", "Okta Verify (TOTP)"), ("okta_push", "Okta Verify (Push)"),
           ("google_otp", "Google Authenticator"), ("okta_sms", "SMS Authentication"),
           ("okta_call", "Voice Call Authentication"), ("okta_email", "Email Authentication")]
CHOICES = [("REQUIRED", "Required"), ("OPTIONAL", "Optional"), ("NOT_ALLOWED", "Disabled")]
WHEN = [("LOGIN", "the first time a user signs in"), ("CHALLENGE", "when a user is challenged for MFA"),
        ("NEVER", "never (do not prompt)")]


def router(console: Console) -> APIRouter:
    r = APIRouter()

    async def mfa_page(request: Request, error: dict[str, Any] | None = None, status_code: int = 200,
                       values: dict[str, Any] | None = None) -> Response:
        api = console.api(request)
        policies = await api.get("/api/v1/policies", type="MFA_ENROLL")
        rules = {p["id"]: await api.get(f"/api/v1/policies/{p['id']}/rules") for p in policies}
        groups = {g["id"]: g for g in await api.get("/api/v1/groups")}
        types = await api.get("/api/v1/org/factors")
        return console.render(request, "admin/multifactor.html", section="mfa", title="Multifactor",
                              types=types, policies=policies, rules=rules, groups=groups, factors=FACTORS,
                              choices=CHOICES, when=WHEN, error=error, values=values or {}, status_code=status_code)

    @r.get("/admin/security/multifactor")
    async def multifactor(request: Request) -> Response:
        return await mfa_page(request)

    @r.post("/admin/security/multifactor/types/{fid}/{op}")
    async def factor_type(request: Request, fid: str, op: str) -> Response:
        await console.form(request)
        try:
            t = await console.api(request).post(f"/api/v1/org/factors/{fid}/lifecycle/{op}")
        except ApiError as exc:
            return await mfa_page(request, error_of(exc), exc.status)
        console.flash(request, f"{t['name']}: {'active' if t['status'] == 'ACTIVE' else 'inactive'}.")
        return RedirectResponse("/admin/security/multifactor", status_code=303)

    @r.post("/admin/security/multifactor/policies")
    async def add_policy(request: Request) -> Response:
        form = await console.form(request)
        gid = str(form.get("groupId") or "")
        body = {"type": "MFA_ENROLL", "name": str(form.get("name") or "").strip(), "status": "ACTIVE",
                "description": str(form.get("description") or "").strip() or None,
                "conditions": {"people": {"groups": {"include": [gid] if gid else []}}},
                "settings": {"type": "FACTORS", "factors": {
                    key: {"enroll": {"self": str(form.get(f"factor_{key}") or "NOT_ALLOWED")},
                          "consent": {"type": "NONE"}} for key, _ in FACTORS}}}
        try:
            p = await console.api(request).post("/api/v1/policies", body)
        except ApiError as exc:
            return await mfa_page(request, error_of(exc), exc.status, values=dict(form))
        console.flash(request, f"Policy added: {p['name']} (priority {p['priority']}). Add a rule to it.")
        return RedirectResponse("/admin/security/multifactor", status_code=303)

    @r.post("/admin/security/multifactor/policies/{pid}/rules")
    async def add_rule(request: Request, pid: str) -> Response:
        form = await console.form(request)
        body = {"type": "MFA_ENROLL", "name": str(form.get("name") or "").strip(),
                "conditions": {"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                "actions": {"enroll": {"self": str(form.get("when") or "")}}}
        try:
            await console.api(request).post(f"/api/v1/policies/{pid}/rules", body)
        except ApiError as exc:
            return await mfa_page(request, error_of(exc), exc.status)
        console.flash(request, "Rule added.")
        return RedirectResponse("/admin/security/multifactor", status_code=303)

    @r.post("/admin/security/multifactor/policies/{pid}/move/{direction}")
    async def move(request: Request, pid: str, direction: str) -> Response:
        """Reorder: the policy's priority one up or down, through PUT (the API renumbers the rest)."""
        await console.form(request)
        api = console.api(request)
        try:
            p = await api.get(f"/api/v1/policies/{pid}")
            body = {k: p[k] for k in ("type", "name", "description", "conditions", "settings", "status")}
            body["priority"] = max(1, p["priority"] + (-1 if direction == "up" else 1))
            await api.put(f"/api/v1/policies/{pid}", body)
        except ApiError as exc:
            return await mfa_page(request, error_of(exc), exc.status)
        console.flash(request, f"{p['name']} moved {direction}.")
        return RedirectResponse("/admin/security/multifactor", status_code=303)

    @r.get("/admin/security/api")
    async def tokens(request: Request) -> Response:
        listed = await console.api(request).get("/api/v1/api-tokens")
        return console.render(request, "admin/tokens.html", section="api", title="API Tokens", tokens=listed)

    @r.post("/admin/security/api/tokens/{tid}/revoke")
    async def revoke(request: Request, tid: str) -> Response:
        await console.form(request)
        try:
            await console.api(request).delete(f"/api/v1/api-tokens/{tid}")
        except ApiError as exc:
            console.flash(request, f"{exc.summary}")
            return RedirectResponse("/admin/security/api", status_code=303)
        console.flash(request, "Token revoked: every call made with it now gets 401 E0000011.")
        return RedirectResponse("/admin/security/api", status_code=303)

    return r
