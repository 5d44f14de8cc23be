"""The factor steps of an authentication transaction (authn_flow.py holds the transaction):
enrolment in MFA_ENROLL -> MFA_ENROLL_ACTIVATE (activate a TOTP or code factor, poll a push one,
resend its code or email its link, go back, skip what is optional), and verification in
MFA_REQUIRED -> MFA_CHALLENGE (a TOTP code, a sent code, or a push to wait for). Each takes the
flow and the request body and returns the answer's JSON body."""
from __future__ import annotations

from typing import Any

from . import codes, mailer, otp, policies, push
from .authn_flow import AuthnFlow
from .authn_views import can_skip
from .errors import OktaError, string_field
from .factors import activate_totp, enrol_factor, qr_contents
from .ids import token
from .org import user_actor


def is_push(f: dict[str, Any]) -> bool:
    return f["factorType"] == "push"


def any_factor(_f: dict[str, Any]) -> bool:
    return True


def enroll(flow: AuthnFlow, data: dict[str, Any]) -> dict[str, Any]:
    state = flow.load(data, "MFA_ENROLL")
    user = flow.user_of(state)
    ftype = string_field(data, "factorType", required=True) or ""
    provider = string_field(data, "provider") or "OKTA"
    offered = dict(policies.enrollment(flow.org, user).offered())
    if (ftype, provider) not in offered:
        flow.save(state)
        raise OktaError("E0000001", "factorType", [f"factorType: {ftype} ({provider}) is not allowed "
                                                   "by the multifactor enrollment policy"])
    try:
        f = enrol_factor(flow.org, flow.audit, user, ftype, provider, data.get("profile"), actor=user_actor(user))
    finally:
        flow.save(state)
    state.update(status="MFA_ENROLL_ACTIVATE", factorId=f["id"])
    extra = {"factorResult": "WAITING"} if ftype == "push" else {}
    return flow.respond(state, user, **extra)


def activate(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    org = flow.org
    state = flow.load(data, "MFA_ENROLL_ACTIVATE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, any_factor)
    if is_push(f):                             # after TIMEOUT: a fresh QR code and activation
        f["activationToken"] = token(20)
        f["qrToken"] = token(40)
        f["activationExpiresTs"] = org.now() + org.settings.push_activation_ttl_seconds
        org.people.save_factor(f)
        return flow.respond(state, user, factorResult="WAITING")
    code = string_field(data, "passCode", required=True)
    try:
        activate_totp(org, flow.audit, user, f, code, actor=user_actor(user))
    finally:
        flow.save(state)
    return flow.factor_done(state, user, "enroll_totp")


def activation_resend(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    """Send an sms / call / email factor's activation code again (throttled as any send)."""
    state = flow.load(data, "MFA_ENROLL_ACTIVATE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, codes.is_code_factor)
    try:
        codes.send(flow.org, flow.audit, user, f, "activation")
    finally:
        flow.save(state)
    return flow.respond(state, user)


def activation_email(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    state = flow.load(data, "MFA_ENROLL_ACTIVATE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, is_push)
    mailer.send_push_activation(flow.org, user, qr_contents(flow.org, user, f), flow.audit.trace)
    return flow.respond(state, user, factorResult="WAITING")


def activation_poll(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    state = flow.load(data, "MFA_ENROLL_ACTIVATE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, is_push)
    if f["status"] == "ACTIVE":
        return flow.factor_done(state, user, "enroll_push")
    result = "TIMEOUT" if flow.org.now() >= f.get("activationExpiresTs", 0) else "WAITING"
    return flow.respond(state, user, factorResult=result)


def verify(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    org = flow.org
    state = flow.load(data, "MFA_REQUIRED", "MFA_CHALLENGE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, lambda f: f["status"] == "ACTIVE", the_transactions=False)
    state["challenged"] = True
    if is_push(f):
        return _verify_push(flow, state, user, f)
    if codes.is_code_factor(f):
        code = string_field(data, "passCode")
        try:
            if not code:                   # send the code: MFA_CHALLENGE until it comes back
                otp.check_user_can_verify(user)
                codes.send(org, flow.audit, user, f, "verify")
                state.update(factorId=fid, status="MFA_CHALLENGE")
                return flow.respond(state, user, factorResult="CHALLENGE")
            codes.check(org, flow.audit, user, f, code)
        finally:
            flow.save(state)
        return flow.factor_done(state, user, f["factorType"])
    code = string_field(data, "passCode", required=True) or ""
    try:
        otp.verify(org, flow.audit, user, f, code)
    finally:
        flow.save(state)
    return flow.factor_done(state, user, "otp")


def _verify_push(flow: AuthnFlow, state: dict[str, Any], user: dict[str, Any],
                 f: dict[str, Any]) -> dict[str, Any]:
    """The first verify sends a push (WAITING); later ones poll it until SUCCESS, or until
    REJECTED / TIMEOUT, after which the next verify sends a new one."""
    org = flow.org
    tx = org.store.get("push_tx", state["pushTx"]) \
        if state.get("factorId") == f["id"] and state.get("pushTx") else None
    if tx is None:
        otp.check_user_can_verify(user)
        tx = push.create(org, flow.audit, user, f)
        state.update(pushTx=tx["id"], factorId=f["id"], status="MFA_CHALLENGE")
        return flow.respond(state, user, factorResult="WAITING")
    tx = push.current(org, tx)
    if tx["status"] == "SUCCESS":
        return flow.factor_done(state, user, "push", forget="pushTx")
    if tx["status"] != "WAITING":
        state.pop("pushTx", None)    # the next verify starts a new push
    return flow.respond(state, user, factorResult=tx["status"])


def resend(flow: AuthnFlow, data: dict[str, Any], fid: str) -> dict[str, Any]:
    state = flow.load(data, "MFA_CHALLENGE")
    user = flow.user_of(state)
    f = flow.factor_of(state, user, fid, lambda f: is_push(f) or codes.is_code_factor(f))
    if codes.is_code_factor(f):
        try:
            codes.send(flow.org, flow.audit, user, f, "verify")
        finally:
            flow.save(state)
        return flow.respond(state, user, factorResult="CHALLENGE")
    tx = push.create(flow.org, flow.audit, user, f)
    state["pushTx"] = tx["id"]
    return flow.respond(state, user, factorResult="WAITING")


def previous(flow: AuthnFlow, data: dict[str, Any]) -> dict[str, Any]:
    """Back from MFA_ENROLL_ACTIVATE (the pending factor is dropped) or MFA_CHALLENGE."""
    state = flow.load(data, "MFA_ENROLL_ACTIVATE", "MFA_CHALLENGE")
    user = flow.user_of(state)
    if state["status"] == "MFA_ENROLL_ACTIVATE":
        f = flow.org.people.factor(state.get("factorId") or "")
        if f is not None and f["status"] != "ACTIVE":
            flow.org.people.delete_factor(f["id"])
        state["status"] = "MFA_ENROLL"
    else:
        state["status"] = "MFA_REQUIRED"
        state.pop("pushTx", None)
    state.pop("factorId", None)
    return flow.respond(state, user)


def skip(flow: AuthnFlow, data: dict[str, Any]) -> dict[str, Any]:
    state = flow.load(data, "MFA_ENROLL")
    user = flow.user_of(state)
    if not can_skip(flow.org, user):
        flow.save(state)
        raise OktaError("E0000079")
    state["skipped"] = True
    return flow.advance(state, user, "skip")
