"""The org's HTTP face: one FastAPI app on the `api` port with a router per area."""
from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from services.common.http_guard import BodyGuard
from services.common.web import mount_static

from . import (
    agent_pools,
    agents,
    apps,
    authenticators,
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

BODY_LIMIT = 1 << 20   # 1 MiB: Okta's largest bodies (a user, a policy) are a few KB


def _body_refused(status: int, message: str, _scope: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A body too large (413) or nested too deep (400), as Okta words a body it cannot read."""
    response = errors.error_response(errors.OktaError("E0000003", causes=[message], status=status))
    return json.loads(bytes(response.body)), {"content-type": "application/json;charset=UTF-8"}


def make_app(org: Org) -> FastAPI:
    app = FastAPI(title="Okta org (lab)", docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    app.add_middleware(BodyGuard, limit=BODY_LIMIT, errors=_body_refused)
    gate.install(app, org)
    # factors before users: /api/v1/users/{uid}/factors/... must not be taken for a user route.
    for module in (factors, users, groups, apps, logs, tokens, devices, authn, policy_api, org_factors, agents,
                   authenticators, agent_pools):
        app.include_router(module.router(org))
    app.include_router(enduser.router(org))     # the end users' pages (sign-in, activation, dashboard)
    mount_static(app)
    console.install(app, org)     # the admin console's pages under /admin, over the routes above

    @app.get("/.well-known/okta-organization")
    async def well_known() -> dict:
        return {"id": "00o" + org.name, "pipeline": "v1", "_links": {"organization": {"href": org.url}}}

    return app
