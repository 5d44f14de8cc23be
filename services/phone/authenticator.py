"""The phone's state: Okta Verify accounts, kept in a JSON file so it survives restarts. A person
may carry several devices (a second phone enrolled for push): one account per (login, device).

An account holds what the real app keeps after enrolment: the TOTP secret read from an
`otpauth://` QR code, and the push factor's device credential returned by the org when the phone
enrolled through an `oktaverify://` QR code. It also holds how the "user" answers pushes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
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
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
DEFAULT_DEVICE = "Lab iPhone"
MIN_SECRET_BYTES = 10      # 80 bits: the shortest secret authenticator apps accept (RFC 4226 asks 128)


def clean_secret(raw: str) -> str:
    """An otpauth `secret` as authenticator apps read it: base32, case and spaces ignored,
    padding optional. ValueError (a message for the person scanning) when it is not one."""
    secret = raw.replace(" ", "").upper().rstrip("=")
    if not secret:
        raise ValueError("the QR code's secret is empty")
    try:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("the QR code's secret is not valid base32 (letters A-Z and digits 2-7)") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the QR code's secret is too short ({len(key) * 8} bits; at least "
                         f"{MIN_SECRET_BYTES * 8} are needed)")
    return secret


def _int_param(params: dict[str, str], name: str, default: int, allowed: range) -> int:
    raw = params.get(name, str(default))
    if not raw.isdigit() or int(raw) not in allowed:
        raise ValueError(f"the QR code's {name} must be a whole number from {allowed.start} to {allowed.stop - 1}")
    return int(raw)


@dataclass
class Account:
    login: str
    totp_secret: str | None = None
    totp_digits: int = 6
    totp_period: int = 30
    totp_algorithm: str = "SHA1"
    issuer: str | None = None
    push_factor_id: str | None = None
    device_credential: str | None = None
    action: str = "approve"
    after: float = 0.0
    device: str = DEFAULT_DEVICE

    @property
    def key(self) -> str:
        return account_key(self.login, self.device)

    def public(self) -> dict[str, Any]:
        """What the app's account list shows: no secrets."""
        return {
            "login": self.login,
            "device": self.device,
            "issuer": self.issuer,
            "totp": self.totp_secret is not None,
            "digits": self.totp_digits,
            "period": self.totp_period,
            "push": self.device_credential is not None,
            "respond": {"action": self.action, "after": self.after},
        }


def account_key(login: str, device: str) -> str:
    return login if device == DEFAULT_DEVICE else f"{login}|{device}"


class NoSuchAccount(KeyError):
    pass


class InvalidAccount(ValueError):
    """A stored account that cannot work (its message says what to do)."""


