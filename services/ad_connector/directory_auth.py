"""LDAP with the DC: reading a user's attributes with the connector's service account.

The password itself is proven with Kerberos (kerberos_auth.py), as AWS documents; LDAP is used for
look-ups. `check_password` (an LDAP simple bind whose failure carries AD's sub-code, `data 52e`,
`533`, `775`, ...) remains for the service-account check of ConnectDirectory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.ad_wire import bind_subcode
from services.common.ldap_client import LdapConnection, LDAPException

from .service_account import LookupFailed, ServiceAccount, by_sam, find_entry, value

USER_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "givenName", "sn", "mail",
                   "userAccountControl", "memberOf", "displayName"]


@dataclass
class BindOutcome:
    ok: bool
    reason: str                 # "ok", an AD sub-code (ad_wire: "52e", "533", ...), "unreachable", "error"
    detail: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


async def check_password(host: str, port: int, principal: str, password: str,
                         source: str | None = None) -> BindOutcome:
    """Bind as `principal` (a UPN); AD's sub-code is the reason when it fails."""
    try:
        async with await LdapConnection.open(host, port, source=source, connect_timeout=3,
                                             receive_timeout=5) as conn:
            result = await conn.bind(principal, password)
    except LDAPException as exc:
        return BindOutcome(False, "unreachable", exc.__class__.__name__)
    if result.ok:
        return BindOutcome(True, "ok")
    return BindOutcome(False, bind_subcode(result.diagnostic) or str(result.code), result.description)


async def read_user(host: str, port: int, account: ServiceAccount, sam_account_name: str,
                    source: str | None = None) -> dict[str, Any] | None:
    """The user's attributes, read with the connector's service account; None when it cannot say."""
    try:
        entry = await find_entry(host, port, account, by_sam(sam_account_name), USER_ATTRIBUTES, source)
    except LookupFailed:
        return None
    if entry is None:
        return None
    return {a: value(entry, a) for a in USER_ATTRIBUTES if entry.get(a) is not None}
