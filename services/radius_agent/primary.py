""""Okta performs primary authentication" checked: the password goes to the org's /api/v1/authn.

Three ways a client can finish the MFA step after the password (docs/radius.md, "What the RADIUS
password means" and "Challenges"):

1. In the same request: `password,123456` or `password,push` (the comma rule: the LAST comma
   splits, so a password may itself contain commas).
2. Access-Challenge: a request with the password alone gets an Access-Challenge with a State and,
   when the user has several factors, a numbered menu in Reply-Message ("Select factor: 1 - Okta
   Verify Push, 2 - Okta Verify TOTP"). The client answers with the number; push is then sent and
   polled within that request; a passcode factor gets a second challenge ("Enter Okta Verify TOTP
   passcode:"); SMS/call/email are sent first, then prompted for. One factor only: no menu.
3. Nothing: a client that cannot answer a challenge (AD Connector treats one as a failure) fails.

With AD Connector the password field carries the MFA code (WorkSpaces never sends the AD password
over RADIUS), so /api/v1/authn refuses it (E0000004): failure F7 (docs/radius.md), every sign-in rejected.

The agent keeps Okta's stateToken in `challenge.ChallengeStore`, never in the State on the wire.
Authn calls made with a stateToken that answer 401 mean the Okta transaction expired (Okta uses
E0000011 for that as for a bad API token; the app-list refresh is what detects a bad token).
"""
from __future__ import annotations

import asyncio
from typing import Any

from .challenge import MAX_MENU, Pending, factor_label, menu
from .model import OTP_ERRORS, OTP_FACTOR_TYPES, AgentTimeout, Challenge, Outcome, Reject, choose_push
from .org import OrgError, OrgTimeout

SENT_BY_ORG = ("sms", "call", "email")       # verify without a passCode sends the code


def split(password: str) -> tuple[str, str]:
    """(password, second factor) by the LAST comma, when what follows it looks like a factor
    answer (a keyword, or a passcode of 4 or more digits); otherwise the whole string is the
    password, so `Pass,1` stays a password."""
    first, sep, second = password.rpartition(",")
    answer = second.strip()
    if sep and (answer.lower() in ("push", "sms", "call", "email") or (answer.isdigit() and len(answer) >= 4)):
        return first, answer
    return password, ""


def method_of(password: str, state: bytes | None) -> str:
    """The log's `method` for a primary-auth request (never the password itself)."""
    if state is not None:
        return "challenge-answer"
    _, second = split(password)
    if not second:
        return "password"
    return "password,push" if second.lower() == "push" else "password,code"


async def authenticate(ctx: Any) -> Outcome:
    if ctx.state is not None:
        return await _answer(ctx)
    password, second = split(ctx.password)
    try:
        txn = await _password(ctx, password)
    except Reject:
        if not second:
            raise
        # a password that itself ends in ",<digits>": try it whole (docs/radius.md)
        txn = await _password(ctx, ctx.password)
        second = ""
    if txn.get("status") == "SUCCESS":
        return Outcome("accept", ctx.method, None, ctx.user_id, ctx.login)
    token = str(txn["stateToken"])
    factors = [f for f in (txn.get("_embedded") or {}).get("factors") or []
               if f.get("factorType") == "push" or f.get("factorType") in OTP_FACTOR_TYPES][:MAX_MENU]
    if not factors:
        raise Reject("MFA required after the password, but the user has no factor usable over RADIUS")
    if second.lower() == "push":
        push, _note = choose_push(factors, ctx.policy.multi_device)
        return await _push(ctx, token, push)
    if second.lower() in SENT_BY_ORG:
        kind = second.lower()
        factor = next((f for f in factors if f.get("factorType") == kind), None)
        if factor is None:
            raise Reject(f"the user has no {kind} factor")
        await _step(ctx, factor, {"stateToken": token})
        # "Abcd1234,SmS": Okta sends the code and "initially returns a failure"
        raise Reject(f"one-time passcode sent by {kind}; Okta rejects the keyword request itself")
    if second:
        return await _passcode(ctx, token, [f for f in factors if f.get("factorType") in OTP_FACTOR_TYPES], second)
    if len(factors) == 1:
        return await _start(ctx, token, factors[0])
    raise Challenge(_issue(ctx, token, "select", factors=factors), menu(factors))


async def _password(ctx: Any, password: str) -> dict[str, Any]:
    """POST /api/v1/authn; returns the transaction when it is SUCCESS or MFA_REQUIRED."""
    try:
        txn = await ctx.org.authn({"username": ctx.login, "password": password},
                                  timeout=ctx.left(), trace=ctx.trace, timer=ctx.timer)
    except OrgError as exc:
        if exc.status == 401 and exc.error_code == "E0000004":
            hint = ""
            if password.isdigit() or password.lower() in ("push", "sms", "call", "email"):
                hint = ("; the password looks like an MFA code: with AD Connector the password field "
                        "carries the code, so 'Okta performs primary authentication' must be cleared")
            raise Reject("Authentication failed: primary authentication (password) refused by Okta "
                         f"(E0000004){hint}") from None
        if exc.status in (404, 405, 501):
            raise Reject(f"primary authentication is on but the org cannot verify a password "
                         f"(POST /api/v1/authn answered {exc.status})") from None
        raise
    status = txn.get("status")
    if status in ("SUCCESS", "MFA_REQUIRED"):
        return txn
    if status == "MFA_ENROLL":
        if ctx.app.inline_enrollment:
            raise Reject(f"User {ctx.username} must enrol a factor (MFA_ENROLL); inline enrollment over "
                         "RADIUS is not emulated by this agent")
        raise Reject(f"User {ctx.username} is not enrolled in MFA (MFA_ENROLL) and the app does not "
                     "permit inline enrollment (inlineEnrollment=false)")
    if status == "LOCKED_OUT":
        raise Reject(f"User {ctx.username} is LOCKED_OUT (primary authentication)")
    if status in ("PASSWORD_EXPIRED", "PASSWORD_RESET"):
        raise Reject(f"User {ctx.username} must change the password ({status}); RADIUS cannot do that")
    raise Reject(f"primary authentication ended in status {status}")


