"""The Authentication API (`/api/v1/authn`, Okta Classic), the state machine of spec 2:

    primary auth (password | activation token | within an UNAUTHENTICATED transaction)
      -> LOCKED_OUT (only with showLockoutFailures) | PASSWORD_RESET (activation, Okta password)
      -> MFA_REQUIRED -> MFA_CHALLENGE (push WAITING / REJECTED / TIMEOUT)
      -> PASSWORD_EXPIRED -> MFA_ENROLL -> MFA_ENROLL_ACTIVATE -> ... -> SUCCESS

After each completed step `advance()` picks the next state: active factors not yet verified give
MFA_REQUIRED; an expired password PASSWORD_EXPIRED; the MFA enrolment policy (policies.py) gives
MFA_ENROLL ("LOGIN": missing REQUIRED factors, or no factor yet while some are OPTIONAL, skippable;
"CHALLENGE": only after an MFA challenge in this transaction; "NEVER": never); otherwise SUCCESS.

Shapes follow what real clients read (spec 2.3): `_embedded.factors` (list) in MFA_REQUIRED and
MFA_ENROLL, `_embedded.factor` (object) in MFA_CHALLENGE and MFA_ENROLL_ACTIVATE, `_links.next`
named activate / poll / verify / changePassword / resetPassword / authenticate.

Errors: 401 E0000004 for every failed primary authentication (the reason is hidden, as Okta does);
401 E0000011 for a stateToken that is unknown, finished or expired (sliding `authn_state_ttl_seconds`,
default 300, renewed by every call); 403 E0000079 for an operation the current state does not
allow; 403 E0000068 / E0000082 for a wrong / replayed passcode. Public apps may call without a token.

Passwords: Okta-mastered users against their hash (with the PASSWORD policy's lockout); AD-sourced
users through delegated authentication (delegated.py: the AD agent, or an LDAP bind)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from . import codes, delegated, mailer, otp, policies, push, shapes
from .errors import OktaError, json_body, not_found, string_field
from .factors import activate_totp, enrol_factor, enrolment_view, qr_contents, user_factors
from .gate import user_limit_error
from .ids import token
from .org import Org, user_actor, user_target
from .people import password_matches
from .users import find_user, set_status

SIGN_IN_STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY", "LOCKED_OUT")


def _embedded_user(u: dict[str, Any]) -> dict[str, Any]:
    p = u["profile"]
    return {"id": u["id"], "passwordChanged": u.get("passwordChanged"),
            "profile": {"login": p["login"], "firstName": p.get("firstName"), "lastName": p.get("lastName"),
                        "locale": "en", "timeZone": "America/Los_Angeles"}}


def _factor(org: Org, f: dict[str, Any]) -> dict[str, Any]:
    """A factor as unauthenticated authn responses show it (Okta Verify push has `profile: {}`;
    sms / call / email show the phone number or address masked)."""
    if codes.is_code_factor(f):
        key = "email" if f["factorType"] == "email" else "phoneNumber"
        profile: dict[str, Any] = {key: codes.masked(f)}
    elif f["factorType"] == "push":
        profile = {}
    else:
        profile = {"credentialId": f.get("profile", {}).get("credentialId")}
    return {"id": f["id"], "factorType": f["factorType"], "provider": f["provider"],
            "vendorName": f["provider"], "profile": profile,
            "_links": {"verify": shapes.post_link(org.href(f"/api/v1/authn/factors/{f['id']}/verify"))}}


def is_push(f: dict[str, Any]) -> bool:
    return f["factorType"] == "push"


def _is_ad(u: dict[str, Any]) -> bool:
    return (u.get("provider") or {}).get("type") == "ACTIVE_DIRECTORY"


def _active(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in user_factors(org, user) if f["status"] == "ACTIVE"]


def _complexity_ok(password: str, login: str) -> bool:
    return (len(password) >= 8 and any(c.islower() for c in password) and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password) and login.split("@")[0].lower() not in password.lower())


def router(org: Org) -> APIRouter:
    r = APIRouter()

    def ttl() -> float:
        return org.settings.authn_state_ttl_seconds

    def new_state(user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        return {"id": "00" + token(40), "userId": user["id"] if user else None, "status": "UNAUTHENTICATED",
                **extra}

    def save(state: dict[str, Any]) -> dict[str, Any]:
        state["expiresTs"] = org.now() + ttl()         # sliding: every call renews it
        return org.store.put("authn", state["id"], state)

    def load(data: dict[str, Any], *allowed: str) -> dict[str, Any]:
        tok = string_field(data, "stateToken", required=True)
        state = org.store.get("authn", tok)
        if state is None or org.now() >= state["expiresTs"] or state["status"] == "SUCCESS":
            raise OktaError("E0000011")
        if allowed and state["status"] not in allowed:
            save(state)
            raise OktaError("E0000079")
        return state

    def user_of(state: dict[str, Any]) -> dict[str, Any]:
        user = org.people.user(state["userId"]) if state.get("userId") else None
        if user is None:
            raise OktaError("E0000011")
        return user

    def factor_of(state: dict[str, Any], user: dict[str, Any], fid: str, fits: Callable[[dict[str, Any]], bool],
                  *, the_transactions: bool = True) -> dict[str, Any]:
        """The user's factor `fid` when this step may act on it (the transaction's own factor,
        unless `the_transactions` is False, and one that `fits`); else E0000079, the state kept."""
        f = org.store.get("factors", fid)
        if f is None or f["userId"] != user["id"] or (the_transactions and state.get("factorId") != fid) \
                or not fits(f):
            save(state)
            raise OktaError("E0000079")
        return f

    # -- views --------------------------------------------------------------------------------
    def enroll_list(user: dict[str, Any]) -> list[dict[str, Any]]:
        mine = {(f["factorType"], f["provider"]): f for f in user_factors(org, user)}
        out = []
        for (ftype, provider), enrollment in policies.enrollment(org, user).offered():
            f = mine.get((ftype, provider))
            out.append({"factorType": ftype, "provider": provider, "vendorName": provider,
                        "status": "ACTIVE" if f and f["status"] == "ACTIVE" else "NOT_SETUP",
                        "enrollment": enrollment,
                        "_links": {"enroll": shapes.post_link(org.href("/api/v1/authn/factors"))}})
        return out

    def can_skip(user: dict[str, Any]) -> bool:
        active = {(f["factorType"], f["provider"]) for f in _active(org, user)}
        return not policies.enrollment(org, user).missing_required(active)

    def view(state: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        status = state["status"]
        body: dict[str, Any] = {"stateToken": state["id"], "expiresAt": org.iso(state["expiresTs"]),
                                "status": status, **extra}
        embedded: dict[str, Any] = {}
        if user is not None:
            embedded["user"] = _embedded_user(user)
        links: dict[str, Any] = {"cancel": shapes.post_link(org.href("/api/v1/authn/cancel"))}
        prev = shapes.post_link(org.href("/api/v1/authn/previous"))
        if status == "UNAUTHENTICATED":
            if state.get("target"):
                embedded["target"] = state["target"]
            links["next"] = {"name": "authenticate", **shapes.post_link(org.href("/api/v1/authn"))}
        elif status == "MFA_REQUIRED" and user is not None:
            embedded["factors"] = [_factor(org, f) for f in _active(org, user)]
        elif status == "MFA_ENROLL" and user is not None:
            embedded["factors"] = enroll_list(user)
            if can_skip(user):
                links["skip"] = shapes.post_link(org.href("/api/v1/authn/skip"))
        elif status == "MFA_ENROLL_ACTIVATE" and user is not None:
            f = org.store.get("factors", state.get("factorId") or "")
            if f is not None:
                fv = enrolment_view(org, user, f)
                fv["_links"] = {}
                embedded["factor"] = {k: fv[k] for k in ("id", "factorType", "provider", "vendorName", "profile")
                                      if k in fv} | {"_embedded": fv.get("_embedded", {})}
                base = org.href(f"/api/v1/authn/factors/{f['id']}/lifecycle/activate")
                if f["factorType"] == "push":
                    act = embedded["factor"]["_embedded"].get("activation") or {}
                    if act.get("_links", {}).get("send"):
                        act["_links"]["send"] = [{"name": "email", **shapes.post_link(base + "/email")}]
                    name = "activate" if extra.get("factorResult") == "TIMEOUT" else "poll"
                    links["next"] = {"name": name, **shapes.post_link(base if name == "activate" else base + "/poll")}
                else:
                    links["next"] = {"name": "activate", **shapes.post_link(base)}
                    if codes.is_code_factor(f):
                        links["resend"] = [{"name": f["factorType"], **shapes.post_link(
                            org.href(f"/api/v1/authn/factors/{f['id']}/lifecycle/resend"))}]
                links["prev"] = prev
        elif status == "MFA_CHALLENGE" and user is not None:
            f = org.store.get("factors", state.get("factorId") or "")
            if f is not None:
                embedded["factor"] = _factor(org, f)
                verify = org.href(f"/api/v1/authn/factors/{f['id']}/verify")
                name = "poll" if extra.get("factorResult") == "WAITING" else "verify"
                links["next"] = {"name": name, **shapes.post_link(verify)}
                if f["factorType"] == "push" or codes.is_code_factor(f):
                    links["resend"] = [{"name": f["factorType"], **shapes.post_link(verify + "/resend")}]
            links["prev"] = prev
        elif status in ("PASSWORD_EXPIRED", "PASSWORD_RESET"):
            embedded["policy"] = {"expiration": {"passwordExpireDays": 0},
                                  "complexity": {"minLength": 8, "minLowerCase": 1, "minUpperCase": 1,
                                                 "minNumber": 1, "minSymbol": 0, "excludeUsername": True},
                                  "age": {"minAgeMinutes": 0, "historyCount": 4}}
            name = "changePassword" if status == "PASSWORD_EXPIRED" else "resetPassword"
            path = "change_password" if status == "PASSWORD_EXPIRED" else "reset_password"
            links["next"] = {"name": name, **shapes.post_link(org.href(f"/api/v1/authn/credentials/{path}"))}
        body["_embedded"] = embedded
        body["_links"] = links
        return body

    def respond(state: dict[str, Any], user: dict[str, Any] | None, request: Request, **extra: Any):
        save(state)
        org.record("okta.authn", request, outcome=state["status"],
                   user=user["profile"]["login"] if user else None, **{k: v for k, v in extra.items()})
        return shapes.respond(view(state, user, **extra))

    # -- the state machine ----------------------------------------------------------------------
    def enrol_needed(state: dict[str, Any], user: dict[str, Any]) -> bool:
        enroll = policies.enrollment(org, user)
        active = {(f["factorType"], f["provider"]) for f in _active(org, user)}
        missing = enroll.missing_required(active)
        offered = enroll.offered()
        if enroll.when == "NEVER" or not offered:
            return False
        if enroll.when == "CHALLENGE" and not state.get("challenged"):
            return False
        if missing:
            return True
        if state.get("skipped"):
            return False
        if not active:
            return True          # nothing enrolled yet and the policy offers some: prompt, skippable
        return bool(state.get("multiOptionalFactorEnroll")) and any(f not in active for f, _ in offered)

    def factor_done(request: Request, state: dict[str, Any], user: dict[str, Any], how: str,
                    forget: str = "factorId"):
        """A factor was verified or activated in this transaction: on to the next state."""
        state.update(mfaDone=True)
        state.pop(forget, None)
        return advance(request, state, user, how)

    def advance(request: Request, state: dict[str, Any], user: dict[str, Any], how: str):
        """The next state after a completed step, or SUCCESS."""
        if _active(org, user) and not state.get("mfaDone"):
            state["status"] = "MFA_REQUIRED"
            state.pop("factorId", None)
            return respond(state, user, request)
        if state.get("passwordExpired"):
            state["status"] = "PASSWORD_EXPIRED"
            return respond(state, user, request)
        if enrol_needed(state, user):
            state["status"] = "MFA_ENROLL"
            state.pop("factorId", None)
            return respond(state, user, request)
        return success(request, state, user, how)

    def success(request: Request, state: dict[str, Any], user: dict[str, Any], how: str):
        state["status"] = "SUCCESS"
        org.store.put("authn", state["id"], state)
        user["lastLogin"] = org.iso()
        org.people.save(user)
        org.syslog("user.session.start", request=request, actor=user_actor(user), targets=[user_target(user)],
                   message="User login to Okta")
        org.record("okta.authn", request, outcome="SUCCESS", user=user["profile"]["login"], via=how)
        return shapes.respond({"expiresAt": org.iso(org.now() + 300), "status": "SUCCESS",
                               "sessionToken": token(40), "_embedded": {"user": _embedded_user(user)},
                               "_links": {"cancel": shapes.post_link(org.href("/api/v1/authn/cancel"))}})

    def fail(request: Request, username: str, user: dict[str, Any] | None, reason: str):
        if user is not None:
            org.syslog("user.session.start", request=request, actor=user_actor(user),
                       targets=[user_target(user)], result="FAILURE", reason="INVALID_CREDENTIALS")
        org.record("okta.authn", request, outcome="E0000004", user=username, reason=reason)
        raise OktaError("E0000004")

    def locked(request: Request, username: str, user: dict[str, Any]):
        _, show = policies.password_lockout(org, user)
        if not show:
            fail(request, username, user, "locked_out")
        org.record("okta.authn", request, outcome="LOCKED_OUT", user=username)
        return shapes.respond({"status": "LOCKED_OUT", "_links": {
            "next": {"name": "unlock", **shapes.post_link(org.href("/api/v1/authn/recovery/unlock"))}}})

    async def primary(request: Request, data: dict[str, Any], state: dict[str, Any] | None):
        username = string_field(data, "username", required=True) or ""
        password = string_field(data, "password") or ""
        user = find_user(org, username)
        taken = org.limiter.take_user(user["id"] if user else username)   # "Authenticate the same user"
        if not taken.allowed:
            if state is not None:
                save(state)
            raise user_limit_error(org, request, username, user, taken.limit, taken.reset, taken.first_denial)
        if user is None or user["status"] not in SIGN_IN_STATUSES:
            fail(request, username, user, "unknown_user" if user is None else f"status_{user['status']}")
        if user["status"] == "LOCKED_OUT":
            return locked(request, username, user)
        expired = user["status"] == "PASSWORD_EXPIRED"
        if _is_ad(user) and not user.get("password"):
            outcome = await delegated.check(org, user, password)
            org.syslog("user.authentication.auth_via_AD_agent", request=request, actor=user_actor(user),
                       targets=[user_target(user)], result="SUCCESS" if outcome in ("ok", "password_expired",
                                                                                    "must_change") else "FAILURE",
                       reason=None if outcome == "ok" else outcome, credential_type="PASSWORD",
                       message="Authenticate user via the Active Directory agent")
            if outcome == "locked":
                return locked(request, username, user)
            if outcome in ("password_expired", "must_change"):
                expired = True
            elif outcome != "ok":
                fail(request, username, user, f"ad_{outcome}")
        elif not password_matches(user, password):
            user["passwordFailures"] = int(user.get("passwordFailures", 0)) + 1
            limit, _ = policies.password_lockout(org, user)
            org.people.save(user)
            if limit and user["passwordFailures"] >= limit:
                set_status(org, user, "LOCKED_OUT")
                org.syslog("user.account.lock", request=request, actor=user_actor(user), targets=[user_target(user)],
                           reason="Max sign in attempts exceeded", message="Max sign in attempts exceeded")
                org.record("okta.user.lock", request, outcome="locked", user=user["profile"]["login"],
                           failures=user["passwordFailures"])
            fail(request, username, user, "bad_password")
        user["passwordFailures"] = 0
        org.people.save(user)
        options = data.get("options") if isinstance(data.get("options"), dict) else {}
        state = state or new_state(user)
        state.update(userId=user["id"], via="password", passwordExpired=expired,
                     multiOptionalFactorEnroll=bool(options.get("multiOptionalFactorEnroll")))
        return advance(request, state, user, "password")

    async def by_activation_token(request: Request, data: dict[str, Any]):
        tok = string_field(data, "token", required=True) or ""
        user = org.people.by_activation_token(tok)
        if user is None or org.now() >= float(user.get("activationExpiresTs") or 0) \
                or user["status"] not in ("PROVISIONED", "ACTIVE", "RECOVERY"):
            org.record("okta.authn", request, outcome="E0000004", reason="invalid_activation_token")
            raise OktaError("E0000004")
        state = new_state(user, via="token")
        org.syslog("user.authentication.sso", request=request, actor=user_actor(user), targets=[user_target(user)],
                   message="User signed in with an activation token")
        if user["status"] == "PROVISIONED" and not _is_ad(user):
            state["status"] = "PASSWORD_RESET"       # the token is spent when the password is set
            return respond(state, user, request)
        user.pop("activationToken", None)            # AD-sourced: AD holds the password; spent now
        user.pop("activationExpiresTs", None)
        org.people.save(user)
        return advance(request, state, user, "activation_token")

    # -- routes ---------------------------------------------------------------------------------
    @r.post("/api/v1/authn")
    async def authn(request: Request):
        data = await json_body(request)
        if "token" in data and "username" not in data:
            return await by_activation_token(request, data)
        if "stateToken" in data:
            if "username" in data:               # primary authentication inside a transaction
                return await primary(request, data, load(data, "UNAUTHENTICATED"))
            state = load(data)
            user = org.people.user(state["userId"]) if state.get("userId") else None
            extra = {}
            if state["status"] == "MFA_CHALLENGE" and state.get("pushTx"):
                tx = org.store.get("push_tx", state["pushTx"])
                if tx is not None:
                    extra["factorResult"] = push.current(org, tx)["status"]
            return respond(state, user, request, **extra)
        return await primary(request, data, None)

    @r.post("/api/v1/authn/factors")
    async def enroll(request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL")
        user = user_of(state)
        ftype = string_field(data, "factorType", required=True) or ""
        provider = string_field(data, "provider") or "OKTA"
        offered = dict(policies.enrollment(org, user).offered())
        if (ftype, provider) not in offered:
            save(state)
            raise OktaError("E0000001", "factorType", [f"factorType: {ftype} ({provider}) is not allowed "
                                                       "by the multifactor enrollment policy"])
        try:
            f = enrol_factor(org, request, user, ftype, provider, data.get("profile"))
        finally:
            save(state)
        state.update(status="MFA_ENROLL_ACTIVATE", factorId=f["id"])
        extra = {"factorResult": "WAITING"} if ftype == "push" else {}
        return respond(state, user, request, **extra)

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate")
    async def activate(fid: str, request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL_ACTIVATE")
        user = user_of(state)
        f = factor_of(state, user, fid, lambda f: True)
        if f["factorType"] == "push":              # after TIMEOUT: a fresh QR code and activation
            f["activationToken"] = token(20)
            f["qrToken"] = token(40)
            f["activationExpiresTs"] = org.now() + org.settings.push_activation_ttl_seconds
            org.store.put("factors", f["id"], f)
            return respond(state, user, request, factorResult="WAITING")
        code = string_field(data, "passCode", required=True)
        try:
            activate_totp(org, request, user, f, code)
        finally:
            save(state)
        return factor_done(request, state, user, "enroll_totp")

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/resend")
    async def activation_resend(fid: str, request: Request):
        """Send an sms / call / email factor's activation code again (throttled as any send)."""
        data = await json_body(request)
        state = load(data, "MFA_ENROLL_ACTIVATE")
        user = user_of(state)
        f = factor_of(state, user, fid, codes.is_code_factor)
        try:
            codes.send(org, request, user, f, "activation")
        finally:
            save(state)
        return respond(state, user, request)

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate/email")
    async def activation_email(fid: str, request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL_ACTIVATE")
        user = user_of(state)
        f = factor_of(state, user, fid, is_push)
        mailer.send_push_activation(org, user, qr_contents(org, user, f), request.headers.get("X-Lab-Trace"))
        return respond(state, user, request, factorResult="WAITING")

    @r.post("/api/v1/authn/factors/{fid}/lifecycle/activate/poll")
    async def activation_poll(fid: str, request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL_ACTIVATE")
        user = user_of(state)
        f = factor_of(state, user, fid, is_push)
        if f["status"] == "ACTIVE":
            return factor_done(request, state, user, "enroll_push")
        result = "TIMEOUT" if org.now() >= f.get("activationExpiresTs", 0) else "WAITING"
        return respond(state, user, request, factorResult=result)

    @r.post("/api/v1/authn/factors/{fid}/verify")
    async def verify(fid: str, request: Request):
        data = await json_body(request)
        state = load(data, "MFA_REQUIRED", "MFA_CHALLENGE")
        user = user_of(state)
        f = factor_of(state, user, fid, lambda f: f["status"] == "ACTIVE", the_transactions=False)
        state["challenged"] = True
        if f["factorType"] == "push":
            tx = org.store.get("push_tx", state["pushTx"]) \
                if state.get("factorId") == fid and state.get("pushTx") else None
            if tx is None:
                otp.check_user_can_verify(org, user)
                tx = push.create(org, request, user, f)
                state.update(pushTx=tx["id"], factorId=fid, status="MFA_CHALLENGE")
                return respond(state, user, request, factorResult="WAITING")
            tx = push.current(org, tx)
            if tx["status"] == "SUCCESS":
                return factor_done(request, state, user, "push", forget="pushTx")
            if tx["status"] != "WAITING":
                state.pop("pushTx", None)    # the next verify starts a new push
            return respond(state, user, request, factorResult=tx["status"])
        if codes.is_code_factor(f):
            code = string_field(data, "passCode")
            try:
                if not code:                   # send the code: MFA_CHALLENGE until it comes back
                    otp.check_user_can_verify(org, user)
                    codes.send(org, request, user, f, "verify")
                    state.update(factorId=fid, status="MFA_CHALLENGE")
                    return respond(state, user, request, factorResult="CHALLENGE")
                codes.check(org, request, user, f, code)
            finally:
                save(state)
            return factor_done(request, state, user, f["factorType"])
        code = string_field(data, "passCode", required=True)
        try:
            otp.verify(org, request, user, f, code)
        finally:
            save(state)
        return factor_done(request, state, user, "otp")

    @r.post("/api/v1/authn/factors/{fid}/verify/resend")
    async def resend(fid: str, request: Request):
        data = await json_body(request)
        state = load(data, "MFA_CHALLENGE")
        user = user_of(state)
        f = factor_of(state, user, fid, lambda f: is_push(f) or codes.is_code_factor(f))
        if codes.is_code_factor(f):
            try:
                codes.send(org, request, user, f, "verify")
            finally:
                save(state)
            return respond(state, user, request, factorResult="CHALLENGE")
        tx = push.create(org, request, user, f)
        state["pushTx"] = tx["id"]
        return respond(state, user, request, factorResult="WAITING")

    @r.post("/api/v1/authn/previous")
    async def previous(request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL_ACTIVATE", "MFA_CHALLENGE")
        user = user_of(state)
        if state["status"] == "MFA_ENROLL_ACTIVATE":
            f = org.store.get("factors", state.get("factorId") or "")
            if f is not None and f["status"] != "ACTIVE":
                org.store.delete("factors", f["id"])
            state["status"] = "MFA_ENROLL"
        else:
            state["status"] = "MFA_REQUIRED"
            state.pop("pushTx", None)
        state.pop("factorId", None)
        return respond(state, user, request)

    @r.post("/api/v1/authn/skip")
    async def skip(request: Request):
        data = await json_body(request)
        state = load(data, "MFA_ENROLL")
        user = user_of(state)
        if not can_skip(user):
            save(state)
            raise OktaError("E0000079")
        state["skipped"] = True
        return advance(request, state, user, "skip")

    @r.post("/api/v1/authn/credentials/reset_password")
    async def reset_password(request: Request):
        data = await json_body(request)
        state = load(data, "PASSWORD_RESET")
        user = user_of(state)
        new = string_field(data, "newPassword", required=True) or ""
        if not _complexity_ok(new, user["profile"]["login"]):
            save(state)
            raise OktaError("E0000080", causes=["Password requirements: at least 8 characters, a lowercase letter, "
                                                "an uppercase letter, a number, no parts of your username."])
        now = org.iso()
        org.people.set_password(user, new)
        user.update(passwordChanged=now, passwordFailures=0)
        user.pop("activationToken", None)
        user.pop("activationExpiresTs", None)
        org.people.save(user)
        if user["status"] != "ACTIVE":
            set_status(org, user, "ACTIVE")
        org.syslog("user.account.reset_password", request=request, actor=user_actor(user),
                   targets=[user_target(user)], message="User reset password for Okta")
        return advance(request, state, user, "reset_password")

    @r.post("/api/v1/authn/credentials/change_password")
    async def change_password(request: Request):
        data = await json_body(request)
        state = load(data, "PASSWORD_EXPIRED")
        user = user_of(state)
        old = string_field(data, "oldPassword", required=True) or ""
        new = string_field(data, "newPassword", required=True) or ""
        if _is_ad(user) and not user.get("password"):
            save(state)
            raise OktaError("E0000014", causes=["oldPassword: Active Directory users change an expired "
                                                "password in Active Directory (not emulated)"])
        if not password_matches(user, old):
            save(state)
            raise OktaError("E0000014", causes=["oldPassword: Old password is not correct"])
        if not _complexity_ok(new, user["profile"]["login"]) or new == old:
            save(state)
            raise OktaError("E0000080", causes=["Password requirements were not met."])
        org.people.set_password(user, new)
        user["passwordChanged"] = org.iso()
        org.people.save(user)
        if user["status"] == "PASSWORD_EXPIRED":
            set_status(org, user, "ACTIVE")
        state["passwordExpired"] = False
        org.syslog("user.account.update_password", request=request, actor=user_actor(user),
                   targets=[user_target(user)], message="User update password for Okta")
        return advance(request, state, user, "change_password")

    @r.post("/api/v1/authn/cancel")
    async def cancel(request: Request):
        data = await json_body(request)
        state = load(data)
        org.store.delete("authn", state["id"])
        org.record("okta.authn", request, outcome="cancelled")
        return shapes.respond({})

    # -- where transactions start outside the API --------------------------------------------------
    @r.get("/welcome/{tok}")
    async def welcome(tok: str):
        """The activation link of the email. A browser gets the sign-in page, which calls
        `POST /api/v1/authn {"token": ...}`; the lab's page just says so (no JavaScript widget)."""
        return HTMLResponse(
            "<!doctype html><html><head><title>Activate your account</title></head><body>"
            "<h1>Welcome to Okta</h1><p>The sign-in page continues with "
            "<code>POST /api/v1/authn</code> and <code>{\"token\": \"&lt;this link's token&gt;\"}</code>.</p>"
            "</body></html>")

    @r.get("/home/{app_name}/{app_id}")
    async def app_link(app_name: str, app_id: str, request: Request):
        """An app's embed link opened without a session: Okta starts an authentication
        transaction in UNAUTHENTICATED with the app as its target (spec 2.3). JSON for API callers."""
        a = org.store.get("apps", app_id)
        if a is None or a["name"] != app_name:
            raise not_found(app_id, "App")
        state = new_state(None, target={"type": "APP", "name": a["name"], "label": a["label"],
                                        "_links": {"logo": [], "self": shapes.link(org.href(f"/api/v1/apps/{a['id']}"))}})
        return respond(state, None, request)

    return r
