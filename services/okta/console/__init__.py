"""The Okta admin console under `/admin`: server-rendered pages over the org's own API.

| module | job |
|---|---|
| `client.py` | `OrgApi`: a page's in-process calls to `/api/v1/...` (same rules, errors and events as the API) |
| `session.py` | sign-in (through `/api/v1/authn` + the SUPER_ADMIN role), the session cookie, sign-out |
| `people.py`, `groups.py` | Directory → People, Groups |
| `directory.py` | Directory → Directory Integrations (Active Directory, agents, Import) |
| `applications.py` | Applications: the list, the RADIUS app, a Bookmark app, Assignments |
| `security.py` | Security → Multifactor (factor enrollment policies) and API → Tokens |
| `reports.py` | Reports → System Log, live with htmx polling |

Every POST checks the CSRF token (`services.common.web.require_csrf`); every page needs a session
(else a redirect to `/admin/signin`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp

from services.common.web import Pages

from ..org import Org
from . import session
from .client import ApiError, OrgApi

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Console:
    """What the console's routes share: the org, the pages, the sessions, the app to call."""

    def __init__(self, org: Org, app: ASGIApp) -> None:
        self.org = org
        self.app = app
        self.pages = Pages(TEMPLATES)
        self.sessions = session.Sessions()
        self.pages.env.filters["when"] = when

    def admin(self, request: Request) -> dict[str, Any]:
        """The signed-in admin (the user document), or SignInRequired."""
        s = self.sessions.get(request)
        user = self.org.people.user(s["userId"]) if s else None
        if s is None or user is None or user["status"] != "ACTIVE":
            raise session.SignInRequired(request.url.path)
        request.state.console_session = s
        return user

    async def form(self, request: Request) -> dict[str, Any]:
        """A console POST's form: a session first (else the sign-in page), then the CSRF check (403)."""
        self.admin(request)
        return await session.checked_form(request)

    def api(self, request: Request, admin: dict[str, Any] | None = None) -> OrgApi:
        """The org API as the signed-in admin (or `admin`, for the sign-in itself)."""
        return OrgApi(self.app, request, admin if admin is not None else self.admin(request))

    def flash(self, request: Request, message: str) -> None:
        s = getattr(request.state, "console_session", None)
        if s is not None:
            s["flash"] = message

    def render(self, request: Request, template: str, *, section: str, status_code: int = 200,
               **ctx: Any) -> Response:
        user = self.admin(request)
        s = request.state.console_session
        notice, s["flash"] = s.get("flash"), None
        return self.pages.render(request, template, status_code=status_code, admin=user, section=section,
                                 notice=notice, **ctx)


def when(iso: str | None) -> str:
    """2026-12-03T08:33:09.292Z -> 2026-12-03 08:33:09 (UTC), short enough for a table cell."""
    return iso[:19].replace("T", " ") if iso else "—"


def error_of(exc: ApiError) -> dict[str, Any]:
    """What `lab_macros.errors` shows: the org's errorSummary and errorCauses."""
    return {"summary": exc.summary, "causes": exc.causes}


def install(app: FastAPI, org: Org) -> None:
    from . import applications, directory, groups, people, reports, security

    console = Console(org, app)     # the lab's static files are mounted by make_app

    async def to_sign_in(_: Request, exc: Exception) -> Response:
        path = exc.path if isinstance(exc, session.SignInRequired) else "/admin"
        return RedirectResponse(f"{session.SIGN_IN}?next={quote(path)}", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        return console.pages.render(request, "admin/refused.html", status_code=403, message=str(exc))

    app.add_exception_handler(session.SignInRequired, to_sign_in)
    app.add_exception_handler(session.FormRefused, refused)
    for module in (session, people, groups, directory, applications, security, reports):
        app.include_router(module.router(console))
