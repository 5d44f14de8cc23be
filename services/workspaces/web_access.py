"""WorkSpaces Web Access, the browser client, under `/webclient` (the path of AWS's own Web Access,
https://clients.amazonworkspaces.com/webclient).

The registration code first (remembered in an HttpOnly cookie, as the client remembers it until
"Change Registration Code"), then user name, password and, when the directory has RADIUS MFA on,
the MFA field labelled with the directory's display label (Directory Service's
`RadiusSettings.DisplayLabel`, asked of the AD Connector with DescribeDirectories). The sign-in is
signin.py's, the desktop client's own steps, as a `DeviceTypeWeb` client. A sign-in runs as a
background task the page polls with htmx (`/webclient/signin/<job>`), so a push shows a waiting
state while the phone is asked; without JavaScript the POST simply waits for the answer.

Every POST carries the CSRF token (services/common/web); the desktop session is a random id in an
HttpOnly, SameSite=Lax cookie, kept in memory (a restart or reset signs everyone out).
"""
from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.context import ServiceContext
from services.common.web import Pages, require_csrf

from . import bundles, messages
from .connector import Connector, ConnectorUnavailable
from .signin import Outcome, SignIn

BASE = "/webclient"
CODE_COOKIE = "ws_regcode"
SESSION_COOKIE = "ws_webaccess"
JOB_TTL = 900.0          # a sign-in nobody polls for is forgotten (the longest push wait is 600 s)
SESSION_IDLE = 8 * 3600.0
DEFAULT_MFA_LABEL = "MFA Code"   # lab choice when the connector cannot tell the display label


@dataclass
class Job:
    """One sign-in under way: the page polls for it by its random id."""
    started: float
    task: asyncio.Task[Outcome]
    username: str
    push: bool


class WebAccess:
    def __init__(self, ctx: ServiceContext, signin: SignIn) -> None:
        self.ctx = ctx
        self.signin = signin
        self.connector = Connector(ctx)
        self.pages = Pages(Path(__file__).resolve().parent / "templates")
        self.jobs: dict[str, Job] = {}
        self.sessions: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        for job in self.jobs.values():
            job.task.cancel()
        self.jobs.clear()
        self.sessions.clear()

    # -- what a page needs ---------------------------------------------------------------------
    def directory_of(self, request: Request) -> dict[str, Any] | None:
        return self.signin.directory(request.cookies.get(CODE_COOKIE, ""))

    async def mfa_label(self, directory: dict[str, Any]) -> str | None:
        """The MFA field's label, or None when the directory has no RADIUS MFA (no field then)."""
        try:
            ds = await self.connector.describe_directory(directory["DirectoryId"], directory.get("Region")
                                                         or self.ctx.credential("aws_region"))
        except ConnectorUnavailable:
            return DEFAULT_MFA_LABEL
        radius = (ds or {}).get("RadiusSettings")
        if not radius:
            return None
        return radius.get("DisplayLabel") or DEFAULT_MFA_LABEL

    def session(self, request: Request) -> dict[str, Any] | None:
        found = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if found is None or time.monotonic() - found["seen"] > SESSION_IDLE:
            return None
        found["seen"] = time.monotonic()
        return found

    def _start(self, outcome: Outcome) -> str:
        token = secrets.token_urlsafe(32)
        workspace = outcome.workspace
        bundle = bundles.get(workspace.get("BundleId", "")) or {}
        self.sessions[token] = {"seen": time.monotonic(), "workspace_id": workspace["WorkspaceId"],
                                "computer_name": workspace.get("ComputerName", ""),
                                "user_name": workspace["UserName"], "bundle_id": workspace.get("BundleId", ""),
                                "bundle_name": bundle.get("Name", ""), "directory_id": outcome.directory_id}
        return token

    def prune(self) -> None:
        now = time.monotonic()
        for key, job in list(self.jobs.items()):
            if now - job.started > JOB_TTL:
                job.task.cancel()
                del self.jobs[key]

    # -- responses -----------------------------------------------------------------------------
    async def signin_page(self, request: Request, directory: dict[str, Any], *, error: str = "",
                          username: str = "", fragment: bool = False, status: int = 200) -> HTMLResponse:
        template = "web_signin_form.html" if fragment else "web_signin.html"
        return self.pages.render(request, template, status_code=status, title="Amazon WorkSpaces",
                                 directory=directory, mfa_label=await self.mfa_label(directory),
                                 error=error, username=username)

    def finished(self, outcome: Outcome, response: Response) -> Response:
        if outcome.ok:
            response.set_cookie(SESSION_COOKIE, self._start(outcome), httponly=True, samesite="lax", path=BASE)
        return response


