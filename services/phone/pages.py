"""The person's screens of Okta Verify, one phone per person (`/phone/<person>`, the part of their
login before the @): the accounts with their current code and the seconds left in its step, push
notifications as they arrive ("Did you just try to sign in?", Approve / Deny, or the three numbers
of a number challenge, gone when the org's push expires), each account's scripted behaviour (what
`lab phone respond` sets), and Add account:
scan the QR code an enrolment page shows (by its address: the phone fetches the image and reads
it as its camera would), upload a PNG of it, or paste its text.

The live part (`/phone/<person>/live`) is a fragment htmx reloads every second. Every form posts
with its CSRF token (services.common.web)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.common.context import ServiceContext
from services.common.web import Pages, require_csrf

from .authenticator import ACTIONS, DEFAULT_DEVICE, Account, InvalidAccount, NoSuchAccount, Wallet
from .pushes import PushInbox
from .scanning import MAX_IMAGE_BYTES, Scanner

PERSON = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def router(ctx: ServiceContext, wallet: Wallet, scanner: Scanner, inbox: PushInbox,
           messages: list[dict[str, Any]]) -> APIRouter:
    r = APIRouter()
    pages = Pages(Path(__file__).parent / "templates")

    def person_of(person: str) -> str:
        if not PERSON.match(person):
            raise HTTPException(404, "no such phone")
        return person.lower()

    def account_view(acc: Account) -> dict[str, Any]:
        view: dict[str, Any] = {"login": acc.login, "device": acc.device, "issuer": acc.issuer,
                                "push": acc.device_credential is not None,
                                "totp": acc.totp_secret is not None, "action": acc.action, "after": acc.after,
                                "code": None, "seconds": None, "period": acc.totp_period, "problem": None}
        if acc.totp_secret is not None:
            try:
                code, view["seconds"] = wallet.code(acc.login, ctx.clock.now())
                view["code"] = f"{code[:3]} {code[3:]}" if len(code) == 6 else code
            except InvalidAccount as exc:
                view["problem"] = str(exc)
        return view

    def live_context(person: str) -> dict[str, Any]:
        pushes = [dict(inbox.public(p), seconds_left=inbox.seconds_left(p)) for p in inbox.of(person)[:5]]
        return {"person": person, "accounts": [account_view(a) for a in wallet.accounts_of(person)],
                "pushes": [p for p in pushes if p["state"] == "waiting"],
                "recent": [p for p in pushes if p["state"] != "waiting"][:3],
                "actions": ACTIONS}

    def phone_page(request: Request, person: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
        texts = [m for m in reversed(messages)][:5]
        return pages.render(request, "phone/phone.html", status_code, texts=texts, **live_context(person), **extra)

    @r.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        people = sorted({a.login.split("@")[0].lower() for a in wallet.accounts.values()})
        return pages.render(request, "phone/index.html", people=people)

    @r.get("/phone", response_class=HTMLResponse, include_in_schema=False)
    async def open_phone(person: str = "") -> Response:
        return RedirectResponse(f"/phone/{person_of(person.strip())}", status_code=303)

    @r.get("/phone/{person}", response_class=HTMLResponse)
    async def phone(request: Request, person: str) -> HTMLResponse:
        return phone_page(request, person_of(person))

    @r.get("/phone/{person}/live", response_class=HTMLResponse)
    async def live(request: Request, person: str) -> HTMLResponse:
        return pages.render(request, "phone/_live.html", **live_context(person_of(person)))

    @r.post("/phone/{person}/pushes/{transaction}/{choice}", response_class=HTMLResponse)
    async def answer(request: Request, person: str, transaction: str, choice: str) -> HTMLResponse:
        """Approve / Deny; a number challenge is approved by tapping one of its numbers."""
        form = await require_csrf(request)
        person = person_of(person)
        raw = str(form.get("number") or "")
        number = int(raw) if raw.isdigit() and len(raw) < 4 else None
        record = inbox.find(transaction)
        if choice not in ("approve", "deny") or record is None \
                or record["login"].lower().split("@")[0] != person:
            raise HTTPException(404, "no such notification on this phone")
        if inbox.state(record) == "waiting":
            try:
                await inbox.answer(record, choice, by="person", number=number)
            except ValueError as exc:
                return phone_page(request, person, 400, error=str(exc))
        if request.headers.get("HX-Request"):
            return pages.render(request, "phone/_live.html", **live_context(person))
        return phone_page(request, person)

    @r.post("/phone/{person}/accounts/{login}/behaviour", response_class=HTMLResponse)
    async def behaviour(request: Request, person: str, login: str) -> HTMLResponse:
        form = await require_csrf(request)
        person = person_of(person)
        try:
            acc = wallet.set_behaviour(login, str(form.get("action", "")), float(str(form.get("after") or 0)),
                                       str(form.get("device") or "") or None)
        except NoSuchAccount:
            raise HTTPException(404, "no such account on this phone") from None
        except ValueError as exc:
            return phone_page(request, person, 400, error=str(exc))
        ctx.record("phone.behaviour", outcome="set", user=acc.login, action=acc.action, after=acc.after, by="page")
        said = f"{acc.action} after {acc.after:g} s" if acc.after else acc.action
        return phone_page(request, person, notice=f"Pushes for {acc.login}: {said}.")

    @r.post("/phone/{person}/accounts/{login}/remove", response_class=HTMLResponse)
    async def remove(request: Request, person: str, login: str) -> HTMLResponse:
        form = await require_csrf(request)
        person = person_of(person)
        try:
            acc = wallet.remove(login, str(form.get("device") or "") or None)
        except NoSuchAccount:
            raise HTTPException(404, "no such account on this phone") from None
        ctx.record("phone.account_removed", outcome="ok", user=acc.login, by="page")
        return phone_page(request, person, notice=f"Removed {acc.login}.")

    @r.get("/phone/{person}/add", response_class=HTMLResponse)
    async def add(request: Request, person: str, url: str = "") -> HTMLResponse:
        """Add account. With `url` (the enrolment page's "scan with my phone" link), the camera
        is pointed at that QR code: one tap on Scan reads it."""
        return pages.render(request, "phone/add.html", person=person_of(person), url=url)

    @r.post("/phone/{person}/scan", response_class=HTMLResponse)
    async def scan(request: Request, person: str) -> HTMLResponse:
        form = await require_csrf(request)
        person = person_of(person)
        url = str(form.get("url") or "").strip()
        upload = form.get("image")
        device = str(form.get("device") or "").strip() or DEFAULT_DEVICE
        uri = str(form.get("uri") or "").strip()
        try:
            if url:
                acc = await scanner.scan_url(url, device)
            elif isinstance(upload, UploadFile) and upload.filename:
                image = await upload.read(MAX_IMAGE_BYTES + 1)
                if len(image) > MAX_IMAGE_BYTES:
                    raise ValueError("that image is too large for the camera")
                acc = await scanner.scan_image(image, device)
            elif uri:
                acc = await scanner.scan_uri(uri, device)
            else:
                raise ValueError("point the camera at a QR code: give its address, an image, or its text")
        except ValueError as exc:
            return pages.render(request, "phone/add.html", 400, person=person, url=url, uri=uri, error=str(exc))
        owner = acc.login.split("@")[0].lower()
        kind = " and ".join(k for k, has in (("push notifications", acc.device_credential), ("codes", acc.totp_secret))
                            if has)
        on = "" if acc.device == DEFAULT_DEVICE else f" on {acc.device}"
        note = f"Account added: {acc.login} ({kind}){on}."
        if owner != person:
            note += f" It belongs to {owner}: it is on {owner}'s phone."
        return phone_page(request, person, notice=note)

    return r
