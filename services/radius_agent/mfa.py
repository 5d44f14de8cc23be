"""Okta's RADIUS semantics: what the agent does with a User-Name and a (decrypted) User-Password.

This module knows nothing about packets. `Verifier.authenticate()` takes the app the request came
in on, the user name and the password, and returns an `Outcome` (accept / reject / no answer, the
method, and the reason that goes to the agent's log). The rules, from spec/okta.md §1:

- MFA only (the app's primaryAuth false, the WorkSpaces setting): the password is either a
  keyword, `push`, `sms`, `call` or `email` in any case, or a passcode tried against each ACTIVE
  OTP factor of the user until one verifies ("processed by each handler until it is validated").
- `push`: verify the user's ACTIVE push factor, then poll the transaction until SUCCESS (accept),
  REJECTED or TIMEOUT (reject). The agent gives the push half of the request timeout
  (ragent.request.timeout.millisecond, 60000 → 30 s).
- `sms`/`call`/`email`: ask the org to send an OTP and answer Access-Reject; the user's next
  request carries that OTP.
- primaryAuth true: the password is `password` or `password,code` / `password,push` and Okta
  checks the password with /api/v1/authn. AD Connector sends only the MFA code, so with this
  setting every WorkSpaces sign-in fails (failure F7), which is the point of emulating it.
- Timeouts follow ragent.request.timeout.response.mode: SEND_REJECT_ON_POLL_MFA (reject when the
  push poll runs out of time, no answer for any other timeout), SEND_REJECT_ALWAYS, NO_RESPONSE.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .org import OrgClient, OrgError, OrgTimeout, OrgUnreachable, Timer

Result = Literal["accept", "reject", "none"]

KEYWORDS = {"push", "sms", "call", "email"}
# Factor types whose verify takes a passCode, in the order a code is tried against them.
OTP_FACTOR_TYPES = ("token:software:totp", "token:hotp", "token", "token:hardware", "sms", "call", "email")

RESPONSE_MODES = ("SEND_REJECT_ON_POLL_MFA", "SEND_REJECT_ALWAYS", "NO_RESPONSE")


@dataclass
class App:
    """One RADIUS app of the org, as GET /api/v1/radius/apps gives it."""
    id: str
    label: str
    port: int
    secret: bytes = field(repr=False)
    primary_auth: bool = False
    require_message_authenticator: bool = False
    username_template: Any = None
    inline_enrollment: bool = False

    @classmethod
    def from_org(cls, data: dict[str, Any]) -> "App":
        return cls(
            id=str(data["id"]), label=str(data.get("label", data["id"])), port=int(data["port"]),
            secret=str(data["sharedSecret"]).encode("utf-8"),
            primary_auth=bool(data.get("primaryAuth", False)),
            require_message_authenticator=bool(data.get("requireMessageAuthenticator", False)),
            username_template=data.get("usernameTemplate"),
            inline_enrollment=bool(data.get("inlineEnrollment", False)),
        )


@dataclass
class Policy:
    """The agent's config.properties, read from the service settings with Okta's names."""
    timeout: float = 60.0                         # ragent.request.timeout.millisecond / 1000
    response_mode: str = "SEND_REJECT_ON_POLL_MFA"
    poll_interval: float = 1.0                    # lab: seconds between transaction polls
    strip_domain: bool = False                    # lab: strip DOMAIN\ from User-Name

    @property
    def push_budget(self) -> float:
        """"For Okta Verify Push the agent uses half the value" (spec/okta.md §1.9)."""
        return self.timeout / 2

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "Policy":
        ms = settings.get("ragent.request.timeout.millisecond",
                          settings.get("ragent.total.request.timeout.millisecond", 60000))
        mode = str(settings.get("ragent.request.timeout.response.mode", "SEND_REJECT_ON_POLL_MFA")).upper()
        if mode not in RESPONSE_MODES:
            raise ValueError(f"ragent.request.timeout.response.mode must be one of {', '.join(RESPONSE_MODES)}")
        return cls(timeout=float(ms) / 1000.0, response_mode=mode,
                   poll_interval=float(settings.get("push_poll_interval_seconds", 1.0)),
                   strip_domain=bool(settings.get("username_strip_domain", False)))


@dataclass
class Outcome:
    result: Result
    method: str                       # "code", "push", "sms", "call", "email", "password", "-"
    reason: str | None = None         # for the log and the event; never a secret
    user_id: str | None = None
    login: str | None = None
    org_unauthorized: bool = False    # the org said 401: the agent's token is bad (DISRUPTED)


class AgentTimeout(Exception):
    """The request ran out of its budget. `in_poll`: it happened while polling an MFA push."""

    def __init__(self, message: str, in_poll: bool):
        super().__init__(message)
        self.in_poll = in_poll


class Reject(Exception):
    """Ends processing with Access-Reject and a reason for the log."""


class Verifier:
    def __init__(self, org: OrgClient, policy: Policy) -> None:
        self.org = org
        self.policy = policy

    async def authenticate(self, app: App, username: str, password: str, *, arrived: float,
                           trace: str, timer: Timer) -> Outcome:
        """Decide one Access-Request. `arrived` is time.monotonic() when the packet came in."""
        req = _Request(self, app, username, password, arrived, trace, timer)
        method = req.method
        try:
            return await asyncio.wait_for(req.run(), timeout=max(req.deadline - time.monotonic(), 0.001))
        except Reject as exc:
            return Outcome("reject", method, str(exc), req.user_id, req.login)
        except (AgentTimeout, OrgTimeout, asyncio.TimeoutError) as exc:
            in_poll = isinstance(exc, AgentTimeout) and exc.in_poll
            return Outcome(self._on_timeout(in_poll), method,
                           f"timed out ({exc or 'request budget spent'}); response mode "
                           f"{self.policy.response_mode}", req.user_id, req.login)
        except OrgUnreachable as exc:
            return Outcome("reject", method, f"cannot reach the Okta org: {exc}", req.user_id, req.login)
        except OrgError as exc:
            if exc.status == 401:
                return Outcome("reject", method, f"the org refused the agent's API token ({exc.error_code} "
                               f"{exc.summary}): agent DISRUPTED", req.user_id, req.login, org_unauthorized=True)
            return Outcome("reject", method, f"the org answered {exc}", req.user_id, req.login)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # an org answer of an unexpected shape: a reject with the cause, never a traceback
            return Outcome("reject", method, f"unexpected answer from the org: {exc!r}", req.user_id, req.login)

    def _on_timeout(self, in_poll: bool) -> Result:
        mode = self.policy.response_mode
        if mode == "SEND_REJECT_ALWAYS":
            return "reject"
        if mode == "SEND_REJECT_ON_POLL_MFA" and in_poll:
            return "reject"
        return "none"


class _Request:
    """One request's walk through Okta's rules (kept apart so the Verifier stays stateless)."""

    def __init__(self, verifier: Verifier, app: App, username: str, password: str,
                 arrived: float, trace: str, timer: Timer) -> None:
        self.org = verifier.org
        self.policy = verifier.policy
        self.app, self.username, self.password = app, username, password
        self.deadline = arrived + self.policy.timeout
        self.push_deadline = arrived + self.policy.push_budget
        self.trace, self.timer = trace, timer
        self.user_id: str | None = None
        self.login: str | None = None
        self.method = self._method()

    def _method(self) -> str:
        if self.app.primary_auth:
            _, sep, suffix = self.password.rpartition(",")
            second = suffix.lower() if sep else ""
            return "password," + ("push" if second == "push" else "code") if sep else "password"
        word = self.password.lower()
        return word if word in KEYWORDS else "code"

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AgentTimeout("request budget spent", in_poll=False)
        return left

    # -- the walk -------------------------------------------------------------------------
    async def run(self) -> Outcome:
        if not self.username:
            raise Reject("the request has no User-Name")
        self.user_id = await self._resolve_user()
        if self.app.primary_auth:
            return await self._primary_auth()
        if self.method == "push":
            return await self._push()
        if self.method in ("sms", "call", "email"):
            return await self._send_otp(self.method)
        return await self._code(self.password)

    async def _resolve_user(self) -> str:
        """User-Name → Okta user through the app's users, matching credentials.userName
        case-insensitively (spec/okta.md §10 item 5)."""
        name = self.username
        if self.policy.strip_domain and "\\" in name:
            name = name.split("\\", 1)[1]
        wanted = name.casefold()
        users = await self.org.app_users(self.app.id, q=name, timeout=self.left(), trace=self.trace,
                                         timer=self.timer)
        for au in users:
            cred = (au.get("credentials") or {}).get("userName")
            if isinstance(cred, str) and cred.casefold() == wanted:
                return str(au["id"])
        raise Reject(f"User {self.username} is not assigned to the app {self.app.label} "
                     f"(no app user with that username)")

    async def _factors(self) -> list[dict[str, Any]]:
        assert self.user_id
        factors = await self.org.factors(self.user_id, timeout=self.left(), trace=self.trace, timer=self.timer)
        return [f for f in factors if f.get("status") == "ACTIVE"]

    async def _code(self, code: str) -> Outcome:
        if not code:
            raise Reject("empty passcode")
        factors = await self._factors()
        candidates = sorted((f for f in factors if f.get("factorType") in OTP_FACTOR_TYPES),
                            key=lambda f: OTP_FACTOR_TYPES.index(f["factorType"]))
        if not candidates:
            raise Reject("the user has no ACTIVE factor that accepts a passcode")
        last = "passcode did not verify"
        for factor in candidates:
            try:
                body = await self.org.verify(self.user_id, factor["id"], {"passCode": code},  # type: ignore[arg-type]
                                             timeout=self.left(), trace=self.trace, timer=self.timer)
            except OrgError as exc:
                if exc.status == 401:
                    raise
                last = {"E0000068": "Invalid passcode", "E0000082": "passcode already used (replay)"}.get(
                    exc.error_code or "", f"the org answered {exc}")
                continue
            if body.get("factorResult") == "SUCCESS":
                return Outcome("accept", "code", None, self.user_id)
            last = f"factorResult {body.get('factorResult')}"
        raise Reject(f"Authentication failed, {last} (tried {len(candidates)} factor(s))")

    async def _push(self) -> Outcome:
        factors = await self._factors()
        push = next((f for f in factors if f.get("factorType") == "push"), None)
        if push is None:
            raise Reject("the user has no ACTIVE Okta Verify push factor")
        assert self.user_id
        body = await self.org.verify(self.user_id, push["id"], None, timeout=self.left(),
                                     trace=self.trace, timer=self.timer)
        try:
            return await self._poll_push(body, lambda href: self.org.poll(
                href, timeout=self._poll_timeout(), trace=self.trace, timer=self.timer))
        except AgentTimeout:
            # Nobody will hear the answer any more: withdraw the push so a late approval on the
            # phone cannot count for a sign-in that has already failed.
            cancel = ((body.get("_links") or {}).get("cancel") or {}).get("href")
            if cancel:
                await self.org.cancel(cancel, trace=self.trace)
            raise

    def _poll_timeout(self) -> float:
        left = min(self.push_deadline, self.deadline) - time.monotonic()
        if left <= 0:
            raise AgentTimeout("push not answered within the agent's push budget "
                               f"({self.policy.push_budget:.0f} s)", in_poll=True)
        return left

    async def _poll_push(self, body: dict[str, Any], fetch) -> Outcome:
        while True:
            result = body.get("factorResult")
            if result == "SUCCESS":
                return Outcome("accept", "push", None, self.user_id)
            if result == "REJECTED":
                raise Reject("User rejected the Okta Verify push")
            if result == "TIMEOUT":
                raise Reject("the Okta Verify push timed out at Okta (no answer from the user)")
            if result != "WAITING":
                raise Reject(f"unexpected factorResult {result!r} from the org")
            href = ((body.get("_links") or {}).get("poll") or {}).get("href")
            if not href:
                raise Reject("the org gave no poll link for the push transaction")
            await asyncio.sleep(min(self.policy.poll_interval, self._poll_timeout()))
            try:
                body = await fetch(href)
            except OrgTimeout as exc:
                raise AgentTimeout(str(exc), in_poll=True) from None

    async def _send_otp(self, kind: str) -> Outcome:
        factors = await self._factors()
        factor = next((f for f in factors if f.get("factorType") == kind), None)
        if factor is None:
            raise Reject(f"the user has no ACTIVE {kind} factor")
        assert self.user_id
        await self.org.verify(self.user_id, factor["id"], None, timeout=self.left(),
                              trace=self.trace, timer=self.timer)
        # Okta: the keyword "initially returns a failure"; the OTP sent is used in the next request.
        raise Reject(f"one-time passcode sent by {kind}; Okta rejects the keyword request itself")

    # -- "Okta performs primary authentication" ---------------------------------------------
    async def _primary_auth(self) -> Outcome:
        password, sep, second = self.password.rpartition(",")
        if not sep:
            password, second = self.password, ""
        assert self.user_id
        user = await self.org.user(self.user_id, timeout=self.left(), trace=self.trace, timer=self.timer)
        self.login = (user.get("profile") or {}).get("login") or self.username
        try:
            state = await self.org.authn({"username": self.login, "password": password},
                                         timeout=self.left(), trace=self.trace, timer=self.timer)
        except OrgError as exc:
            if exc.status == 401 and exc.error_code == "E0000004":
                raise Reject("Authentication failed: primary authentication (password) refused by Okta "
                             "(E0000004); with AD Connector the password field carries the MFA code, "
                             "so 'Okta performs primary authentication' must be cleared") from None
            if exc.status in (404, 405, 501):
                raise Reject(f"primary authentication is on but the org cannot verify a password "
                             f"(POST /api/v1/authn answered {exc.status})") from None
            raise
        status = state.get("status")
        if status == "SUCCESS":
            return Outcome("accept", self.method, None, self.user_id, self.login)
        if status != "MFA_REQUIRED":
            raise Reject(f"primary authentication ended in status {status}")
        if not second:
            raise Reject("MFA required after the password, but the request carries no ',passcode' or "
                         "',push' and this agent does not offer Access-Challenge")
        factors = (state.get("_embedded") or {}).get("factors") or []
        token = state.get("stateToken")
        if second.lower() == "push":
            factor = next((f for f in factors if f.get("factorType") == "push"), None)
            if factor is None:
                raise Reject("the user has no Okta Verify push factor")
            path = f"/api/v1/authn/factors/{factor['id']}/verify"
            body = await self.org.authn({"stateToken": token}, path=path, timeout=self.left(),
                                        trace=self.trace, timer=self.timer)
            while body.get("status") != "SUCCESS":
                if body.get("factorResult") in ("REJECTED", "TIMEOUT"):
                    raise Reject(f"push {body['factorResult'].lower()}")
                await asyncio.sleep(min(self.policy.poll_interval, self._poll_timeout()))
                body = await self.org.authn({"stateToken": token}, path=path, timeout=self._poll_timeout(),
                                            trace=self.trace, timer=self.timer)
            return Outcome("accept", self.method, None, self.user_id, self.login)
        for factor in factors:
            if factor.get("factorType") not in OTP_FACTOR_TYPES:
                continue
            try:
                body = await self.org.authn({"stateToken": token, "passCode": second},
                                            path=f"/api/v1/authn/factors/{factor['id']}/verify",
                                            timeout=self.left(), trace=self.trace, timer=self.timer)
            except OrgError as exc:
                if exc.status == 401 and exc.error_code == "E0000011":
                    raise
                continue
            if body.get("status") == "SUCCESS":
                return Outcome("accept", self.method, None, self.user_id, self.login)
        raise Reject("Authentication failed, the passcode after the password did not verify")
