"""The phone's HTTP API: pushes arrive here (standing in for APNs/FCM), SMS and voice calls too
(`POST /sms`, `POST /call`, read back at `GET /messages`), and the lab's CLI reads codes, scans
QR contents and sets how the user answers pushes. The person's screens are pages.py."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request

from services.common.context import ServiceContext
from services.common.http_guard import BodyGuard
from services.common.web import mount_static

from . import pages
from .authenticator import DEFAULT_DEVICE, InvalidAccount, NoSuchAccount, Wallet
from .pushes import PushInbox
from .scanning import Scanner

MAX_STEPS = 10_000       # time steps a code may be asked for away from now (about 3.5 days)


def make_app(ctx: ServiceContext, wallet: Wallet, pushes: list[dict[str, Any]],
             messages: list[dict[str, Any]] | None = None) -> FastAPI:
    app = FastAPI(title="Okta Verify (lab phone)", docs_url=None, redoc_url=None)
    app.add_middleware(BodyGuard)   # 1 MiB (a QR code's PNG is a few KB), JSON depth 64: {"detail"}
    scanner = Scanner(ctx, wallet)
    inbox = PushInbox(ctx, wallet, pushes)
    messages = messages if messages is not None else []
    app.include_router(pages.router(ctx, wallet, scanner, inbox, messages))
    mount_static(app)

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
        except InvalidAccount as exc:
            raise HTTPException(409, str(exc)) from None
        ctx.record("phone.code_shown", peer=None, outcome="ok", user=user)
        return {"user": wallet.find(user).login, "code": value, "seconds_remaining": remaining}

    @app.put("/accounts/{user}/behaviour")
    async def behaviour(user: str, request: Request) -> dict[str, Any]:
        data = await body(request)
        try:
            device = data.get("device")
            acc = wallet.set_behaviour(user, str(data.get("action")), float(data.get("after", 0)),
                                       None if device is None else str(device))
        except NoSuchAccount:
            raise HTTPException(404, f"Okta Verify has no account for {user}") from None
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        ctx.record("phone.behaviour", outcome="set", user=acc.login, action=acc.action, after=acc.after)
        return acc.public()

    @app.post("/scan")
    async def scan(request: Request, device: str = DEFAULT_DEVICE) -> dict[str, Any]:
        """Point the camera at a QR code: a PNG image (image/*), its decoded text ({"uri"}), or
        the address of an image on a screen ({"url"}: the phone fetches and reads it).
        `?device=` names which of the person's phones scans it (a second phone: its own factor)."""
        try:
            if request.headers.get("content-type", "").startswith("image/"):
                acc = await scanner.scan_image(await request.body(), device)
            else:
                data = await body(request)
                if "url" in data:
                    acc = await scanner.scan_url(str(data["url"]), device)
                else:
                    acc = await scanner.scan_uri(str(data.get("uri", "")), device)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return acc.public()

    @app.delete("/accounts/{user}")
    async def remove(user: str, device: str | None = None) -> dict[str, Any]:
        try:
            acc = wallet.remove(user, device)
        except NoSuchAccount:
            raise HTTPException(404, f"Okta Verify has no account for {user}") from None
        ctx.record("phone.account_removed", outcome="ok", user=acc.login)
        return acc.public()

    @app.post("/push", status_code=202)
    async def push(request: Request) -> dict[str, Any]:
        try:
            inbox.receive(await body(request))
        except KeyError:
            raise HTTPException(404, "no Okta Verify account on this phone for that push") from None
        return {"accepted": True}

    @app.get("/pushes")
    async def list_pushes() -> list[dict[str, Any]]:
        return [inbox.public(r) for r in inbox.records]

    @app.post("/pushes/{transaction}/answer")
    async def answer_push(transaction: str, request: Request) -> dict[str, Any]:
        """The person answers a push: `{"answer": "approve" | "deny", "number": 42}` (the number
        tapped, for a number challenge). 409 once it is answered or expired."""
        data = await body(request)
        record = inbox.find(transaction)
        if record is None:
            raise HTTPException(404, "no such notification on this phone")
        choice, number = data.get("answer"), data.get("number")
        if choice not in ("approve", "deny"):
            raise HTTPException(400, 'answer must be "approve" or "deny"')
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise HTTPException(400, "number must be a whole number")
        if inbox.state(record) != "waiting":
            raise HTTPException(409, f"this notification is {inbox.state(record)}")
        try:
            await inbox.answer(record, choice, by="person", number=number)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return inbox.public(record)

    # -- SMS and voice calls (the org's sms / call factors; the phone stands in for the network) --

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
