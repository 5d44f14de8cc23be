"""One import run: AD (what `directory.read` returned) → the org, through the public API.

- Groups from the selected OUs become Okta groups of the same name (created when missing).
- People become Okta users mastered by AD (`credentials.provider ACTIVE_DIRECTORY`), created
  STAGED (`activate=false`): the admin activates them, as the walkthrough's "Activate" step
  shows. Their profile carries the AD attributes: login = userPrincipalName (the integration's
  default Okta username format), userName = UPN, samAccountName, email = mail (UPN when
  empty), firstName / lastName (sAMAccountName when empty), displayName.
- A user already in the org with that login and mastered by AD is updated when AD changed; an
  Okta-mastered user with the same login is left alone (counted as a conflict).
- Memberships of AD groups follow AD: added and removed for AD-sourced users.
- People disabled in AD are imported like the others and counted (`users.disabled_in_ad`);
  what Okta does to them is the org's business (not emulated: no deprovisioning).

Returns counts: users.{created,updated,unchanged,conflicts,excluded,disabled_in_ad},
groups.{created,existing}, memberships.{added,removed}."""
from __future__ import annotations

from typing import Any

from .directory import AdGroup, AdUser
from .okta import OrgClient

MANAGED = ("login", "email", "firstName", "lastName", "samAccountName", "userName", "displayName")


def profile_of(u: AdUser) -> dict[str, Any]:
    upn = u.upn or u.sam
    return {"login": upn, "email": u.mail or upn, "firstName": u.given or u.sam, "lastName": u.surname or u.sam,
            "samAccountName": u.sam, "userName": upn,
            "displayName": u.display or " ".join(x for x in (u.given, u.surname) if x) or u.sam}


async def run_import(org: OrgClient, domain: str, users: list[AdUser], groups: list[AdGroup],
                     exclude: list[str]) -> dict[str, int]:
    counts = {"users.read": len(users), "groups.read": len(groups), "users.created": 0, "users.updated": 0,
              "users.unchanged": 0, "users.conflicts": 0, "users.excluded": 0, "users.disabled_in_ad": 0,
              "groups.created": 0, "groups.existing": 0, "memberships.added": 0, "memberships.removed": 0}
    # groups
    okta_groups = {g["profile"]["name"].lower(): g for g in await org.groups()}
    by_dn: dict[str, dict[str, Any]] = {}
    for g in groups:
        og = okta_groups.get(g.name.lower())
        if og is None:
            og = await org.create_group(g.name, g.description)
            okta_groups[g.name.lower()] = og
            counts["groups.created"] += 1
        else:
            counts["groups.existing"] += 1
        by_dn[g.dn.lower()] = og
    # users
    existing = {u["profile"]["login"].lower(): u for u in await org.users()}
    excluded = {e.lower() for e in exclude}
    imported: dict[str, tuple[AdUser, dict[str, Any]]] = {}
    for u in users:
        if u.sam.lower() in excluded:
            counts["users.excluded"] += 1
            continue
        if u.disabled:
            counts["users.disabled_in_ad"] += 1
        profile = profile_of(u)
        current = existing.get(profile["login"].lower())
        if current is None:
            current = await org.create_user(profile, domain)
            counts["users.created"] += 1
        elif (current.get("credentials") or {}).get("provider", {}).get("type") != "ACTIVE_DIRECTORY":
            counts["users.conflicts"] += 1
            continue
        elif any(current["profile"].get(k) != v for k, v in profile.items() if k in MANAGED):
            current = await org.update_user(current["id"], profile)
            counts["users.updated"] += 1
        else:
            counts["users.unchanged"] += 1
        imported[current["id"]] = (u, current)
    # memberships of the AD groups
    for dn, og in by_dn.items():
        members = {m["id"] for m in await org.group_members(og["id"])}
        wanted = {uid for uid, (u, _) in imported.items() if dn in {g.lower() for g in u.groups}}
        for uid in sorted(wanted - members):
            await org.add_member(og["id"], uid)
            counts["memberships.added"] += 1
        for uid in sorted((members & set(imported)) - wanted):
            await org.remove_member(og["id"], uid)
            counts["memberships.removed"] += 1
    return counts
