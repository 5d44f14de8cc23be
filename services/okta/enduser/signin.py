"""The sign-in page and every step after it, driven through the Authentication API's own state
machine (authn_flow.AuthnFlow and authn_factors): the page is one more client of `/api/v1/authn`,
in-process, so its rules, error messages, System Log and lab events are the API's.

    GET/POST /login          username and password (primary authentication)
    GET      /login/step     the transaction's current state as a page (one template, by status)
    POST     /login/step     the step the person chose: verify, enrol, activate, resend, previous,
                             skip, cancel, reset / change password
    POST     /login/poll     htmx, every 2 s while a push waits (sign-in) or the phone enrols (push
                             activation): the waiting fragment, or HX-Redirect once it moved on
    POST     /login/signout

The transaction's stateToken stays in the server-side session (sessions.py); SUCCESS signs the
browser in and leads to the dashboard (or to the page that asked for sign-in)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import Pages, require_csrf

from .. import authn_factors as steps
from .. import push
from ..authn_flow import AuthnFlow
from ..errors import OktaError
from ..org import Audit, Org
from .sessions import Sessions

HOME = "/app/UserHome"
OKTA_VERIFY = ("push", "token:software:totp")


def safe_next(value: str | None) -> str:
    """Only a path of this org: never another site (an open redirect)."""
    return value if value and value.startswith("/") and not value.startswith("//") and "\\" not in value else HOME


def ui_error(err: OktaError) -> dict[str, Any]:
    return {"summary": err.summary, "causes": err.causes, "code": err.code}


def qr_of(factor: dict[str, Any]) -> str | None:
    act = (factor.get("_embedded") or {}).get("activation") or {}
    return (act.get("_links") or {}).get("qrcode", {}).get("href")


class SignIn:
    """What the sign-in routes share; also used by the activation page (activation.py)."""

    def __init__(self, org: Org, pages: Pages, sessions: Sessions) -> None:
        self.org = org
        self.pages = pages
        self.sessions = sessions

    def flow(self, request: Request) -> AuthnFlow:
        return AuthnFlow(self.org, Audit.of(request))

    def device_names(self, user_id: str | None) -> dict[str, str]:
        """Each push factor's device name, by factor id: the page names the device when a person has
        several (the authn API's unauthenticated answer shows a push factor's `profile` empty)."""
        if not user_id:
            return {}
        names: dict[str, str] = {}
        seen: dict[str, int] = {}
        for f in self.org.people.factors_of(user_id):
            name = (f.get("profile") or {}).get("name") if f["factorType"] == "push" else None
            if name:        # two devices of the same name: "Lab iPhone", "Lab iPhone 2"
                seen[name] = seen.get(name, 0) + 1
                names[f["id"]] = f"{name} {seen[name]}" if seen[name] > 1 else name
        return names

    def phone_link(self, login: str, qr: str | None) -> str | None:
        """The "scan with my phone" link: the person's phone page, pointed at this QR image."""
        if not qr or "phone" not in self.org.ctx.topology.get("services", {}):
            return None
        person = login.split("@")[0].lower()
        return f"{self.org.ctx.peer_url('phone')}/phone/{quote(person)}/add?url={quote(qr, safe='')}"

    def current(self, request: Request, session: dict[str, Any]) -> dict[str, Any] | None:
        """The transaction as it stands now (what `POST /api/v1/authn {"stateToken"}` answers),
        or None when there is none or it ended (expired, cancelled, finished)."""
        tok = session.get("stateToken")
        if not tok:
            return None
        flow = self.flow(request)
        try:
            state = flow.load({"stateToken": tok})
        except OktaError:
            session["stateToken"] = None
            self.sessions.save(session)
            return None
        user = self.org.people.user(state["userId"]) if state.get("userId") else None
        extra: dict[str, Any] = {}
        if state["status"] == "MFA_CHALLENGE" and state.get("pushTx"):
            tx = self.org.store.get("push_tx", state["pushTx"])
            if tx is not None:
                extra["factorResult"] = push.current(self.org, tx)["status"]
        flow.save(state)          # the sliding expiry, as any call renews it
        return flow.view(state, user, **extra)

    def finish(self, session: dict[str, Any], body: dict[str, Any],
               htmx: bool = False) -> Response:
        """After a step: SUCCESS signs the browser in; anything else shows the next step."""
        if body.get("status") == "SUCCESS":
            target = safe_next(session.get("next"))
            response: Response = Response(status_code=200, headers={"HX-Redirect": target}) if htmx \
                else RedirectResponse(target, status_code=303)
            self.sessions.signed_in(session, body["_embedded"]["user"]["id"], response)
            return response
        session["stateToken"] = body.get("stateToken")
        # A push's final answer (REJECTED, TIMEOUT) is said once by the API; the page keeps it to show
        session["pushResult"] = body.get("factorResult") if body.get("status") == "MFA_CHALLENGE" \
            and body.get("factorResult") in ("REJECTED", "TIMEOUT") else None
        self.sessions.save(session)
        if htmx:
            return Response(status_code=200, headers={"HX-Redirect": "/login/step"})
        return RedirectResponse("/login/step", status_code=303)

    def step_page(self, request: Request, session: dict[str, Any], body: dict[str, Any] | None,
                  error: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
        if body is None:
            return self.pages.render(request, "enduser/login.html", status_code, error=error, username="")
        user = (body.get("_embedded") or {}).get("user") or {}
        login = (user.get("profile") or {}).get("login", "")
        factor = (body.get("_embedded") or {}).get("factor") or {}
        if body.get("status") == "MFA_CHALLENGE" and factor.get("factorType") == "push" \
                and not body.get("factorResult"):
            body = body | {"factorResult": session.get("pushResult")}
        qr = qr_of(factor)
        return self.pages.render(
            request, "enduser/step.html", status_code, tx=body, status=body.get("status"), user=user,
            factor=factor, factors=(body.get("_embedded") or {}).get("factors") or [], qr=qr,
            devices=self.device_names(user.get("id")) if body.get("status") == "MFA_REQUIRED" else {},
            phone_link=self.phone_link(login, qr), error=error, purpose=session.get("purpose"),
            session_device=session.get("deviceType"),
            okta_verify=OKTA_VERIFY)


def router(pages: Pages, sessions: Sessions, signin: SignIn) -> APIRouter:
    r = APIRouter()

    @r.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, fromURI: str | None = None) -> Response:
        if sessions.user(request) is not None:
            return RedirectResponse(safe_next(fromURI), status_code=303)
        response = pages.render(request, "enduser/login.html", error=None, username="")
        session = sessions.ensure(request, response)
        if fromURI:
            session["next"] = safe_next(fromURI)
            sessions.save(session)
        return response

    @r.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await require_csrf(request)
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        session = sessions.of(request)
        if session is None:          # the cookie went missing: start again with a fresh one
            return RedirectResponse("/login", status_code=303)
        try:
            body = await signin.flow(request).authenticate({"username": username, "password": password})
        except OktaError as err:
            return pages.render(request, "enduser/login.html", err.status, error=ui_error(err), username=username)
        session["purpose"] = "signin"
        if body.get("status") == "LOCKED_OUT":        # no transaction goes on: say so here
            return signin.step_page(request, session, body, status_code=403)
        return signin.finish(session, body)

    @r.get("/login/step", response_class=HTMLResponse)
    async def step(request: Request) -> Response:
        session = sessions.of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        body = signin.current(request, session)
        if body is None:
            return RedirectResponse("/login", status_code=303)
        factor = (body.get("_embedded") or {}).get("factor") or {}
        if body["status"] == "MFA_CHALLENGE" and body.get("factorResult") == "SUCCESS":
            # the push was approved while the page was away: finish as the poll would have
            done = steps.verify(signin.flow(request), {"stateToken": session["stateToken"]}, factor["id"])
            return signin.finish(session, done)
        return signin.step_page(request, session, body)

    @r.post("/login/step", response_class=HTMLResponse)
    async def act(request: Request) -> Response:
        form = await require_csrf(request)
        session = sessions.of(request)
        if session is None or not session.get("stateToken"):
            return RedirectResponse("/login", status_code=303)
        flow = signin.flow(request)
        data: dict[str, Any] = {"stateToken": session["stateToken"]}
        action = str(form.get("action") or "")
        fid = str(form.get("factorId") or "")
        code = str(form.get("passCode") or "").replace(" ", "")
        try:
            if action == "verify":
                body = steps.verify(flow, data | ({"passCode": code} if code else {}), fid)
            elif action == "resend":
                body = steps.resend(flow, data, fid)
            elif action == "enroll":
                enrol: dict[str, Any] = {"factorType": str(form.get("factorType") or ""),
                                         "provider": str(form.get("provider") or "OKTA")}
                if form.get("phoneNumber"):
                    enrol["profile"] = {"phoneNumber": str(form.get("phoneNumber"))}
                session["deviceType"] = str(form.get("deviceType") or session.get("deviceType") or "")
                body = steps.enroll(flow, data | enrol)
            elif action == "activate":
                body = steps.activate(flow, data | ({"passCode": code} if code else {}), fid)
            elif action == "activation_resend":
                body = steps.activation_resend(flow, data, fid)
            elif action == "activation_email":
                body = steps.activation_email(flow, data, fid)
            elif action == "previous":
                body = steps.previous(flow, data)
            elif action == "skip":
                body = steps.skip(flow, data)
            elif action == "reset_password":
                if form.get("newPassword") != form.get("confirmPassword"):
                    raise OktaError("E0000001", causes=["newPassword: the passwords do not match"])
                body = flow.reset_password(data | {"newPassword": str(form.get("newPassword") or "")})
            elif action == "change_password":
                body = await flow.change_password(data | {"oldPassword": str(form.get("oldPassword") or ""),
                                                    "newPassword": str(form.get("newPassword") or "")})
            elif action == "cancel":
                flow.cancel(data)
                session["stateToken"] = None
                sessions.save(session)
                return RedirectResponse("/login", status_code=303)
            else:
                raise OktaError("E0000001", causes=[f"action: {action or 'none'} is not a step"])
        except OktaError as err:
            return signin.step_page(request, session, signin.current(request, session), ui_error(err), err.status)
        return signin.finish(session, body)

    @r.post("/login/poll", response_class=HTMLResponse)
    async def poll(request: Request) -> Response:
        """While a push waits or the phone enrols: one poll of the transaction."""
        await require_csrf(request)
        session = sessions.of(request)
        body = signin.current(request, session) if session else None
        if session is None or body is None:
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        factor = (body.get("_embedded") or {}).get("factor") or {}
        data = {"stateToken": session["stateToken"]}
        flow = signin.flow(request)
        try:
            if body["status"] == "MFA_CHALLENGE" and factor.get("factorType") == "push" \
                    and body.get("factorResult"):       # poll the push as the widget does
                body = steps.verify(flow, data, factor["id"])
            elif body["status"] == "MFA_ENROLL_ACTIVATE" and factor.get("factorType") == "push" \
                    and body.get("factorResult") != "TIMEOUT":
                body = steps.activation_poll(flow, data, factor["id"])
                if body.get("status") == "MFA_ENROLL" and any(
                        f["factorType"] == "token:software:totp" and f["provider"] == "OKTA"
                        and f["status"] == "NOT_SETUP" for f in body["_embedded"].get("factors", [])):
                    # Okta Verify is one app: its codes are set up right after its push
                    body = steps.enroll(flow, data | {"factorType": "token:software:totp", "provider": "OKTA"})
        except OktaError:
            return Response(status_code=200, headers={"HX-Redirect": "/login/step"})
        if body.get("status") != "SUCCESS" and body.get("factorResult") == "WAITING" \
                and body.get("status") in ("MFA_CHALLENGE", "MFA_ENROLL_ACTIVATE"):
            return pages.render(request, "enduser/_waiting.html", tx=body, status=body["status"])
        return signin.finish(session, body, htmx=True)

    @r.post("/login/signout")
    async def signout(request: Request) -> Response:
        await require_csrf(request)
        response = RedirectResponse("/login", status_code=303)
        sessions.end(request, response)
        return response

    return r
