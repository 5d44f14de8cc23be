"""The mailbox's pages, a mail client in the manner of Mailpit's or MailHog's web UIs: the inbox
(`/?to=<address or name>`, newest first, new mail appearing without a reload: htmx reloads the
list every 2 s) and one message (`/view/<id>`).

A message's HTML is the sender's, so it is never part of the page: it is shown in an iframe whose
`srcdoc` holds it, sandboxed without scripts, forms or same-origin access. Its links work: the
document gets `<base target="_top">` and the sandbox allows top-level navigation on a click, so
the activation link opens the org's page in the same tab."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from services.common.web import Pages

from .mailbox import Mailbox

SANDBOX = "allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
CSP = ("default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
URL = re.compile(r"https?://[^\s<>\"']+")


def message_document(m: dict[str, Any]) -> str:
    """What the iframe shows: the HTML part with links opening at the top level, or the text part
    (escaped, its addresses made links)."""
    base = '<base target="_top"><meta name="referrer" content="no-referrer">'
    body = m.get("html") or ""
    if body:
        if re.search(r"<head[^>]*>", body, re.I):
            return re.sub(r"(<head[^>]*>)", lambda mt: mt.group(1) + base, body, count=1, flags=re.I)
        return base + body
    text = html.escape(m.get("text") or "")
    linked = URL.sub(lambda mt: f'<a href="{mt.group(0)}">{mt.group(0)}</a>', text)
    return f'{base}<pre style="white-space: pre-wrap; font: 15px system-ui, sans-serif">{linked}</pre>'


def router(mailbox: Mailbox) -> APIRouter:
    r = APIRouter()
    pages = Pages(Path(__file__).parent / "templates")

    def inbox_of(to: str) -> list[dict[str, Any]]:
        return list(reversed(mailbox.find(to.strip() or None)))

    @r.get("/", response_class=HTMLResponse)
    async def inbox(request: Request, to: str = "") -> HTMLResponse:
        return pages.render(request, "mailbox/inbox.html", to=to, messages=inbox_of(to))

    @r.get("/inbox", response_class=HTMLResponse)
    async def inbox_rows(request: Request, to: str = "") -> HTMLResponse:
        return pages.render(request, "mailbox/_rows.html", to=to, messages=inbox_of(to))

    @r.get("/view/{mid}", response_class=HTMLResponse)
    async def view(request: Request, mid: str, to: str = "") -> HTMLResponse:
        m = mailbox.get(mid)
        if m is None:
            raise HTTPException(404, f"no message {mid}")
        response = pages.render(request, "mailbox/message.html", to=to, m=m, sandbox=SANDBOX,
                                document=Markup.escape(message_document(m)))
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return r
