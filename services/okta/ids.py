"""Identifiers shaped like Okta's: 20 characters, a 3-character type prefix (00u users, 00g
groups, 0oa apps, opf push factors, ost Okta TOTP, uft Google TOTP,
mbl SMS, clf voice call, emf email), then random alphanumerics."""
from __future__ import annotations

import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

USER, GROUP, APP = "00u", "00g", "0oa"
FACTOR_PREFIX = {("push", "OKTA"): "opf", ("token:software:totp", "OKTA"): "ost",
                 ("token:software:totp", "GOOGLE"): "uft", ("sms", "OKTA"): "mbl",
                 ("call", "OKTA"): "clf", ("email", "OKTA"): "emf"}


def new_id(prefix: str, length: int = 20) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length - len(prefix)))


def token(length: int = 20) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def digest(secret: str) -> str:
    """What the store keeps instead of a bearer secret (API token, device credential)."""
    return hashlib.sha256(secret.encode()).hexdigest()
