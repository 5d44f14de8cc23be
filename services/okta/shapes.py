"""Okta's JSON shapes for stored documents (users, groups, apps, app users, factors) and the
paging Okta does with `limit`/`after` and `Link` headers. Stored documents keep private fields
(password hash, device credential digest, RADIUS settings) that never leave through here."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

from .errors import OktaError, invalid
from .org import Org

JSON_TYPE = "application/json;charset=UTF-8"


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers, media_type=JSON_TYPE)


def link(href: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, **extra}


def post_link(href: str) -> dict[str, Any]:
    return {"href": href, "hints": {"allow": ["POST"]}}


def user(org: Org, u: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/users/{u['id']}")
    links: dict[str, Any] = {"self": link(base)}
    status = u["status"]
    if status in ("STAGED", "DEPROVISIONED"):
        links["activate"] = post_link(f"{base}/lifecycle/activate")
    if status == "PROVISIONED":
        links["reactivate"] = post_link(f"{base}/lifecycle/reactivate")
    if status == "ACTIVE":
        links["suspend"] = post_link(f"{base}/lifecycle/suspend")
        links["resetFactors"] = post_link(f"{base}/lifecycle/reset_factors")
    if status == "SUSPENDED":
        links["unsuspend"] = post_link(f"{base}/lifecycle/unsuspend")
    if status == "LOCKED_OUT":
        links["unlock"] = post_link(f"{base}/lifecycle/unlock")
    if status != "DEPROVISIONED":
        links["deactivate"] = post_link(f"{base}/lifecycle/deactivate")
    links["type"] = link(org.href("/api/v1/meta/types/user/default"))
    return {
        "id": u["id"],
        "status": status,
        "created": u["created"],
        "activated": u.get("activated"),
        "statusChanged": u.get("statusChanged"),
        "lastLogin": u.get("lastLogin"),
        "lastUpdated": u["lastUpdated"],
        "passwordChanged": u.get("passwordChanged"),
        "transitioningToStatus": None,
        "type": {"id": "oty" + u["id"][3:]},
        "profile": u["profile"],
        "credentials": {"provider": u.get("provider", {"type": "OKTA", "name": "OKTA"})},
        "_links": links,
    }


def group(org: Org, g: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/groups/{g['id']}")
    return {
        "id": g["id"], "created": g["created"], "lastUpdated": g["lastUpdated"],
        "lastMembershipUpdated": g.get("lastMembershipUpdated", g["lastUpdated"]),
        "objectClass": ["okta:user_group"], "type": g.get("type", "OKTA_GROUP"),
        "profile": g["profile"],
        "_links": {"self": link(base), "users": link(f"{base}/users"), "apps": link(f"{base}/apps")},
    }


def app(org: Org, a: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/apps/{a['id']}")
    return {
        "id": a["id"], "name": a["name"], "label": a["label"], "status": a["status"],
        "created": a["created"], "lastUpdated": a["lastUpdated"],
        "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
        "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": True, "web": True},
                       "appLinks": {}},
        "features": [],
        "signOnMode": a.get("signOnMode", "RADIUS"),
        "credentials": {"userNameTemplate": {"template": a["usernameTemplate"], "type": "BUILT_IN",
                                             "userSuffix": a.get("userSuffix"),
                                             "pushStatus": "DONT_PUSH"},
                        "signing": {}},
        "settings": {"app": {}, "notifications": {}, "signOn": {}},
        "_links": {"self": link(base), "users": link(f"{base}/users"),
                   "groups": link(f"{base}/groups"),
                   "deactivate": post_link(f"{base}/lifecycle/deactivate")},
    }


def app_user(org: Org, au: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": au["userId"], "externalId": None, "created": au["created"],
        "lastUpdated": au["lastUpdated"], "scope": au.get("scope", "USER"),
        "status": au.get("status", "ACTIVE"), "statusChanged": au["created"],
        "passwordChanged": None, "syncState": "DISABLED", "lastSync": None,
        "credentials": {"userName": au["userName"]}, "profile": {},
        "_links": {"app": link(org.href(f"/api/v1/apps/{au['appId']}")),
                   "user": link(org.href(f"/api/v1/users/{au['userId']}"))},
    }


VENDOR = {"OKTA": "OKTA", "GOOGLE": "GOOGLE"}


def factor(org: Org, f: dict[str, Any]) -> dict[str, Any]:
    """A factor as the Factors API shows it; the enrolment extras are added by factors.py."""
    base = org.href(f"/api/v1/users/{f['userId']}/factors/{f['id']}")
    links: dict[str, Any] = {"self": link(base, hints={"allow": ["GET", "DELETE"]}),
                             "user": link(org.href(f"/api/v1/users/{f['userId']}"))}
    if f["status"] == "ACTIVE":
        links["verify"] = post_link(f"{base}/verify")
    elif f["status"] == "PENDING_ACTIVATION":
        if f["factorType"] == "push":
            links["poll"] = post_link(f"{base}/lifecycle/activate/poll")
        else:
            links["activate"] = post_link(f"{base}/lifecycle/activate")
        if f["factorType"] in ("sms", "call", "email"):
            links["resend"] = [{"name": f["factorType"], **post_link(f"{base}/resend")}]
    return {
        "id": f["id"], "factorType": f["factorType"], "provider": f["provider"],
        "vendorName": VENDOR.get(f["provider"], f["provider"]), "status": f["status"],
        "created": f["created"], "lastUpdated": f["lastUpdated"],
        "profile": f.get("profile", {}), "_links": links,
    }


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "must be an integer") from None
    if value < lo:
        raise invalid(name, f"must be at least {lo}")
    return min(value, hi)


def page_stream(request: Request, items_after: Callable[[str | None], Iterator[dict[str, Any]]], *,
                default_limit: int = 200, max_limit: int = 200) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`page` for a listing read lazily: `items_after(cursor)` yields the items after the cursor
    (KeyError for an unknown one), so a page costs its own size, not the whole list's (100,000
    users in pages of 200: bench/README.md)."""
    limit = int_param(request, "limit", default_limit, 1, max_limit)
    after = request.query_params.get("after") or None
    try:
        chunk = list(islice(items_after(after), limit + 1))
    except KeyError:
        raise OktaError("E0000001", "after", ["after: not a valid cursor"]) from None
    more = len(chunk) > limit
    chunk = chunk[:limit]
    base = str(request.url).split("?")[0]
    params = {k: v for k, v in request.query_params.items() if k != "after"}
    links = [f'<{base}?{urlencode(params)}>; rel="self"' if params else f'<{base}>; rel="self"']
    if more:
        links.append(f'<{base}?{urlencode({**params, "after": chunk[-1]["id"], "limit": limit})}>; rel="next"')
    return chunk, {"Link": ", ".join(links)}


def page(request: Request, items: list[dict[str, Any]], *, default_limit: int = 200,
         max_limit: int = 200, key: Callable[[dict[str, Any]], str] = lambda d: d["id"],
         ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of `items` after the `after` cursor, and the Link header Okta sends with it
    (rel="self" always, rel="next" when more remain); the SDK follows rel="next"."""
    limit = int_param(request, "limit", default_limit, 1, max_limit)
    after = request.query_params.get("after")
    start = 0
    if after:
        ids = [key(i) for i in items]
        if after not in ids:
            raise OktaError("E0000001", "after", ["after: not a valid cursor"])
        start = ids.index(after) + 1
    chunk = items[start:start + limit]
    base = str(request.url).split("?")[0]
    params = {k: v for k, v in request.query_params.items() if k != "after"}
    links = [f'<{base}?{urlencode(params)}>; rel="self"' if params else f'<{base}>; rel="self"']
    if start + limit < len(items) and chunk:
        links.append(f'<{base}?{urlencode({**params, "after": key(chunk[-1]), "limit": limit})}>; rel="next"')
    return chunk, {"Link": ", ".join(links)}
