"""The org's outgoing email (the lab's `mail` service stands in for the users' mail server).

Okta sends the activation email when an admin activates a user with `sendEmail=true` (the
default), and when a user is created with `activate=true` and no password: "Welcome to Okta!"
with the activation link `<orgUrl>/welcome/<activationToken>` (docs/okta.md, "Users"). The link is what the
user follows; behind it the sign-in page calls `POST /api/v1/authn {"token"}`.

SMTP is blocking smtplib, run in a thread so the API answers at once; the connection leaves from
the org's own address. A mail server that is down or refuses is an `okta.email` event with the
failure (the activation itself still happened, as in Okta). Links and tokens never reach events."""
from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from .org import Org

ACTIVATION_TTL_DAYS = 7


def message(org: Org, to: str, subject: str) -> EmailMessage:
    """An email from the org, with the headers every Okta email carries."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = f"Okta <{org.settings.mail_from}>"
    msg["To"] = to
    msg["Date"] = formatdate(org.now(), usegmt=True)
    msg["Message-ID"] = make_msgid(domain="okta.com")
    return msg


def _activation_email(org: Org, user: dict[str, Any], link: str) -> EmailMessage:
    p = user["profile"]
    ad = user.get("provider", {}).get("type") == "ACTIVE_DIRECTORY"
    msg = message(org, p.get("email") or p["login"], "Welcome to Okta!")
    # Lab choice: a person given a secondary email (Add Person's "Secondary email") gets the
    # activation email there too, as a copy; Okta's documentation does not spell out the rule.
    second = p.get("secondEmail")
    if second and second.lower() != str(msg["To"]).lower():
        msg["Cc"] = second
    how = ("Sign in with your Active Directory (Windows) username and password."
           if ad else "You will be asked to choose a password.")
    text = (f"Hi {p.get('firstName') or p['login']},\n\n"
            f"Your organization is using Okta to manage your web applications. This means you can "
            f"conveniently access all the applications you normally use, through a single, secure home page.\n\n"
            f"Click the following link to activate your Okta account:\n\n{link}\n\n"
            f"This link expires in {ACTIVATION_TTL_DAYS} days.\n\n"
            f"Your username is {p['login']}\nYour organization's sign-in page is {org.url}\n\n{how}\n\n"
            f"If you experience difficulties accessing your account, contact your administrator.\n")
    html = (f"<html><body><p>Hi {p.get('firstName') or p['login']},</p>"
            f"<p>Your organization is using Okta to manage your web applications.</p>"
            f'<p><a id="reset-password-link" href="{link}">Activate Okta Account</a></p>'
            f"<p>This link expires in {ACTIVATION_TTL_DAYS} days.</p>"
            f"<p>Your username is <b>{p['login']}</b>.</p><p>{how}</p></body></html>")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _send(org: Org, msg: EmailMessage) -> str:
    """Blocking: deliver one message to the lab's mail service over SMTP."""
    host, port = org.ctx.peer_address("mail", "smtp")
    with smtplib.SMTP(host, port, timeout=10, source_address=(org.ctx.source_address, 0),
                      local_hostname=f"{org.name}.okta.com") as smtp:
        refused = smtp.send_message(msg)
        return "sent" if not refused else f"refused {sorted(refused)}"


def send_activation(org: Org, user: dict[str, Any], token: str, trace: str | None = None) -> None:
    """Queue the activation email; returns at once."""
    msg = _activation_email(org, user, org.href(f"/welcome/{token}"))
    deliver(org, msg, kind="activation", user=user["profile"]["login"], trace=trace)


def deliver(org: Org, msg: EmailMessage, *, kind: str, user: str, trace: str | None = None) -> None:
    to = ", ".join(str(msg[h]) for h in ("To", "Cc") if msg[h])
    if "mail" not in org.ctx.topology.get("services", {}):
        org.ctx.record("okta.email", outcome="no_mail_service", trace=trace, template=kind, user=user, rcpt_to=to)
        return

    async def run() -> None:
        try:
            outcome = await asyncio.to_thread(_send, org, msg)
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            outcome = f"error: {exc.__class__.__name__}: {exc}"[:200]
        org.ctx.record("okta.email", peer=org.ctx.peer_address("mail", "smtp")[0], outcome=outcome, trace=trace,
                       template=kind, user=user, rcpt_to=to, subject=str(msg["Subject"]))

    task = asyncio.get_running_loop().create_task(run())
    org.tasks.add(task)
    task.add_done_callback(org.tasks.discard)


def send_push_activation(org: Org, user: dict[str, Any], uri: str, trace: str | None = None) -> None:
    """The push factor's "send activation link by email" (`_links.send` name email): opened on the
    phone, the link enrols Okta Verify as scanning the QR code would. The lab's link is the QR
    code's own `oktaverify://` URI (the phone's `POST /scan {"uri"}` takes it)."""
    p = user["profile"]
    msg = message(org, p.get("email") or p["login"], "Activate Okta Verify")
    msg.set_content(f"Hi {p.get('firstName') or p['login']},\n\nOpen this link on your phone to set up "
                    f"Okta Verify for {p['login']}:\n\n{uri}\n\nThe link expires in a few minutes.\n")
    deliver(org, msg, kind="push_activation", user=p["login"], trace=trace)
