"""User-Name → Okta user, with the reason when it fails (docs/radius.md, "Application username format").

Why a module: "valid user rejected" is the most common RADIUS support case, and the admin fixes it
from the agent's log. So a failed match is explained: no such user, a User-Name that names a real
assigned user but not in the app's username format (WorkSpaces sends `jdoe`, the app says Email),
a user not assigned to the app, or a user whose Okta status forbids sign-in (suspended, locked
out, deactivated, never activated).

The match itself is the lab's choice: the app users' `credentials.userName`, case-insensitively
(`q=` narrows the list at the org; the exact comparison is ours).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Reject
from .org import OrgError

# Okta user statuses and what the agent says about them; absent ones may authenticate.
BLOCKED_STATUSES = {
    "SUSPENDED": "is SUSPENDED in Okta",
    "LOCKED_OUT": "is LOCKED_OUT in Okta (too many failed attempts)",
    "DEPROVISIONED": "is deactivated (DEPROVISIONED) in Okta",
    "STAGED": "is not activated in Okta (STAGED)",
    "PROVISIONED": "has not completed activation in Okta (PROVISIONED)",
}


@dataclass
class ResolvedUser:
    id: str
    login: str
    status: str


async def resolve_user(ctx: Any) -> ResolvedUser:
    """`ctx` is the request (mfa.RequestContext): org, app, username, policy, left(), trace, timer."""
    name = ctx.username
    if ctx.policy.strip_domain and "\\" in name:
        name = name.split("\\", 1)[1]
    wanted = name.casefold()
    users = await ctx.org.app_users(ctx.app.id, q=name, timeout=ctx.left(), trace=ctx.trace, timer=ctx.timer)
    app_user = next((au for au in users
                     if isinstance(cred := (au.get("credentials") or {}).get("userName"), str)
                     and cred.casefold() == wanted), None)
    if app_user is None:
        await _explain_no_match(ctx, name)
    assert app_user is not None
    user_id = str(app_user["id"])
    user = (app_user.get("_embedded") or {}).get("user")
    if not isinstance(user, dict) or "status" not in user:       # the org ignored expand=user
        user = await ctx.org.user(user_id, timeout=ctx.left(), trace=ctx.trace, timer=ctx.timer)
    status = str(user.get("status") or "ACTIVE")
    login = str((user.get("profile") or {}).get("login") or name)
    if status in BLOCKED_STATUSES:
        raise Reject(f"User {ctx.username} ({login}) {BLOCKED_STATUSES[status]}")
    return ResolvedUser(user_id, login, status)


async def _explain_no_match(ctx: Any, name: str) -> None:
    """Always raises Reject; one or two extra org calls find out why nothing matched."""
    app = ctx.app
    try:
        user = await ctx.org.user(name, timeout=ctx.left(), trace=ctx.trace, timer=ctx.timer)
    except OrgError as exc:
        if exc.status == 404:
            raise Reject(f"User {ctx.username} is not assigned to the app {app.label} (no app user with "
                         f"that username, and no Okta user of that login)") from None
        raise
    try:
        app_user = await ctx.org.app_user(app.id, str(user["id"]), timeout=ctx.left(), trace=ctx.trace,
                                          timer=ctx.timer)
    except OrgError as exc:
        if exc.status == 404:
            raise Reject(f"User {ctx.username} is not assigned to the app {app.label} (Okta user "
                         f"{user.get('profile', {}).get('login')} exists, no assignment)") from None
        raise
    assigned_as = (app_user.get("credentials") or {}).get("userName")
    raise Reject(f"User-Name {ctx.username} does not match the app's username format "
                 f"({app.template_text()}): Okta user {user.get('profile', {}).get('login')} is assigned "
                 f"to {app.label} as '{assigned_as}'")
