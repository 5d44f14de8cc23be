"""LDAP with the DC: reading a user's attributes with the connector's service account.

The password itself is proven with Kerberos (kerberos_auth.py), as AWS documents; LDAP is used for
look-ups. `check_password` (an LDAP simple bind whose failure carries AD's sub-code, `data 52e`,
`533`, `775`, ...) remains for the service-account check of ConnectDirectory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException

from services.common.ad_wire import bind_subcode
from services.common.ldap_client import close_quietly

from .service_account import LookupFailed, ServiceAccount, by_sam, find_entry

USER_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "givenName", "sn", "mail",
                   "userAccountControl", "memberOf", "displayName"]


@dataclass
class BindOutcome:
    ok: bool
    reason: str                 # "ok", an AD sub-code (ad_wire: "52e", "533", ...), "unreachable", "error"
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
        reason = bind_subcode(message) or str(conn.result.get("result"))
        return BindOutcome(False, reason, conn.result.get("description", ""))
    except LDAPException as exc:
        return BindOutcome(False, "unreachable", exc.__class__.__name__)
    finally:
        close_quietly(conn)


def read_user(host: str, port: int, account: ServiceAccount, sam_account_name: str,
              source: str | None = None) -> dict[str, Any] | None:
    """The user's attributes, read with the connector's service account; None when it cannot say."""
    try:
        entry = find_entry(host, port, account, by_sam(sam_account_name), USER_ATTRIBUTES, source)
    except LookupFailed:
        return None
    if entry is None:
        return None
    return {a: entry[a].value for a in USER_ATTRIBUTES if a in entry}
