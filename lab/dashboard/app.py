"""The dashboard's web app: pages, server-sent event streams and the knobs' POSTs.

Every page and stream needs a session (sessions.py); every POST its CSRF token. The page's script
(static/dashboard.js) is the only script: the Content-Security-Policy allows no inline code.
"""
from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..topology import load_or_create_credentials
from . import feed, knobs, launcher, narration
from .labs import LabRef, Labs
from .progress import Tracker
from .sessions import COOKIE, Session, Sessions

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024
CLASS_POLL_SECONDS = 3.0
PRE = "lab_dashboard_pre"       # the sign-in form's CSRF cookie (no session yet)
HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                      "script-src 'self'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def make_app(state_dir: Path, roster_state_dir: Path | None = None) -> FastAPI:
    labs = Labs(state_dir, roster_state_dir)
    token_home = roster_state_dir or state_dir
    sessions = Sessions(state_dir, [load_or_create_credentials(token_home).get("admin_token", "")])
    runs = launcher.Launcher(state_dir / "dashboard" / "runs")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(title="lab dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            size = int(request.headers.get("content-length") or 0)
        except ValueError:
            size = MAX_BODY + 1
        if size > MAX_BODY:
            return JSONResponse({"detail": f"the body is over {MAX_BODY} bytes"}, status_code=413)
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response

    @app.exception_handler(Problem)
    async def problem(_request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.on_event("shutdown")
    async def _stop_runs() -> None:
        await runs.close()

    # -- sessions ------------------------------------------------------------------------------
    def session_of(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def need(request: Request) -> Session:
        session = session_of(request)
        if session is None:
            raise Problem(401, "sign in first: `lab open dashboard` prints a sign-in link")
        return session

    async def form_of(request: Request) -> dict[str, str]:
        """A POST's form, after its session and CSRF token are checked."""
        session = need(request)
        try:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        except Exception:  # noqa: BLE001 - python-multipart's errors for a malformed body
            raise Problem(400, "the body is not a form") from None
        if not sessions.csrf_ok(session, request.headers.get("x-csrf-token") or form.get("csrf")):
            raise Problem(403, "the CSRF token is missing or wrong: reload the page")
        return form

    def lab_of(key: str) -> LabRef:
        ref = labs.get(key)
        if ref is None:
            raise Problem(404, f"no lab {key[:20]!r} here")
        return ref

    def client_of(ref: LabRef) -> Any:
        client = ref.client()
        if client is None:
            raise Problem(409, f"{ref.title} has no topology: is it up?")
        return client

    def cookie(response: Response, sid: str) -> Response:
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/")
        response.delete_cookie(PRE, path="/")
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"healthy": True, "class": labs.is_class}

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, ticket: str = "") -> Response:
        if ticket:
            sid = sessions.with_ticket(ticket[:100])
            if sid is not None:
                return cookie(RedirectResponse("/", status_code=303), sid)
        pre = request.cookies.get(PRE) or secrets.token_urlsafe(24)
        response = templates.TemplateResponse(request, "signin.html", {
            "csrf": pre, "refused": bool(ticket), "is_class": labs.is_class})
        response.set_cookie(PRE, pre, httponly=True, samesite="strict", path="/")
        return response

    @app.post("/signin")
    async def signin(request: Request) -> Response:
        try:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        except Exception:  # noqa: BLE001 - a malformed body
            raise Problem(400, "the body is not a form") from None
        pre = request.cookies.get(PRE, "")
        if not pre or not hmac.compare_digest(pre.encode(), form.get("csrf", "").encode()):
            raise Problem(403, "the CSRF token is missing or wrong: reload the page")
        sid = sessions.with_token(form.get("token", "")[:200])
        if sid is None:
            return templates.TemplateResponse(request, "signin.html", {
                "csrf": pre, "refused": True, "is_class": labs.is_class}, status_code=401)
        return cookie(RedirectResponse("/", status_code=303), sid)

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        await form_of(request)
        sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/signin", status_code=303)
        if labs.is_class:
            return templates.TemplateResponse(request, "class.html", {
                "csrf": session.csrf, "labs": labs.all()})
        return await lab_page(request, "lab")

    @app.get("/labs/{key}", response_class=HTMLResponse)
    async def lab_page(request: Request, key: str) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/signin", status_code=303)
        ref = lab_of(key)
        topology = ref.topology() or {"services": {}}
        client = ref.client()
        people = []
        if client is not None:
            try:
                people = [p["sam"] for p in client.seed().get("users", []) if p.get("sam") != "Administrator"]
            except (OSError, KeyError, TypeError, ValueError):
                people = []
        return templates.TemplateResponse(request, "lab.html", {
            "csrf": session.csrf, "lab": ref, "is_class": labs.is_class,
            "services": list(topology["services"]), "people": people,
            "scenarios": launcher.scenarios(), "fault_actions": knobs.FAULT_ACTIONS,
            "fault_protocols": knobs.FAULT_PROTOCOLS, "phone_actions": knobs.PHONE_ACTIONS,
            "firewall_hosts": knobs.FIREWALL_HOSTS, "agents": [n for n in topology["services"]
                                                              if n.startswith("radius-agent")]})

    # -- streams -------------------------------------------------------------------------------
    def sse_response(body: AsyncIterator[str]) -> StreamingResponse:
        return StreamingResponse(body, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/labs/{key}/events")
    async def events(request: Request, key: str) -> StreamingResponse:
        need(request)
        client = client_of(lab_of(key))

        async def body() -> AsyncIterator[str]:
            try:
                async for chunk in feed.stream(client, lab_of(key).state_dir, request.is_disconnected):
                    yield chunk
            finally:
                client.close()
        return sse_response(body())

    @app.get("/labs/{key}/knobs")
    async def knob_state(request: Request, key: str) -> dict[str, Any]:
        """What the knobs show: faults in force and the security groups."""
        need(request)
        client = client_of(lab_of(key))
        try:
            faults = await asyncio.to_thread(knobs.faults, client)
            groups = await asyncio.to_thread(knobs.security_groups, client)
        finally:
            client.close()
        return {"faults": faults, "security_groups": groups}

    @app.get("/labs/{key}/narration")
    async def narration_stream(request: Request, key: str) -> StreamingResponse:
        need(request)
        ref = lab_of(key)

        async def body() -> AsyncIterator[str]:
            seen, demo = 0, None
            while not await request.is_disconnected():
                rows = narration.lines(ref.state_dir)
                if rows and rows[0].get("demo") != demo:      # a new demo began: its rows from the first
                    seen, demo = 0, rows[0].get("demo")
                for row in rows:
                    if int(row["n"]) > seen:
                        seen = int(row["n"])
                        yield feed.sse(row)
                await asyncio.sleep(0.3)
        return sse_response(body())

    @app.get("/class/tiles")
    async def tiles(request: Request) -> StreamingResponse:
        need(request)
        trackers: dict[str, Tracker] = {}

        def look(ref: LabRef) -> dict[str, Any]:
            row: dict[str, Any] = {"key": ref.key, "title": ref.title, "subnet": ref.subnet}
            client = ref.client()
            if client is None:
                return row | {"healthy": False, "unhealthy": ["(not up)"], "milestones": [], "reached": 0}
            try:
                return row | trackers.setdefault(ref.key, Tracker()).look(client)
            except Exception as exc:  # noqa: BLE001 - one trainee's broken lab must not stop the others' tiles
                return row | {"healthy": False, "unhealthy": [f"{exc.__class__.__name__}"], "milestones": [],
                              "reached": 0}
            finally:
                client.close()

        async def body() -> AsyncIterator[str]:
            while not await request.is_disconnected():
                rows = await asyncio.gather(*(asyncio.to_thread(look, ref) for ref in labs.all()))
                yield feed.sse(list(rows), "tiles")
                await asyncio.sleep(CLASS_POLL_SECONDS)
        return sse_response(body())

    @app.get("/runs/{run_id}/stream")
    async def run_stream(request: Request, run_id: str) -> StreamingResponse:
        need(request)
        run = runs.runs.get(run_id)
        if run is None:
            raise Problem(404, "no such run")

        async def body() -> AsyncIterator[str]:
            async for row in runs.stream(run, request.is_disconnected):
                yield feed.sse(row, "done" if row.get("done") else None)
        return sse_response(body())

    @app.get("/runs/{run_id}/report")
    async def run_report(request: Request, run_id: str) -> Response:
        need(request)
        run = runs.runs.get(run_id)
        if run is None or run.report is None:
            raise Problem(404, "no report for this run (yet)")
        return FileResponse(run.report, media_type="text/html")

    # -- the knobs -----------------------------------------------------------------------------
    async def knob(request: Request, key: str, act: Callable[[Any, dict[str, str]], str]) -> dict[str, str]:
        form = await form_of(request)
        ref = lab_of(key)
        client = client_of(ref)
        try:
            return {"message": await asyncio.to_thread(act, client, form)}
        except knobs.Refused as exc:
            raise Problem(400, str(exc)) from None
        finally:
            client.close()

    @app.post("/labs/{key}/faults")
    async def add_fault(request: Request, key: str) -> dict[str, str]:
        return await knob(request, key, lambda c, f: knobs.add_fault(
            c, f.get("service", ""), f.get("action", ""), f.get("protocol", ""), f.get("seconds", "0")))

    @app.post("/labs/{key}/faults/clear")
    async def clear_faults(request: Request, key: str) -> dict[str, str]:
        return await knob(request, key, lambda c, f: knobs.clear_faults(c, f.get("service", "")))

    @app.post("/labs/{key}/clock")
    async def clock(request: Request, key: str) -> dict[str, str]:
        return await knob(request, key, lambda c, f: knobs.set_clock(c, f.get("service", ""), f.get("offset", "")))

    @app.post("/labs/{key}/phone")
    async def phone(request: Request, key: str) -> dict[str, str]:
        return await knob(request, key, lambda c, f: knobs.phone(
            c, f.get("user", ""), f.get("action", ""), f.get("after", "0")))

    @app.post("/labs/{key}/security-groups")
    async def security_group(request: Request, key: str) -> dict[str, str]:
        return await knob(request, key, lambda c, f: knobs.security_group_rule(
            c, f.get("group", ""), f.get("change", ""), f.get("protocol", ""), f.get("port", ""),
            f.get("cidr", "")))

    @app.post("/labs/{key}/firewall")
    async def firewall(request: Request, key: str) -> dict[str, str]:
        ref = lab_of(key)
        return await knob(request, key, lambda _c, f: knobs.firewall(
            ref.state_dir, f.get("host", ""), f.get("action", ""), f.get("port", ""), f.get("protocol", "")))

    @app.post("/labs/{key}/reset")
    async def reset(request: Request, key: str) -> dict[str, str]:
        ref = lab_of(key)
        return await knob(request, key, lambda _c, _f: knobs.reset(ref.state_dir))

    @app.post("/labs/{key}/runs")
    async def start_run(request: Request, key: str) -> dict[str, str]:
        form = await form_of(request)
        ref = lab_of(key)
        try:
            run = await runs.start(ref.key, ref.state_dir, form.get("scenario", ""))
        except ValueError as exc:
            raise Problem(400, str(exc)) from None
        except launcher.Busy as exc:
            raise Problem(409, str(exc)) from None
        return {"run": run.id, "scenario": run.scenario}

    @app.post("/labs/{key}/narration/next")
    async def next_step(request: Request, key: str) -> dict[str, int]:
        await form_of(request)
        return {"released": narration.press_next(lab_of(key).state_dir)}

    return app
