"""Builds the directory's entries from the lab's seed: the domain object, OUs, groups, the subschema
entry, people and service accounts in their seeded states, and the generated users.

Every object gets the attributes AD gives every object (objectGUID, whenCreated, uSNCreated...);
an account's state (`disabled`, `locked`, `password_expired`...) is written as AD stores it
(userAccountControl, lockoutTime, pwdLastSet, accountExpires), so the account rules read
nothing but attributes. See docs/active-directory.md ("Seeded account states").
"""
from __future__ import annotations

import functools
import json
import uuid
from typing import TYPE_CHECKING, Any

from services.common import ad_wire

from . import schema
from .accounts import ACCOUNT_EXPIRED, DISABLED, LOCKED, MUST_CHANGE, PASSWORD_EXPIRED
from .entry import Account, Domain, password_digest
from .names import (
    domain_sid,
    escape_rdn_value,
    filetime,
    generalized_time,
    norm_dn,
    parse_dn,
    seconds_as_interval,
    sid_to_bytes,
)
from .settings import DAY

if TYPE_CHECKING:
    from .directory import Directory

# The seed's `state` names are the account rules' own.
STATES = ("enabled", DISABLED, LOCKED, PASSWORD_EXPIRED, MUST_CHANGE, ACCOUNT_EXPIRED)
WELL_KNOWN_GROUP_RIDS = {"domain admins": 512, "domain users": 513, "domain computers": 515}
DOMAIN_USERS_RID = 513       # every user's primaryGroupID
ADMINISTRATOR_RID = 500
FIRST_RID = 1103             # the first RID handed out to seeded objects


def domain_from_seed(seed: dict[str, Any]) -> Domain:
    d = seed.get("domain") or {}
    dns_name = str(d.get("dns_name", "corp.example.com"))
    domain = Domain(
        dns_name=dns_name,
        netbios=str(d.get("netbios_name", "CORP")),
        base_dn=str(d.get("base_dn") or ",".join(f"DC={p}" for p in dns_name.split("."))),
        dc_hostname=str(d.get("dc_hostname", "InstanceRDC")),
    )
    domain.sid = domain_sid(domain.dns_name)
    return domain