def _issue(ctx: Any, token: str, step: str, *, factors: list[dict[str, Any]] | None = None,
           factor: dict[str, Any] | None = None) -> bytes:
    assert ctx.user_id and ctx.login
    return ctx.challenges.issue(Pending(app_id=ctx.app.id, user_name=ctx.username, user_id=ctx.user_id,
                                        login=ctx.login, state_token=token, step=step,
                                        factors=factors or [], factor=factor))


async def _start(ctx: Any, token: str, factor: dict[str, Any]) -> Outcome:
    """The user picked `factor` (or it is the only one): push now, or challenge for a passcode."""
    kind = factor.get("factorType")
    if kind == "push":
        return await _push(ctx, token, factor)
    label = factor_label(factor)
    if kind in SENT_BY_ORG:
        await _step(ctx, factor, {"stateToken": token})
        prompt = f"Enter the passcode sent by {label}:"
    else:
        prompt = f"Enter {label} passcode:"
    raise Challenge(_issue(ctx, token, "passcode", factor=factor), prompt)


async def _answer(ctx: Any) -> Outcome:
    """A request carrying a State: the answer to our menu or passcode prompt."""
    pending, why = ctx.challenges.take(ctx.state)
    if pending is None:
        raise Reject(f"Access-Request with a State: {why}")
    if pending.app_id != ctx.app.id or pending.user_id != ctx.user_id:
        raise Reject("the State was issued for another user or app")
    answer = ctx.password.strip()
    if pending.step == "select":
        n = len(pending.factors)
        if answer.isdigit() and 1 <= int(answer) <= n:
            return await _start(ctx, pending.state_token, pending.factors[int(answer) - 1])
        raise Reject(f"invalid factor selection (expected a number from 1 to {n})")
    assert pending.factor is not None
    return await _passcode(ctx, pending.state_token, [pending.factor], answer)


async def _passcode(ctx: Any, token: str, factors: list[dict[str, Any]], code: str) -> Outcome:
    if not factors:
        raise Reject("the user has no factor that accepts a passcode")
    last = "the passcode did not verify"
    for factor in factors:
        try:
            body = await _step(ctx, factor, {"stateToken": token, "passCode": code})
        except OrgError as exc:
            last = OTP_ERRORS.get(exc.error_code or "", f"the org answered {exc}")
            continue
        if body.get("status") == "SUCCESS":
            return Outcome("accept", ctx.method, None, ctx.user_id, ctx.login)
        _not_finished(body)
    raise Reject(f"Authentication failed, {last} (after primary authentication)")


def _not_finished(body: dict[str, Any]) -> None:
    """A verified factor can still leave the transaction short of SUCCESS (an enrolment the
    policy requires, an expired password): RADIUS cannot go on, so say which state it was."""
    status = body.get("status")
    if status in ("MFA_ENROLL", "MFA_ENROLL_ACTIVATE", "PASSWORD_EXPIRED", "PASSWORD_RESET", "LOCKED_OUT"):
        raise Reject(f"the factor verified, but Okta's transaction continues with {status}, which this "
                     "agent cannot complete over RADIUS")


async def _push(ctx: Any, token: str, factor: dict[str, Any]) -> Outcome:
    body = await _step(ctx, factor, {"stateToken": token})
    try:
        while body.get("status") != "SUCCESS":
            _not_finished(body)
            result = body.get("factorResult")
            if result == "REJECTED":
                raise Reject("User rejected the Okta Verify push")
            if result == "TIMEOUT":
                raise Reject("the Okta Verify push timed out at Okta (no answer from the user)")
            await asyncio.sleep(min(ctx.policy.poll_interval, ctx.poll_left()))
            try:
                body = await _step(ctx, factor, {"stateToken": token}, poll=True)
            except OrgTimeout as exc:
                raise AgentTimeout(str(exc), in_poll=True) from None
    except AgentTimeout:
        try:        # withdraw the transaction; best effort, the request is over either way
            await ctx.org.authn({"stateToken": token}, path="/api/v1/authn/cancel", timeout=2.0, trace=ctx.trace)
        except Exception:  # noqa: BLE001 - best effort: any failure to cancel leaves the timeout as is
            pass
        raise
    return Outcome("accept", ctx.method, None, ctx.user_id, ctx.login)


async def _step(ctx: Any, factor: dict[str, Any], body: dict[str, Any], poll: bool = False) -> dict[str, Any]:
    """POST /api/v1/authn/factors/{id}/verify; a 401 here is the transaction, not the agent's token."""
    try:
        return await ctx.org.authn(body, path=f"/api/v1/authn/factors/{factor['id']}/verify",
                                   timeout=ctx.poll_left() if poll else ctx.left(), trace=ctx.trace, timer=ctx.timer)
    except OrgError as exc:
        if exc.status == 401:
            raise Reject(f"the Okta authentication transaction expired ({exc.error_code} {exc.summary})") from None
        if exc.status in (403, 400) and exc.error_code not in OTP_ERRORS:
            raise Reject(f"the org refused the factor step: {exc}") from None
        raise
