"""The activation email's link, `/welcome/<activationToken>` (docs/okta.md, "Users"): the page
behind it starts the person's first sign-in through the Authentication API.

- Okta-mastered user (PROVISIONED): "Activate" exchanges the token, `POST /api/v1/authn
  {"token"}` -> PASSWORD_RESET (choose a password) -> the enrolment policy -> SUCCESS.
- AD-sourced user: Active Directory holds the password, so the person signs in with it
  (primary authentication, delegated to AD: a wrong password fails as any sign-in does); the
  link's token is spent once that succeeded, as the token exchange spends it for these users,
  then the enrolment policy ("Set up multifactor authentication") -> SUCCESS.

An unknown, spent or expired link shows so (Okta: the link lasts 7 days and works once)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import Pages, require_csrf

from ..authn_flow import is_ad
from ..errors import OktaError
from ..org import Org
from .sessions import Sessions
from .signin import SignIn, ui_error


def user_of_link(org: Org, tok: str) -> dict[str, Any] | None:
    """The user whose activation link this is, while it is still good (the token unspent)."""
    user = org.people.by_activation_token(tok) if tok else None
    if user is None or org.now() >= float(user.get("activationExpiresTs") or 0) \
            or user["status"] not in ("PROVISIONED", "ACTIVE", "RECOVERY"):
        return None
    return user


def router(org: Org, pages: Pages, sessions: Sessions, signin: SignIn) -> APIRouter:
    r = APIRouter()

    def page(request: Request, user: dict[str, Any] | None, status_code: int = 200,
             error: dict[str, Any] | None = None) -> HTMLResponse:
        response = pages.render(request, "enduser/welcome.html", status_code, person=user,
                                ad=bool(user and is_ad(user)), error=error,
                                login=user["profile"]["login"] if user else "")
        sessions.ensure(request, response)
        return response

    @r.get("/welcome/{tok}", response_class=HTMLResponse)
    async def welcome(request: Request, tok: str) -> HTMLResponse:
        user = user_of_link(org, tok)
        if user is None:
            return page(request, None, 404)
        return page(request, user)

    @r.post("/welcome/{tok}", response_class=HTMLResponse)
    async def activate(request: Request, tok: str) -> Response:
        form = await require_csrf(request)
        session = sessions.of(request)
        user = user_of_link(org, tok)
        if user is None:
            return page(request, None, 404)
        if session is None:
            return RedirectResponse(f"/welcome/{tok}", status_code=303)
        flow = signin.flow(request)
        try:
            if is_ad(user) and not user.get("password"):
                body = await flow.authenticate({"username": user["profile"]["login"],
                                                "password": str(form.get("password") or "")})
                spend(org, user["id"])
            else:
                body = await flow.authenticate({"token": tok})
        except OktaError as err:
            return page(request, user, err.status, ui_error(err))
        session.update(purpose="activation", next=None)
        return signin.finish(session, body)

    return r


def spend(org: Org, user_id: str) -> None:
    """The activation link works once (what the token exchange does for AD-sourced users)."""
    user = org.people.user(user_id)
    if user is not None:
        user.pop("activationToken", None)
        user.pop("activationExpiresTs", None)
        org.people.save(user)
