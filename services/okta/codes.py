"""One-time passcodes the org sends: the SMS, voice call and email factors (`sms`, `call`,
`email`, provider OKTA; docs/okta.md, "Factors").

A code is sent at enrolment (the factor is activated with it), by `.../resend`, and by a verify
call without `passCode` (Factors API: 201 `{factorResult: CHALLENGE}`; authn: MFA_CHALLENGE). One
code per factor is pending at a time (a new one replaces it); it is good for
`factor_code_ttl_seconds` (300) on the service clock and for one use only. Sending is throttled
to one per `factor_code_resend_seconds` (30) per factor: 429 E0000109 for SMS, E0000133 for a call,
E0000047 for email (LAB CHOICE: Okta's email throttle code is not documented).

Delivery: SMS and voice as `POST <phone>/sms|call {"to": phoneNumber, "text"}` to the lab's phone
service (standing in for the SMS gateway and the phone network); email over SMTP to the `mail`
service (mailer.deliver). The store keeps a digest of the code, never the code; events and the
System Log never carry it either. A delivery failure is an `okta.factor.deliver` event; the
API call that sent it still succeeds, as a lost SMS would."""
from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from email.message import EmailMessage
from typing import Any

from . import mailer, otp
from .errors import OktaError, invalid
from .ids import digest
from .org import Audit, Org, factor_target, user_actor, user_target

KINDS = ("sms", "call", "email")
DIGITS = 6
THROTTLE = {"sms": ("E0000109", []),
            "call": ("E0000133", []),
            "email": ("E0000047", ["An email was recently sent. Please wait 30 seconds before trying again."])}
CREDENTIAL = {"sms": "SMS", "call": "CALL", "email": "EMAIL"}
SENT_EVENT = {("sms", "activation"): "system.sms.send_phone_verification_message",
              ("sms", "verify"): "system.sms.send_factor_verify_message",
              ("call", "activation"): "system.voice.send_phone_verification_call",
              ("call", "verify"): "system.voice.send_mfa_challenge_call",
              ("email", "activation"): "system.email.send_factor_verify_message",
              ("email", "verify"): "system.email.mfa_challenge.sent_message"}
_PHONE = re.compile(r"^\+?[1-9][0-9]{6,14}$")


def is_code_factor(f: dict[str, Any]) -> bool:
    return f["factorType"] in KINDS and f["provider"] == "OKTA"


def enrol_profile(ftype: str, user: dict[str, Any], profile: Any) -> dict[str, Any]:
    """The factor profile from the enrol request: `phoneNumber` (sms, call), `email` (email;
    the user's primary email when omitted). 400 E0000001 for a missing or malformed value."""
    if profile is not None and not isinstance(profile, dict):
        raise invalid("profile", "must be an object")
    profile = profile or {}
    if ftype in ("sms", "call"):
        raw = profile.get("phoneNumber")
        if not isinstance(raw, str) or not raw.strip():
            raise invalid("phoneNumber", "The field cannot be left blank")
        number = re.sub(r"[\s().-]", "", raw)
        if not _PHONE.match(number):
            raise OktaError("E0000001", "factorEnrollRequest", ["phoneNumber: Invalid Phone Number."])
        if not number.startswith("+"):
            number = "+" + number
        out: dict[str, Any] = {"phoneNumber": number}
        if ftype == "call" and isinstance(profile.get("phoneExtension"), str):
            out["phoneExtension"] = profile["phoneExtension"]
        return out
    email = profile.get("email", user["profile"].get("email") or user["profile"]["login"])
    if not isinstance(email, str) or "@" not in email:
        raise OktaError("E0000001", "factorEnrollRequest", ["email: Invalid email address."])
    return {"email": email}


def send(org: Org, audit: Audit, user: dict[str, Any], f: dict[str, Any], purpose: str) -> None:
    """Issue a new code for `f` and deliver it (purpose "activation" or "verify"); 429 when the
    last one went out less than `factor_code_resend_seconds` ago. Saves the factor."""
    now = org.now()
    interval = org.settings.factor_code_resend_seconds
    last = f.get("codeSentTs")
    login = user["profile"]["login"]
    if last is not None and now - float(last) < interval:
        code, causes = THROTTLE[f["factorType"]]
        org.record("okta.factor.challenge", audit, outcome=f"throttled {code}", user=login, factor=f["id"],
                   factorType=f["factorType"], purpose=purpose, retryAfter=round(interval - (now - float(last)), 1))
        raise OktaError(code, causes=causes)
    code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
    f["pendingCode"] = {"digest": digest(code), "expiresTs": now + org.settings.factor_code_ttl_seconds,
                        "purpose": purpose}
    f["codeSentTs"] = now
    f["lastUpdated"] = org.iso(now)
    org.people.save_factor(f)
    trace = audit.trace
    kind = f["factorType"]
    org.syslog(SENT_EVENT[(kind, purpose)], audit=audit, actor=user_actor(user),
               targets=[user_target(user), factor_target(f)], credential_type=CREDENTIAL[kind],
               message={"sms": "Send SMS", "call": "Make a voice call", "email": "Send email"}[kind]
               + (" for factor activation" if purpose == "activation" else " for MFA challenge"))
    org.record("okta.factor.challenge", audit, outcome="sent", user=login, factor=f["id"], factorType=kind,
               purpose=purpose, to=masked(f))
    if kind == "email":
        mailer.deliver(org, _email(org, user, f, code, purpose), kind=f"factor_{purpose}", user=login, trace=trace)
    else:
        _to_phone(org, kind, f["profile"]["phoneNumber"], _text(kind, code), login=login, factor=f["id"], trace=trace)


