"""Adding a user to a group, with what follows from it: the group's lastMembershipUpdated, and an
app assignment (scope GROUP) for every app the group is assigned to. Users (create with
`groupIds`), groups (the API) and the seed all add members through here."""
from __future__ import annotations

from typing import Any

from .apps import assign_for_groups
from .org import Org


def add_member(org: Org, g: dict[str, Any], user_id: str) -> None:
    org.people.add_member(g["id"], user_id)
    g["lastMembershipUpdated"] = org.iso()
    org.store.put("groups", g["id"], g)
    user = org.people.user(user_id)
    if user is not None:
        assign_for_groups(org, user, g["id"])
