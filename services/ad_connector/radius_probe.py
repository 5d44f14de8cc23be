"""Deciding RadiusStatus: a real Access-Request for a user nobody has, to every RADIUS server.

AWS does not document what happens while RadiusStatus is `Creating`; the lab's choice
(docs/aws.md, "RADIUS multi-factor authentication") is a test request for a fake user ("awsfakeuser"): any authentic
reply, Accept or Reject, proves the server is reachable and shares our secret; silence, or a reply
whose authenticator fails (a wrong shared secret), does not.

Each server is probed from each connector address (ConnectIps), because AWS asks the RADIUS
administrator to add both directory IPs as clients: a missing client entry shows up here, not on the
first user's sign-in.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from . import radius_client

FAKE_USER = "awsfakeuser"
FAKE_CODE = "000000"


@dataclass
class ProbeResult:
    ok: bool
    outcomes: list[dict[str, Any]] = field(default_factory=list)   # server, source, outcome


async def _one(server: str, source: str, settings: dict[str, Any], timeout: float, retries: int,
               nas_identifier: str) -> dict[str, Any]:
    try:
        result = await radius_client.authenticate(
            servers=[server], port=int(settings["RadiusPort"]), secret=settings["SharedSecret"].encode(),
            username=FAKE_USER, mfa_code=FAKE_CODE, source_ip=source, timeout=timeout, retries=retries,
            nas_identifier=nas_identifier, protocol=settings.get("AuthenticationProtocol", "PAP"))
        outcome = result.outcome
        if outcome == "timeout" and any(a.outcome == "bad_authenticator" for a in result.attempts):
            outcome = "bad_authenticator"
    except ValueError as exc:        # e.g. a protocol the lab's client cannot encode yet
        outcome = f"unsupported: {exc}"
    except OSError as exc:           # no route, address not available
        outcome = f"error: {exc.__class__.__name__}"
    return {"server": f"{server}:{settings['RadiusPort']}", "source": source, "outcome": outcome}


async def probe(settings: dict[str, Any], connect_ips: list[str], *, timeout: float, retries: int,
                nas_identifier: str) -> ProbeResult:
    """Completed only if every server answers every connector address authentically."""
    servers = list(settings.get("RadiusServers") or [])
    if not servers:
        return ProbeResult(False, [{"server": None, "source": None, "outcome": "no IPv4 RADIUS servers"}])
    outcomes = await asyncio.gather(*(
        _one(server, source, settings, timeout, retries, nas_identifier)
        for server in servers for source in connect_ips))
    ok = all(o["outcome"] in ("accept", "reject", "challenge") for o in outcomes)
    return ProbeResult(ok, list(outcomes))
