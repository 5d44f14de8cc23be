"""Directory → People: the list and search, Add Person, a person's page and lifecycle actions.
Each action is the API's request (`POST /api/v1/users`, `.../lifecycle/<op>`), nothing more."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from . import error_of
from .client import ApiError, OrgApi

if TYPE_CHECKING:
    from . import Console

# What the person page offers in each status (the API still decides: a refusal shows its message).
ACTIONS: dict[str, list[tuple[str, str]]] = {
    "STAGED": [("activate", "Activate")],
    "PROVISIONED": [("reactivate", "Resend activation email"), ("deactivate", "Deactivate")],
    "ACTIVE": [("suspend", "Suspend"), ("deactivate", "Deactivate"), ("reset_factors", "Reset Multifactor")],
    "PASSWORD_EXPIRED": [("deactivate", "Deactivate"), ("reset_factors", "Reset Multifactor")],
    "RECOVERY": [("deactivate", "Deactivate")],
    "SUSPENDED": [("unsuspend", "Unsuspend"), ("deactivate", "Deactivate")],
    "LOCKED_OUT": [("unlock", "Unlock"), ("deactivate", "Deactivate"), ("reset_factors", "Reset Multifactor")],
    "DEPROVISIONED": [("activate", "Activate")],
}
DONE = {"activate": "activated; the activation email went to their primary email (and secondary, if any)",
        "reactivate": "sent a new activation email", "deactivate": "deactivated",
        "suspend": "suspended", "unsuspend": "unsuspended", "unlock": "unlocked",
        "reset_factors": "reset: every factor removed"}
EMPTY_PERSON = {"firstName": "", "lastName": "", "login": "", "email": "", "secondEmail": "",
                "password_mode": "user", "send_email": True}


async def _assigned_apps(api: OrgApi, uid: str) -> list[dict[str, Any]]:
    """The apps `uid` is assigned to, with the app username (one lookup per app: orgs here have few)."""
    found = []
    for app in await api.get("/api/v1/apps", limit=200):
        try:
            au = await api.get(f"/api/v1/apps/{app['id']}/users/{uid}")
        except ApiError:
            continue
        found.append({"app": app, "appUser": au})
    return found


def router(console: Console) -> APIRouter:
    r = APIRouter()

    async def person_page(request: Request, uid: str, error: dict[str, Any] | None = None,
                          status_code: int = 200) -> Response:
        api = console.api(request)
        user = await api.get(f"/api/v1/users/{uid}")
        groups = await api.get(f"/api/v1/users/{uid}/groups")
        factors = await api.get(f"/api/v1/users/{uid}/factors")
        apps = await _assigned_apps(api, uid)
        name = " ".join(x for x in (user["profile"].get("firstName"), user["profile"].get("lastName")) if x)
        return console.render(request, "admin/person.html", section="people", title=name or user["profile"]["login"],
                              user=user, groups=groups, factors=factors, apps=apps, error=error,
                              actions=ACTIONS.get(user["status"], []), status_code=status_code)

    @r.get("/admin/people")
    async def people(request: Request, q: str = "") -> Response:
        users = await console.api(request).get("/api/v1/users", q=q.strip() or None, limit=200)
        return console.render(request, "admin/people.html", section="people", title="People", users=users, q=q)

    @r.get("/admin/people/new")
    async def new_person(request: Request) -> Response:
        return console.render(request, "admin/person_new.html", section="people", title="Add Person",
                              person=EMPTY_PERSON, error=None)

    @r.post("/admin/people/new")
    async def add_person(request: Request) -> Response:
        form = await console.form(request)
        api = console.api(request)
        person = {k: str(form.get(k) or "").strip() for k in ("firstName", "lastName", "login", "email", "secondEmail")}
        mode = "admin" if form.get("password_mode") == "admin" else "user"
        send = form.get("send_email") == "on"
        profile = {k: v for k, v in person.items() if v}
        profile.setdefault("login", "")
        body: dict[str, Any] = {"profile": profile}
        if mode == "admin":
            body["credentials"] = {"password": {"value": str(form.get("password") or "")}}
        # Okta's form: with "Set by admin" the user is active at once; with "Set by user" the
        # activation email goes out now when asked, else the person waits STAGED.
        activate = "true" if (mode == "admin" or send) else "false"
        try:
            user = await api.post("/api/v1/users", body, activate=activate)
        except ApiError as exc:
            return console.render(request, "admin/person_new.html", section="people", title="Add Person",
                                  person={**person, "password_mode": mode, "send_email": send},
                                  error=error_of(exc), status_code=exc.status)
        console.flash(request, f"Person added: {user['profile']['login']} ({user['status']})")
        return RedirectResponse(f"/admin/people/{user['id']}", status_code=303)

    @r.get("/admin/people/{uid}")
    async def person(request: Request, uid: str) -> Response:
        return await person_page(request, uid)

    @r.post("/admin/people/{uid}/lifecycle/{op}")
    async def lifecycle(request: Request, uid: str, op: str) -> Response:
        form = await console.form(request)
        api = console.api(request)
        params = {"sendEmail": "false" if form.get("send_email") == "off" else "true"} \
            if op in ("activate", "reactivate") else {}
        try:
            await api.post(f"/api/v1/users/{uid}/lifecycle/{op}", None, **params)
        except ApiError as exc:
            return await person_page(request, uid, error_of(exc), exc.status)
        console.flash(request, f"Person {DONE.get(op, op)}.")
        return RedirectResponse(f"/admin/people/{uid}", status_code=303)

    return r