def check(org: Org, audit: Audit, user: dict[str, Any], f: dict[str, Any], code: str | None, *,
          activation: bool = False) -> None:
    """Check `code` against the factor's pending code (used once). Wrong, expired or none
    pending: 403 E0000068 (a verify also counts towards the lockout; an activation does not)."""
    if not activation:
        otp.check_user_can_verify(user)
    pending = f.get("pendingCode") or {}
    now = org.now()
    login = user["profile"]["login"]
    ok = (isinstance(code, str) and code.isdigit() and bool(pending) and now < float(pending.get("expiresTs", 0))
          and hmac.compare_digest(digest(code), str(pending.get("digest"))))
    base = dict(user=login, factor=f["id"], factorType=f["factorType"], provider=f["provider"])
    if not ok:
        if activation:
            org.record("okta.factor.activate", audit, outcome="invalid_passcode", **base)
            raise OktaError("E0000068", causes=["Your passcode doesn't match our records. Please try again."])
        otp.wrong_code(org, audit, user, f, CREDENTIAL[f["factorType"]])
    f.pop("pendingCode", None)                # one use
    f["lastUpdated"] = org.iso(now)
    org.people.save_factor(f)
    if activation:
        return
    user["mfaFailures"] = 0
    user["lastLogin"] = org.iso(now)
    org.people.save(user)
    org.syslog("user.authentication.auth_via_mfa", audit=audit, actor=user_actor(user),
               targets=[user_target(user), factor_target(f)], credential_type=CREDENTIAL[f["factorType"]],
               message="Authentication of user via MFA")
    org.record("okta.factor.verify", audit, outcome="SUCCESS", **base)


def masked(f: dict[str, Any]) -> str:
    """Where the code went, masked as Okta's UI shows it (never the code)."""
    p = f.get("profile") or {}
    if "phoneNumber" in p:
        return "*" * max(0, len(p["phoneNumber"]) - 4) + p["phoneNumber"][-4:]
    email = str(p.get("email", ""))
    name, _, domain = email.partition("@")
    return f"{name[:1]}...@{domain}"


def _text(kind: str, code: str) -> str:
    if kind == "sms":
        return f"Your verification code is {code}."
    return (f"Hello! Thank you for using our phone verification system. Your code is {code}. "
            f"Once again, your code is {code}. Goodbye!")


def _email(org: Org, user: dict[str, Any], f: dict[str, Any], code: str, purpose: str) -> EmailMessage:
    p = user["profile"]
    minutes = int(org.settings.factor_code_ttl_seconds // 60)
    subject = "Confirm your email address" if purpose == "activation" else "One-time verification code"
    msg = mailer.message(org, f["profile"]["email"], subject)
    msg.set_content(f"Hi {p.get('firstName') or p['login']},\n\n"
                    f"Your verification code is {code}.\n\n"
                    f"Enter this code to {'confirm your email address' if purpose == 'activation' else 'sign in'} "
                    f"for {p['login']}. It expires in {minutes} minutes.\n\n"
                    "If you did not request this code, contact your administrator.\n")
    return msg


def send_activation_link(org: Org, audit: Audit, user: dict[str, Any], f: dict[str, Any], number: str,
                         uri: str) -> None:
    """A pending push factor's activation link by SMS (`_links.send` name sms): opened on the
    phone, it enrols Okta Verify as scanning the QR code would. Wording: the lab's."""
    login = user["profile"]["login"]
    _to_phone(org, "sms", number, f"Okta Verify: tap to activate Okta Verify for {login}: {uri}",
              login=login, factor=f["id"], trace=audit.trace)
    org.record("okta.factor.activation_link", audit, outcome="sent", channel="sms", user=login, factor=f["id"])


def _to_phone(org: Org, kind: str, number: str, text: str, *, login: str, factor: str, trace: str | None) -> None:
    """POST the message to the phone service in the background (the SMS gateway / phone network)."""
    if "phone" not in org.ctx.topology.get("services", {}):
        org.ctx.record("okta.factor.deliver", outcome="no_phone_service", trace=trace, channel=kind, user=login)
        return

    async def run() -> None:
        import httpx  # here: the org holds it only once it sends (~3 MB of RSS)
        target = org.ctx.peer_url("phone") + f"/{kind}"
        try:
            async with org.ctx.http_client(timeout=10) as client:
                resp = await client.post(target, json={"to": number, "text": text},
                                         headers={"X-Lab-Trace": trace} if trace else None)
            outcome = "delivered" if resp.status_code < 300 else f"http {resp.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"error: {exc.__class__.__name__}"
        org.ctx.record("okta.factor.deliver", peer=org.ctx.peer_address("phone", "api")[0], outcome=outcome,
                       trace=trace, channel=kind, user=login, factor=factor)

    task = asyncio.get_running_loop().create_task(run())
    org.tasks.add(task)
    task.add_done_callback(org.tasks.discard)
