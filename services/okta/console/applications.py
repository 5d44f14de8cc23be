"""Applications: the list; add the Amazon WorkSpaces RADIUS app or a Bookmark app; an app's
General and Assignments tabs (people and groups). Every change is the Apps API's request."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..templates import template_for
from . import error_of
from .client import ApiError

if TYPE_CHECKING:
    from . import Console

# The RADIUS app's "Application username format" choices (Okta's wording) -> the API's format name.
USERNAME_FORMATS = [
    ("okta_username", "Okta username"),
    ("okta_username_prefix", "Okta username prefix"),
    ("email", "Email"),
    ("email_prefix", "Email prefix"),
    ("ad_sam_account_name", "AD SAM account name"),
    ("ad_sam_account_name_lowercase", "AD SAM account name (lowercase)"),
    ("ad_user_principal_name", "AD user principal name"),
    ("ad_user_principal_name_prefix", "AD user principal name prefix"),
    ("ad_employee_id", "AD employee ID"),
]
GROUP_ATTRIBUTES = [("", "Do not include groups"), ("11", "Filter-Id (11)"), ("25", "Class (25)"),
                    ("26", "Vendor-Specific (26)")]
RADIUS_DEFAULTS = {"label": "Amazon WorkSpaces", "port": "1812", "sharedSecret": "", "primaryAuth": False,
                   "usernameFormat": "okta_username", "groupAttribute": "", "groups": ""}


def _radius_body(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `POST /api/v1/apps` body of the RADIUS form, and the form's values to show again."""
    text = {k: str(form.get(k) or "").strip() for k in ("label", "port", "groupAttribute", "groups")}
    fmt = str(form.get("usernameFormat") or "okta_username")
    primary = form.get("primaryAuth") == "on"
    values: dict[str, Any] = {**text, "sharedSecret": "", "primaryAuth": primary, "usernameFormat": fmt}
    conf: dict[str, Any] = {"primaryAuth": primary,
                            "sharedSecret": str(form.get("sharedSecret") or "")}
    # A port that is not a number goes to the API as given, so the refusal is the API's own.
    conf["port"] = int(text["port"]) if text["port"].isdigit() else text["port"]
    if text["groupAttribute"]:
        conf["groupReturn"] = {"attribute": int(text["groupAttribute"]),
                               "groups": [g.strip() for g in text["groups"].split(",") if g.strip()]}
    body = {"name": "radius_workspaces" if "workspaces" in text["label"].lower() else "radius",
            "label": text["label"], "signOnMode": "RADIUS", "settings": {"app": conf},
            "credentials": {"userNameTemplate": {"template": fmt, "type": "BUILT_IN"}}}
    return body, values


