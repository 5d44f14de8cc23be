"""The Authentication API's state machine, without HTTP: `AuthnFlow(org, audit)` is one call's
hold on the transactions (stored as kind "authn", keyed by stateToken). Every step loads the
transaction (`load`: E0000011 when unknown, finished or expired; E0000079 when the state does not
allow the step), acts, and either answers in the same state (`respond`) or moves on (`advance`);
both save it, renewing its sliding expiry. Steps return the JSON body; errors are OktaErrors.

`advance` picks the next state after a completed step: active factors not yet verified give
MFA_REQUIRED; an expired password PASSWORD_EXPIRED; the MFA enrolment policy (policies.py) gives
MFA_ENROLL ("LOGIN": missing REQUIRED factors, or no factor yet while some are OPTIONAL, skippable;
"CHALLENGE": only after an MFA challenge in this transaction; "NEVER": never); otherwise SUCCESS.
The factor steps (enrol, activate, verify...) are in authn_factors.py."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from . import authn_views as views
from . import delegated, policies, push, shapes
from .errors import OktaError, string_field
from .gate import user_limit_error
from .ids import token
from .org import Audit, Org, user_actor, user_target
from .people import password_matches
from .users import find_user, set_status

SIGN_IN_STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY", "LOCKED_OUT")
TRANSACTIONS = "authn"
COMPLEXITY_HINT = ("Password requirements: at least 8 characters, a lowercase letter, an uppercase letter, "
                   "a number, no parts of your username.")


def is_ad(u: dict[str, Any]) -> bool:
    return (u.get("provider") or {}).get("type") == "ACTIVE_DIRECTORY"


def complexity_ok(password: str, login: str) -> bool:
    """The system default password policy's complexity (authn_views.PASSWORD_POLICY)."""
    return (len(password) >= 8 and any(c.islower() for c in password) and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password) and login.split("@")[0].lower() not in password.lower())


