"""LDAP with the DC: reading a user's attributes with the connector's service account.

The password itself is proven with Kerberos (kerberos_auth.py), as AWS documents; LDAP is used for
look-ups. `check_password` (an LDAP simple bind whose failure carries AD's sub-code, `data 52e`,
`533`, `775`, ...) remains for the service-account check of ConnectDirectory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from services.common.ldap_client import close_quietly

_AD_DATA = re.compile(r"data ([0-9a-f]{3})", re.IGNORECASE)
USER_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "givenName", "sn", "mail",
                   "userAccountControl", "memberOf", "displayName"]


@dataclass
class BindOutcome:
    ok: bool
    reason: str                 # "ok", "52e", "533", ..., "unreachable", "error"
    detail: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def _server(host: str, port: int) -> ldap3.Server:
    return ldap3.Server(host, port=port, get_info=ldap3.NONE, connect_timeout=3)


def check_password(host: str, port: int, principal: str, password: str, source: str | None = None) -> BindOutcome:
    """Bind as `principal` (a UPN); AD's sub-code is the reason when it fails."""
    conn = ldap3.Connection(_server(host, port), user=principal, password=password,
                            raise_exceptions=False, receive_timeout=5, source_address=source)
    try:
        if conn.bind():
            return BindOutcome(True, "ok")
        message = conn.result.get("message", "") or ""
        match = _AD_DATA.search(message)
        reason = match.group(1).lower() if match else str(conn.result.get("result"))
        return BindOutcome(False, reason, conn.result.get("description", ""))
    except LDAPException as exc:
        return BindOutcome(False, "unreachable", exc.__class__.__name__)
    finally:
        close_quietly(conn)


def read_user(host: str, port: int, base_dn: str, bind_user: str, bind_password: str,
              sam_account_name: str, source: str | None = None) -> dict[str, Any] | None:
    """The user's attributes, read with the connector's service account."""
    conn = ldap3.Connection(_server(host, port), user=bind_user, password=bind_password,
                            raise_exceptions=False, receive_timeout=5, source_address=source)
    try:
        if not conn.bind():
            return None
        conn.search(base_dn, f"(sAMAccountName={escape_filter_chars(sam_account_name)})",
                    attributes=USER_ATTRIBUTES, size_limit=1)
        if not conn.entries:
            return None
        entry = conn.entries[0]
        return {a: entry[a].value for a in USER_ATTRIBUTES if a in entry}
    except LDAPException:
        return None
    finally:
        close_quietly(conn)
