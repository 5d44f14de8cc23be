"""`python -m services.ad_agent`: the Okta AD agent on `InstanceOkta` (no listening data ports:
it only connects out, to the org and to the DC)."""
from __future__ import annotations

from services.common.runner import Service, run

from .agent import Agent


async def build(ctx) -> Service:
    agent = Agent(ctx)

    async def health() -> tuple[bool, str]:
        # Ready once registered with the org, so `lab import` right after `lab up` finds the
        # directory. An org that answers but refuses (a revoked token) leaves the agent up and
        # DISRUPTED, as the console shows it, rather than failing the whole lab's start.
        if agent.registered:
            last = agent.state.get("lastImport") or {}
            return True, f"registered as {agent.state.get('agentId')}; last import {last.get('status', 'none')}"
        if agent.org_answered:
            return True, f"DISRUPTED: {agent.last_error}"
        return False, f"not registered yet: {agent.last_error or 'connecting'}"

    async def reset() -> None:
        agent.state.pop("lastImport", None)
        agent.state.pop("lastImportTs", None)
        agent.state.pop("fullImportDone", None)
        agent.save()

    return Service(tasks=[agent.run], health=health, reset=reset)


if __name__ == "__main__":
    run("ad-agent", build)
