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
- Lifecycle, as the integration's "Profile & Lifecycle Sourcing" settings (`Lifecycle`): an
  AD-sourced user disabled in AD is deactivated in Okta (DEPROVISIONED), or suspended, or left
  alone; so is one no longer in the imported OUs, but only a full import can see that (an
  incremental import reads changed entries only, as Okta's support notes). A user enabled in AD
  again is reactivated only when the matching "reactivate" box is ticked. New users disabled in
  AD are created and then deactivated, as any other AD-disabled user.

Returns counts: users.{created,updated,unchanged,conflicts,excluded,disabled_in_ad,deactivated,
suspended,reactivated}, groups.{created,existing}, memberships.{added,removed}."""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from services.common.settings import SettingsReader

from .directory import AdGroup, AdUser
from .okta import OrgClient

MANAGED = ("login", "email", "firstName", "lastName", "samAccountName", "userName", "displayName")
DEACTIVATED_ACTIONS = ("deactivate", "suspend", "none")


@dataclass(frozen=True)
class Lifecycle:
    """Okta's "When a user is deactivated in the app" and "When a user is reactivated in the app"."""
    deactivated: str                  # deactivate | suspend | none
    reactivate_suspended: bool
    reactivate_deactivated: bool

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Lifecycle:
        r = SettingsReader(settings)
        action = str(settings.get("deactivated_user_action", "deactivate")).lower()   # Okta's values, any case
        if action not in DEACTIVATED_ACTIONS:
            raise ValueError(f"setting deactivated_user_action must be one of {', '.join(DEACTIVATED_ACTIONS)}, "
                             f"not {action!r}")
        return cls(action, r.flag("reactivate_suspended_users", False), r.flag("reactivate_deactivated_users", False))

    def gone_from_ad(self, user: dict[str, Any]) -> str | None:
        """The lifecycle operation for a user disabled in AD or out of scope, or None."""
        if self.deactivated == "deactivate" and user["status"] != "DEPROVISIONED":
            return "deactivate"
        if self.deactivated == "suspend" and user["status"] == "ACTIVE":
            return "suspend"
        return None

    def back_in_ad(self, user: dict[str, Any]) -> str | None:
        """The lifecycle operation for a user enabled in AD whom Okta holds deactivated or suspended."""
        if user["status"] == "SUSPENDED" and self.reactivate_suspended:
            return "unsuspend"
        if user["status"] == "DEPROVISIONED" and self.reactivate_deactivated:
            return "activate"
        return None


COUNT_OF = {"deactivate": "users.deactivated", "suspend": "users.suspended", "unsuspend": "users.reactivated",
            "activate": "users.reactivated"}


def sourced_here(user: dict[str, Any], domain: str) -> bool:
    provider = (user.get("credentials") or {}).get("provider", {})
    return provider.get("type") == "ACTIVE_DIRECTORY" and str(provider.get("name", "")).lower() == domain.lower()


def profile_of(u: AdUser) -> dict[str, Any]:
    upn = u.upn or u.sam
    return {"login": upn, "email": u.mail or upn, "firstName": u.given or u.sam, "lastName": u.surname or u.sam,
            "samAccountName": u.sam, "userName": upn,
            "displayName": u.display or " ".join(x for x in (u.given, u.surname) if x) or u.sam}


# Calls in flight to the org during an import: one at a time left both the agent and the org idle
# half the time (10,000 users: bench/README.md); a few keep both busy without flooding the org.
IMPORT_CONCURRENCY = 8


async def _bounded(calls: list[Coroutine[Any, Any, None]]) -> None:
    """Run `calls`, IMPORT_CONCURRENCY at a time; the first error stops the rest and is raised."""
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            await call
    workers = [asyncio.ensure_future(worker()) for _ in range(IMPORT_CONCURRENCY)]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        for call in queue:        # never awaited: close them so Python does not warn
            call.close()
        raise


async def run_import(org: OrgClient, domain: str, users: list[AdUser], groups: list[AdGroup],
                     exclude: list[str], *, full: bool = True, lifecycle: Lifecycle) -> dict[str, int]:
    counts = {"users.read": len(users), "groups.read": len(groups), "users.created": 0, "users.updated": 0,
              "users.unchanged": 0, "users.conflicts": 0, "users.excluded": 0, "users.disabled_in_ad": 0,
              "users.deactivated": 0, "users.suspended": 0, "users.reactivated": 0,
              "groups.created": 0, "groups.existing": 0, "memberships.added": 0, "memberships.removed": 0}

    async def apply(user: dict[str, Any], operation: str | None) -> None:
        if operation is not None:
            await org.lifecycle(user["id"], operation)
            counts[COUNT_OF[operation]] += 1

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

    async def one(u: AdUser) -> None:
        if u.sam.lower() in excluded:
            counts["users.excluded"] += 1
            return
        if u.disabled:
            counts["users.disabled_in_ad"] += 1
        profile = profile_of(u)
        current = existing.get(profile["login"].lower())
        if current is None:
            # Created in its AD groups at once (the API's `groupIds`): one call a new user, not
            # one more per membership; the memberships pass below then finds them in place.
            group_ids = sorted({by_dn[g.lower()]["id"] for g in u.groups if g.lower() in by_dn})
            current = await org.create_user(profile, domain, group_ids)
            counts["users.created"] += 1
            counts["memberships.added"] += len(group_ids)
        elif (current.get("credentials") or {}).get("provider", {}).get("type") != "ACTIVE_DIRECTORY":
            counts["users.conflicts"] += 1
            return
        elif any(current["profile"].get(k) != v for k, v in profile.items() if k in MANAGED):
            current = await org.update_user(current["id"], profile)
            counts["users.updated"] += 1
        else:
            counts["users.unchanged"] += 1
        imported[current["id"]] = (u, current)
        await apply(current, lifecycle.gone_from_ad(current) if u.disabled else lifecycle.back_in_ad(current))
    await _bounded([one(u) for u in users])
    if full:   # users of this directory that AD no longer has in the imported OUs
        read = {profile_of(u)["login"].lower() for u in users}
        for login, current in existing.items():
            if login not in read and sourced_here(current, domain):
                await apply(current, lifecycle.gone_from_ad(current))
    # memberships of the AD groups
    for dn, og in by_dn.items():
        members = {m["id"] for m in await org.group_members(og["id"])}
        wanted = {uid for uid, (u, _) in imported.items() if dn in {g.lower() for g in u.groups}}
        async def add(uid: str, gid: str = og["id"]) -> None:
            await org.add_member(gid, uid)
            counts["memberships.added"] += 1
        await _bounded([add(uid) for uid in sorted(wanted - members)])
        for uid in sorted((members & set(imported)) - wanted):
            await org.remove_member(og["id"], uid)
            counts["memberships.removed"] += 1
    return counts
