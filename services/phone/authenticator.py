"""The phone's state: one Okta Verify account per user, kept in a JSON file so it survives restarts.

An account holds what the real app keeps after enrolment: the TOTP secret read from an
`otpauth://` QR code, and the push factor's device credential returned by the org when the phone
enrolled through an `oktaverify://` QR code. It also holds how the "user" answers pushes.
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pyotp

ACTIONS = ("approve", "deny", "ignore")


@dataclass
class Account:
    login: str
    totp_secret: str | None = None
    totp_digits: int = 6
    totp_period: int = 30
    issuer: str | None = None
    push_factor_id: str | None = None
    device_credential: str | None = None
    action: str = "approve"
    after: float = 0.0

    def public(self) -> dict[str, Any]:
        """What the app's account list shows: no secrets."""
        return {
            "login": self.login,
            "issuer": self.issuer,
            "totp": self.totp_secret is not None,
            "push": self.device_credential is not None,
            "respond": {"action": self.action, "after": self.after},
        }


class NoSuchAccount(KeyError):
    pass


@dataclass
class Wallet:
    path: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.path.exists():
            raw = json.loads(self.path.read_text())
            self.accounts = {a["login"]: Account(**a) for a in raw.get("accounts", [])}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"accounts": [asdict(a) for a in self.accounts.values()]}, fh, indent=2)
        tmp.replace(self.path)

    def find(self, user: str) -> Account:
        """By Okta login, or by the part before the @ (what a trainer types: `alice`)."""
        wanted = user.lower()
        for acc in self.accounts.values():
            if acc.login.lower() == wanted:
                return acc
        matches = [a for a in self.accounts.values() if a.login.lower().split("@")[0] == wanted]
        if len(matches) == 1:
            return matches[0]
        raise NoSuchAccount(user)

    def account(self, login: str) -> Account:
        with self._lock:
            acc = self.accounts.get(login)
            if acc is None:
                acc = self.accounts[login] = Account(login=login)
            return acc

    def add_totp(self, uri: str) -> Account:
        """Read an `otpauth://totp/<issuer>:<login>?secret=...` URI, as the camera would."""
        parsed = urlparse(uri)
        if parsed.scheme != "otpauth" or parsed.netloc != "totp":
            raise ValueError("not an otpauth://totp URI")
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if "secret" not in params:
            raise ValueError("the otpauth URI has no secret")
        label = unquote(parsed.path.lstrip("/"))
        issuer, _, login = label.rpartition(":")
        acc = self.account(login)
        acc.totp_secret = params["secret"]
        acc.totp_digits = int(params.get("digits", 6))
        acc.totp_period = int(params.get("period", 30))
        acc.issuer = params.get("issuer", issuer or None)
        self.save()
        return acc

    def code(self, user: str, at: float) -> tuple[str, int]:
        """The code the app shows at time `at`, and seconds until it changes."""
        acc = self.find(user)
        if acc.totp_secret is None:
            raise NoSuchAccount(user)
        totp = pyotp.TOTP(acc.totp_secret, digits=acc.totp_digits, interval=acc.totp_period)
        remaining = acc.totp_period - int(at) % acc.totp_period
        return totp.at(at), remaining

    def set_behaviour(self, user: str, action: str, after: float) -> Account:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        if not math.isfinite(after):     # "nan", "inf" and "1e999" all parse as floats
            raise ValueError("after must be a finite number of seconds")
        if after < 0:
            raise ValueError("after must be zero or more seconds")
        acc = self.find(user)
        acc.action, acc.after = action, float(after)
        self.save()
        return acc