class Seeder:
    """One pass over the seed into an empty directory (`Directory.load` makes a new one each time)."""

    def __init__(self, directory: Directory):
        self.d = directory
        self.rid = FIRST_RID
        self.ou_dns: dict[str, str] = {}

    def populate(self) -> None:
        d, seed = self.d, self.d.seed
        base = d.domain.base_dn
        policy = d.policy
        d.add(base, self._object(base, ["top", "domain", "domainDNS"], "Domain-DNS", {
            "dc": parse_dn(base)[0][1],
            "objectSid": sid_to_bytes(d.domain.sid),
            "instanceType": 5,
            "lockoutThreshold": policy.lockout_threshold,
            "lockoutDuration": seconds_as_interval(policy.lockout_duration),
            "lockOutObservationWindow": seconds_as_interval(policy.observation_window),
            "maxPwdAge": seconds_as_interval(policy.max_password_age),
            "minPwdLength": 7, "pwdProperties": 1, "pwdHistoryLength": 24,
            "msDS-Behavior-Version": 7,
        }), parent=None)

        for ou in seed.get("ous") or []:
            dn = f"OU={ou},{base}"
            self.ou_dns[str(ou).lower()] = dn
            d.add(dn, self._object(dn, ["top", "organizationalUnit"], "Organizational-Unit", {"ou": ou}),
                  parent=base)

        groups_parent = self.ou_dns.get("groups", base)
        for g in seed.get("groups") or []:
            name = str(g["name"])
            dn = f"CN={name},{groups_parent}"
            rid = WELL_KNOWN_GROUP_RIDS.get(name.lower()) or self._next_rid()
            d.group_dns[name.lower()] = dn
            d.add(dn, self._object(dn, ["top", "group"], "Group", {
                "cn": name, "sAMAccountName": name, "description": g.get("description"),
                "groupType": schema.GROUP_GLOBAL_SECURITY,
                "sAMAccountType": schema.SAM_GROUP_OBJECT,
                "objectSid": sid_to_bytes(f"{d.domain.sid}-{rid}"),
            }), parent=groups_parent)

        self._add_subschema()

        users_parent = self.ou_dns.get("users", base)
        for u in seed.get("users") or []:
            self.add_user(u, users_parent)
        svc_parent = self.ou_dns.get("service accounts", users_parent)
        for sa in seed.get("service_accounts") or []:
            self.add_user({**sa, "state": sa.get("state", "enabled"), "service": True}, svc_parent)

        if d.settings.generated_users:
            self.generate_users(d.settings.generated_users, users_parent, d.settings.generated_password)

    def _next_rid(self) -> int:
        rid, self.rid = self.rid, self.rid + 1
        return rid

    def _object(self, dn: str, classes: list[str], category: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """The attributes every AD object has, plus `attrs`."""
        usn = self.d.next_usn()
        loaded_at = self.d.loaded_at
        base = {
            "objectClass": classes,
            "distinguishedName": dn,
            "name": parse_dn(dn)[0][1],
            "instanceType": 4,
            "whenCreated": generalized_time(loaded_at - 365 * DAY),
            "whenChanged": generalized_time(loaded_at),
            "uSNCreated": usn,
            "uSNChanged": usn,
            "objectGUID": _guid(dn),
            "objectCategory": f"CN={category},{self.d.schema_dn}",
        }
        base.update(attrs)
        return base

    def _add_subschema(self) -> None:
        """The subschema entry (`subschemaSubentry` of the RootDSE), with the attribute types and
        object classes of a real AD (Windows Server 2012 R2, as recorded in ldap3's offline
        schema). Clients such as ldap3 read it after binding and use its syntaxes to present
        values as they would from AD: objectSid as `S-1-5-...`, pwdLastSet as a date, and so on.
        It lives outside the domain's naming context, so subtree searches never return it."""
        schema_dn = self.d.schema_dn
        dn = f"CN=Aggregate,{schema_dn}"
        attrs = {k: v for k, v in _ad_subschema().items()
                 if k not in ("objectGUID", "distinguishedName", "objectCategory")}
        attrs.update({"distinguishedName": dn, "objectCategory": f"CN=SubSchema,{schema_dn}",
                      "objectGUID": _guid(dn)})
        self.d.add_detached(dn, attrs)

    def add_user(self, u: dict[str, Any], parent: str) -> Account:
        d = self.d
        sam = str(u["sam"])
        state = str(u.get("state", "enabled"))
        if state not in STATES:
            raise ValueError(f"user {sam}: unknown state {state!r} (one of {', '.join(STATES)})")
        given, surname = str(u.get("given_name") or ""), str(u.get("surname") or "")
        display = str(u.get("display_name") or f"{given} {surname}".strip() or sam)
        cn = display
        dn = f"CN={escape_rdn_value(cn)},{parent}"
        if norm_dn(dn) in d.entries:
            cn = f"{display} ({sam})"
            dn = f"CN={escape_rdn_value(cn)},{parent}"
        service = bool(u.get("service"))
        rid = ADMINISTRATOR_RID if sam.lower() == "administrator" else self._next_rid()
        now = d.loaded_at
        uac = ad_wire.UF_NORMAL_ACCOUNT | (ad_wire.UF_DONT_EXPIRE_PASSWD if service else 0)
        if "user_account_control" in u:
            uac = int(u["user_account_control"])
        pwd_last_set = filetime(now - DAY)
        expires = ad_wire.FILETIME_NEVER
        lockout_time = bad_count = bad_time = 0
        if state == DISABLED:
            uac |= ad_wire.UF_ACCOUNTDISABLE
        elif state == MUST_CHANGE:
            pwd_last_set = 0
        elif state == PASSWORD_EXPIRED:
            pwd_last_set = filetime(now - d.policy.max_password_age - 5 * DAY)
        elif state == ACCOUNT_EXPIRED:
            expires = filetime(now - DAY)
        elif state == LOCKED:
            lockout_time = bad_time = filetime(now)
            bad_count = max(d.policy.lockout_threshold, 1)
        upn = str(u.get("upn") or f"{sam}@{d.domain.dns_name}")
        groups = [d.group_dns[g.lower()] for g in u.get("groups") or [] if g.lower() in d.group_dns]
        mail = u.get("mail") or (None if service or not given else f"{sam}@{d.domain.dns_name}")
        entry = d.add(dn, self._object(dn, ["top", "person", "organizationalPerson", "user"], "Person", {
            "cn": cn, "givenName": given or None, "sn": surname or None, "displayName": display,
            "description": u.get("description"),
            "sAMAccountName": sam, "userPrincipalName": upn, "mail": mail,
            "sAMAccountType": schema.SAM_USER_OBJECT,
            "objectSid": sid_to_bytes(f"{d.domain.sid}-{rid}"),
            "primaryGroupID": DOMAIN_USERS_RID,
            "userAccountControl": uac,
            "pwdLastSet": pwd_last_set,
            "accountExpires": expires,
            "lockoutTime": lockout_time,
            "badPwdCount": bad_count,
            "badPasswordTime": bad_time,
            "lastLogon": 0, "logonCount": 0,
            "codePage": 0, "countryCode": 0,
            "memberOf": groups,
        }), parent=parent)
        for gdn in groups:
            group = d.entries[norm_dn(gdn)]
            group.set("member", [*group.values("member"), dn])
        account = Account(sam=sam, entry=entry, digest=password_digest(sam, str(u.get("password", ""))),
                          kind="service" if service else "user")
        d.add_account(account)
        return account

    def generate_users(self, count: int, parent: str, password: str) -> None:
        """Add `count` people (`user00001`...) for paging tests and benchmarks.

        Every 100th is disabled so bitwise filters have something to find; none are in groups
        (a 3000-value `member` would need AD's ranged retrieval, which the lab does not do).
        """
        for i in range(1, count + 1):
            self.add_user({
                "sam": f"user{i:05d}", "given_name": "User", "surname": f"{i:05d}",
                "password": password, "state": DISABLED if i % 100 == 0 else "enabled",
            }, parent)


def _guid(dn: str) -> bytes:
    """A stable objectGUID per DN (the same on every load)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ldap:///{norm_dn(dn)}").bytes_le


@functools.cache
def _ad_subschema() -> dict[str, Any]:
    """AD 2012 R2's subschema entry from ldap3's offline schema (parsed once per process)."""
    from ldap3.protocol.schemas.ad2012R2 import ad_2012_r2_schema
    return json.loads(ad_2012_r2_schema)["raw"]
