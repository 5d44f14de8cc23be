"""Reading a user over LDAP with the connector's service account: the one place that binds as it.

AD Connector keeps a service account (ConnectDirectory's CustomerUserName and Password) and uses it
for "user and group object lookups" (docs/aws.md, "AD Connector"). Three callers read a user that
way: the sign-in (the user's attributes), the Kerberos step (which AD sub-code hides behind
CLIENT_REVOKED or KEY_EXPIRED) and WorkSpaces' user lookup. They differ only in the filter and the
attributes; the bind, the base DN, the timeouts and the source address are here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.ldap_client import Entry, LdapConnection, LDAPException, escape_filter_chars


class LookupFailed(Exception):
    """The service account could not read the directory: its bind was refused, or LDAP failed."""


@dataclass(frozen=True)
class ServiceAccount:
    """Who binds (a UPN), with which password, and where the search starts."""
    user: str
    password: str = field(repr=False)
    base_dn: str

    @classmethod
    def of(cls, directory: dict[str, Any]) -> ServiceAccount:
        """The account of a directory document (as store.py keeps it)."""
        domain = directory["Name"]
        return cls(user=f"{directory['ConnectSettings']['CustomerUserName']}@{domain}",
                   password=directory.get("ServiceAccountPassword", ""),
                   base_dn=",".join(f"DC={part}" for part in domain.split(".")))


def by_sam(sam_account_name: str) -> str:
    """The LDAP filter for one sAMAccountName, escaped."""
    return f"(sAMAccountName={escape_filter_chars(sam_account_name)})"


async def find_entry(host: str, port: int, account: ServiceAccount, ldap_filter: str, attributes: list[str],
                     source: str | None = None) -> Entry | None:
    """The first entry `ldap_filter` finds under the account's base DN, or None: its own connection
    (connect, bind, search, unbind), from `source`. Raises LookupFailed."""
    try:
        async with await LdapConnection.open(host, port, source=source, connect_timeout=3,
                                             receive_timeout=5) as conn:
            bound = await conn.bind(account.user, account.password)
            if not bound.ok:
                raise LookupFailed(f"service account bind failed: {bound.description}")
            _, entries = await conn.search(account.base_dn, ldap_filter, attributes, size_limit=1)
            return entries[0] if entries else None
    except LDAPException as exc:
        raise LookupFailed(f"LDAP error: {exc.__class__.__name__}") from None


def value(entry: Entry, name: str) -> Any:
    """An attribute's value as the connector has always handed it on (ldap3's `Attribute.value`
    without a schema): text where the bytes are UTF-8, one value alone, several as a list, None
    for none."""
    values = [_text(v) for v in entry.get(name) or []]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