class AuthnFlow:
    def __init__(self, org: Org, audit: Audit) -> None:
        self.org = org
        self.audit = audit

    # -- the transaction ----------------------------------------------------------------------
    def new_state(self, user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        return {"id": "00" + token(40), "userId": user["id"] if user else None, "status": "UNAUTHENTICATED",
                **extra}

    def save(self, state: dict[str, Any]) -> dict[str, Any]:
        state["expiresTs"] = self.org.now() + self.org.settings.authn_state_ttl_seconds   # sliding
        return self.org.store.put(TRANSACTIONS, state["id"], state)

    def load(self, data: dict[str, Any], *allowed: str) -> dict[str, Any]:
        """The transaction of the body's stateToken, in one of the `allowed` states (any if none)."""
        tok = string_field(data, "stateToken", required=True) or ""
        state = self.org.store.get(TRANSACTIONS, tok)
        if state is None or self.org.now() >= state["expiresTs"] or state["status"] == "SUCCESS":
            raise OktaError("E0000011")
        if allowed and state["status"] not in allowed:
            self.save(state)
            raise OktaError("E0000079")
        return state

    def user_of(self, state: dict[str, Any]) -> dict[str, Any]:
        user = self.org.people.user(state["userId"]) if state.get("userId") else None
        if user is None:
            raise OktaError("E0000011")
        return user

    def factor_of(self, state: dict[str, Any], user: dict[str, Any], fid: str,
                  fits: Callable[[dict[str, Any]], bool], *, the_transactions: bool = True) -> dict[str, Any]:
        """The user's factor `fid` when this step may act on it (the transaction's own factor,
        unless `the_transactions` is False, and one that `fits`); else E0000079, the state kept."""
        f = self.org.people.factor(fid)
        if f is None or f["userId"] != user["id"] or (the_transactions and state.get("factorId") != fid) \
                or not fits(f):
            self.save(state)
            raise OktaError("E0000079")
        return f

    def view(self, state: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        return views.transaction(self.org, state, user, **extra)

    def respond(self, state: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        """Save the transaction as it is and answer with it."""
        self.save(state)
        self.org.record("okta.authn", self.audit, outcome=state["status"],
                        user=user["profile"]["login"] if user else None, **extra)
        return self.view(state, user, **extra)

    # -- the state machine --------------------------------------------------------------------
    def enrol_needed(self, state: dict[str, Any], user: dict[str, Any]) -> bool:
        enroll = policies.enrollment(self.org, user)
        active = views.active_kinds(self.org, user)
        offered = enroll.offered()
        if enroll.when == "NEVER" or not offered:
            return False
        if enroll.when == "CHALLENGE" and not state.get("challenged"):
            return False
        if enroll.missing_required(active):
            return True
        if state.get("skipped"):
            return False
        if not active:
            return True          # nothing enrolled yet and the policy offers some: prompt, skippable
        return bool(state.get("multiOptionalFactorEnroll")) and any(f not in active for f, _ in offered)

    def advance(self, state: dict[str, Any], user: dict[str, Any], how: str) -> dict[str, Any]:
        """The next state after a completed step, or SUCCESS."""
        if views.active_factors(self.org, user) and not state.get("mfaDone"):
            state["status"] = "MFA_REQUIRED"
            state.pop("factorId", None)
            return self.respond(state, user)
        if state.get("passwordExpired"):
            state["status"] = "PASSWORD_EXPIRED"
            return self.respond(state, user)
        if self.enrol_needed(state, user):
            state["status"] = "MFA_ENROLL"
            state.pop("factorId", None)
            return self.respond(state, user)
        return self.success(state, user, how)

    def factor_done(self, state: dict[str, Any], user: dict[str, Any], how: str,
                    forget: str = "factorId") -> dict[str, Any]:
        """A factor was verified or activated in this transaction: on to the next state."""
        state.update(mfaDone=True)
        state.pop(forget, None)
        return self.advance(state, user, how)

    def success(self, state: dict[str, Any], user: dict[str, Any], how: str) -> dict[str, Any]:
        org = self.org
        state["status"] = "SUCCESS"
        org.store.put(TRANSACTIONS, state["id"], state)
        user["lastLogin"] = org.iso()
        org.people.save(user)
        org.syslog("user.session.start", audit=self.audit, actor=user_actor(user), targets=[user_target(user)],
                   message="User login to Okta")
        org.record("okta.authn", self.audit, outcome="SUCCESS", user=user["profile"]["login"], via=how)
        return views.success(org, user, token(40))

    def fail(self, username: str, user: dict[str, Any] | None, reason: str) -> NoReturn:
        """Every failed primary authentication looks the same to the caller: 401 E0000004."""
        if user is not None:
            self.org.syslog("user.session.start", audit=self.audit, actor=user_actor(user),
                            targets=[user_target(user)], result="FAILURE", reason="INVALID_CREDENTIALS")
        self.org.record("okta.authn", self.audit, outcome="E0000004", user=username, reason=reason)
        raise OktaError("E0000004")

    def locked(self, username: str, user: dict[str, Any]) -> dict[str, Any]:
        _, show = policies.password_lockout(self.org, user)
        if not show:
            self.fail(username, user, "locked_out")
        self.org.record("okta.authn", self.audit, outcome="LOCKED_OUT", user=username)
        return views.locked_out(self.org)

    # -- primary authentication ---------------------------------------------------------------
    async def authenticate(self, data: dict[str, Any]) -> dict[str, Any]:
        """`POST /api/v1/authn`: an activation token, a username and password (alone or within an
        UNAUTHENTICATED transaction), or a stateToken alone (the transaction as it stands)."""
        if "token" in data and "username" not in data:
            return self.by_activation_token(data)
        if "stateToken" in data:
            if "username" in data:
                return await self.primary(data, self.load(data, "UNAUTHENTICATED"))
            state = self.load(data)
            user = self.org.people.user(state["userId"]) if state.get("userId") else None
            extra = {}
            if state["status"] == "MFA_CHALLENGE" and state.get("pushTx"):
                tx = self.org.store.get("push_tx", state["pushTx"])
                if tx is not None:
                    extra["factorResult"] = push.current(self.org, tx)["status"]
            return self.respond(state, user, **extra)
        return await self.primary(data, None)

    async def primary(self, data: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
        org = self.org
        username = string_field(data, "username", required=True) or ""
        password = string_field(data, "password") or ""
        user = find_user(org, username)
        taken = org.limiter.take_user(user["id"] if user else username)   # "Authenticate the same user"
        if not taken.allowed:
            if state is not None:
                self.save(state)
            raise user_limit_error(org, self.audit, username, user, taken.limit, taken.reset, taken.first_denial)
        if user is None or user["status"] not in SIGN_IN_STATUSES:
            self.fail(username, user, "unknown_user" if user is None else f"status_{user['status']}")
        if user["status"] == "LOCKED_OUT":
            return self.locked(username, user)
        expired = user["status"] == "PASSWORD_EXPIRED"
        if is_ad(user) and not user.get("password"):
            outcome = await delegated.check(org, user, password)
            org.syslog("user.authentication.auth_via_AD_agent", audit=self.audit, actor=user_actor(user),
                       targets=[user_target(user)],
                       result="SUCCESS" if outcome in ("ok", "password_expired", "must_change") else "FAILURE",
                       reason=None if outcome == "ok" else outcome, credential_type="PASSWORD",
                       message="Authenticate user via the Active Directory agent")
            if outcome == "locked":
                return self.locked(username, user)
            if outcome in ("password_expired", "must_change"):
                expired = True
            elif outcome != "ok":
                self.fail(username, user, f"ad_{outcome}")
        elif not password_matches(user, password):
            self.wrong_password(username, user)
        user["passwordFailures"] = 0
        org.people.save(user)
        options = data.get("options") if isinstance(data.get("options"), dict) else {}
        state = state or self.new_state(user)
        state.update(userId=user["id"], via="password", passwordExpired=expired,
                     multiOptionalFactorEnroll=bool((options or {}).get("multiOptionalFactorEnroll")))
        return self.advance(state, user, "password")

    def wrong_password(self, username: str, user: dict[str, Any]) -> NoReturn:
        """Count a wrong Okta password towards the PASSWORD policy's lockout, then fail."""
        org = self.org
        user["passwordFailures"] = int(user.get("passwordFailures", 0)) + 1
        limit, _ = policies.password_lockout(org, user)
        org.people.save(user)
        if limit and user["passwordFailures"] >= limit:
            set_status(org, user, "LOCKED_OUT")
            org.syslog("user.account.lock", audit=self.audit, actor=user_actor(user), targets=[user_target(user)],
                       reason="Max sign in attempts exceeded", message="Max sign in attempts exceeded")
            org.record("okta.user.lock", self.audit, outcome="locked", user=user["profile"]["login"],
                       failures=user["passwordFailures"])
        self.fail(username, user, "bad_password")

    def by_activation_token(self, data: dict[str, Any]) -> dict[str, Any]:
        org = self.org
        tok = string_field(data, "token", required=True) or ""
        user = org.people.by_activation_token(tok)
        if user is None or org.now() >= float(user.get("activationExpiresTs") or 0) \
                or user["status"] not in ("PROVISIONED", "ACTIVE", "RECOVERY"):
            org.record("okta.authn", self.audit, outcome="E0000004", reason="invalid_activation_token")
            raise OktaError("E0000004")
        state = self.new_state(user, via="token")
        org.syslog("user.authentication.sso", audit=self.audit, actor=user_actor(user),
                   targets=[user_target(user)], message="User signed in with an activation token")
        if user["status"] == "PROVISIONED" and not is_ad(user):
            state["status"] = "PASSWORD_RESET"       # the token is spent when the password is set
            return self.respond(state, user)
        user.pop("activationToken", None)            # AD-sourced: AD holds the password; spent now
        user.pop("activationExpiresTs", None)
        org.people.save(user)
        return self.advance(state, user, "activation_token")

    def start_for_app(self, app: dict[str, Any]) -> dict[str, Any]:
        """An app's link opened without a session: UNAUTHENTICATED with the app as the target."""
        state = self.new_state(None, target={
            "type": "APP", "name": app["name"], "label": app["label"],
            "_links": {"logo": [], "self": shapes.link(self.org.href(f"/api/v1/apps/{app['id']}"))}})
        return self.respond(state, None)

    def cancel(self, data: dict[str, Any]) -> dict[str, Any]:
        state = self.load(data)
        self.org.store.delete(TRANSACTIONS, state["id"])
        self.org.record("okta.authn", self.audit, outcome="cancelled")
        return {}

    # -- passwords ------------------------------------------------------------------------------
    def reset_password(self, data: dict[str, Any]) -> dict[str, Any]:
        """PASSWORD_RESET (an Okta-mastered user's activation): set the first password."""
        org = self.org
        state = self.load(data, "PASSWORD_RESET")
        user = self.user_of(state)
        new = string_field(data, "newPassword", required=True) or ""
        if not complexity_ok(new, user["profile"]["login"]):
            self.save(state)
            raise OktaError("E0000080", causes=[COMPLEXITY_HINT])
        org.people.set_password(user, new)
        user.update(passwordChanged=org.iso(), passwordFailures=0)
        user.pop("activationToken", None)
        user.pop("activationExpiresTs", None)
        org.people.save(user)
        if user["status"] != "ACTIVE":
            set_status(org, user, "ACTIVE")
        org.syslog("user.account.reset_password", audit=self.audit, actor=user_actor(user),
                   targets=[user_target(user)], message="User reset password for Okta")
        return self.advance(state, user, "reset_password")

    async def change_password(self, data: dict[str, Any]) -> dict[str, Any]:
        """PASSWORD_EXPIRED: the old password and a new one. An AD user's is changed in AD by the
        AD agent (delegated.change_password), as delegated authentication checks it there."""
        org = self.org
        state = self.load(data, "PASSWORD_EXPIRED")
        user = self.user_of(state)
        old = string_field(data, "oldPassword", required=True) or ""
        new = string_field(data, "newPassword", required=True) or ""
        if is_ad(user) and not user.get("password"):
            return await self._change_in_ad(state, user, old, new)
        if not password_matches(user, old):
            self.save(state)
            raise OktaError("E0000014", causes=["oldPassword: Old password is not correct"])
        if not complexity_ok(new, user["profile"]["login"]) or new == old:
            self.save(state)
            raise OktaError("E0000080", causes=["Password requirements were not met."])
        org.people.set_password(user, new)
        return self._password_changed(state, user, "Okta")

    async def _change_in_ad(self, state: dict[str, Any], user: dict[str, Any], old: str, new: str) -> dict[str, Any]:
        org = self.org
        if new == old:
            self.save(state)
            raise OktaError("E0000080", causes=["Password requirements were not met."])
        outcome = await delegated.change_password(org, user, old, new)
        org.record("okta.password_change", self.audit, outcome=outcome, user=user["profile"]["login"],
                   directory="active_directory")
        if outcome != "ok":
            self.save(state)
            org.syslog("user.account.update_password", audit=self.audit, result="FAILURE", reason=outcome,
                       actor=user_actor(user), targets=[user_target(user)],
                       message="User update password for Active Directory")
            if outcome == "policy":
                raise OktaError("E0000080", causes=["Password requirements were not met."])
            if outcome == "bad_old_password":
                raise OktaError("E0000014", causes=["oldPassword: Old password is not correct"])
            raise OktaError("E0000014", causes=["Active Directory could not be reached to change the "
                                                "password: no Okta AD agent answered"])
        return self._password_changed(state, user, "Active Directory")

    def _password_changed(self, state: dict[str, Any], user: dict[str, Any], where: str) -> dict[str, Any]:
        """After a password change (in Okta or in AD): the user active again, the sign-in goes on."""
        org = self.org
        user["passwordChanged"] = org.iso()
        org.people.save(user)
        if user["status"] == "PASSWORD_EXPIRED":
            set_status(org, user, "ACTIVE")
        state["passwordExpired"] = False
        org.syslog("user.account.update_password", audit=self.audit, actor=user_actor(user),
                   targets=[user_target(user)], message=f"User update password for {where}")
        return self.advance(state, user, "change_password")
