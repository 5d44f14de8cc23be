"""Active Directory's wire facts that several services read: the bind diagnostic's data codes and
the userAccountControl bits (MS-ADTS 2.2.16; the codes as AD writes them into an LDAP bind's
diagnosticMessage, "... data 52e, v4563"). Facts only: what each service makes of a code stays in
that service. See docs/active-directory.md."""
from __future__ import annotations

import re

# The sub-code in a failed simple bind's diagnostic message, with AD's own meaning.
BAD_PASSWORD = "52e"
NO_SUCH_USER = "525"
LOGON_HOURS = "530"
WORKSTATION = "531"
PASSWORD_EXPIRED = "532"
ACCOUNT_DISABLED = "533"
ACCOUNT_EXPIRED = "701"
MUST_CHANGE_PASSWORD = "773"
ACCOUNT_LOCKED = "775"

BIND_SUBCODES: dict[str, str] = {
    BAD_PASSWORD: "invalid credentials",
    NO_SUCH_USER: "user not found",
    LOGON_HOURS: "not permitted to logon at this time",
    WORKSTATION: "not permitted to logon at this workstation",
    PASSWORD_EXPIRED: "password expired",
    ACCOUNT_DISABLED: "account disabled",
    ACCOUNT_EXPIRED: "account expired",
    MUST_CHANGE_PASSWORD: "user must reset password",
    ACCOUNT_LOCKED: "account locked out",
}

_DATA = re.compile(r"data ([0-9a-f]{3})", re.IGNORECASE)


def bind_subcode(diagnostic: str | None) -> str | None:
    """The three-hex-digit data code of a bind diagnostic ("... data 775, v4563" -> "775")."""
    m = _DATA.search(diagnostic or "")
    return m.group(1).lower() if m else None


# userAccountControl flags (MS-ADTS 2.2.16).
UF_ACCOUNTDISABLE = 0x0002
UF_LOCKOUT = 0x0010
UF_NORMAL_ACCOUNT = 0x0200
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_PASSWORD_EXPIRED = 0x800000

# FILETIME (100 ns ticks since 1601) helpers' unit: ticks per second.
FILETIME_TICKS_PER_SECOND = 10_000_000
# accountExpires "never", as AD stores it.
FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
