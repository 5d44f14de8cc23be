"""The Okta RADIUS agent's API token: checked once the org answers, renewed when it is refused.

The agent was given its own API token at installation (`okta_agent_token` in credentials.json,
made by lab/topology.py); the org registers it when it starts. Revoked by the admin (Security >
API > Tokens, the scenario `config-agent-token-revoked`) the revocation is kept in the org's data,
so the agent stays DISRUPTED across restarts. What fixes it in the real world is re-installing the
agent, which signs in as the admin and gets a new token: here, a new `okta_agent_token`, the org
restarted so it registers it, and the agents restarted so they use it.
"""
from __future__ import annotations

from typing import Any

import httpx

from . import topology as topo
from .client_env import lab_verify, org_url
from .runtime import Progress, Runtime


def refused(topology: dict[str, Any]) -> bool:
    """True when the org answers the agent's own call with 401 (revoked or expired token)."""
    token = topology["credentials"].get("okta_agent_token")
    if not token or "okta" not in topology["services"]:
        return False
    try:
        resp = httpx.get(f"{org_url(topology)}/api/v1/radius/apps", timeout=10, verify=lab_verify(topology),
                         headers={"Authorization": f"SSWS {token}", "Accept": "application/json"})
    except httpx.HTTPError:
        return False
    return resp.status_code == 401


def renew(runtime: Runtime, topology: dict[str, Any], progress: Progress,
          agents_running: bool = True) -> dict[str, Any]:
    """Give the agents a new API token, as re-installing the agent does; returns the topology."""
    state_dir = runtime.state_dir
    topology["credentials"] = topo.renew_credential(state_dir, "okta_agent_token")
    topo.write_topology(state_dir, topology)
    progress("the org refuses the RADIUS agent's API token (revoked or expired): giving the agent a new one, "
             "as re-installing it does")
    runtime.restart("okta")
    if agents_running:
        alive = set(runtime.status())
        for agent in topo.radius_agents(topology):
            if agent in alive:
                runtime.restart(agent)
    return topology


def ensure(runtime: Runtime, topology: dict[str, Any], progress: Progress, agents_running: bool = True) -> bool:
    """Renew the agent's token when the org refuses it; True when it did."""
    if refused(topology):
        renew(runtime, topology, progress, agents_running)
        return True
    return False
