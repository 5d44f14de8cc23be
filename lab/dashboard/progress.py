"""How far a trainee has come through the walkthrough, read from their lab as a client would.

The milestones, in the walkthrough's order, and where each is read:
- directory connected: DescribeDirectories shows a directory whose Stage is Active;
- RADIUS Completed: its RadiusStatus is Completed (the MFA settings were accepted);
- users imported: the Okta org has users whose provider is ACTIVE_DIRECTORY;
- enrolled: one of them has an ACTIVE factor (Okta Verify);
- first sign-in with a code / with a push: the events, a WorkSpaces sign-in that succeeded after
  the RADIUS agent accepted that user by that method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..client import LabClient

STEPS = (("directory", "directory connected"), ("radius", "RADIUS Completed"), ("imported", "users imported"),
         ("enrolled", "enrolled"), ("code", "first sign-in with a code"), ("push", "first sign-in with a push"))
ENROL_LOOK = 25          # users whose factors are asked for, at most, per look


def directory_facts(directories: list[dict[str, Any]]) -> dict[str, bool]:
    """From DescribeDirectories' DirectoryDescriptions."""
    return {"directory": any(d.get("Stage") == "Active" for d in directories),
            "radius": any(d.get("RadiusStatus") == "Completed" for d in directories)}


def ad_users(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [u for u in users if ((u.get("credentials") or {}).get("provider") or {}).get("type") == "ACTIVE_DIRECTORY"]


@dataclass
class SignIns:
    """Sign-ins that succeeded, by MFA method, from the events as they come (sticky: once seen,
    a milestone stays reached)."""
    accepted_by: dict[str, str] = field(default_factory=dict)     # user -> the method last accepted
    done: set[str] = field(default_factory=set)                   # "code", "push"

    def feed(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            fields = e.get("fields") or {}
            user = str(fields.get("user") or "").split("@")[0].split("\\")[-1].lower()
            if e.get("kind") == "radius.request" and e.get("outcome") == "accept" and fields.get("method"):
                self.accepted_by[user] = str(fields["method"])
            elif e.get("kind") == "workspaces.signin" and e.get("outcome") == "success":
                method = self.accepted_by.pop(user, None)
                if method in ("code", "push"):
                    self.done.add(method)


def milestones(facts: dict[str, bool]) -> list[dict[str, Any]]:
    """[{"key", "label", "done"}] in the walkthrough's order."""
    return [{"key": key, "label": label, "done": bool(facts.get(key))} for key, label in STEPS]


def reached(facts: dict[str, bool]) -> int:
    """How many milestones, counted in order, are behind the trainee."""
    count = 0
    for key, _label in STEPS:
        if not facts.get(key):
            break
        count += 1
    return count


@dataclass
class Tracker:
    """One trainee lab's progress, refreshed on each look."""
    marks: dict[str, int] = field(default_factory=dict)
    sign_ins: SignIns = field(default_factory=SignIns)

    def look(self, client: LabClient) -> dict[str, Any]:
        health = client.health()
        facts: dict[str, bool] = {"directory": False, "radius": False, "imported": False, "enrolled": False}
        if health.get("ad-connector"):
            try:
                facts |= directory_facts(client.aws("ds").describe_directories()["DirectoryDescriptions"])
            except Exception:  # noqa: BLE001 - a lab mid-restart: the milestone reads as not reached
                pass
        if health.get("okta"):
            resp = client.okta("GET", "/api/v1/users", params={"limit": 200})
            users = ad_users(resp.json()) if resp.status_code == 200 else []
            facts["imported"] = bool(users)
            for user in users[:ENROL_LOOK]:
                factors = client.okta("GET", f"/api/v1/users/{user['id']}/factors")
                if factors.status_code == 200 and any(f.get("status") == "ACTIVE" for f in factors.json()):
                    facts["enrolled"] = True
                    break
        events = client.events(since=self.marks)
        for e in events:
            self.marks[e["service"]] = max(self.marks.get(e["service"], 0), int(e["seq"]))
        self.sign_ins.feed(events)
        facts |= {method: True for method in self.sign_ins.done}
        return {"healthy": bool(health) and all(health.values()),
                "unhealthy": sorted(name for name, ok in health.items() if not ok),
                "milestones": milestones(facts), "reached": reached(facts)}
