"""From an event to an arrow on the lab's picture: which two hosts, which protocol, what label.

Direction and peers come from the report's sequence diagrams (lab/sequence.py: the recorder and
its peer, found by address in the topology), so the picture and the report never disagree. This
module adds the protocol the message travels over and keeps only the hosts the picture draws
(the walkthrough's: the client, WorkSpaces, AD Connector, the DC, the two agents on InstanceOkta,
the Okta org and the phone). A service's own conclusion (a note in the report) is no arrow.
"""
from __future__ import annotations

import re
from typing import Any

from .. import sequence

# The hosts the picture draws, by the name of the lane (service) they stand for.
NODES = ("client", "workspaces", "ad-connector", "dc", "radius-agent", "radius-agent-2", "ad-agent", "okta", "phone")
# Kind prefixes to the protocol on the wire (first match wins); everything else is HTTPS (the real
# services' APIs; the lab serves them over plain HTTP on loopback).
PROTOCOLS = (
    ("connector.radius_request", "RADIUS"), ("radius.", "RADIUS"),
    ("cldap.", "LDAP"), ("ldap.", "LDAP"), ("agent.ldap", "LDAP"),
    ("kerberos.", "Kerberos"), ("dns.", "DNS"),
    ("okta.push.deliver", "push"), ("phone.push", "push"),
)
# Labels the report spells for a reader of a sequence, shorter for a picture.
LABELS = {"connector.radius_request": "Access-Request", "workspaces.signin_started": "sign in",
          "connector.authenticate": "authenticate", "okta.push.deliver": "notification",
          "okta.push.send": "verify: send push"}
# Background chatter (agents' long polls, registrations): on the timeline, not on the picture.
CHATTER = ("agent.poll", "agent.register", "okta.agent.register", "okta.radius.config", "radius.apps",
           # the other end's record of a message drawn once already (okta.push.deliver, phone.push_answered)
           "phone.push_received", "okta.push.answer")
BAD = {"reject", "failure", "failed", "timeout", "REJECTED", "TIMEOUT", "denied", "deny", "unreachable",
       "refused", "error", "FAILED", "dropped", "dc_unreachable", "REFUSED", "SERVFAIL", "NXDOMAIN"}


def protocol_of(kind: str) -> str:
    return next((proto for prefix, proto in PROTOCOLS if kind.startswith(prefix)), "HTTPS")


def _short(user: str) -> str:
    return user.split("@")[0]


def arrow(event: dict[str, Any], topology: dict[str, Any]) -> dict[str, Any] | None:
    """The arrow an event draws on the picture, or None (a note, chatter, or a host not drawn):
    {"from", "to", "protocol", "label", "short" (what fits on the arrow), "ok"}."""
    kind = event.get("kind", "")
    if not isinstance(kind, str) or kind.startswith(CHATTER):
        return None
    drawn = sequence.arrows([event], topology)
    if not drawn:
        return None
    src, dst = drawn[0]["from"], drawn[0]["to"]
    if src == dst or src not in NODES or dst not in NODES:
        return None
    fields = event.get("fields") or {}
    label = LABELS.get(kind) or drawn[0]["label"]
    if kind == "radius.request":
        label = sequence.RADIUS_REPLIES.get(str(event.get("outcome")), f"reply: {event.get('outcome')}")
    elif kind == "phone.push_answered":
        label = f"answer: {fields.get('result') or event.get('outcome')}"
    elif kind in LABELS and event.get("outcome"):
        label += f" → {event['outcome']}"
    if fields.get("user") and "(" not in label:
        label += f" ({_short(str(fields['user']))})"
    protocol = protocol_of(kind)
    label = re.sub(r"@[\w.-]+", "", label)    # alice, not alice@corp.example.com
    if protocol == "DNS" and fields.get("name"):
        label = f"{fields.get('type')} {fields['name']} → {event.get('outcome')}"
    short = label.split(" (")[0].split(" → ")[-1 if kind in ("workspaces.signin", "connector.signin") else 0]
    if protocol == "DNS" and fields.get("name"):
        short = f"{fields.get('type')} {str(fields['name']).split('.')[0]}"
    return {"from": src, "to": dst, "protocol": protocol, "label": label, "short": short[:24],
            "ok": event.get("outcome") not in BAD}


def sign_in_outcome(event: dict[str, Any]) -> dict[str, Any] | None:
    """The WorkSpaces client's verdict on a sign-in (the `workspaces.signin` event), or None."""
    if event.get("kind") != "workspaces.signin":
        return None
    fields = event.get("fields") or {}
    success = event.get("outcome") == "success"
    return {"user": str(fields.get("user", "")), "success": success,
            "text": (f"signed in to {fields.get('workspace')}" if success else
                     str(fields.get("message") or fields.get("reason") or event.get("outcome")))}
