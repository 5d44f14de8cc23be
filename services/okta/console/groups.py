"""Directory → Groups: the list, a group's members and the apps it is assigned to."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .client import ApiError

if TYPE_CHECKING:
    from . import Console


def router(console: Console) -> APIRouter:
    r = APIRouter()

    @r.get("/admin/groups")
    async def groups(request: Request, q: str = "") -> Response:
        api = console.api(request)
        listed = await api.get("/api/v1/groups", q=q.strip() or None)
        return console.render(request, "admin/groups.html", section="groups", title="Groups", groups=listed, q=q)

    @r.get("/admin/groups/{gid}")
    async def group(request: Request, gid: str) -> Response:
        api = console.api(request)
        g = await api.get(f"/api/v1/groups/{gid}")
        members = await api.get(f"/api/v1/groups/{gid}/users")
        apps = []
        for app in await api.get("/api/v1/apps", limit=200):
            try:
                await api.get(f"/api/v1/apps/{app['id']}/groups/{g['id']}")
            except ApiError:
                continue
            apps.append(app)
        return console.render(request, "admin/group.html", section="groups", title=g["profile"]["name"], group=g,
                              members=members, apps=apps)

    return r
