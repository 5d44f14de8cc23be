"""Who is in the running lab (`lab users`): the accounts the DC has, the users the Okta org has, their
Okta Verify factors and app assignments, and the WorkSpaces they own; asked of the services
themselves, so a blank lab shows its empty org and a changed lab shows the changes.

The passwords shown are the seed's demo passwords for the accounts the seed made (the lab's own
fixtures, as the README prints them); an account made since shows none.
"""
from __future__ import annotations

import datetime
from typing import Any

import httpx

from .client import LabClient, LabClientError

FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)
NEVER = (0, 0x7FFFFFFFFFFFFFFF)
ACCOUNTDISABLE = 0x2
MAX_PASSWORD_AGE = datetime.timedelta(days=42)       # AD's default (the seed's, unless it sets another)
OKTA_VERIFY = ("token:software:totp", "push")


def _filetime(value: int) -> datetime.datetime:
    return FILETIME_EPOCH + datetime.timedelta(microseconds=value // 10)


def _int(entry: Any, name: str) -> int:
    try:
        raw = entry[name].raw_values
    except (KeyError, IndexError, AttributeError):
        return 0
    try:
        return int(raw[0]) if raw else 0
    except ValueError:
        return 0


def ad_state(entry: Any, max_age: datetime.timedelta, now: datetime.datetime) -> str:
    """The account's state in the seed's words, from the attributes AD's rules read."""
    uac, pwd_last_set, expires = _int(entry, "userAccountControl"), _int(entry, "pwdLastSet"), \
        _int(entry, "accountExpires")
    if uac & ACCOUNTDISABLE:
        return "disabled"
    if _int(entry, "lockoutTime"):
        return "locked"
    if expires not in NEVER and _filetime(expires) < now:
        return "account_expired"
    if pwd_last_set == 0:
        return "must_change_password"
    if not uac & 0x10000 and _filetime(pwd_last_set) + max_age < now:      # 0x10000: DONT_EXPIRE_PASSWD
        return "password_expired"
    return "enabled"


def ad_accounts(client: LabClient) -> list[Any]:
    """The DC's user accounts (ldap3 entries), as the domain administrator reads them."""
    import ldap3  # imported here: only the CLI needs it

    seed = client.seed()
    domain = seed.get("domain") or {}
    admin = next((p for p in seed.get("users", []) if p["sam"].lower() == "administrator"), None)
    if admin is None:
        raise LabClientError("the seed has no Administrator to read AD with")
    dc = client.topology["services"]["dc"]
    base = domain.get("base_dn") or ",".join(f"DC={p}" for p in domain.get("dns_name", "corp.example.com").split("."))
    conn = ldap3.Connection(ldap3.Server(dc["host"], port=dc["ports"]["ldap"], get_info=ldap3.NONE, connect_timeout=5),
                            user=f"{domain.get('netbios_name', 'CORP')}\\Administrator", password=admin["password"],
                            receive_timeout=10)
    try:
        if not conn.bind():
            raise LabClientError(f"the DC refused the administrator's bind: {conn.result.get('message')}")
        conn.search(base, "(&(objectCategory=person)(objectClass=user))", paged_size=500,
                    attributes=["sAMAccountName", "userPrincipalName", "userAccountControl", "pwdLastSet",
                                "accountExpires", "lockoutTime"])
        return list(conn.entries)
    except ldap3.core.exceptions.LDAPException as exc:
        raise LabClientError(f"cannot read the DC's accounts: {exc.__class__.__name__}: {exc}") from None
    finally:
        try:
            conn.unbind()
        except ldap3.core.exceptions.LDAPException:
            pass


def _okta_list(client: LabClient, path: str) -> list[dict[str, Any]]:
    """Every page of an Okta list (its `Link: rel="next"` header)."""
    out: list[dict[str, Any]] = []
    url: str | None = path
    params: dict[str, Any] | None = {"limit": 200}
    while url:
        resp = client.okta("GET", url, params=params)
        if resp.status_code != 200:
            raise LabClientError(f"the org refused GET {url}: HTTP {resp.status_code}")
        out.extend(resp.json())
        nxt = resp.links.get("next", {}).get("url")
        url, params = (httpx.URL(nxt).raw_path.decode() if nxt else None), None
    return out


def _workspace_owners(client: LabClient) -> set[str]:
    """The user names that own a WorkSpace (none when WorkSpaces has no directory: a blank lab)."""
    try:
        pages = client.aws("workspaces").get_paginator("describe_workspaces").paginate()
        return {w["UserName"].lower() for page in pages for w in page.get("Workspaces", [])}
    except Exception as exc:  # noqa: BLE001 — botocore's errors: a lab without WorkSpaces shows none
        raise LabClientError(f"cannot list the WorkSpaces: {exc}") from None


def people(client: LabClient) -> list[dict[str, Any]]:
    """A row per account in AD (and per Okta user not in AD, such as the org's administrator)."""
    seed = client.seed()
    passwords = {p["sam"].lower(): p["password"] for p in seed.get("users", [])}
    admin = (seed.get("okta") or {}).get("admin") or {}
    now = datetime.datetime.now(datetime.UTC)
    max_age = datetime.timedelta(days=float((seed.get("domain") or {}).get("max_password_age_days", 42)))
    okta_users = {u["profile"]["login"].lower(): u for u in _okta_list(client, "/api/v1/users")}
    assigned: set[str] = set()
    for app in client.okta("GET", "/api/v1/radius/apps").json():
        assigned |= {a["id"] for a in _okta_list(client, f"/api/v1/apps/{app['id']}/users")}
    owners = _workspace_owners(client)
    rows, seen = [], set()
    for entry in ad_accounts(client):
        sam = str(entry.sAMAccountName.value)
        upn = str(entry.userPrincipalName.value or f"{sam}@{seed.get('domain', {}).get('dns_name', '')}")
        rows.append(_row(client, sam, upn, passwords.get(sam.lower()), ad_state(entry, max_age, now),
                         okta_users.get(upn.lower()), assigned, owners))
        seen.add(upn.lower())
    for login, user in okta_users.items():
        if login not in seen:       # in the org only: its administrator, or a user made there by hand
            password = admin.get("password") if login == str(admin.get("login", "")).lower() else None
            rows.append(_row(client, login.split("@")[0], login, password, "- (Okta only)", user, assigned, owners))
    return rows


def _row(client: LabClient, sam: str, upn: str, password: str | None, state: str, okta: dict[str, Any] | None,
         assigned: set[str], owners: set[str]) -> dict[str, Any]:
    verify = False
    if okta is not None:
        factors = client.okta("GET", f"/api/v1/users/{okta['id']}/factors").json()
        verify = any(f.get("factorType") in OKTA_VERIFY and f.get("status") == "ACTIVE" for f in factors)
    return {"username": sam, "upn": upn, "password": password, "ad_state": state,
            "okta_status": okta["status"] if okta else None, "assigned": bool(okta and okta["id"] in assigned),
            "okta_verify": verify, "workspace": sam.lower() in owners}
