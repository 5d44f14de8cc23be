"""Pending Access-Challenge transactions, keyed by the State the agent sent (RFC 2865 §5.24).

Why the agent keeps them: with "Okta performs primary authentication" and no factor in the
password, the exchange takes several Access-Requests (password → factor menu → passcode). Each
round carries back the opaque State; the Okta `stateToken` behind it stays here, never on the wire.

Rules (docs/radius.md, "Challenges"):
- a State is single-use: `take()` removes it, so a replayed round is rejected;
- it expires after `ragent.mfa.timeout.seconds` (default 60);
- it is bound to the app and the User-Name it was issued for;
- it lives in this agent's memory only: a round that lands on another agent is rejected there.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STATE_PREFIX = b"okta-ragent:"       # makes our States recognisable in captures; the rest is random

FACTOR_LABELS = {
    ("push", "OKTA"): "Okta Verify Push",
    ("token:software:totp", "OKTA"): "Okta Verify TOTP",
    ("token:software:totp", "GOOGLE"): "Google Authenticator",
    ("sms", "OKTA"): "SMS",
    ("call", "OKTA"): "Voice Call",
    ("email", "OKTA"): "Email",
    ("token:hardware", "YUBICO"): "YubiKey",
    ("token:hotp", "CUSTOM"): "Custom HOTP",
}
MAX_MENU = 8                         # "no more than eight" (Okta; the prompt gets too long)


def factor_label(f: dict[str, Any]) -> str:
    return FACTOR_LABELS.get((str(f.get("factorType")), str(f.get("provider"))), str(f.get("factorType")))


def menu(factors: list[dict[str, Any]]) -> str:
    """The factor-selection prompt (lab wording; Okta publishes only screenshots)."""
    return "Select factor: " + ", ".join(f"{i} - {factor_label(f)}" for i, f in enumerate(factors, 1))


@dataclass
class Pending:
    """One challenge round waiting for the client's answer. `step`: "select" or "passcode"."""
    app_id: str
    user_name: str
    user_id: str
    login: str
    state_token: str = field(repr=False)       # Okta's authn stateToken: a credential, never logged
    step: str
    factors: list[dict[str, Any]] = field(default_factory=list)   # "select": the menu, in order
    factor: dict[str, Any] | None = None                          # "passcode": the factor to verify
    expires: float = 0.0


class ChallengeStore:
    def __init__(self, ttl: float, max_entries: int = 10000,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        self._pending: dict[bytes, Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def issue(self, pending: Pending) -> bytes:
        self._expire()
        while len(self._pending) >= self.max_entries:      # oldest first (dicts keep insertion order)
            self._pending.pop(next(iter(self._pending)))
        state = STATE_PREFIX + secrets.token_hex(16).encode()
        pending.expires = self._now() + self.ttl
        self._pending[state] = pending
        return state

    def take(self, state: bytes) -> tuple[Pending | None, str]:
        """Remove and return the round for `state`, or (None, why) when unknown or expired."""
        pending = self._pending.pop(state, None)
        if pending is None:
            return None, "unknown or already used State"
        if self._now() >= pending.expires:
            return None, f"the challenge expired (ragent.mfa.timeout.seconds={self.ttl:g})"
        return pending, ""

    def clear(self) -> None:
        self._pending.clear()

    def _expire(self) -> None:
        now = self._now()
        for state in [s for s, p in self._pending.items() if now >= p.expires]:
            del self._pending[state]
