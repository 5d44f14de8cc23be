"""The org's HTTP face: one FastAPI app on the `api` port with a router per area."""
from __future__ import annotations

from fastapi import FastAPI

from services.common.web import mount_static

from . import (
    agents,
    apps,
    authn,
    console,
    devices,
    enduser,
    errors,
    factors,
    gate,
    groups,
    logs,
    org_factors,
    policy_api,
    tokens,
    users,
)
from .org import Org


def make_app(org: Org) -> FastAPI:
    app = FastAPI(title="Okta org (lab)", docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    gate.install(app, org)
    # factors before users: /api/v1/users/{uid}/factors/... must not be taken for a user route.
    for module in (factors, users, groups, apps, logs, tokens, devices, authn, policy_api, org_factors, agents):
        app.include_router(module.router(org))
    app.include_router(enduser.router(org))     # the end users' pages (sign-in, activation, dashboard)
    mount_static(app)
    console.install(app, org)     # the admin console's pages under /admin, over the routes above

    @app.get("/.well-known/okta-organization")
    async def well_known() -> dict:
        return {"id": "00o" + org.name, "pipeline": "v1", "_links": {"organization": {"href": org.url}}}

    return app
