"""Agent pools (Okta's Agent Pools API, `GET /api/v1/agentPools[?agentTypes=AD]`), read-only: one
pool per Active Directory integration (what the admin sees under Directory Integrations), with the
AD agents that registered for it (`agents.py`). An agent that polled within `CONNECTED_SECONDS`
is OPERATIONAL, else DISRUPTED, and INACTIVE after `agent_inactive_days` of silence; the pool is
OPERATIONAL when all are, DEGRADED when some are, DISRUPTED when none is (or it has none),
INACTIVE when every agent is. The lab runs no other agent type that Okta pools (the
RADIUS agent does not register with the org), so any other pool type gives an empty list."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from . import shapes
from .agents import agent_state
from .errors import invalid
from .org import Org

AGENT_TYPES = ("AD", "IWA", "LDAP", "MFA", "OPP", "RUM", "Radius")


def agent_view(org: Org, a: dict[str, Any]) -> dict[str, Any]:
    seen = a.get("lastSeenTs")
    state = agent_state(org, a)
    return {"id": a["id"], "name": a.get("host") or a["id"], "type": "AD", "poolId": a["directoryId"],
            "version": a.get("version"), "isHidden": False, "isLatestGAedVersion": True,
            "lastConnection": int(seen * 1000) if seen is not None else None,
            "operationalStatus": {"ACTIVE": "OPERATIONAL"}.get(state, state), "updateMessage": None,
            "updateStatus": None, "_links": {}}


def pool_view(org: Org, d: dict[str, Any]) -> dict[str, Any]:
    agents = [agent_view(org, a) for a in org.store.all("ad_agents") if a["directoryId"] == d["id"]]
    inactive = sum(1 for a in agents if a["operationalStatus"] == "INACTIVE")
    down = sum(1 for a in agents if a["operationalStatus"] == "DISRUPTED")
    if agents and inactive == len(agents):
        status = "INACTIVE"
    else:
        status = "DISRUPTED" if down + inactive == len(agents) else "DEGRADED" if down + inactive else "OPERATIONAL"
    return {"id": d["id"], "name": d["domain"], "type": "AD", "operationalStatus": status,
            "disruptedAgents": down, "inactiveAgents": inactive, "agents": agents,
            "_links": {"self": shapes.link(org.href(f"/api/v1/agentPools/{d['id']}"))}}


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/agentPools")
    async def list_pools(request: Request):
        # Okta's filter is `poolType` (what the SDK sends); `agentTypes` is taken as its alias.
        param = "poolType" if "poolType" in request.query_params else "agentTypes"
        wanted = request.query_params.get(param)
        if wanted is not None and wanted not in AGENT_TYPES:
            raise invalid(param, f"must be one of {', '.join(AGENT_TYPES)}")
        pools = [pool_view(org, d) for d in org.store.all("directories")] if wanted in (None, "AD") else []
        limit = shapes.int_param(request, "limitPerPoolType", 5, 1, 100)
        return shapes.respond(pools[:limit])

    return r
