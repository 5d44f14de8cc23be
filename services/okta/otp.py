"""TOTP checks for Okta Verify and Google Authenticator factors (RFC 6238, pyotp), on the
service clock so `POST /clock` skews them: a window of one step either side, each step usable
once per factor (replays are 403 E0000082, remembered in SQLite across restarts), and a lockout
after `factor_lockout_attempts` wrong codes in a row (the user becomes LOCKED_OUT, 403 E0000069).
A code of the factor a few steps outside the window (`totp_outside_window_steps`) is 403 E0000083
"valid but exceeded time window", counted toward the lockout like a wrong one."""
from __future__ import annotations

import hmac
from typing import Any, NoReturn

import pyotp

from .errors import OktaError
from .org import Audit, Org, factor_target, user_actor, user_target
from .users import set_status

PERIOD, DIGITS = 30, 6
USABLE_STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY")


def new_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(org: Org, login: str, secret: str) -> str:
    from urllib.parse import quote
    return (f"otpauth://totp/{quote(org.name)}:{quote(login, safe='@')}?secret={secret}"
            f"&issuer={quote(org.name)}&period={PERIOD}&digits={DIGITS}")


def matching_step(secret: str, code: str, now: float, window: int = 1) -> int | None:
    """The time step whose code equals `code` within ±window steps of now, or None."""
    if not (isinstance(code, str) and code.isascii() and code.isdigit() and len(code) == DIGITS):   # "١٢٣٤٥٦" isdigit()
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int(now // PERIOD)
    for step in sorted(range(current - window, current + window + 1), key=lambda s: abs(s - current)):
        if hmac.compare_digest(totp.at(step * PERIOD), code):
            return step
    return None


def check_user_can_verify(user: dict[str, Any]) -> None:
    if user["status"] == "LOCKED_OUT":
        raise OktaError("E0000069")
    if user["status"] not in USABLE_STATUSES:
        raise OktaError("E0000038")


def verify(org: Org, audit: Audit, user: dict[str, Any], factor: dict[str, Any], code: str) -> None:
    """Raise the Okta error for a bad code; return quietly on SUCCESS (logs and counters done)."""
    check_user_can_verify(user)
    now = org.now()
    window = org.settings.totp_window_steps
    step = matching_step(factor["secret"], code, now, window)
    login = user["profile"]["login"]
    base = dict(user=login, factor=factor["id"], factorType=factor["factorType"], provider=factor["provider"])
    if step is None:
        outside = org.settings.totp_outside_window_steps
        if outside and matching_step(factor["secret"], code, now, window + outside) is not None:
            wrong_code(org, audit, user, factor, "OTP", outside_window=True)
        wrong_code(org, audit, user, factor, "OTP")
    if not org.store.mark_used(factor["id"], step, now):
        org.syslog("user.authentication.auth_via_mfa", audit=audit, result="FAILURE",
                   reason="PASSCODE_REPLAYED", actor=user_actor(user),
                   targets=[user_target(user), factor_target(factor)], credential_type="OTP")
        org.record("okta.factor.verify", audit, outcome="passcode_replayed", **base)
        raise OktaError("E0000082")
    user["mfaFailures"] = 0
    user["lastLogin"] = org.iso(now)
    org.people.save(user)
    org.syslog("user.authentication.auth_via_mfa", audit=audit, actor=user_actor(user),
               targets=[user_target(user), factor_target(factor)], credential_type="OTP",
               message="Authentication of user via MFA")
    if factor["provider"] == "OKTA":
        org.syslog("user.mfa.okta_verify", audit=audit, actor=user_actor(user),
                   targets=[user_target(user), factor_target(factor)], credential_type="OTP",
                   message="Verify user with Okta Verify")
    org.record("okta.factor.verify", audit, outcome="SUCCESS", step_offset=step - int(now // PERIOD), **base)


def wrong_code(org: Org, audit: Audit, user: dict[str, Any], factor: dict[str, Any],
               credential_type: str, *, outside_window: bool = False) -> NoReturn:
    """A wrong passcode (TOTP or a code the org sent): count it towards the lockout
    (`factor_lockout_attempts`), log it, and raise 403 E0000068 (E0000083 for the factor's own
    code outside the time window)."""
    login = user["profile"]["login"]
    base = dict(user=login, factor=factor["id"], factorType=factor["factorType"], provider=factor["provider"])
    user["mfaFailures"] = int(user.get("mfaFailures", 0)) + 1
    limit = org.settings.factor_lockout_attempts
    org.people.save(user)
    org.syslog("user.authentication.auth_via_mfa", audit=audit, result="FAILURE",
               reason="INVALID_CREDENTIALS", actor=user_actor(user),
               targets=[user_target(user), factor_target(factor)], credential_type=credential_type,
               message="Authentication of user via MFA")
    org.record("okta.factor.verify", audit, outcome="passcode_outside_window" if outside_window else "invalid_passcode",
               failures=user["mfaFailures"], **base)
    if user["mfaFailures"] >= limit:
        set_status(org, user, "LOCKED_OUT")
        org.syslog("user.account.lock", audit=audit, actor=user_actor(user),
                   targets=[user_target(user)], reason="Too many failed MFA attempts",
                   message="Max sign in attempts exceeded")
        org.record("okta.user.lock", audit, outcome="locked", user=login, failures=user["mfaFailures"])
    if outside_window:
        raise OktaError("E0000083")
    raise OktaError("E0000068", causes=["Your passcode doesn't match our records. Please try again."])
