"""`python -m services.radius_agent`: the Okta RADIUS Server Agent.

Settings (topology `settings` of `radius-agent`, read by model.Policy), Okta's config.properties
names where they exist:
  ragent.request.timeout.millisecond      request budget, default 60000 (push gets half)
  ragent.total.request.timeout.millisecond  older name, used when the above is absent
  ragent.request.timeout.response.mode    SEND_REJECT_ON_POLL_MFA (default) | SEND_REJECT_ALWAYS | NO_RESPONSE
  ragent.num_request_threads              worker pool, default 15; when all are busy: "Request queue is full"
  ragent.num_max_http_connection          HTTP connections to the org, default 20
  ragent.mfa.timeout.seconds              how long an Access-Challenge's State stays valid, default 60
  app_refresh_seconds                     re-read the org's RADIUS apps, default 30
  push_poll_interval_seconds              lab: seconds between push transaction polls, default 1
  dedup_cache_seconds                     lab: how long answered requests are remembered, default 10
  username_strip_domain                   lab: strip DOMAIN\\ from User-Name, default false
"""
from __future__ import annotations

import sys

from services.common.runner import EXIT_BAD_CONFIG, Service, bind_udp, run
from services.common.tls import peer_https

from . import radius
from .agent import Agent
from .apps import AppRegistry, Listeners
from .challenge import ChallengeStore
from .dedup import DuplicateCache
from .mfa import Policy, Verifier
from .org import OrgClient


async def build(ctx) -> Service:
    try:
        policy = Policy.from_settings(ctx.settings)
    except ValueError as exc:
        ctx.log.error("bad radius-agent settings: %s", exc)
        sys.exit(EXIT_BAD_CONFIG)
    # The token the agent was given at installation (its own, so revoking it disrupts only the agent).
    token = ctx.topology["credentials"].get("okta_agent_token") or ctx.credential("okta_api_token")
    url, verify = peer_https(ctx, "okta")          # https://<org> verified against the lab CA
    org = OrgClient(url, token, max_connections=policy.max_http_connections, local_address=ctx.host,
                    verify=verify)
    registry = AppRegistry(org, policy.app_refresh, ctx.record)
    dedup = DuplicateCache(ttl=policy.dedup_ttl)
    challenges = ChallengeStore(ttl=policy.mfa_timeout)
    agent = Agent(ctx, registry, Verifier(org, policy, challenges), dedup, threads=policy.threads)
    radius.dictionary()                       # load now: a broken dictionary fails the start
    listeners = Listeners(ctx.host, ctx.port("radius"), bind_udp(ctx, "radius"), agent.receive, ctx.record)
    registry.on_change = listeners.sync

    async def serve() -> None:
        await listeners.start()
        await registry.run()

    async def health() -> tuple[bool, str]:
        if registry.unauthorized is not None:
            return False, f"DISRUPTED: the org refuses the agent's API token ({registry.unauthorized})"
        if not registry.fetched_once:
            return False, f"waiting for the RADIUS app list from the org ({registry.last_error or 'not fetched yet'})"
        ports = ", ".join(f"{p} ({a.label})" for p, a in sorted(registry.by_port.items())) or "none"
        detail = f"serving RADIUS apps on ports {ports}"
        if ctx.port("radius") not in registry.by_port:
            detail += f"; no app uses the topology's port {ctx.port('radius')}, requests there are discarded"
        if registry.last_error:
            detail += f"; last refresh failed: {registry.last_error}"
        return True, detail

    async def reset() -> None:
        # A request still waiting on the org (a push nobody answers) would otherwise finish after
        # the reset, against the reset org, and land in the next scenario's events.
        listeners.abandon()
        dedup.clear()
        challenges.clear()
        registry.poke()

    async def on_stop() -> None:
        listeners.close()
        await org.aclose()

    return Service(tasks=[serve], health=health, reset=reset, on_stop=on_stop)


if __name__ == "__main__":
    run("radius-agent", build)
