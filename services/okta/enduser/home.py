"""After sign-in: the dashboard's app tiles (`/app/UserHome`, from the user's app links), the
settings page with the enrolled factors (`/enduser/settings`), and an app link opened from a
tile (`/home/<appName>/<appId>/<linkName>`: a bookmark app sends the browser to its URL).

`GET /api/v1/users/{id}/appLinks` (Okta's Users API, SSWS) lists the links of the apps assigned
to the user that have one: bookmark apps (and any app with a sign-on page); RADIUS apps have no
link (nothing to open in a browser), so they show no tile."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import Pages

from ..errors import not_found
from ..factors import user_factors
from ..org import Audit, Org, user_actor, user_target
from ..users import find_user
from .sessions import Sessions

NO_LINK_MODES = ("RADIUS",)
FACTOR_NAMES = {("push", "OKTA"): "Okta Verify (push)", ("token:software:totp", "OKTA"): "Okta Verify (code)",
                ("token:software:totp", "GOOGLE"): "Google Authenticator", ("sms", "OKTA"): "SMS",
                ("call", "OKTA"): "Voice call", ("email", "OKTA"): "Email"}


def app_links(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    for au in org.store.all("app_users"):
        if au.get("userId") != user["id"]:
            continue
        app = org.store.get("apps", au["appId"])
        if app is None or app.get("status", "ACTIVE") != "ACTIVE" or app.get("signOnMode") in NO_LINK_MODES:
            continue
        hidden = bool(((app.get("visibility") or {}).get("hide") or {}).get("web"))
        links.append({"id": au["appId"] + "-link", "label": app.get("label") or app["name"],
                      "linkUrl": org.href(f"/home/{app['name']}/{app['id']}/link"),
                      "logoUrl": None, "appName": app["name"],
                      "appInstanceId": app["id"], "appAssignmentId": au.get("id", au["appId"]),
                      "credentialsSetup": False, "hidden": hidden, "sortOrder": len(links)})
    return links


def factor_rows(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": FACTOR_NAMES.get((f["factorType"], f["provider"]), f["factorType"]),
             "status": f["status"], "device": (f.get("profile") or {}).get("name"),
             "created": f.get("created")} for f in user_factors(org, user)]


def router(org: Org, pages: Pages, sessions: Sessions) -> APIRouter:
    r = APIRouter()

    def signed_in_or_login(request: Request) -> dict[str, Any] | Response:
        user = sessions.user(request)
        if user is None:
            return RedirectResponse(f"/login?fromURI={request.url.path}", status_code=303)
        return user

    @r.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        return RedirectResponse("/app/UserHome" if sessions.user(request) else "/login", status_code=303)

    @r.get("/app/UserHome", response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        user = signed_in_or_login(request)
        if isinstance(user, Response):
            return user
        tiles = [link for link in app_links(org, user) if not link["hidden"]]
        return pages.render(request, "enduser/home.html", me=user, tiles=tiles, nav="home")

    @r.get("/enduser/settings", response_class=HTMLResponse)
    async def settings(request: Request) -> Response:
        user = signed_in_or_login(request)
        if isinstance(user, Response):
            return user
        return pages.render(request, "enduser/settings.html", me=user, factors=factor_rows(org, user), nav="settings")

    @r.get("/home/{app_name}/{app_id}/{link_name}")
    async def open_link(request: Request, app_name: str, app_id: str, link_name: str) -> Response:
        user = sessions.user(request)
        if user is None:
            return RedirectResponse(f"/login?fromURI={request.url.path}", status_code=303)
        link = next((lk for lk in app_links(org, user) if lk["appInstanceId"] == app_id
                     and lk["appName"] == app_name), None)
        app = org.store.get("apps", app_id)
        # The Apps API keeps a bookmark's URL under "bookmark" (apps.create_bookmark_app) and serves
        # it as settings.app.url; an app stored in Okta's own shape has only the latter.
        url = (((app or {}).get("bookmark") or {}).get("url")
               or (((app or {}).get("settings") or {}).get("app") or {}).get("url"))
        if link is None or not url or link_name != "link":
            return pages.render(request, "enduser/home.html", 404, me=user, nav="home",
                                tiles=[lk for lk in app_links(org, user) if not lk["hidden"]],
                                error={"summary": "You are not assigned to that app, or it has no link."})
        org.syslog("user.authentication.sso", audit=Audit.of(request), actor=user_actor(user),
                   targets=[user_target(user), {"id": app_id, "type": "AppInstance", "alternateId": app_name,
                                                "displayName": link["label"]}],
                   message="User single sign on to app")
        return RedirectResponse(str(url), status_code=302)

    @r.get("/api/v1/users/{uid}/appLinks")
    async def links(uid: str) -> list[dict[str, Any]]:
        user = find_user(org, uid)
        if user is None:
            raise not_found(uid, "User")
        return app_links(org, user)

    return r
