"""Adding a user to a group, with what follows from it: the group's lastMembershipUpdated, and an
app assignment (scope GROUP) for every app the group is assigned to. Users (create with
`groupIds`), groups (the API) and the seed all add members through here."""
from __future__ import annotations

from typing import Any

from .apps import assign_for_groups
from .org import Org


def joined_org(org: Org, user: dict[str, Any]) -> None:
    """A new user is a member of Everyone: the apps assigned to Everyone are theirs too."""
    if org.people.everyone_id:
        assign_for_groups(org, user, org.people.everyone_id)


def add_member(org: Org, g: dict[str, Any], user_id: str) -> None:
    if g.get("type") == "BUILT_IN":
        return          # Everyone's membership is implicit
    org.people.add_member(g["id"], user_id)
    g["lastMembershipUpdated"] = org.iso()
    org.store.put("groups", g["id"], g)
    user = org.people.user(user_id)
    if user is not None:
        assign_for_groups(org, user, g["id"])
