"""The Factors API for Okta Verify (TOTP and push), Google Authenticator, and the SMS, voice call
and email factors: list, catalog, enrol (with the activation object and the QR code the phone
scans; a code sent for sms/call/email), activate, resend, verify, and push transaction polling.
The device side of push (enrolment by the phone, answers) is devices.py; sent codes are codes.py."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import codes, mailer, otp, policies, push, qr, shapes
from .errors import OktaError, invalid, json_body, not_found, string_field
from .ids import FACTOR_PREFIX, new_id, token
from .org import Audit, Org, factor_target, user_target
from .users import get_user

CATALOG = [("token:software:totp", "OKTA"), ("push", "OKTA"), ("token:software:totp", "GOOGLE"),
           ("sms", "OKTA"), ("call", "OKTA"), ("email", "OKTA")]


def catalog_for(org: Org, user: dict[str, Any]) -> list[tuple[tuple[str, str], str]]:
    """The factor types the user's MFA enrolment policy offers, REQUIRED or OPTIONAL, in Okta's
    catalog order (NOT_ALLOWED ones are left out, as the catalog does)."""
    offered = dict(policies.enrollment(org, user).offered())
    return [(f, offered[f]) for f in CATALOG if f in offered]


def get_factor(org: Org, user: dict[str, Any], fid: str) -> dict[str, Any]:
    f = org.people.factor(fid)
    if f is None or f["userId"] != user["id"]:
        raise not_found(fid, "UserFactor")
    return f


def user_factors(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    return org.people.factors_of(user["id"])


def qr_contents(org: Org, user: dict[str, Any], f: dict[str, Any]) -> str:
    login = user["profile"]["login"]
    if f["factorType"] == "push":
        query = urlencode({"t": f["activationToken"], "f": f["id"], "s": org.url})
        return f"oktaverify://{quote(login, safe='@')}/?{query}"
    return otp.otpauth_uri(org, login, f["secret"])


def enrolment_view(org: Org, user: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
    """The factor plus what an enrolment page needs: `_embedded.activation` and the QR link.

    Lab extension: `_embedded.activation.qrContents` carries the QR code's text (the URI the
    phone's camera would read), so the lab and tests need no image decoder; the PNG at
    `_links.qrcode.href` encodes exactly that string (also served as text with `?format=text`)."""
    body = shapes.factor(org, f)
    if f["status"] != "PENDING_ACTIVATION" or codes.is_code_factor(f):
        return body
    base = org.href(f"/api/v1/users/{user['id']}/factors/{f['id']}")
    qr_link = {"href": f"{base}/qr/{f['qrToken']}", "type": "image/png"}
    if f["factorType"] == "push":
        activation: dict[str, Any] = {
            "expiresAt": org.iso(f["activationExpiresTs"]), "factorResult": "WAITING",
            "_links": {"qrcode": qr_link,
                       "send": [{"name": way, **shapes.post_link(f"{base}/lifecycle/activate/{way}")}
                                for way in ("email", "sms")]},
        }
    else:
        activation = {"timeStep": otp.PERIOD, "sharedSecret": f["secret"], "encoding": "base32",
                      "keyLength": otp.DIGITS, "_links": {"qrcode": qr_link}}
    activation["qrContents"] = qr_contents(org, user, f)
    body["_embedded"] = {"activation": activation}
    body["_links"]["qrcode"] = qr_link
    return body



def enrol_factor(org: Org, audit: Audit, user: dict[str, Any], ftype: str, provider: str,
                 profile: Any = None, *, actor: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new PENDING_ACTIVATION factor (the Factors API and `/api/v1/authn/factors` share it).
    sms / call / email take `profile` (phoneNumber / email) and get their activation code sent.
    `actor`: who the System Log names; the user herself on the self-service path (authn), else
    whoever made the API call."""
    if (ftype, provider) not in FACTOR_PREFIX:
        raise OktaError("E0000001", "factorType",
                        [f"factorType: {ftype} with provider {provider} is not supported by this org"])
    if user["status"] in ("DEPROVISIONED", "SUSPENDED"):
        raise OktaError("E0000038")
    # Okta Verify: each device is its own push factor, up to okta_verify_max_devices (1: Classic)
    devices = sum(1 for f in user_factors(org, user) if f["factorType"] == "push" and f["status"] == "ACTIVE")
    for old in user_factors(org, user):
        if (old["factorType"], old["provider"]) == (ftype, provider):
            if old["status"] == "ACTIVE" and ftype == "push" and devices < org.settings.okta_verify_max_devices:
                continue
            if old["status"] == "ACTIVE":
                raise OktaError("E0000001", "A factor of this type is already set up.",
                                ["factorType: A factor of this type is already set up."])
            org.people.delete_factor(old["id"])   # re-enrolling replaces a pending one
    sent_profile = codes.enrol_profile(ftype, user, profile) if ftype in codes.KINDS else None
    now = org.iso()
    f: dict[str, Any] = {"id": new_id(FACTOR_PREFIX[(ftype, provider)]), "userId": user["id"],
                         "factorType": ftype, "provider": provider, "status": "PENDING_ACTIVATION",
                         "created": now, "lastUpdated": now, "qrToken": token(40),
                         "profile": {"credentialId": user["profile"]["login"]}}
    if ftype == "push":
        f["profile"] = {}
        f["activationToken"] = token(20)
        f["activationExpiresTs"] = org.now() + org.settings.push_activation_ttl_seconds
    elif sent_profile is not None:
        f["profile"] = sent_profile
        f.pop("qrToken")
    else:
        f["secret"] = otp.new_secret()
    org.people.save_factor(f)
    org.syslog("user.mfa.factor.update", audit=audit, actor=actor, targets=[user_target(user), factor_target(f)],
               message="Enroll factor")
    org.record("okta.factor.enroll", audit, outcome="PENDING_ACTIVATION", user=user["profile"]["login"],
               factor=f["id"], factorType=ftype, provider=provider)
    if sent_profile is not None:
        codes.send(org, audit, user, f, "activation")
    return f


