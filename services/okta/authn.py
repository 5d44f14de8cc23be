"""The Authentication API (`/api/v1/authn`, Okta Classic; docs/okta.md, "Authentication API"):
the routes, each a thin shell over the state machine (authn_flow.py, authn_factors.py) that
reads the body, builds the request's Audit and turns the body it gets back into the answer:

    primary auth (password | activation token | within an UNAUTHENTICATED transaction)
      -> LOCKED_OUT (only with showLockoutFailures) | PASSWORD_RESET (activation, Okta password)
      -> MFA_REQUIRED -> MFA_CHALLENGE (push WAITING / REJECTED / TIMEOUT)
      -> PASSWORD_EXPIRED -> MFA_ENROLL -> MFA_ENROLL_ACTIVATE -> ... -> SUCCESS

Errors: 401 E0000004 for every failed primary authentication (the reason is hidden, as Okta does);
401 E0000011 for a stateToken that is unknown, finished or expired (sliding `authn_state_ttl_seconds`,
renewed by every call); 403 E0000079 for an operation the current state does not allow;
403 E0000068 / E0000082 for a wrong / replayed passcode. Public apps may call without a token.

Passwords: Okta-mastered users against their hash (with the PASSWORD policy's lockout); AD-sourced
users through delegated authentication (delegated.py: the AD agent, or an LDAP bind)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import authn_factors as steps
from . import shapes
from .authn_flow import AuthnFlow
from .errors import json_body, not_found
from .org import Audit, Org


def router(org: Org) -> APIRouter:
    r = APIRouter()

    def flow(request: Request) -> AuthnFlow:
        return AuthnFlow(org, Audit.of(request))

    @r.post("/api/v1/authn")
    async def authn(request: Request) -> JSONResponse:
        data = await json_body(request)
        return shapes.respond(await flow(request).authenticate(data))

    @r.post("/api/v1/authn/factors")
    async def enroll(request: Request) -> JSONResponse:
        return shapes.respond(steps.enroll(flow(request), await json_body(request)))

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate")
    async def activate(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.activate(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/resend")
    async def activation_resend(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.activation_resend(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate/email")
    async def activation_email(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.activation_email(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate/poll")
    async def activation_poll(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.activation_poll(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/factors/{fid}/verify")
    async def verify(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.verify(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/factors/{fid}/verify/resend")
    async def resend(fid: str, request: Request) -> JSONResponse:
        return shapes.respond(steps.resend(flow(request), await json_body(request), fid))

    @r.post("/api/v1/authn/previous")
    async def previous(request: Request) -> JSONResponse:
        return shapes.respond(steps.previous(flow(request), await json_body(request)))

    @r.post("/api/v1/authn/skip")
    async def skip(request: Request) -> JSONResponse:
        return shapes.respond(steps.skip(flow(request), await json_body(request)))

    @r.post("/api/v1/authn/credentials/reset_password")
    async def reset_password(request: Request) -> JSONResponse:
        return shapes.respond(flow(request).reset_password(await json_body(request)))

    @r.post("/api/v1/authn/credentials/change_password")
    async def change_password(request: Request) -> JSONResponse:
        return shapes.respond(await flow(request).change_password(await json_body(request)))

    @r.post("/api/v1/authn/cancel")
    async def cancel(request: Request) -> JSONResponse:
        return shapes.respond(flow(request).cancel(await json_body(request)))

    # -- where transactions start outside the API --------------------------------------------------
    # `GET /welcome/{token}`, the activation email's link, is a page: enduser/activation.py.

    @r.get("/home/{app_name}/{app_id}")
    async def app_link(app_name: str, app_id: str, request: Request) -> JSONResponse:
        """An app's embed link opened without a session: Okta starts an authentication
        transaction in UNAUTHENTICATED with the app as its target. JSON for API callers."""
        a = org.store.get("apps", app_id)
        if a is None or a["name"] != app_name:
            raise not_found(app_id, "App")
        return shapes.respond(flow(request).start_for_app(a))

    return r
