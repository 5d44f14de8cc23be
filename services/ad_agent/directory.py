"""The agent's side of Active Directory: LDAP with ldap3, from the agent's own address.

- `read(...)`: bind as the service account (`CORP\\svc-oktaagent`) and read people and groups from
  the selected OUs with the simple paged results control (AD caps unpaged searches at
  MaxPageSize, 1000), as the real agent does for large directories.
- `check_password(...)`: delegated authentication, a simple bind as the user. AD's data code in the
  bind diagnostic tells a wrong password from a locked, disabled or expired account.

Blocking calls (ldap3 is synchronous): the agent runs them in a thread."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from services.common import ad_wire
from services.common.ad_wire import UF_ACCOUNTDISABLE
from services.common.ldap_client import close_quietly

USER_ATTRS = ["sAMAccountName", "userPrincipalName", "mail", "givenName", "sn", "displayName", "memberOf",
              "userAccountControl", "objectGUID", "distinguishedName", "telephoneNumber", "employeeID"]
GROUP_ATTRS = ["cn", "description", "objectGUID", "distinguishedName"]
# What the agent reports to the org for each bind sub-code (the codes themselves: ad_wire).
OUTCOMES = {ad_wire.BAD_PASSWORD: "bad_password", ad_wire.NO_SUCH_USER: "no_user",
            ad_wire.ACCOUNT_LOCKED: "locked", ad_wire.PASSWORD_EXPIRED: "password_expired",
            ad_wire.MUST_CHANGE_PASSWORD: "must_change", ad_wire.ACCOUNT_DISABLED: "disabled",
            ad_wire.ACCOUNT_EXPIRED: "expired", ad_wire.LOGON_HOURS: "disabled",
            ad_wire.WORKSTATION: "disabled"}


class DirectoryError(Exception):
    """The DC could not be read (unreachable, the service account refused...)."""


@dataclass
class AdUser:
    dn: str
    guid: str
    sam: str
    upn: str
    mail: str | None
    given: str | None
    surname: str | None
    display: str | None
    disabled: bool
    groups: list[str] = field(default_factory=list)      # DNs
    phone: str | None = None
    employee_id: str | None = None


@dataclass
class AdGroup:
    dn: str
    guid: str
    name: str
    description: str | None


def _one(entry: dict[str, Any], name: str) -> Any:
    value = entry.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _guid(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)) and len(raw) == 16:
        return str(uuid.UUID(bytes_le=bytes(raw)))
    return str(raw or "")


def _connect(host: str, port: int, user: str, password: str, source: str | None) -> ldap3.Connection:
    server = ldap3.Server(host, port=port, connect_timeout=5, get_info=ldap3.NONE)
    kwargs: dict[str, Any] = {"user": user, "password": password, "receive_timeout": 10, "raise_exceptions": False}
    if source:
        kwargs.update(source_address=source, source_port=0)
    return ldap3.Connection(server, **kwargs)


def _paged(conn: ldap3.Connection, base: str, flt: str, attrs: list[str], page: int) -> list[dict[str, Any]]:
    out = []
    for item in conn.extend.standard.paged_search(base, flt, search_scope=ldap3.SUBTREE, attributes=attrs,
                                                   paged_size=page, generator=True):
        if item.get("type") == "searchResEntry":
            raw = item.get("raw_attributes", {})
            out.append({**item.get("attributes", {}), "dn": item["dn"],
                        "objectGUID": (raw.get("objectGUID") or [b""])[0]})
    if conn.result and conn.result.get("result") not in (0, None):
        raise DirectoryError(f"search of {base} failed: {conn.result.get('description')} {conn.result.get('message')}")
    return out


def read(host: str, port: int, bind_user: str, password: str, base_dn: str, user_ous: list[str],
         group_ous: list[str], *, source: str | None = None, page: int = 500) -> tuple[list[AdUser], list[AdGroup]]:
    conn = _connect(host, port, bind_user, password, source)
    try:
        if not conn.bind():
            raise DirectoryError(f"bind as {bind_user} refused: {conn.result.get('message') if conn.result else ''}")
        groups = []
        for ou in group_ous:
            for e in _paged(conn, f"{ou},{base_dn}" if ou else base_dn, "(objectClass=group)", GROUP_ATTRS, page):
                groups.append(AdGroup(dn=e["dn"], guid=_guid(_one(e, "objectGUID")), name=str(_one(e, "cn")),
                                      description=_one(e, "description")))
        users = []
        for ou in user_ous:
            for e in _paged(conn, f"{ou},{base_dn}" if ou else base_dn,
                            "(&(objectCategory=person)(objectClass=user))", USER_ATTRS, page):
                uac = int(_one(e, "userAccountControl") or 0)
                member_of = e.get("memberOf") or []
                users.append(AdUser(
                    dn=e["dn"], guid=_guid(_one(e, "objectGUID")), sam=str(_one(e, "sAMAccountName")),
                    upn=str(_one(e, "userPrincipalName") or ""), mail=_one(e, "mail"), given=_one(e, "givenName"),
                    surname=_one(e, "sn"), display=_one(e, "displayName"), disabled=bool(uac & UF_ACCOUNTDISABLE),
                    groups=[str(g) for g in (member_of if isinstance(member_of, list) else [member_of])],
                    phone=_one(e, "telephoneNumber"), employee_id=_one(e, "employeeID")))
        return users, groups
    except LDAPException as exc:
        raise DirectoryError(f"{exc.__class__.__name__}: {exc}") from None
    finally:
        close_quietly(conn)


def check_password(host: str, port: int, username: str, password: str, *, source: str | None = None) -> str:
    """ok, bad_password, locked, password_expired, must_change, disabled, expired, no_user, unavailable."""
    if not password:
        return "bad_password"          # an empty password is an anonymous bind in AD: never a check
    conn = _connect(host, port, username, password, source)
    try:
        if conn.bind():
            return "ok"
        code = ad_wire.bind_subcode(str((conn.result or {}).get("message", "")))
        return OUTCOMES.get(code or "", "bad_password")
    except LDAPException:
        return "unavailable"
    finally:
        close_quietly(conn)


def change_password(host: str, port: int, bind_user: str, bind_password: str, base_dn: str, username: str,
                    old: str, new: str, *, source: str | None = None) -> str:
    """A user's password change done for them (the Okta sign-in page's "change password"): as the
    service account, over StartTLS, AD's change operation (delete the old unicodePwd, add the new),
    which needs the old password but not a bind as the user, whose password may have expired.
    ok, bad_old_password, policy (too short...), no_user, unavailable."""
    conn = _connect(host, port, bind_user, bind_password, source)
    try:
        conn.open()
        if not conn.start_tls() or not conn.bind():
            return "unavailable"
        sam = username.split("@")[0].split("\\")[-1]
        flt = f"(|(userPrincipalName={escape_filter_chars(username)})(sAMAccountName={escape_filter_chars(sam)}))"
        conn.search(base_dn, f"(&(objectCategory=person)(objectClass=user){flt})", ldap3.SUBTREE, attributes=["cn"])
        if not conn.entries:
            return "no_user"
        if conn.extend.microsoft.modify_password(conn.entries[0].entry_dn, new, old):
            return "ok"
        message = str((conn.result or {}).get("message", ""))
        if (conn.result or {}).get("result") == 19:      # constraintViolation
            return "policy" if "check_password_restrictions" in message else "bad_old_password"
        return "unavailable"
    except LDAPException:
        return "unavailable"
    finally:
        close_quietly(conn)
