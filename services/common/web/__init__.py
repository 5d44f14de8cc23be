"""The pages a service serves beside its API: Jinja2 templates, the lab's vendored static files,
and CSRF protection for every form.

Each service keeps its own templates in `<package>/templates/` and extends `lab_base.html` (from
`templates/` here). Pages are server-rendered; live parts use htmx (vendored in `static/`, with its
licence). The module is plumbing only: what a page shows is the owning service's business.

CSRF: the double-submit cookie pattern (OWASP's "Cross-Site Request Forgery Prevention Cheat
Sheet"). A random token lives in a SameSite=Strict, HttpOnly cookie; every form carries the same
value in a hidden `csrf_token` field (htmx requests send it as `X-CSRF-Token`), and `require_csrf`
refuses a POST whose two values differ. A page on another origin can neither read the cookie nor
make the browser send it, so it cannot forge the pair.
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
STATIC_URL = "/static/lab"
CSRF_COOKIE = "lab_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class Pages:
    """One service's templates, rendered with what every page needs (the CSRF token, static URL)."""

    def __init__(self, templates_dir: Path, *, shared: dict[str, Any] | None = None) -> None:
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(templates_dir)), FileSystemLoader(str(HERE / "templates"))]),
            autoescape=select_autoescape(["html", "xml"], default=True),
            trim_blocks=True, lstrip_blocks=True,
        )
        self.env.globals.update(shared or {})

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        token = csrf_token(request)
        html = self.env.get_template(template).render(
            request=request, csrf_token=token, static_url=STATIC_URL, **context)
        response = HTMLResponse(html, status_code=status_code)
        set_csrf_cookie(request, response, token)
        return response


def mount_static(app: FastAPI) -> None:
    """The lab's CSS and htmx at /static/lab (the same files on every service)."""
    app.mount(STATIC_URL, StaticFiles(directory=str(HERE / "static")), name="lab-static")


def csrf_token(request: Request) -> str:
    """The token of this browser: its cookie's, or a new one (set by `Pages.render`)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if existing and len(existing) == 43:
        return existing
    cached = getattr(request.state, "lab_csrf", None)
    if cached is None:
        cached = secrets.token_urlsafe(32)
        request.state.lab_csrf = cached
    return cached


def set_csrf_cookie(request: Request, response: Any, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")


async def require_csrf(request: Request) -> dict[str, Any]:
    """The posted form, once its CSRF token matches the cookie's; 403 otherwise.

    Use it in every POST handler of a page: `form = await require_csrf(request)`."""
    form = dict(await request.form())
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise HTTPException(403, "The form has expired or did not come from this site (CSRF check failed). "
                                 "Reload the page and try again.")
    return form
