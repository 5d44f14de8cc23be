"""Reading a user over LDAP with the connector's service account: the one place that binds as it.

AD Connector keeps a service account (ConnectDirectory's CustomerUserName and Password) and uses it
for "user and group object lookups" (docs/aws.md, "AD Connector"). Three callers read a user that
way: the sign-in (the user's attributes), the Kerberos step (which AD sub-code hides behind
CLIENT_REVOKED or KEY_EXPIRED) and WorkSpaces' user lookup. They differ only in the filter and the
attributes; the bind, the base DN, the timeouts and the source address are here.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from services.common.ldap_client import close_quietly

T = TypeVar("T")

# ldap3 blocks, so its work runs on threads, and on threads of its own: the loop's default pool
# has cores + 4 workers (6 on the lab's two cores) shared with everything else, and each LDAP read
# holds one for the DC's round trips (connect, bind, search, unbind), so at 16 sign-ins in flight
# the reads queued for 6 slots. Mostly waiting on the network, these threads cost little.
_LDAP_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="ldap")


async def in_ldap_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on an LDAP thread (with the caller's context variables, as asyncio.to_thread)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_LDAP_THREADS, call)


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


def find_entry(host: str, port: int, account: ServiceAccount, ldap_filter: str, attributes: list[str],
               source: str | None = None) -> Any | None:
    """The first entry `ldap_filter` finds under the account's base DN (an ldap3 Entry: `.value`
    per attribute, `entry_raw_attributes`), or None. Raises LookupFailed."""
    server = ldap3.Server(host, port=port, get_info=ldap3.NONE, connect_timeout=3)
    conn = ldap3.Connection(server, user=account.user, password=account.password, raise_exceptions=False,
                            receive_timeout=5, source_address=source)
    try:
        if not conn.bind():
            raise LookupFailed(f"service account bind failed: {conn.result.get('description')}")
        conn.search(account.base_dn, ldap_filter, attributes=attributes, size_limit=1)
        return conn.entries[0] if conn.entries else None
    except LDAPException as exc:
        raise LookupFailed(f"LDAP error: {exc.__class__.__name__}") from None
    finally:
        close_quietly(conn)
