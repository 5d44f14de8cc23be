"""Redaction of secrets before anything reaches a log line or an event.

Keys are matched by name, so a new field called e.g. `sharedSecret` or `passCode` is redacted
without anyone remembering to add it here.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|code)?|secret|token|otp|credential|authorization|mfa_?code|code$|^code|activation)",
    re.IGNORECASE,
)
# Keys that look secret by name but are not (identifiers, result codes).
_NOT_SECRET = {
    "errorcode", "statuscode", "result_code", "resultcode", "code_kind", "factortype",
    "reply_code", "packet_code", "diagnostic_code", "rcode", "status_code", "exit_code",
    "errorsummary", "credential_kind", "registration_code", "registrationcode",
    "token_kind", "passcode_length",
}


@lru_cache(maxsize=4096)       # a service uses a few dozen field names; the regex runs once each
def is_secret_key(key: str) -> bool:
    return key.lower() not in _NOT_SECRET and bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-named field replaced by `***`."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
