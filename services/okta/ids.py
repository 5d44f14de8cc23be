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


def _random_chars(count: int) -> str:
    """`count` characters of the alphabet, uniform: one read of the system's randomness, bytes of
    248 or more dropped so that 62 divides what is kept (secrets.choice read it once a character:
    3% of the org's CPU in an import)."""
    out: list[str] = []
    while len(out) < count:
        out += [_ALPHABET[b % 62] for b in secrets.token_bytes(count + 8) if b < 248]
    return "".join(out[:count])


def new_id(prefix: str, length: int = 20) -> str:
    return prefix + _random_chars(length - len(prefix))


def token(length: int = 20) -> str:
    return _random_chars(length)


def digest(secret: str) -> str:
    """What the store keeps instead of a bearer secret (API token, device credential)."""
    return hashlib.sha256(secret.encode()).hexdigest()
