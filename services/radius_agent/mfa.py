"""Okta's RADIUS semantics: what the agent does with a User-Name and a (decrypted) User-Password.

This module knows nothing about packets. `Verifier.authenticate()` takes the app the request came
in on, the user name, the password and the State (if the request answers a challenge), and returns
an `Outcome` (accept / reject / challenge / no answer, the method, the reason for the agent's log,
and reply attributes). The rules (docs/radius.md, "What the RADIUS password means"):

- Every request first resolves User-Name to an Okta user (`resolve.py`: format mismatch, not
  assigned, suspended, locked out... each rejected with its reason).
- MFA only (the app's primaryAuth false, the WorkSpaces setting): the password is either a
  keyword, `push`, `sms`, `call` or `email` in any case, or a passcode tried against each ACTIVE
  OTP factor of the user until one verifies ("processed by each handler until it is validated").
  A user with no ACTIVE factor is "not enrolled": rejected, naming the app's inlineEnrollment.
- `push`: verify the user's ACTIVE push factor (several devices: `model.choose_push`), then poll
  the transaction until SUCCESS (accept),
  REJECTED or TIMEOUT (reject). The agent gives the push half of the request timeout
  (ragent.request.timeout.millisecond, 60000 → 30 s).
- `sms`/`call`/`email`: ask the org to send an OTP and answer Access-Reject ("initially returns a
  failure"); the user's next request carries that OTP, which verifies against that factor.
- primaryAuth true: `primary.py` (password, `password,code`, `password,push`, or the
  Access-Challenge dialogue with State).
- Accept + the app's groupReturn: the user's groups go in attribute 11, 25 or 26 (`groups.py`).
- Timeouts follow ragent.request.timeout.response.mode: SEND_REJECT_ON_POLL_MFA (reject when the
  push poll runs out of time, no answer for any other timeout), SEND_REJECT_ALWAYS, NO_RESPONSE.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from . import primary
from .challenge import ChallengeStore
from .groups import group_attributes
from .model import (
    KEYWORDS,
    OTP_ERRORS,
    OTP_FACTOR_TYPES,
    AgentTimeout,
    App,
    Challenge,
    Outcome,
    Policy,
    Reject,
    Result,
    choose_push,
)
from .org import OrgClient, OrgError, OrgTimeout, OrgUnreachable, Timer
from .resolve import resolve_user


class Verifier:
    def __init__(self, org: OrgClient, policy: Policy, challenges: ChallengeStore | None = None) -> None:
        self.org = org
        self.policy = policy
        self.challenges = challenges or ChallengeStore(ttl=policy.mfa_timeout)

    async def authenticate(self, app: App, username: str, password: str, *, arrived: float,
                           trace: str, timer: Timer, state: bytes | None = None) -> Outcome:
        """Decide one Access-Request. `arrived` is time.monotonic() when the packet came in."""
        ctx = RequestContext(self, app, username, password, arrived, trace, timer, state)
        method = ctx.method
        try:
            return await asyncio.wait_for(ctx.run(), timeout=max(ctx.deadline - time.monotonic(), 0.001))
        except Challenge as ch:
            return Outcome("challenge", method, f"Access-Challenge sent: {ch.prompt}", ctx.user_id, ctx.login,
                           state=ch.state, prompt=ch.prompt)
        except Reject as exc:
            return Outcome("reject", method, str(exc), ctx.user_id, ctx.login)
        except (TimeoutError, AgentTimeout, OrgTimeout) as exc:
            in_poll = isinstance(exc, AgentTimeout) and exc.in_poll
            return Outcome(self._on_timeout(in_poll), method,
                           f"timed out ({exc or 'request budget spent'}); response mode "
                           f"{self.policy.response_mode}", ctx.user_id, ctx.login)
        except OrgUnreachable as exc:
            return Outcome("reject", method, f"cannot reach the Okta org: {exc}", ctx.user_id, ctx.login)
        except OrgError as exc:
            if exc.status == 401:
                return Outcome("reject", method, f"the org refused the agent's API token ({exc.error_code} "
                               f"{exc.summary}): agent DISRUPTED", ctx.user_id, ctx.login, org_unauthorized=True)
            return Outcome("reject", method, f"the org answered {exc}", ctx.user_id, ctx.login)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # an org answer of an unexpected shape: a reject with the cause, never a traceback
            return Outcome("reject", method, f"unexpected answer from the org: {exc!r}", ctx.user_id, ctx.login)

    def _on_timeout(self, in_poll: bool) -> Result:
        mode = self.policy.response_mode
        if mode == "SEND_REJECT_ALWAYS":
            return "reject"
        if mode == "SEND_REJECT_ON_POLL_MFA" and in_poll:
            return "reject"
        return "none"


class RequestContext:
    """One request's walk through Okta's rules (kept apart so the Verifier stays stateless).
    `primary.py`, `resolve.py` and `groups.py` take it as their `ctx`."""

    def __init__(self, verifier: Verifier, app: App, username: str, password: str,
                 arrived: float, trace: str, timer: Timer, state: bytes | None = None) -> None:
        self.org = verifier.org
        self.policy = verifier.policy
        self.challenges = verifier.challenges
        self.app, self.username, self.password, self.state = app, username, password, state
        self.deadline = arrived + self.policy.timeout
        self.push_deadline = arrived + self.policy.push_budget
        self.trace, self.timer = trace, timer
        self.user_id: str | None = None
        self.login: str | None = None
        self.method = self._method()

    def _method(self) -> str:
        if self.app.primary_auth:
            return primary.method_of(self.password, self.state)
        word = self.password.lower()
        return word if word in KEYWORDS else "code"

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AgentTimeout("request budget spent", in_poll=False)
        return left

    def poll_left(self) -> float:
        """Time left for a push poll: the push budget (half the request timeout)."""
        left = min(self.push_deadline, self.deadline) - time.monotonic()
        if left <= 0:
            raise AgentTimeout("push not answered within the agent's push budget "
                               f"({self.policy.push_budget:.0f} s)", in_poll=True)
        return left

    # -- the walk -------------------------------------------------------------------------
    async def run(self) -> Outcome:
        if not self.username:
            raise Reject("the request has no User-Name")
        user = await resolve_user(self)
        self.user_id, self.login = user.id, user.login
        if self.app.primary_auth:
            outcome = await primary.authenticate(self)
        elif self.state is not None:
            raise Reject("the request carries a State, but this app (MFA only) never sends Access-Challenge")
        elif self.method == "push":
            outcome = await self._push()
        elif self.method in ("sms", "call", "email"):
            outcome = await self._send_otp(self.method)
        else:
            outcome = await self._code(self.password)
        if outcome.result == "accept" and self.app.group_return is not None:
            try:
                outcome.groups, outcome.attributes = await group_attributes(self, user.id, self.app.group_return)
            except OrgError as exc:
                if exc.status == 401:
                    raise
                raise Reject(f"authenticated, but the user's groups for the app's group return could not "
                             f"be read: {exc}") from None
        return outcome

    async def active_factors(self) -> list[dict[str, Any]]:
        """The user's ACTIVE factors; none at all means "not enrolled" (failure F5, docs/radius.md)."""
        assert self.user_id
        factors = await self.org.factors(self.user_id, timeout=self.left(), trace=self.trace, timer=self.timer)
        active = [f for f in factors if f.get("status") == "ACTIVE"]
        if not active:
            if self.app.inline_enrollment:
                raise Reject(f"User {self.username} is not enrolled in MFA (no ACTIVE factor); the app permits "
                             "inline enrollment, but enrolling needs an Access-Challenge dialogue, which an "
                             "MFA-only app does not have")
            raise Reject(f"User {self.username} is not enrolled in MFA (no ACTIVE factor) and the app does "
                         "not permit inline enrollment (inlineEnrollment=false)")
        return active

    async def _code(self, code: str) -> Outcome:
        if not code:
            raise Reject("empty passcode")
        factors = await self.active_factors()
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
                last = OTP_ERRORS.get(exc.error_code or "", f"the org answered {exc}")
                continue
            if body.get("factorResult") == "SUCCESS":
                return Outcome("accept", "code", None, self.user_id, self.login)
            last = f"factorResult {body.get('factorResult')}"
        raise Reject(f"Authentication failed, {last} (tried {len(candidates)} factor(s))")

    async def _push(self) -> Outcome:
        factors = await self.active_factors()
        push, note = choose_push(factors, self.policy.multi_device)
        assert self.user_id
        body = await self.org.verify(self.user_id, push["id"], None, timeout=self.left(),
                                     trace=self.trace, timer=self.timer)
        if isinstance((body.get("_embedded") or {}).get("challenge"), dict):
            # Okta: number challenge is not supported over RADIUS; nothing can show the number
            number = ("the org sent the push with a number challenge, which a RADIUS client cannot show "
                      "(Okta's \"Disable number matching challenge for RADIUS\" is off)")
            note = f"{note}; {number}" if note else number
        try:
            outcome = await self._poll_push(body)
            outcome.reason = note
            return outcome
        except Reject as exc:
            raise Reject(f"{exc}; {note}" if note else str(exc)) from None
        except AgentTimeout:
            # Nobody will hear the answer any more: withdraw the push so a late approval on the
            # phone cannot count for a sign-in that has already failed.
            cancel = ((body.get("_links") or {}).get("cancel") or {}).get("href")
            if cancel:
                await self.org.cancel(cancel, trace=self.trace)
            raise

    async def _poll_push(self, body: dict[str, Any]) -> Outcome:
        while True:
            result = body.get("factorResult")
            if result == "SUCCESS":
                return Outcome("accept", "push", None, self.user_id, self.login)
            if result == "REJECTED":
                raise Reject("User rejected the Okta Verify push")
            if result == "TIMEOUT":
                raise Reject("the Okta Verify push timed out at Okta (no answer from the user)")
            if result != "WAITING":
                raise Reject(f"unexpected factorResult {result!r} from the org")
            href = ((body.get("_links") or {}).get("poll") or {}).get("href")
            if not href:
                raise Reject("the org gave no poll link for the push transaction")
            await asyncio.sleep(min(self.policy.poll_interval, self.poll_left()))
            try:
                body = await self.org.poll(href, timeout=self.poll_left(), trace=self.trace, timer=self.timer)
            except OrgTimeout as exc:
                # A poll cut short by the push budget (it had only what was left of it) is the
                # budget's doing: say so, as when the budget runs out between polls.
                self.poll_left()
                raise AgentTimeout(str(exc), in_poll=True) from None

    async def _send_otp(self, kind: str) -> Outcome:
        factors = await self.active_factors()
        factor = next((f for f in factors if f.get("factorType") == kind), None)
        if factor is None:
            raise Reject(f"the user has no ACTIVE {kind} factor")
        assert self.user_id
        try:
            await self.org.verify(self.user_id, factor["id"], None, timeout=self.left(),
                                  trace=self.trace, timer=self.timer)
        except OrgError as exc:
            if exc.status == 401:
                raise
            raise Reject(f"the org did not send the {kind} passcode: {exc}") from None
        # Okta: the keyword "initially returns a failure"; the OTP sent is used in the next request.
        raise Reject(f"one-time passcode sent by {kind}; Okta rejects the keyword request itself")
