"""The import's lifecycle decisions (Okta's "Profile & Lifecycle Sourcing"), in-process against
an in-memory org that follows the Management API's status rules. The same path through the real
org and DC is in test_ad_agent_import.py (the default: deactivate, no reactivation)."""
from __future__ import annotations

import asyncio
import itertools

import pytest

from services.ad_agent.directory import AdUser
from services.ad_agent.importer import Lifecycle, run_import
from services.ad_agent.okta import OrgError

DOMAIN = "corp.example.com"


class MemoryOrg:
    """Users and the lifecycle operations the importer calls, with Okta's allowed transitions."""

    def __init__(self) -> None:
        self.users_by_id: dict[str, dict] = {}
        self.ids = itertools.count(1)
        self.operations: list[tuple[str, str]] = []

    def add(self, login: str, status: str, provider: str = "ACTIVE_DIRECTORY", name: str = DOMAIN) -> dict:
        uid = f"00u{next(self.ids)}"
        user = {"id": uid, "status": status, "profile": profile(login),
                "credentials": {"provider": {"type": provider, "name": name}}}
        self.users_by_id[uid] = user
        return user

    def status(self, login: str) -> str:
        return next(u["status"] for u in self.users_by_id.values() if u["profile"]["login"] == login)

    async def groups(self):
        return []

    async def users(self):
        return [dict(u) for u in self.users_by_id.values()]

    async def create_user(self, prof, domain, group_ids=None):
        user = self.add(prof["login"], "STAGED", name=domain)
        user["profile"] = dict(prof)
        return dict(user)

    async def update_user(self, uid, prof):
        self.users_by_id[uid]["profile"].update(prof)
        return dict(self.users_by_id[uid])

    async def lifecycle(self, uid, operation):
        user = self.users_by_id[uid]
        allowed = {"deactivate": user["status"] != "DEPROVISIONED", "suspend": user["status"] == "ACTIVE",
                   "unsuspend": user["status"] == "SUSPENDED",
                   "activate": user["status"] in ("STAGED", "DEPROVISIONED")}
        if not allowed[operation]:
            raise OrgError(f"{operation} a user")        # what the real org's 400/403 becomes
        user["status"] = {"deactivate": "DEPROVISIONED", "suspend": "SUSPENDED", "unsuspend": "ACTIVE",
                          "activate": "ACTIVE"}[operation]
        self.operations.append((user["profile"]["login"], operation))


def profile(login: str) -> dict:
    sam = login.split("@")[0]
    return {"login": login, "email": login, "firstName": sam, "lastName": sam, "samAccountName": sam,
            "userName": login, "displayName": sam}


def ad(sam: str, disabled: bool = False) -> AdUser:
    return AdUser(dn=f"CN={sam},OU=Users,DC=corp,DC=example,DC=com", guid=sam, sam=sam, upn=f"{sam}@{DOMAIN}",
                  mail=f"{sam}@{DOMAIN}", given=sam, surname=sam, display=sam, disabled=disabled)


def imported(org, users, *, full=True, **settings) -> dict:
    return asyncio.run(run_import(org, DOMAIN, users, [], [], full=full,
                                  lifecycle=Lifecycle.from_settings(settings)))


def test_disabled_in_ad_deactivates_by_default_even_a_new_user():
    org = MemoryOrg()
    org.add(f"alice@{DOMAIN}", "ACTIVE")
    counts = imported(org, [ad("alice", disabled=True), ad("dave", disabled=True), ad("bob")])
    assert org.status(f"alice@{DOMAIN}") == "DEPROVISIONED" and org.status(f"dave@{DOMAIN}") == "DEPROVISIONED"
    assert org.status(f"bob@{DOMAIN}") == "STAGED"
    assert counts["users.deactivated"] == 2 and counts["users.disabled_in_ad"] == 2
    again = imported(org, [ad("alice", disabled=True), ad("dave", disabled=True), ad("bob")])
    assert again["users.deactivated"] == 0, "an import never repeats a transition"


def test_suspend_touches_only_active_users_and_none_touches_nobody():
    org = MemoryOrg()
    org.add(f"alice@{DOMAIN}", "ACTIVE")
    org.add(f"ivan@{DOMAIN}", "STAGED")
    counts = imported(org, [ad("alice", True), ad("ivan", True)], deactivated_user_action="suspend")
    assert (org.status(f"alice@{DOMAIN}"), org.status(f"ivan@{DOMAIN}")) == ("SUSPENDED", "STAGED")
    assert counts["users.suspended"] == 1
    org.add(f"bob@{DOMAIN}", "ACTIVE")
    assert imported(org, [ad("bob", True)], deactivated_user_action="none")["users.deactivated"] == 0
    assert org.status(f"bob@{DOMAIN}") == "ACTIVE"


@pytest.mark.parametrize("status, setting, back_to", [
    ("SUSPENDED", "reactivate_suspended_users", "ACTIVE"),
    ("DEPROVISIONED", "reactivate_deactivated_users", "ACTIVE"),
])
def test_enabled_again_in_ad_is_reactivated_only_when_ticked(status, setting, back_to):
    org = MemoryOrg()
    org.add(f"alice@{DOMAIN}", status)
    assert imported(org, [ad("alice")])["users.reactivated"] == 0
    assert org.status(f"alice@{DOMAIN}") == status
    assert imported(org, [ad("alice")], **{setting: True})["users.reactivated"] == 1
    assert org.status(f"alice@{DOMAIN}") == back_to


def test_only_a_full_import_sees_a_user_gone_from_the_ous_and_only_ours():
    org = MemoryOrg()
    org.add(f"alice@{DOMAIN}", "ACTIVE")
    org.add(f"gone@{DOMAIN}", "ACTIVE")
    org.add(f"okta-only@{DOMAIN}", "ACTIVE", provider="OKTA")
    org.add("other@other.example.com", "ACTIVE", name="other.example.com")
    assert imported(org, [ad("alice")], full=False)["users.deactivated"] == 0
    assert org.status(f"gone@{DOMAIN}") == "ACTIVE"
    counts = imported(org, [ad("alice")], full=True)
    assert counts["users.deactivated"] == 1 and org.operations == [(f"gone@{DOMAIN}", "deactivate")]
    assert org.status(f"okta-only@{DOMAIN}") == "ACTIVE" and org.status("other@other.example.com") == "ACTIVE"


def test_a_bad_action_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="deactivate, suspend, none"):
        Lifecycle.from_settings({"deactivated_user_action": "delete"})