@dataclass
class Wallet:
    path: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.path.exists():
            raw = json.loads(self.path.read_text())
            known = set(Account.__dataclass_fields__)
            loaded = [Account(**{k: v for k, v in a.items() if k in known}) for a in raw.get("accounts", [])]
            self.accounts = {a.key: a for a in loaded}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"accounts": [asdict(a) for a in self.accounts.values()]}, fh, indent=2)
        tmp.replace(self.path)

    def find(self, user: str, device: str | None = None) -> Account:
        """By Okta login, or by the part before the @ (what a trainer types: `alice`); `device`
        picks one of that login's devices (without it: the first enrolled)."""
        wanted = user.lower()
        matches = [a for a in self.accounts.values() if a.login.lower() == wanted]
        if not matches:
            matches = [a for a in self.accounts.values() if a.login.lower().split("@")[0] == wanted]
            if len({a.login for a in matches}) != 1:
                raise NoSuchAccount(user)
        if device is not None:
            matches = [a for a in matches if a.device.lower() == device.lower()]
        if not matches:
            raise NoSuchAccount(user)
        return matches[0]

    def by_factor(self, factor_id: Any) -> Account | None:
        """The device enrolled for this push factor (the org pushes to one factor's device)."""
        return next((a for a in self.accounts.values() if a.push_factor_id and a.push_factor_id == factor_id), None)

    def account(self, login: str, device: str = DEFAULT_DEVICE) -> Account:
        with self._lock:
            key = account_key(login, device)
            acc = self.accounts.get(key)
            if acc is None:
                acc = self.accounts[key] = Account(login=login, device=device)
            return acc

    def add_totp(self, uri: str) -> Account:
        """Read an `otpauth://totp/<issuer>:<login>?secret=...` URI, as the camera would."""
        parsed = urlparse(uri)
        if parsed.scheme != "otpauth" or parsed.netloc != "totp":
            raise ValueError("not an otpauth://totp URI")
        params = {k: v[0] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        if "secret" not in params:
            raise ValueError("the otpauth URI has no secret")
        label = unquote(parsed.path.lstrip("/"))
        issuer, _, login = label.rpartition(":")
        login = login.strip()
        if not login:
            raise ValueError("the QR code names no account (otpauth://totp/<issuer>:<account>)")
        # Everything checked before anything is stored: a bad account would answer errors forever.
        secret = clean_secret(params["secret"])
        digits = _int_param(params, "digits", 6, range(6, 9))
        period = _int_param(params, "period", 30, range(1, 301))
        algorithm = params.get("algorithm", "SHA1").upper()
        if algorithm not in DIGESTS:
            raise ValueError(f"the QR code's algorithm must be one of {', '.join(DIGESTS)}")
        acc = self.account(login)
        acc.totp_secret, acc.totp_digits, acc.totp_period, acc.totp_algorithm = secret, digits, period, algorithm
        acc.issuer = params.get("issuer", issuer or None)
        self.save()
        return acc

    def code(self, user: str, at: float) -> tuple[str, int]:
        """The code the app shows at time `at`, and seconds until it changes. InvalidAccount when
        the stored secret is unusable (an account scanned before scans were checked)."""
        login = self.find(user).login         # the codes of whichever device holds a TOTP secret
        acc = next((a for a in self.accounts.values() if a.totp_secret is not None and a.login == login), None)
        if acc is None or acc.totp_secret is None:
            raise NoSuchAccount(user)
        try:
            secret = clean_secret(acc.totp_secret)
            if acc.totp_algorithm not in DIGESTS or acc.totp_digits not in range(6, 9) or acc.totp_period < 1:
                raise ValueError("its digits, period or algorithm are not valid")
        except ValueError as exc:
            raise InvalidAccount(f"the Okta Verify account {acc.login} cannot show codes: {exc}; "
                                 "remove it and scan its QR code again") from None
        totp = pyotp.TOTP(secret, digits=acc.totp_digits, interval=acc.totp_period,
                          digest=DIGESTS[acc.totp_algorithm])
        remaining = acc.totp_period - int(at) % acc.totp_period
        return totp.at(at), remaining

    def accounts_of(self, person: str) -> list[Account]:
        """The accounts on `person`'s phone: their logins' part before the @ is the person."""
        wanted = person.lower()
        return [a for a in self.accounts.values() if a.login.lower().split("@")[0] == wanted]

    def remove(self, user: str, device: str | None = None) -> Account:
        with self._lock:
            acc = self.find(user, device)
            del self.accounts[acc.key]
        self.save()
        return acc

    def set_behaviour(self, user: str, action: str, after: float, device: str | None = None) -> Account:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        if not math.isfinite(after):     # "nan", "inf" and "1e999" all parse as floats
            raise ValueError("after must be a finite number of seconds")
        if after < 0:
            raise ValueError("after must be zero or more seconds")
        acc = self.find(user, device)
        # without a device, every device of that login answers the same way
        for each in ([acc] if device is not None else [a for a in self.accounts.values() if a.login == acc.login]):
            each.action, each.after = action, float(after)
        self.save()
        return acc
