"""The vocabulary the agent's modules share: an app's settings, the agent's policy, and what a
request ends in (`Outcome`, or the exceptions that produce one).

Kept apart from the flows (`mfa.py`, `primary.py`) so each flow module imports only nouns, never
another flow, and the wire (`agent.py`) can turn an Outcome into a packet without knowing Okta.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from services.common.radius_wire import group_attribute
from services.common.settings import SettingsReader

log = logging.getLogger("lab.radius-agent")

Result = Literal["accept", "reject", "none", "challenge"]

RESPONSE_MODES = ("SEND_REJECT_ON_POLL_MFA", "SEND_REJECT_ALWAYS", "NO_RESPONSE")

KEYWORDS = {"push", "sms", "call", "email"}
# Factor types whose verify takes a passCode, in the order a code is tried against them.
OTP_FACTOR_TYPES = ("token:software:totp", "token:hotp", "token", "token:hardware", "sms", "call", "email")
# What the org's verify error codes mean, for the log line.
OTP_ERRORS = {"E0000068": "Invalid passcode", "E0000082": "passcode already used (replay)",
              "E0000083": "passcode outside its time window", "E0000069": "User locked out of MFA (E0000069)",
              "E0000038": "the user's status does not allow MFA (E0000038)"}


@dataclass
class GroupReturn:
    """Which of the user's groups go back in an Access-Accept, and in which attribute.

    From the app's optional `groupReturn` {attribute, groups[], vendorId, vendorType}: attribute
    11 (Filter-Id), 25 (Class) or 26 (Vendor-Specific; vendorId/vendorType default to Cisco's
    9/1, Cisco-AVPair); `groups` names the groups that may be returned (an empty list: all of the
    user's groups). One attribute per group, its value the group's name."""
    attribute: int
    groups: list[str]
    vendor_id: int = 9
    vendor_type: int = 1

    @classmethod
    def from_org(cls, data: Any) -> GroupReturn | None:
        if not data:
            return None
        if not isinstance(data, dict):
            raise ValueError("groupReturn must be an object")
        raw = data.get("attribute")
        attr = group_attribute(raw)
        if attr is None:
            raise ValueError(f"groupReturn.attribute {raw!r} is not 11, 25 or 26")
        groups = data.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError("groupReturn.groups must be a list of group names")
        return cls(attr, list(groups), int(data.get("vendorId", 9)), int(data.get("vendorType", 1)))


@dataclass
class App:
    """One RADIUS app of the org, as GET /api/v1/radius/apps gives it."""
    id: str
    label: str
    port: int
    secret: bytes = field(repr=False)
    primary_auth: bool = False
    require_message_authenticator: bool = False
    username_template: Any = None
    inline_enrollment: bool = False
    group_return: GroupReturn | None = None

    @classmethod
    def from_org(cls, data: dict[str, Any]) -> App:
        try:
            groups = GroupReturn.from_org(data.get("groupReturn"))
        except (TypeError, ValueError) as exc:
            # one bad optional setting must not take the app (or every app) offline
            log.warning("app %s: ignoring groupReturn: %s", data.get("label", data.get("id")), exc)
            groups = None
        return cls(
            id=str(data["id"]), label=str(data.get("label", data["id"])), port=int(data["port"]),
            secret=str(data["sharedSecret"]).encode("utf-8"),
            primary_auth=bool(data.get("primaryAuth", False)),
            require_message_authenticator=bool(data.get("requireMessageAuthenticator", False)),
            username_template=data.get("usernameTemplate"),
            inline_enrollment=bool(data.get("inlineEnrollment", False)),
            group_return=groups,
        )

    def template_text(self) -> str:
        t = self.username_template
        if isinstance(t, dict):
            return str(t.get("template") or t)
        return str(t) if t else "the app's username format"


@dataclass(frozen=True)
class Policy:
    """The agent's settings, read once at start-up: its config.properties (Okta's names) and the
    lab's own knobs. Defaults are Okta's (docs/radius.md, "The agent's settings")."""
    timeout: float               # ragent.request.timeout.millisecond / 1000: one request's budget
    response_mode: str           # ragent.request.timeout.response.mode, one of RESPONSE_MODES
    mfa_timeout: float           # ragent.mfa.timeout.seconds: a challenge's State lives this long
    threads: int                 # ragent.num_request_threads: the worker pool
    max_http_connections: int    # ragent.num_max_http_connection: to the org
    app_refresh: float           # lab: seconds between reads of the org's RADIUS apps
    poll_interval: float         # lab: seconds between push transaction polls
    dedup_ttl: float             # lab: how long answered requests are remembered (RFC 5080)
    strip_domain: bool           # lab: strip DOMAIN\ from User-Name
    multi_device: str = "first"  # lab: a user with several Okta Verify push factors (MULTI_DEVICE)

    @property
    def push_budget(self) -> float:
        """For Okta Verify Push the agent waits half the request budget (docs/radius.md)."""
        return self.timeout / 2

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Policy:
        r = SettingsReader(settings)
        # The older name stands in when the current one is absent.
        ms = r.number("ragent.request.timeout.millisecond",
                      r.number("ragent.total.request.timeout.millisecond", 60000, positive=True), positive=True)
        mode = str(settings.get("ragent.request.timeout.response.mode", "SEND_REJECT_ON_POLL_MFA")).upper()
        if mode not in RESPONSE_MODES:   # Okta's values, in any case
            raise ValueError(f"setting ragent.request.timeout.response.mode must be one of {', '.join(RESPONSE_MODES)}")
        return cls(timeout=ms / 1000.0, response_mode=mode,
                   mfa_timeout=r.number("ragent.mfa.timeout.seconds", 60, positive=True),
                   threads=r.integer("ragent.num_request_threads", 15, minimum=1),
                   max_http_connections=r.integer("ragent.num_max_http_connection", 20, minimum=1),
                   app_refresh=r.number("app_refresh_seconds", 30, positive=True),
                   poll_interval=r.number("push_poll_interval_seconds", 1.0, positive=True),
                   dedup_ttl=r.number("dedup_cache_seconds", 10, minimum=0),
                   strip_domain=r.flag("username_strip_domain", False),
                   multi_device=r.choice("okta_verify_multi_device", MULTI_DEVICE, "first"))


@dataclass
class Outcome:
    result: Result
    method: str                       # "code", "push", "sms", "call", "email", "password", "challenge", "-"
    reason: str | None = None         # for the log and the event; never a secret
    user_id: str | None = None
    login: str | None = None
    org_unauthorized: bool = False    # the org said 401 to the token: the agent is DISRUPTED
    # Access-Challenge: the State to send and the prompt (Reply-Message)
    state: bytes | None = None
    prompt: str | None = None
    # extra reply attributes as (attribute number, raw value), e.g. the groups of an Accept
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


class AgentTimeout(Exception):
    """The request ran out of its budget. `in_poll`: it happened while polling an MFA push."""

    def __init__(self, message: str, in_poll: bool):
        super().__init__(message)
        self.in_poll = in_poll


class Reject(Exception):
    """Ends processing with Access-Reject and a reason for the log."""


# Okta: RADIUS supports Okta Verify "for one device only"; more "can cause undefined or unexpected
# behavior". The Factors API verifies one factor, so the agent picks (lab choice, README):
# `first` pushes to the first ACTIVE push factor the org lists (the oldest enrolment), `reject`
# refuses to guess.
MULTI_DEVICE = ("first", "reject")


def choose_push(factors: list[dict[str, Any]], mode: str) -> tuple[dict[str, Any], str | None]:
    """The push factor to verify, and a note for the log when the user has several devices."""
    pushes = [f for f in factors if f.get("factorType") == "push"]
    if not pushes:
        raise Reject("the user has no ACTIVE Okta Verify push factor")
    if len(pushes) == 1:
        return pushes[0], None
    names = ", ".join(str((f.get("profile") or {}).get("name") or f.get("id")) for f in pushes)
    if mode == "reject":
        raise Reject(f"the user has {len(pushes)} Okta Verify devices enrolled ({names}); Okta RADIUS "
                     "supports one device only and the agent does not choose (okta_verify_multi_device=reject)")
    first = pushes[0]
    return first, (f"{len(pushes)} Okta Verify devices enrolled ({names}); the push went to the first only "
                   f"({(first.get('profile') or {}).get('name') or first.get('id')})")


class Challenge(Exception):
    """Ends processing with Access-Challenge: `state` goes in State, `prompt` in Reply-Message."""

    def __init__(self, state: bytes, prompt: str):
        super().__init__(prompt)
        self.state = state
        self.prompt = prompt
