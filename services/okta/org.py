"""What every route module shares: the store, the clock, the org's URL and name, and the two
records every action leaves behind — an Okta System Log event (`GET /api/v1/logs`, what an Okta
admin sees) and a lab event (`ctx.record`, what the lab's journal and scenarios see)."""
from __future__ import annotations

import asyncio
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from services.common.clock import iso
from services.common.context import ServiceContext

from .errors import not_found
from .hub import Hub
from .limits import RateLimiter
from .people import People
from .settings import OrgSettings
from .store import Store


@dataclass(frozen=True)
class Audit:
    """Who made a request, as the two records need it: built once from the HTTP request by the
    route, so the functions that act (enrol, send a code, verify, push) never see FastAPI."""
    ip: str | None = None               # the client's address
    user_agent: str | None = None
    trace: str | None = None            # X-Lab-Trace: the lab's id of one end-to-end attempt
    forwarded_for: str | None = None    # X-Forwarded-For (what a push shows as the client's address)

    @classmethod
    def of(cls, request: Request) -> Audit:
        return cls(ip=request.client.host if request.client else None,
                   user_agent=request.headers.get("User-Agent"), trace=request.headers.get("X-Lab-Trace"),
                   forwarded_for=request.headers.get("X-Forwarded-For"))


NOBODY = Audit()     # what the org does on its own (seeding, a push timing out)
# What Okta names as the actor of what its directory imports do (users and groups created, members
# added: "system@okta.com", Okta support's "What is the system@okta.com account"). The lab knows
# the AD agent's calls by the User-Agent the agent sends (it shares the lab's API token).
OKTA_SYSTEM = {"id": "0oaOktaSystem0000000", "type": "SystemPrincipal", "alternateId": "system@okta.com",
               "displayName": "Okta System"}
AD_AGENT_USER_AGENT = "Okta AD Agent/"
LAB_ADMIN = {"id": "lab-admin", "type": "PublicClientApp", "alternateId": "lab API token",
             "displayName": "Lab admin"}
# The admin console's signed-in admin, while one of its in-process API calls runs (console/client.py):
# the System Log's actor of what they do, instead of the API token's.
ACTING_ADMIN: ContextVar[dict[str, Any] | None] = ContextVar("okta_acting_admin", default=None)


@dataclass
class Org:
    ctx: ServiceContext
    store: Store
    url: str                      # the org URL callers use, e.g. http://127.0.10.30:8080
    settings: OrgSettings
    hub: Hub                      # the AD agents' work queues (in memory)
    limiter: RateLimiter          # the rate-limit counters (in memory)
    name: str = "lab"             # the org's subdomain, issuer of TOTP QR codes
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)   # push deliveries, emails in flight
    people: People = field(init=False)    # users, memberships, app users, factors (over `store`)

    def __post_init__(self) -> None:
        self.people = People(self.store)

    @classmethod
    def open(cls, ctx: ServiceContext, store: Store, url: str, settings: OrgSettings) -> Org:
        """The org over `store`, with its in-memory parts made for `settings`."""
        limiter = RateLimiter(ctx.clock.now, settings.rate_limits, settings.authn_user_limit_per_second)
        return cls(ctx=ctx, store=store, url=url, settings=settings, hub=Hub(), limiter=limiter)

    # -- time -----------------------------------------------------------------------------
    def now(self) -> float:
        return self.ctx.clock.now()

    def iso(self, epoch: float | None = None) -> str:
        return iso(self.now() if epoch is None else epoch)

    def href(self, path: str) -> str:
        return self.url + path

    def require(self, table: str, key: str, kind: str, shown: str | None = None) -> dict[str, Any]:
        """The stored record, or Okta's 404 E0000007 naming `shown` (default: the key) and `kind`."""
        doc = self.store.get(table, key)
        if doc is None:
            raise not_found(shown if shown is not None else key, kind)
        return doc

    # -- the two records ---------------------------------------------------------------------
    def record(self, kind: str, audit: Audit = NOBODY, *, outcome: str,
               trace: str | None = None, **fields: Any) -> None:
        """A lab event; `fields` pass through the journal's redaction, but callers still never
        hand over a passCode, shared secret or token."""
        self.ctx.record(kind, peer=audit.ip, outcome=outcome, trace=audit.trace if trace is None else trace,
                        **fields)

    def syslog(self, event_type: str, *, audit: Audit = NOBODY, result: str = "SUCCESS",
               reason: str | None = None, actor: dict[str, Any] | None = None,
               targets: list[dict[str, Any]] | None = None, message: str = "",
               severity: str = "INFO", credential_type: str | None = None,
               debug: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one LogEvent, shaped like Okta's System Log API returns it."""
        ts = self.now()
        ip, ua = audit.ip, audit.user_agent
        event = {
            "uuid": str(uuid.uuid4()),
            "published": iso(ts),
            "eventType": event_type,
            "version": "0",
            "severity": severity,
            "legacyEventType": None,
            "displayMessage": message or event_type,
            "actor": actor or ACTING_ADMIN.get() or default_actor(audit),
            "client": {"userAgent": {"rawUserAgent": ua, "os": None, "browser": None},
                       "zone": "null", "ipAddress": ip, "geographicalContext": None,
                       "device": "Unknown"},
            "outcome": {"result": result, "reason": reason},
            "target": targets or [],
            "transaction": {"type": "WEB", "id": uuid.uuid4().hex[:20], "detail": {}},
            "debugContext": {"debugData": debug or {}},
            "authenticationContext": {"authenticationProvider": None,
                                      "credentialProvider": "OKTA_CREDENTIAL_PROVIDER" if credential_type else None,
                                      "credentialType": credential_type, "externalSessionId": None},
            "securityContext": {},
            "request": {"ipChain": [{"ip": ip}] if ip else []},
        }
        self.store.append_log(ts, event)
        return event


def default_actor(audit: Audit) -> dict[str, Any]:
    """Who did it when the caller names nobody: Okta System for the AD agent's import calls, else
    the lab's API token (an admin script)."""
    if (audit.user_agent or "").startswith(AD_AGENT_USER_AGENT):
        return dict(OKTA_SYSTEM)
    return dict(LAB_ADMIN)


def user_target(user: dict[str, Any]) -> dict[str, Any]:
    p = user["profile"]
    name = " ".join(x for x in (p.get("firstName"), p.get("lastName")) if x) or p["login"]
    return {"id": user["id"], "type": "User", "alternateId": p["login"], "displayName": name,
            "detailEntry": None}


def group_target(group: dict[str, Any]) -> dict[str, Any]:
    name = group["profile"]["name"]
    return {"id": group["id"], "type": "UserGroup", "alternateId": name, "displayName": name,
            "detailEntry": None}


def user_actor(user: dict[str, Any]) -> dict[str, Any]:
    t = user_target(user)
    t.pop("detailEntry")
    return t


def factor_target(factor: dict[str, Any]) -> dict[str, Any]:
    return {"id": factor["id"], "type": "User Factor", "alternateId": "unknown",
            "displayName": f"{factor['factorType']} ({factor['provider']})", "detailEntry": None}
