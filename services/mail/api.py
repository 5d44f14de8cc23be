"""The mailbox's HTTP face (what a trainee's mail client or a test reads):
`GET /messages[?to=]` (newest last, without bodies), `GET /messages/{id}` (with the text and HTML
bodies), `DELETE /messages` (empty the mailbox). The pages people read are pages.py."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from services.common.context import ServiceContext
from services.common.http_guard import BodyGuard
from services.common.web import mount_static

from . import pages
from .mailbox import Mailbox


def summary(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("id", "received", "envelope", "from", "to", "subject", "date", "messageId", "size")}


def make_app(ctx: ServiceContext, mailbox: Mailbox) -> FastAPI:
    app = FastAPI(title="Mailbox (lab)", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(pages.router(mailbox))      # the mail client's pages (pages.py)
    mount_static(app)
    app.add_middleware(BodyGuard, limit=64 * 1024)   # the API reads no body; 413 {"detail"} past 64 KiB

    @app.get("/messages")
    async def messages(to: str | None = None) -> list[dict[str, Any]]:
        return [summary(m) for m in mailbox.find(to)]

    @app.get("/messages/{mid}")
    async def message(mid: str) -> dict[str, Any]:
        m = mailbox.get(mid)
        if m is None:
            raise HTTPException(404, f"no message {mid}")
        return {k: v for k, v in m.items() if k != "seq"}

    @app.delete("/messages")
    async def clear() -> dict[str, Any]:
        n = mailbox.clear()
        ctx.record("mail.cleared", outcome="ok", messages=n)
        return {"deleted": n}

    return app