def router(console: Console) -> APIRouter:
    r = APIRouter()

    @r.get("/admin/apps")
    async def apps(request: Request) -> Response:
        listed = await console.api(request).get("/api/v1/apps", limit=200)
        return console.render(request, "admin/apps.html", section="apps", title="Applications", apps=listed)

    @r.get("/admin/apps/new/radius")
    async def new_radius(request: Request) -> Response:
        return console.render(request, "admin/app_new_radius.html", section="apps", title="Add Amazon WorkSpaces",
                              values=RADIUS_DEFAULTS, formats=USERNAME_FORMATS, attributes=GROUP_ATTRIBUTES,
                              error=None)

    @r.post("/admin/apps/new/radius")
    async def add_radius(request: Request) -> Response:
        form = await console.form(request)
        body, values = _radius_body(form)
        try:
            app = await console.api(request).post("/api/v1/apps", body)
        except ApiError as exc:
            return console.render(request, "admin/app_new_radius.html", section="apps", title="Add Amazon WorkSpaces",
                                  values=values, formats=USERNAME_FORMATS, attributes=GROUP_ATTRIBUTES,
                                  error=error_of(exc), status_code=exc.status)
        console.flash(request, f"Application added: {app['label']}")
        return RedirectResponse(f"/admin/apps/{app['id']}", status_code=303)

    @r.get("/admin/apps/new/bookmark")
    async def new_bookmark(request: Request) -> Response:
        return console.render(request, "admin/app_new_bookmark.html", section="apps", title="Add Bookmark App",
                              values={"label": "", "url": ""}, error=None)

    @r.post("/admin/apps/new/bookmark")
    async def add_bookmark(request: Request) -> Response:
        form = await console.form(request)
        values = {"label": str(form.get("label") or "").strip(), "url": str(form.get("url") or "").strip()}
        body = {"name": "bookmark", "label": values["label"], "signOnMode": "BOOKMARK",
                "settings": {"app": {"requestIntegration": False, "url": values["url"]}}}
        try:
            app = await console.api(request).post("/api/v1/apps", body)
        except ApiError as exc:
            return console.render(request, "admin/app_new_bookmark.html", section="apps", title="Add Bookmark App",
                                  values=values, error=error_of(exc), status_code=exc.status)
        console.flash(request, f"Application added: {app['label']}")
        return RedirectResponse(f"/admin/apps/{app['id']}", status_code=303)

    async def app_page(request: Request, app_id: str, error: dict[str, Any] | None = None,
                       status_code: int = 200, tab: str = "general") -> Response:
        api = console.api(request)
        app = await api.get(f"/api/v1/apps/{app_id}")
        radius = next((x for x in await api.get("/api/v1/radius/apps") if x["id"] == app_id), None)
        app_users = await api.get(f"/api/v1/apps/{app_id}/users", limit=500)
        users = {u["id"]: u for u in await api.get("/api/v1/users", limit=200)}
        groups = {g["id"]: g for g in await api.get("/api/v1/groups")}
        assigned_groups = await api.get(f"/api/v1/apps/{app_id}/groups")
        fmt = {template_for(key): text for key, text in USERNAME_FORMATS}
        template = radius["usernameTemplate"] if radius else None
        current = next((key for key, _ in USERNAME_FORMATS if template_for(key) == template), "")
        return console.render(request, "admin/app.html", section="apps", title=app["label"], app=app,
                              radius=radius, app_users=app_users, users=users, groups=groups,
                              assigned_groups=assigned_groups, formats=fmt, error=error, status_code=status_code,
                              tab=tab, format_choices=USERNAME_FORMATS, attributes=GROUP_ATTRIBUTES,
                              current_format=current)

    @r.get("/admin/apps/{app_id}")
    async def app(request: Request, app_id: str, tab: str = "general") -> Response:
        return await app_page(request, app_id, tab=tab)

    @r.post("/admin/apps/{app_id}/signon")
    async def sign_on(request: Request, app_id: str) -> Response:
        """Edit the RADIUS app's Sign On settings: `PUT /api/v1/radius/apps/{id}` (a blank secret
        keeps the current one; a new username format recomputes every app username)."""
        form = await console.form(request)
        body, _ = _radius_body(form)
        conf = body["settings"]["app"]
        change: dict[str, Any] = {"port": conf["port"], "primaryAuth": conf["primaryAuth"],
                                  "usernameFormat": body["credentials"]["userNameTemplate"]["template"],
                                  "groupReturn": conf.get("groupReturn")}
        if conf["sharedSecret"]:
            change["sharedSecret"] = conf["sharedSecret"]
        try:
            await console.api(request).put(f"/api/v1/radius/apps/{app_id}", change)
        except ApiError as exc:
            return await app_page(request, app_id, error_of(exc), exc.status)
        console.flash(request, "Sign On settings saved: the RADIUS agent uses them from its next configuration pull.")
        return RedirectResponse(f"/admin/apps/{app_id}", status_code=303)

    @r.post("/admin/apps/{app_id}/assign/person")
    async def assign_person(request: Request, app_id: str) -> Response:
        form = await console.form(request)
        try:
            au = await console.api(request).post(f"/api/v1/apps/{app_id}/users",
                                                 {"id": str(form.get("userId") or ""), "scope": "USER"})
        except ApiError as exc:
            return await app_page(request, app_id, error_of(exc), exc.status, "assignments")
        console.flash(request, f"Assigned: {au['credentials']['userName']}")
        return RedirectResponse(f"/admin/apps/{app_id}?tab=assignments", status_code=303)

    @r.post("/admin/apps/{app_id}/assign/group")
    async def assign_group(request: Request, app_id: str) -> Response:
        form = await console.form(request)
        gid = str(form.get("groupId") or "")
        try:
            await console.api(request).put(f"/api/v1/apps/{app_id}/groups/{gid}", {})
        except ApiError as exc:
            return await app_page(request, app_id, error_of(exc), exc.status, "assignments")
        console.flash(request, "Group assigned: its members are assigned too.")
        return RedirectResponse(f"/admin/apps/{app_id}?tab=assignments", status_code=303)

    @r.post("/admin/apps/{app_id}/unassign/{kind}/{ref}")
    async def unassign(request: Request, app_id: str, kind: str, ref: str) -> Response:
        await console.form(request)
        path = f"/api/v1/apps/{app_id}/{'groups' if kind == 'group' else 'users'}/{ref}"
        try:
            await console.api(request).delete(path)
        except ApiError as exc:
            return await app_page(request, app_id, error_of(exc), exc.status, "assignments")
        console.flash(request, "Assignment removed.")
        return RedirectResponse(f"/admin/apps/{app_id}?tab=assignments", status_code=303)

    @r.post("/admin/apps/{app_id}/lifecycle/{op}")
    async def lifecycle(request: Request, app_id: str, op: str) -> Response:
        await console.form(request)
        try:
            await console.api(request).post(f"/api/v1/apps/{app_id}/lifecycle/{op}")
        except ApiError as exc:
            return await app_page(request, app_id, error_of(exc), exc.status)
        console.flash(request, f"Application {op}d.")
        return RedirectResponse(f"/admin/apps/{app_id}", status_code=303)

    return r