def register_routes(app: FastAPI, web: WebAccess) -> None:
    @app.get(BASE)
    async def start(request: Request) -> Response:
        if web.session(request):
            return RedirectResponse(f"{BASE}/desktop", status_code=303)
        if web.directory_of(request):
            return RedirectResponse(f"{BASE}/signin", status_code=303)
        return web.pages.render(request, "web_register.html", title="Amazon WorkSpaces", error="", code="")

    @app.post(f"{BASE}/registration")
    async def register(request: Request) -> Response:
        form = await require_csrf(request)
        code = str(form.get("registration_code") or "").strip()
        if web.signin.directory(code) is None:
            web.ctx.record("workspaces.webaccess_registration", outcome="unknown_registration_code")
            return web.pages.render(request, "web_register.html", status_code=400, title="Amazon WorkSpaces",
                                    error=messages.REGISTRATION_UNREACHABLE, code=code)
        response = RedirectResponse(f"{BASE}/signin", status_code=303)
        response.set_cookie(CODE_COOKIE, code, httponly=True, samesite="lax", path=BASE, max_age=365 * 86400)
        return response

    @app.post(f"{BASE}/registration/change")
    async def change_registration(request: Request) -> Response:
        await require_csrf(request)
        response = RedirectResponse(BASE, status_code=303)
        response.delete_cookie(CODE_COOKIE, path=BASE)
        return response

    @app.get(f"{BASE}/signin")
    async def signin_form(request: Request) -> Response:
        directory = web.directory_of(request)
        if directory is None:
            return RedirectResponse(BASE, status_code=303)
        return await web.signin_page(request, directory)

    @app.post(f"{BASE}/signin")
    async def signin(request: Request) -> Response:
        form = await require_csrf(request)
        directory = web.directory_of(request)
        if directory is None:
            return RedirectResponse(BASE, status_code=303)
        username = str(form.get("username") or "")
        web.prune()
        job = secrets.token_urlsafe(16)
        trace = request.headers.get("X-Lab-Trace") or uuid.uuid4().hex[:16]
        task = asyncio.create_task(web.signin.attempt(
            registration_code=directory["RegistrationCode"], username=username,
            password=str(form.get("password") or ""), mfa_code=str(form.get("mfa_code") or "").strip(),
            device_type="DeviceTypeWeb", trace=trace))
        push = str(form.get("mfa_code") or "").strip().lower() == "push"
        web.jobs[job] = Job(time.monotonic(), task, username, push)
        if request.headers.get("HX-Request") != "true":       # no JavaScript: wait for the answer
            return await _answer(request, job, directory, fragment=False)
        return web.pages.render(request, "web_waiting.html", job=job, push=push)

    @app.get(f"{BASE}/signin/{{job}}")
    async def poll(request: Request, job: str) -> Response:
        directory = web.directory_of(request)
        entry = web.jobs.get(job)
        if directory is None or entry is None:
            return Response(status_code=200, headers={"HX-Redirect": BASE})
        if not entry.task.done():
            return web.pages.render(request, "web_waiting.html", job=job, push=entry.push)
        return await _answer(request, job, directory, fragment=True)

    async def _answer(request: Request, job: str, directory: dict[str, Any], *, fragment: bool) -> Response:
        entry = web.jobs.pop(job)
        username = entry.username
        try:
            outcome = await entry.task
        except asyncio.CancelledError:
            outcome = Outcome(False, 503, messages.DIRECTORY_UNAVAILABLE, "cancelled")
        if outcome.ok:
            headers = {"HX-Redirect": f"{BASE}/desktop"} if fragment else {}
            redirect: Response = (Response(status_code=200, headers=headers) if fragment
                                  else RedirectResponse(f"{BASE}/desktop", status_code=303))
            return web.finished(outcome, redirect)
        return await web.signin_page(request, directory, error=outcome.message, username=username,
                                     fragment=fragment, status=200 if fragment else outcome.status)

    @app.get(f"{BASE}/desktop")
    async def desktop(request: Request) -> Response:
        found = web.session(request)
        if found is None:
            return RedirectResponse(BASE, status_code=303)
        return web.pages.render(request, "web_desktop.html", title=f"{found['computer_name']} — Amazon WorkSpaces",
                                ws=found)

    @app.post(f"{BASE}/disconnect")
    async def disconnect(request: Request) -> Response:
        await require_csrf(request)
        found = web.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        if found is not None:
            workspace = web.signin.store.get_workspace(found["workspace_id"])
            if workspace is not None:
                workspace["ConnectionState"] = "DISCONNECTED"
                web.signin.store.put_workspace(workspace)
            web.ctx.record("workspaces.webaccess_disconnect", workspace=found["workspace_id"])
        response = RedirectResponse(f"{BASE}/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=BASE)
        return response

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(BASE, status_code=303)