def activate_totp(org: Org, audit: Audit, user: dict[str, Any], f: dict[str, Any], code: str | None, *,
                  actor: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the first code of a pending TOTP factor and make it ACTIVE (403 E0000068 if wrong)."""
    if f["status"] == "ACTIVE":
        raise OktaError("E0000001", "Factor is already active", ["factor: already active"])
    if f["factorType"] == "push":
        raise OktaError("E0000001", "Push factors are activated from Okta Verify",
                        ["factorType: activate push by scanning the QR code; poll lifecycle/activate/poll"])
    if not code:
        raise OktaError("E0000001", "passCode", ["passCode: The field cannot be left blank"])
    now = org.now()
    if codes.is_code_factor(f):
        codes.check(org, audit, user, f, code, activation=True)
        return _activated(org, audit, user, f, actor)
    step = otp.matching_step(f["secret"], code, now, org.settings.totp_window_steps)
    if step is None:
        org.record("okta.factor.activate", audit, outcome="invalid_passcode",
                   user=user["profile"]["login"], factor=f["id"])
        raise OktaError("E0000068", causes=["Your passcode doesn't match our records. Please try again."])
    if org.settings.activation_code_counts_as_used:
        org.store.mark_used(f["id"], step, now)
    return _activated(org, audit, user, f, actor)


def _activated(org: Org, audit: Audit, user: dict[str, Any], f: dict[str, Any],
               actor: dict[str, Any] | None) -> dict[str, Any]:
    f.update(status="ACTIVE", lastUpdated=org.iso())
    f.pop("qrToken", None)
    org.people.save_factor(f)
    org.syslog("user.mfa.factor.activate", audit=audit, actor=actor, targets=[user_target(user), factor_target(f)],
               message="Activate factor for user")
    org.record("okta.factor.activate", audit, outcome="ACTIVE", user=user["profile"]["login"],
               factor=f["id"], factorType=f["factorType"], provider=f["provider"])
    return f

def router(org: Org) -> APIRouter:
    r = APIRouter()
    prefix = "/api/v1/users/{uid}/factors"

    @r.get(prefix)
    async def list_factors(uid: str):
        user = get_user(org, uid)
        return shapes.respond([shapes.factor(org, f) for f in user_factors(org, user)])

    @r.get(prefix + "/catalog")
    async def catalog(uid: str):
        user = get_user(org, uid)
        mine = {(f["factorType"], f["provider"]): f for f in user_factors(org, user)}
        out = []
        for (ftype, provider), enrollment in catalog_for(org, user):
            f = mine.get((ftype, provider))
            out.append({"factorType": ftype, "provider": provider, "vendorName": provider,
                        "status": f["status"] if f else "NOT_SETUP", "enrollment": enrollment,
                        "_links": {"enroll": shapes.post_link(org.href(f"/api/v1/users/{user['id']}/factors"))}})
        return shapes.respond(out)

    @r.post(prefix)
    async def enrol(uid: str, request: Request):
        audit = Audit.of(request)
        user = get_user(org, uid)
        data = await json_body(request)
        ftype = string_field(data, "factorType", required=True)
        provider = string_field(data, "provider") or "OKTA"
        f = enrol_factor(org, audit, user, ftype, provider, data.get("profile"))
        return shapes.respond(enrolment_view(org, user, f))

    @r.get(prefix + "/{fid}")
    async def read(uid: str, fid: str):
        user = get_user(org, uid)
        return shapes.respond(shapes.factor(org, get_factor(org, user, fid)))

    @r.delete(prefix + "/{fid}")
    async def delete(uid: str, fid: str, request: Request):
        audit = Audit.of(request)
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        org.people.delete_factor(f["id"])
        org.store.forget_codes(f["id"])
        org.syslog("user.mfa.factor.deactivate", audit=audit, targets=[user_target(user), factor_target(f)])
        org.record("okta.factor.delete", audit, outcome="deleted", user=user["profile"]["login"], factor=f["id"])
        return Response(status_code=204)

    @r.get(prefix + "/{fid}/qr/{qr_token}")
    async def qrcode(uid: str, fid: str, qr_token: str, request: Request):
        """The enrolment QR code (no SSWS: the unguessable token in the path is the credential,
        as with Okta's own QR links)."""
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        if f["status"] != "PENDING_ACTIVATION" or f.get("qrToken") != qr_token:
            raise not_found(qr_token, "QR code")
        contents = qr_contents(org, user, f)
        if request.query_params.get("format") == "text":
            return Response(contents, media_type="text/plain")
        return Response(qr.png(contents), media_type="image/png")

    @r.post(prefix + "/{fid}/lifecycle/activate")
    async def activate(uid: str, fid: str, request: Request):
        audit = Audit.of(request)
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        data = await json_body(request, required=False)
        code = string_field(data, "passCode", required=f["factorType"] != "push" and f["status"] != "ACTIVE")
        return shapes.respond(shapes.factor(org, activate_totp(org, audit, user, f, code)))

    def pending_push(uid: str, fid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user and their push factor still waiting for activation (the `send` links' target)."""
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        if f["factorType"] != "push" or f["status"] != "PENDING_ACTIVATION":
            raise OktaError("E0000001", "factor", ["factor: only a pending push factor has an activation link"])
        return user, f

    @r.post(prefix + "/{fid}/lifecycle/activate/email")
    async def activation_email(uid: str, fid: str, request: Request):
        """Send the push activation link by email instead of showing the QR code."""
        audit = Audit.of(request)
        user, f = pending_push(uid, fid)
        mailer.send_push_activation(org, user, qr_contents(org, user, f), audit.trace)
        return shapes.respond(enrolment_view(org, user, f))

    @r.post(prefix + "/{fid}/lifecycle/activate/sms")
    async def activation_sms(uid: str, fid: str, request: Request):
        """Send the push activation link by SMS: `{"profile": {"phoneNumber"}}`."""
        audit = Audit.of(request)
        user, f = pending_push(uid, fid)
        data = await json_body(request, required=False)
        number = codes.enrol_profile("sms", user, data.get("profile"))["phoneNumber"]
        codes.send_activation_link(org, audit, user, f, number, qr_contents(org, user, f))
        return shapes.respond(enrolment_view(org, user, f))

    @r.post(prefix + "/{fid}/resend")
    async def resend(uid: str, fid: str, request: Request):
        """Send a pending sms / call / email factor's activation code again (throttled)."""
        audit = Audit.of(request)
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        if not codes.is_code_factor(f) or f["status"] != "PENDING_ACTIVATION":
            raise OktaError("E0000001", "factor", ["factor: only a pending sms, call or email factor resends a code"])
        codes.send(org, audit, user, f, "activation")
        return shapes.respond(enrolment_view(org, user, f))

    @r.post(prefix + "/{fid}/lifecycle/activate/poll")
    async def activation_poll(uid: str, fid: str):
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        if f["status"] == "ACTIVE":
            return shapes.respond(shapes.factor(org, f))
        if f["factorType"] != "push":
            raise OktaError("E0000001", "Only push factors are polled", ["factorType: not a push factor"])
        if org.now() >= f["activationExpiresTs"]:
            base = org.href(f"/api/v1/users/{user['id']}/factors/{f['id']}")
            return shapes.respond({"factorResult": "TIMEOUT",
                                   "_links": {"activate": shapes.post_link(f"{base}/lifecycle/activate")}})
        view = enrolment_view(org, user, f)
        act = view["_embedded"]["activation"]
        return shapes.respond({"factorResult": "WAITING", "expiresAt": act["expiresAt"],
                               "_links": {"poll": view["_links"]["poll"], **act["_links"]}})

    @r.post(prefix + "/{fid}/verify")
    async def verify(uid: str, fid: str, request: Request):
        audit = Audit.of(request)
        user = get_user(org, uid)
        f = get_factor(org, user, fid)
        data = await json_body(request, required=False)
        if f["status"] != "ACTIVE":
            raise OktaError("E0000001", "Factor is not active", ["factor: The factor is not active"])
        if f["factorType"] == "push":
            # Okta: a caller asks for a number matching challenge with a body; none is a plain push
            number = (data or {}).get("useNumberMatchingChallenge", False)
            if not isinstance(number, bool):
                raise invalid("useNumberMatchingChallenge", "must be true or false")
            otp.check_user_can_verify(user)
            tx = push.create(org, audit, user, f, number=number)
            return shapes.respond(push.view(org, tx), status=201)
        if codes.is_code_factor(f):
            code = string_field(data, "passCode")
            if not code:                       # no passCode: send one (201 CHALLENGE, as Okta)
                otp.check_user_can_verify(user)
                codes.send(org, audit, user, f, "verify")
                base = org.href(f"/api/v1/users/{user['id']}/factors/{f['id']}")
                return shapes.respond({"factorResult": "CHALLENGE",
                                       "_links": {"verify": shapes.post_link(f"{base}/verify"),
                                                  "factor": shapes.link(base, hints={"allow": ["GET", "DELETE"]})}},
                                      status=201)
            codes.check(org, audit, user, f, code)
            return shapes.respond({"factorResult": "SUCCESS"})
        code = string_field(data, "passCode", required=True)
        otp.verify(org, audit, user, f, code)
        return shapes.respond({"factorResult": "SUCCESS"})

    def transaction(uid: str, fid: str, txid: str) -> dict:
        """A push transaction of this user's factor, brought up to date (TIMEOUT when due)."""
        f = get_factor(org, get_user(org, uid), fid)
        tx = org.store.get("push_tx", txid)
        if tx is None or tx["factorId"] != f["id"]:
            raise not_found(txid, "Transaction")
        return push.current(org, tx)

    @r.get(prefix + "/{fid}/transactions/{txid}")
    async def poll(uid: str, fid: str, txid: str):
        return shapes.respond(push.view(org, transaction(uid, fid, txid)))

    @r.delete(prefix + "/{fid}/transactions/{txid}")
    async def cancel(uid: str, fid: str, txid: str, request: Request):
        audit = Audit.of(request)
        tx = transaction(uid, fid, txid)
        if tx["status"] == "WAITING":
            tx["status"] = "CANCELLED"
            org.store.put("push_tx", tx["id"], tx)
            org.record("okta.push.cancel", audit, outcome="CANCELLED", transaction=tx["id"], user=tx["login"])
        return Response(status_code=204)

    return r
