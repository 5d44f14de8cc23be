"""The phone's HTTP face: pushes arrive here (standing in for APNs/FCM), SMS and voice calls too
(`POST /sms`, `POST /call`, read back at `GET /messages`), and the lab's CLI reads codes, scans
QR contents and sets how the user answers pushes."""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from fastapi import FastAPI, HTTPException, Request

from services.common.context import ServiceContext

from .authenticator import NoSuchAccount, Wallet
from .camera import read_qr

MAX_STEPS = 10_000       # time steps a code may be asked for away from now (about 3.5 days)


def make_app(ctx: ServiceContext, wallet: Wallet, pushes: list[dict[str, Any]],
             messages: list[dict[str, Any]] | None = None) -> FastAPI:
    app = FastAPI(title="Okta Verify (lab phone)", docs_url=None, redoc_url=None)
    push_endpoint = f"http://{ctx.me['host']}:{ctx.port('api')}/push"
    pending: set[asyncio.Task[None]] = set()

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise HTTPException(400, "body must be JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(400, "body must be a JSON object")
        return data

    @app.get("/accounts")
    async def accounts() -> list[dict[str, Any]]:
        return [a.public() for a in wallet.accounts.values()]

    @app.get("/accounts/{user}/code")
    async def code(user: str, steps: int = 0) -> dict[str, Any]:
        """The code shown now; `steps` shifts by whole time steps (-1: the one just gone)."""
        if abs(steps) > MAX_STEPS:     # far enough off, the time is not a date any more (a 500)
            raise HTTPException(400, f"steps must be between -{MAX_STEPS} and {MAX_STEPS}")
        try:
            acc = wallet.find(user)
            value, remaining = wallet.code(user, ctx.clock.now() + steps * acc.totp_period)
        except NoSuchAccount:
            raise HTTPException(404, f"Okta Verify has no code account for {user}") from None
        ctx.record("phone.code_shown", peer=None, outcome="ok", user=user)
        return {"user": wallet.find(user).login, "code": value, "seconds_remaining": remaining}

    @app.put("/accounts/{user}/behaviour")
    async def behaviour(user: str, request: Request) -> dict[str, Any]:
        data = await body(request)
        try:
            acc = wallet.set_behaviour(user, str(data.get("action")), float(data.get("after", 0)))
        except NoSuchAccount:
            raise HTTPException(404, f"Okta Verify has no account for {user}") from None
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        ctx.record("phone.behaviour", outcome="set", user=acc.login, action=acc.action, after=acc.after)
        return acc.public()

    @app.post("/scan")
    async def scan(request: Request) -> dict[str, Any]:
        """Point the camera at a QR code: a PNG image (image/png) or its decoded text ({"uri"})."""
        try:
            if request.headers.get("content-type", "").startswith("image/"):
                uri = read_qr(await request.body())
            else:
                uri = str((await body(request)).get("uri", ""))
        except ValueError as exc:
            ctx.record("phone.scan", outcome="refused", reason=str(exc))
            raise HTTPException(400, str(exc)) from None
        scheme = urlparse(uri).scheme
        try:
            if scheme == "otpauth":
                acc = wallet.add_totp(uri)
            elif scheme == "oktaverify":
                acc = await _enrol_push(uri)
            else:
                raise ValueError("this QR code is not an Okta Verify or authenticator code")
        except ValueError as exc:
            ctx.record("phone.scan", outcome="refused", reason=str(exc))
            raise HTTPException(400, str(exc)) from None
        ctx.record("phone.scan", outcome="enrolled", user=acc.login, kind=scheme)
        return acc.public()

    async def _enrol_push(uri: str):
        parsed = urlparse(uri)
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if not {"t", "s"} <= params.keys():
            raise ValueError("the Okta Verify QR code lacks its activation token or org")
        try:    # the org's address comes from the QR code: it may be anything, or not answer
            async with ctx.http_client(timeout=10) as client:
                resp = await client.post(
                    params["s"].rstrip("/") + "/idp/authenticators/okta-verify/enroll",
                    json={"activationToken": params["t"], "pushEndpoint": push_endpoint,
                          "deviceName": "Lab iPhone"},
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ValueError(f"the org could not be reached: {exc.__class__.__name__}") from None
        if resp.status_code != 200:
            try:
                summary = resp.json().get("errorSummary", resp.text)
            except ValueError:
                summary = f"HTTP {resp.status_code}"
            raise ValueError(f"the org refused the enrolment: {summary}")
        data = resp.json()
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str)
                                                 for k in ("login", "factorId", "deviceCredential")):
            raise ValueError("the org's enrolment answer is not Okta Verify's")
        acc = wallet.account(data["login"])
        acc.push_factor_id = data["factorId"]
        acc.device_credential = data["deviceCredential"]
        wallet.save()
        return acc

    @app.post("/push", status_code=202)
    async def push(request: Request) -> dict[str, Any]:
        data = await body(request)
        login = str(data.get("login", ""))
        try:
            acc = wallet.find(login)
        except NoSuchAccount:
            acc = None
        if acc is None or acc.device_credential is None or acc.push_factor_id != data.get("factorId"):
            ctx.record("phone.push_received", peer="okta", outcome="unknown_account", user=login)
            raise HTTPException(404, "no Okta Verify account on this phone for that push")
        record = {"transactionId": data.get("transactionId"), "login": acc.login,
                  "received": ctx.clock.iso(), "action": acc.action, "after": acc.after,
                  "answered": None}
        pushes.append(record)
        ctx.record("phone.push_received", peer="okta", outcome=acc.action, user=acc.login,
                   transaction=record["transactionId"], trace=data.get("trace"))
        if acc.action != "ignore":
            task = asyncio.create_task(_answer(acc.device_credential, str(data.get("answerUrl")),
                                               acc.action, acc.after, record))
            pending.add(task)
            task.add_done_callback(pending.discard)
        return {"accepted": True}

    async def _answer(credential: str, url: str, action: str, after: float, record: dict[str, Any]) -> None:
        if after:
            await asyncio.sleep(after)
        result = "APPROVE" if action == "approve" else "DENY"
        try:
            async with ctx.http_client(timeout=10) as client:
                resp = await client.post(url, json={"result": result},
                                         headers={"Authorization": f"OktaVerify {credential}"})
            outcome = "ok" if resp.status_code < 300 else f"http {resp.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"error: {exc.__class__.__name__}"
        record["answered"] = ctx.clock.iso()
        ctx.record("phone.push_answered", peer="okta", outcome=outcome, user=record["login"],
                   result=result, transaction=record["transactionId"])

    @app.get("/pushes")
    async def list_pushes() -> list[dict[str, Any]]:
        return pushes

    # -- SMS and voice calls (the org's sms / call factors; the phone stands in for the network) --
    messages = messages if messages is not None else []

    async def _receive(kind: str, request: Request) -> dict[str, Any]:
        data = await body(request)
        to, text = data.get("to"), data.get("text")
        if not isinstance(to, str) or not to.strip() or not isinstance(text, str):
            raise HTTPException(400, 'body must be {"to": "<phone number>", "text": "..."}')
        msg = {"id": (messages[-1]["id"] + 1) if messages else 1, "kind": kind, "to": to, "text": text,
               "received": ctx.clock.iso()}
        messages.append(msg)
        del messages[:-500]                       # keep the last 500
        # the message itself (it carries a code) stays out of the event
        ctx.record(f"phone.{kind}_received", peer="okta", outcome="ok", to=to, message=msg["id"],
                   trace=request.headers.get("X-Lab-Trace"))
        return {"accepted": True, "id": msg["id"]}

    @app.post("/sms", status_code=202)
    async def sms(request: Request) -> dict[str, Any]:
        """An SMS for this phone: recorded, shown at GET /messages."""
        return await _receive("sms", request)

    @app.post("/call", status_code=202)
    async def call(request: Request) -> dict[str, Any]:
        """A voice call: what the caller says (`text`) is recorded as a message of kind "call"."""
        return await _receive("call", request)

    @app.get("/messages")
    async def list_messages(to: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """SMS and calls received, oldest first; `to` and `kind` filter them."""
        return [m for m in messages if (to is None or m["to"] == to) and (kind is None or m["kind"] == kind)]

    return app
