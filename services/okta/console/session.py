"""Who is signed in to the admin console: the sign-in page, the session cookie, sign-out.

The password is checked by the org's own `/api/v1/authn` (same lockout, same System Log
`user.session.start`), then the user must hold the SUPER_ADMIN role (seeding.ensure_admin). The
session id lives in an HttpOnly, SameSite=Lax cookie scoped to /admin; the table is in memory, so a
restart or `POST /reset` (the user is re-created with a new id) signs everyone out."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from services.common.web import require_csrf

from ..seeding import is_admin
from ..users import find_user
from .client import ApiError

if TYPE_CHECKING:
    from . import Console

COOKIE = "okta_admin_session"
IDLE_SECONDS = 2 * 3600          # Okta's default admin session idle lifetime is 2 hours
SIGN_IN = "/admin/signin"


class SignInRequired(Exception):
    """Raised by `Console.admin` on a page without a live session: answered by a redirect."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class FormRefused(Exception):
    """A console form without its CSRF token: answered with a 403 page (not the API's JSON)."""


async def checked_form(request: Request) -> dict[str, Any]:
    """The posted form once its CSRF token matches (services.common.web), else FormRefused."""
    try:
        return await require_csrf(request)
    except HTTPException as exc:
        raise FormRefused(str(exc.detail)) from None


class Sessions:
    def __init__(self) -> None:
        self._live: dict[str, dict[str, Any]] = {}

    def start(self, user_id: str) -> str:
        sid = secrets.token_urlsafe(32)
        self._live[sid] = {"userId": user_id, "seen": time.monotonic(), "flash": None}
        return sid

    def get(self, request: Request) -> dict[str, Any] | None:
        sid = request.cookies.get(COOKIE, "")
        s = self._live.get(sid)
        if s is None:
            return None
        if time.monotonic() - s["seen"] > IDLE_SECONDS:
            self._live.pop(sid, None)
            return None
        s["seen"] = time.monotonic()
        return s

    def end(self, request: Request) -> None:
        self._live.pop(request.cookies.get(COOKIE, ""), None)


def router(console: Console) -> APIRouter:
    r = APIRouter()
    org = console.org

    @r.get("/admin")
    async def home(request: Request) -> Response:
        console.admin(request)
        return RedirectResponse("/admin/people", status_code=303)

    @r.get(SIGN_IN)
    async def sign_in_page(request: Request, next: str = "/admin/people") -> Response:
        return console.pages.render(request, "admin/signin.html", next=_safe(next), error=None, username="")

    @r.post(SIGN_IN)
    async def sign_in(request: Request) -> Response:
        form = await checked_form(request)
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        nxt = _safe(str(form.get("next") or "/admin/people"))
        user = find_user(org, username) if username else None
        error: dict[str, Any] | None = None
        if user is None or not password:
            error = {"summary": "Unable to sign in", "causes": []}
        else:
            try:
                tx = await console.api(request, user).post(
                    "/api/v1/authn", {"username": user["profile"]["login"], "password": password})
            except ApiError as exc:
                error = {"summary": "Unable to sign in" if exc.code == "E0000004" else exc.summary,
                         "causes": exc.causes}
            else:
                status = tx.get("status")
                if status == "LOCKED_OUT":
                    error = {"summary": "Your account is locked.", "causes": ["Unlock it with the org's API: "
                             "POST /api/v1/users/{id}/lifecycle/unlock"]}
                elif status != "SUCCESS":
                    error = {"summary": f"Unable to sign in (the org answered {status}): the lab's admin console "
                                        "signs in with a password only.", "causes": []}
                elif not is_admin(org, user["id"]):
                    error = {"summary": "You do not have permission to access the Admin Console.", "causes": []}
        if error is not None or user is None:
            org.record("okta.admin.session", outcome="refused", user=username)
            return console.pages.render(request, "admin/signin.html", status_code=401, next=nxt,
                                        error=error, username=username)
        sid = console.sessions.start(user["id"])
        org.record("okta.admin.session", outcome="started", user=user["profile"]["login"])
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="lax", path="/admin")
        return resp

    @r.post("/admin/signout")
    async def sign_out(request: Request) -> Response:
        await checked_form(request)
        console.sessions.end(request)
        resp = RedirectResponse(SIGN_IN, status_code=303)
        resp.delete_cookie(COOKIE, path="/admin")
        return resp

    return r


def _safe(path: str) -> str:
    """Only a path of the console itself (no open redirect to another site)."""
    return path if path.startswith("/admin") and not path.startswith("//") else "/admin/people"
