"""Apps and their users (Okta's Apps API), plus the emulator-private RADIUS app settings the
RADIUS agent pulls (`/api/v1/radius/apps`; Okta does not publish the agent's own endpoints).

An app user's `credentials.userName` comes from the app's username template at assignment (the
value the agent matches RADIUS User-Name against); changing the format through
`PUT /api/v1/radius/apps/{id}` recomputes it for every assigned user ("Create and update").

Bookmark apps (`signOnMode: "BOOKMARK"`, name `bookmark`, `settings.app.url`), as Okta's Apps API
has them: a link the users assigned to it see as a tile on their dashboard."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.common.radius_wire import group_attribute

from . import shapes
from .errors import OktaError, invalid, json_body, not_found, string_field
from .ids import APP, new_id, token
from .org import Audit, Org, user_target
from .templates import evaluate, template_for


def create_radius_app(org: Org, *, name: str, label: str, port: int, secret: str,
                      username_format: str, primary_auth: bool, require_ma: bool,
                      inline_enrollment: bool = True) -> dict[str, Any]:
    now = org.iso()
    a: dict[str, Any] = {
        "id": new_id(APP), "name": name, "label": label, "status": "ACTIVE", "created": now,
        "lastUpdated": now, "signOnMode": "RADIUS", "usernameTemplate": template_for(username_format),
        "radius": {"port": port, "sharedSecret": secret, "primaryAuth": primary_auth,
                   "requireMessageAuthenticator": require_ma, "inlineEnrollment": inline_enrollment}}
    return org.store.put("apps", a["id"], a)


def create_bookmark_app(org: Org, *, label: str, url: str) -> dict[str, Any]:
    now = org.iso()
    a: dict[str, Any] = {
        "id": new_id(APP), "name": "bookmark", "label": label, "status": "ACTIVE", "created": now,
        "lastUpdated": now, "signOnMode": "BOOKMARK", "usernameTemplate": template_for("okta_username"),
        "bookmark": {"url": url, "requestIntegration": False}}
    return org.store.put("apps", a["id"], a)


# The lab's catalog of RADIUS apps (name -> the catalog's display name). Any other name with
# "radius" in it is a RADIUS app too (what the console and older seeds send).
RADIUS_CATALOG = {"radius_workspaces": "Amazon WorkSpaces", "radius_app": "RADIUS Application",
                  "radius": "RADIUS Application"}


def catalog_mode(name: str, sent: str | None) -> str:
    """The app's sign-on mode. A catalog app is chosen by `name`, as Okta's API adds catalog
    apps, and the catalog app decides its mode: a RADIUS catalog name makes a RADIUS app
    whatever `signOnMode` says, because the okta SDK cannot send "RADIUS" with a name (only
    models such as `BasicAuthApplication` or `BookmarkApplication` send `name`, with their own
    `signOnMode`), nor the `settings.app` keys they do not model: what is missing gets the
    defaults, and `PUT /api/v1/radius/apps/{id}` sets it afterwards. A name outside the catalog needs
    `signOnMode` RADIUS (the SDK's `Application.from_dict` sends that, without a name)."""
    if name == "bookmark" or (sent == "BOOKMARK" and name not in RADIUS_CATALOG):
        return "BOOKMARK" if sent in (None, "BOOKMARK") else "RADIUS" if sent == "RADIUS" else ""
    if sent == "RADIUS" or name in RADIUS_CATALOG or "radius" in name.lower():
        return "RADIUS"
    return ""


def bookmark_url(conf: dict[str, Any]) -> str:
    """`settings.app.url`: required, an absolute http(s) URL (Okta's validation message)."""
    url = string_field(conf, "url", required=True, where="settings.app")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("settings.app.url", "The URL must be an absolute http or https URL")
    return url


def app_view(org: Org, a: dict[str, Any]) -> dict[str, Any]:
    """Okta's app object; a bookmark's URL under settings.app, as Okta serves it."""
    view = shapes.app(org, a)
    view["signOnMode"] = a.get("signOnMode", "RADIUS")
    if "bookmark" in a:
        view["settings"]["app"] = dict(a["bookmark"])
    return view


def get_app(org: Org, app_id: str) -> dict[str, Any]:
    return org.require("apps", app_id, "App")


def user_name_for(app: dict[str, Any], user: dict[str, Any]) -> str:
    return evaluate(app["usernameTemplate"], user["profile"], {"userSuffix": app.get("userSuffix") or ""})


def assign(org: Org, app: dict[str, Any], user: dict[str, Any], *, scope: str = "USER",
           user_name: str | None = None) -> dict[str, Any]:
    now = org.iso()
    au = org.people.app_user(app["id"], user["id"]) or {"appId": app["id"], "userId": user["id"], "created": now}
    au.update({"scope": scope, "status": "ACTIVE", "lastUpdated": now,
               "userName": user_name or user_name_for(app, user)})
    return org.people.save_app_user(au)


def group_assignment_view(org: Org, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["groupId"], "lastUpdated": row["lastUpdated"], "priority": row["priority"],
            "profile": {}, "_links": {"app": shapes.link(org.href(f"/api/v1/apps/{row['appId']}")),
                                      "group": shapes.link(org.href(f"/api/v1/groups/{row['groupId']}"))}}


def assign_for_groups(org: Org, user: dict[str, Any], group_id: str) -> None:
    """A new member of a group assigned to apps becomes an app user of each (scope GROUP)."""
    for row in org.store.all("app_groups"):
        if row["groupId"] != group_id:
            continue
        app = org.store.get("apps", row["appId"])
        if app is not None and org.people.app_user(app["id"], user["id"]) is None:
            assign(org, app, user, scope="GROUP")


def group_return(value: Any, where: str = "groupReturn") -> dict[str, Any] | None:
    """Validate "Include groups in RADIUS response" (docs/okta.md, "Apps and the RADIUS app"): `{attribute: 11|25|26 (or
    Filter-Id / Class / Vendor-Specific), groups: [names; empty = all the user's groups],
    vendorId, vendorType}` (the last two for attribute 26; Cisco's 9/1 by default). None or
    false turns it off. Stored and served normalised: attribute as a number, all four keys."""
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        raise invalid(where, "must be an object or null")
    raw = value.get("attribute")
    attr = group_attribute(raw)
    if attr is None:
        raise invalid(f"{where}.attribute", "must be 11 (Filter-Id), 25 (Class) or 26 (Vendor-Specific)")
    groups = value.get("groups", [])
    if groups is None:
        groups = []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise invalid(f"{where}.groups", "must be a list of group names")
    out: dict[str, Any] = {"attribute": attr, "groups": list(groups)}
    for key, default, hi in (("vendorId", 9, 2 ** 32 - 1), ("vendorType", 1, 255)):
        v = value.get(key, default)
        if v is None:
            v = default
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= hi:
            raise invalid(f"{where}.{key}", f"must be an integer from 0 to {hi}")
        out[key] = v
    return out


def finish_create(org: Org, audit: Audit, request: Request, a: dict[str, Any]) -> Any:
    """What every new app gets: `?activate=false` leaves it INACTIVE; its two records; its body."""
    if request.query_params.get("activate", "true").lower() == "false":
        a["status"] = "INACTIVE"
        org.store.put("apps", a["id"], a)
    org.syslog("application.lifecycle.create", audit=audit,
               targets=[{"id": a["id"], "type": "AppInstance", "alternateId": a["label"],
                         "displayName": a["label"], "detailEntry": None}])
    port = a["radius"]["port"] if "radius" in a else None
    org.record("okta.app", audit, outcome="created", app=a["name"], label=a["label"], port=port)
    return shapes.respond(app_view(org, a))


def radius_view(a: dict[str, Any]) -> dict[str, Any]:
    r = a["radius"]
    view = {"id": a["id"], "label": a["label"], "name": a["name"], "status": a["status"],
            "port": r["port"], "sharedSecret": r["sharedSecret"], "primaryAuth": r["primaryAuth"],
            "usernameTemplate": a["usernameTemplate"],
            "requireMessageAuthenticator": r["requireMessageAuthenticator"],
            "inlineEnrollment": r["inlineEnrollment"]}
    if r.get("groupReturn"):
        view["groupReturn"] = r["groupReturn"]
    return view


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/apps")
    async def list_apps(request: Request):
        apps = org.store.all("apps")
        q = request.query_params.get("q")
        if q:
            apps = [a for a in apps if a["name"].lower().startswith(q.lower())
                    or a["label"].lower().startswith(q.lower())]
        chunk, headers = shapes.page(request, apps, default_limit=20, max_limit=200)
        return shapes.respond([app_view(org, a) for a in chunk], headers=headers)

    @r.post("/api/v1/apps")
    async def create_app(request: Request):
        """Add an app from the catalog. The lab's org hosts RADIUS apps (`signOnMode: "RADIUS"`,
        or a name like `radius_*`), as the walkthrough adds "Amazon WorkSpaces" (RADIUS): port,
        secret, primary authentication etc. come from `settings.app` (lab extension: Okta keeps
        them out of the public schema, docs/okta.md) and are changed later with
        PUT /api/v1/radius/apps/{id}; the username format from `credentials.userNameTemplate.template`
        (a built-in expression or a format name such as `ad_sam_account_name`)."""
        audit = Audit.of(request)
        data = await json_body(request)
        sent = string_field(data, "signOnMode")
        name = string_field(data, "name") or ("bookmark" if sent == "BOOKMARK" else "radius")
        mode = catalog_mode(name, sent)
        if mode not in ("RADIUS", "BOOKMARK"):
            raise invalid("signOnMode", "the lab's org hosts RADIUS and BOOKMARK apps only")
        label = string_field(data, "label", required=mode == "BOOKMARK") or RADIUS_CATALOG.get(name, name)
        settings = data.get("settings") or {}
        conf = (settings.get("app") if isinstance(settings, dict) else None) or {}
        if not isinstance(conf, dict):
            raise invalid("settings.app", "must be an object")
        if mode == "BOOKMARK":
            return finish_create(org, audit, request, create_bookmark_app(org, label=label, url=bookmark_url(conf)))
        creds = data.get("credentials") or {}
        template = ((creds.get("userNameTemplate") or {}) if isinstance(creds, dict) else {}).get("template")
        port = conf.get("port", 1812)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise invalid("settings.app.port", "must be a UDP port number")
        for key in ("primaryAuth", "requireMessageAuthenticator", "inlineEnrollment"):
            if key in conf and not isinstance(conf[key], bool):
                raise invalid(f"settings.app.{key}", "must be a boolean")
        secret = string_field(conf, "sharedSecret", where="settings.app") or token(24)
        groups_back = group_return(conf.get("groupReturn"), "settings.app.groupReturn")
        a = create_radius_app(org, name=name, label=label or name, port=port, secret=secret,
                              username_format=str(template or conf.get("usernameFormat") or "okta_username"),
                              primary_auth=bool(conf.get("primaryAuth", False)),
                              require_ma=bool(conf.get("requireMessageAuthenticator", False)),
                              inline_enrollment=bool(conf.get("inlineEnrollment", True)))
        if groups_back is not None:
            a["radius"]["groupReturn"] = groups_back
            org.store.put("apps", a["id"], a)
        return finish_create(org, audit, request, a)

    @r.post("/api/v1/apps/{app_id}/lifecycle/{op}")
    async def app_lifecycle(app_id: str, op: str, request: Request):
        audit = Audit.of(request)
        a = get_app(org, app_id)
        if op not in ("activate", "deactivate"):
            raise not_found(f"lifecycle/{op}", "Operation")
        a.update(status="ACTIVE" if op == "activate" else "INACTIVE", lastUpdated=org.iso())
        org.store.put("apps", a["id"], a)
        org.syslog(f"application.lifecycle.{op}", audit=audit,
                   targets=[{"id": a["id"], "type": "AppInstance", "alternateId": a["label"],
                             "displayName": a["label"], "detailEntry": None}])
        return shapes.respond({})

    @r.get("/api/v1/apps/{app_id}")
    async def read(app_id: str):
        return shapes.respond(app_view(org, get_app(org, app_id)))

    @r.get("/api/v1/apps/{app_id}/users")
    async def app_users(app_id: str, request: Request):
        a = get_app(org, app_id)
        q = request.query_params.get("q")
        aus = org.people.app_users_matching(a["id"], q) if q else org.people.app_users(a["id"])
        chunk, headers = shapes.page(request, aus, key=lambda d: d["userId"], default_limit=50,
                                     max_limit=500)
        return shapes.respond([shapes.app_user(org, au) for au in chunk], headers=headers)

    @r.post("/api/v1/apps/{app_id}/users")
    async def assign_user(app_id: str, request: Request):
        audit = Audit.of(request)
        a = get_app(org, app_id)
        data = await json_body(request)
        uid = string_field(data, "id", required=True)
        scope = string_field(data, "scope") or "USER"
        if scope not in ("USER", "GROUP"):
            raise invalid("scope", "must be USER or GROUP")
        creds = data.get("credentials") or {}
        if not isinstance(creds, dict):
            raise invalid("credentials", "must be an object")
        user_name = string_field(creds, "userName", where="credentials")
        u = org.people.user(uid or "")
        if u is None:
            raise not_found(uid or "", "User")
        au = assign(org, a, u, scope=scope, user_name=user_name)
        org.syslog("application.user_membership.add", audit=audit,
                   targets=[user_target(u), {"id": a["id"], "type": "AppInstance", "alternateId": a["label"],
                                             "displayName": a["label"], "detailEntry": None}],
                   message="Add user to application membership")
        org.record("okta.app.assign", audit, outcome="assigned", app=a["name"],
                   user=u["profile"]["login"], userName=au["userName"])
        return shapes.respond(shapes.app_user(org, au))

    @r.get("/api/v1/apps/{app_id}/users/{uid}")
    async def read_app_user(app_id: str, uid: str):
        a = get_app(org, app_id)
        au = org.people.app_user(a["id"], uid)
        if au is None:
            raise not_found(uid, "AppUser")
        return shapes.respond(shapes.app_user(org, au))

    @r.delete("/api/v1/apps/{app_id}/users/{uid}")
    async def unassign(app_id: str, uid: str, request: Request):
        audit = Audit.of(request)
        a = get_app(org, app_id)
        if not org.people.remove_app_user(a["id"], uid):
            raise not_found(uid, "AppUser")
        u = org.people.user(uid)
        org.syslog("application.user_membership.remove", audit=audit,
                   targets=[user_target(u)] if u else [], message="Remove user from application membership")
        org.record("okta.app.assign", audit, outcome="removed", app=a["name"],
                   user=u["profile"]["login"] if u else uid)
        return Response(status_code=204)

    # -- group assignments: members become app users with scope GROUP -------------------------
    @r.get("/api/v1/apps/{app_id}/groups")
    async def app_groups(app_id: str, request: Request):
        a = get_app(org, app_id)
        rows = org.store.all("app_groups", f"{a['id']}/")
        chunk, headers = shapes.page(request, rows, key=lambda d: d["groupId"], default_limit=20, max_limit=200)
        return shapes.respond([group_assignment_view(org, g) for g in chunk], headers=headers)

    @r.get("/api/v1/apps/{app_id}/groups/{gid}")
    async def app_group(app_id: str, gid: str):
        a = get_app(org, app_id)
        row = org.require("app_groups", f"{a['id']}/{gid}", "ApplicationGroupAssignment", gid)
        return shapes.respond(group_assignment_view(org, row))

    @r.put("/api/v1/apps/{app_id}/groups/{gid}")
    async def assign_group(app_id: str, gid: str, request: Request):
        audit = Audit.of(request)
        a = get_app(org, app_id)
        g = org.require("groups", gid, "UserGroup")
        data = await json_body(request, required=False)
        priority = data.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise invalid("priority", "must be an integer")
        row = org.store.put("app_groups", f"{a['id']}/{gid}",
                            {"appId": a["id"], "groupId": gid, "priority": priority, "lastUpdated": org.iso()})
        added = 0
        for uid in org.people.member_ids(gid):
            u = org.people.user(uid)
            if u is not None and org.people.app_user(a["id"], u["id"]) is None:
                assign(org, a, u, scope="GROUP")
                added += 1
        org.syslog("application.user_membership.add", audit=audit,
                   targets=[{"id": gid, "type": "UserGroup", "alternateId": g["profile"]["name"],
                             "displayName": g["profile"]["name"], "detailEntry": None}],
                   message="Assign group to application")
        org.record("okta.app.assign", audit, outcome="group_assigned", app=a["name"],
                   group=g["profile"]["name"], users_added=added)
        return shapes.respond(group_assignment_view(org, row))

    @r.delete("/api/v1/apps/{app_id}/groups/{gid}")
    async def unassign_group(app_id: str, gid: str, request: Request):
        audit = Audit.of(request)
        a = get_app(org, app_id)
        if not org.store.delete("app_groups", f"{a['id']}/{gid}"):
            raise not_found(gid, "ApplicationGroupAssignment")
        for uid in org.people.member_ids(gid):
            au = org.people.app_user(a["id"], uid)
            if au is not None and au.get("scope") == "GROUP":
                org.people.remove_app_user(a["id"], uid)
        org.record("okta.app.assign", audit, outcome="group_removed", app=a["name"], group=gid)
        return Response(status_code=204)

    # -- emulator-private: what the RADIUS agent needs and the public API does not expose ------
    @r.get("/api/v1/radius/apps")
    async def radius_apps(request: Request):
        audit = Audit.of(request)
        apps = [radius_view(a) for a in org.store.all("apps") if "radius" in a and a["status"] == "ACTIVE"]
        org.record("okta.radius.config", audit, outcome="ok", apps=len(apps))
        return shapes.respond(apps)

    @r.put("/api/v1/radius/apps/{app_id}")
    async def update_radius_app(app_id: str, request: Request):
        """Change Sign On settings (port, secret, primary auth, username format, groupReturn...)
        as an admin would in the console; the agent sees them at its next configuration pull."""
        audit = Audit.of(request)
        a = get_app(org, app_id)
        if "radius" not in a:
            raise OktaError("E0000001", "not a RADIUS app", ["app: not a RADIUS app"])
        data = await json_body(request)
        rad = a["radius"]
        for key in ("primaryAuth", "requireMessageAuthenticator", "inlineEnrollment"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise invalid(key, "must be a boolean")
                rad[key] = data[key]
        if "port" in data:
            if not isinstance(data["port"], int) or isinstance(data["port"], bool) or not 1 <= data["port"] <= 65535:
                raise invalid("port", "must be a UDP port number")
            rad["port"] = data["port"]
        secret = string_field(data, "sharedSecret")
        if secret is not None:
            rad["sharedSecret"] = secret
        if "groupReturn" in data:
            gr = group_return(data["groupReturn"])
            if gr is None:
                rad.pop("groupReturn", None)
            else:
                rad["groupReturn"] = gr
        label = string_field(data, "label")
        if label is not None:
            a["label"] = label
        fmt = string_field(data, "usernameFormat") or string_field(data, "usernameTemplate")
        if fmt is not None:
            a["usernameTemplate"] = template_for(fmt)
        a["lastUpdated"] = org.iso()
        org.store.put("apps", a["id"], a)
        if fmt is not None:
            for au in org.people.app_users(a["id"]):
                u = org.people.user(au["userId"])
                if u is not None:
                    assign(org, a, u, scope=au.get("scope", "USER"))
        org.syslog("application.lifecycle.update", audit=audit,
                   targets=[{"id": a["id"], "type": "AppInstance", "alternateId": a["label"],
                             "displayName": a["label"], "detailEntry": None}])
        org.record("okta.radius.config", audit, outcome="updated", app=a["name"],
                   changed=sorted(k for k in data if k != "sharedSecret"))
        return shapes.respond(radius_view(a))

    return r
