"""Sequence diagrams of a sign-in, drawn from the merged events as self-contained SVG.

Each event becomes an arrow between two lifelines: the service that recorded it and its peer
(found by address in the topology). Most events are recorded by the receiver; the kinds in
OUTBOUND are recorded by the sender. Events without a known peer become a note on their lifeline.

A hop that got no answer (a request that timed out, a host unreachable: a packet a security group
or a firewall dropped, or a server that is down) is drawn as a lost message, UML's way: a dashed
red arrow from the sender that stops short of the receiver's lifeline and ends in a cross, since
the receiver never saw it. Its recorder is the sender, whatever the kind.
"""
from __future__ import annotations

from html import escape
from typing import Any

LANES = ["client", "workspaces", "ad-connector", "dc", "radius-agent", "okta", "phone", "mail", "ad-agent"]
# Recorded by the sender (a request it made, or the reply it gave), so the arrow leaves the recorder.
OUTBOUND_PREFIXES = ("connector.radius_request", "connector.signin", "okta.push.deliver",
                     "phone.push_answered")
# Recorded by the receiver of a reply: the arrow points at the recorder, from its peer.
# (Everything not listed above is drawn that way.)
# Events that are the client's own view: the sign-in starts and ends at the client.
CLIENT_KINDS = {"workspaces.signin_started": "in", "workspaces.signin": "out"}
SKIP_PREFIXES = ("service.", "admin.", "agent.", "okta.agent.", "radius.apps", "radius.listener")
# A service's own conclusion, drawn as a note on its lifeline rather than as a message.
NOTE_KINDS = {"connector.dc_discovery", "connector.ad_auth", "connector.radius"}
# Replies the RADIUS agent sends (recorded when the request completes).
RADIUS_REPLIES = {"accept": "Access-Accept", "reject": "Access-Reject", "challenge": "Access-Challenge",
                  "resent_cached": "cached reply"}

# Outcomes that mean "sent, and nothing came back".
TIMED_OUT = {"timeout", "unreachable", "TIMEOUT"}

LANE_GAP, TOP, ROW, MARGIN = 130, 60, 26, 20


def _peer_service(peer: str | None, topology: dict[str, Any]) -> str | None:
    if not peer:
        return None
    host = peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer
    for name, svc in topology["services"].items():
        if host == svc["host"] or host in svc.get("settings", {}).get("connect_ips", []):
            return name
    return host if host in topology["services"] else None


def arrows(events: list[dict[str, Any]], topology: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        kind, service = e["kind"], e["service"]
        if kind.startswith(SKIP_PREFIXES):
            continue
        fields = e.get("fields", {})
        label = kind.split(".", 1)[-1]
        if fields.get("type") and fields.get("name"):      # a DNS query
            label = f"DNS {fields['type']} {fields['name']}"
        if e.get("outcome"):
            label += f" → {e['outcome']}"
        if fields.get("user") and "name" not in fields:
            label += f" ({fields['user']})"
        if kind == "radius.request" and e.get("outcome") in RADIUS_REPLIES:
            label = RADIUS_REPLIES[e["outcome"]] + (f" ({fields['user']})" if fields.get("user") else "")
        peer_name = _peer_service(e.get("peer"), topology)
        lost = e.get("outcome") in TIMED_OUT and peer_name is not None and peer_name != service
        if lost:
            src, dst = service, peer_name       # the recorder sent it; the peer never answered
            label += " (no answer)"
        elif kind in CLIENT_KINDS:
            src, dst = ("client", service) if CLIENT_KINDS[kind] == "in" else (service, "client")
        elif kind in NOTE_KINDS:
            src = dst = service
        elif kind == "radius.request" and e.get("outcome") in RADIUS_REPLIES:
            peer = _peer_service(e.get("peer"), topology)
            src, dst = service, (peer or service)
        else:
            peer = _peer_service(e.get("peer"), topology)
            if peer is None or peer == service:
                src = dst = service
            elif kind.startswith(OUTBOUND_PREFIXES):
                src, dst = service, peer
            else:
                src, dst = peer, service
        out.append({"from": src, "to": dst, "label": label, "time": e["time"][11:23], "lost": lost,
                    "ok": e.get("outcome") not in ("reject", "failure", "timeout", "REJECTED", "TIMEOUT", "denied")})
    return out


def svg(events: list[dict[str, Any]], topology: dict[str, Any]) -> str:
    rows = arrows(events, topology)
    used = [lane for lane in LANES if any(lane in (r["from"], r["to"]) for r in rows)]
    extra = sorted(({r["from"] for r in rows} | {r["to"] for r in rows}) - set(used))
    lanes = used + extra
    x = {lane: MARGIN + 90 + i * LANE_GAP for i, lane in enumerate(lanes)}
    width = MARGIN * 2 + 90 + max(len(lanes) - 1, 0) * LANE_GAP + LANE_GAP + 60
    height = TOP + ROW * (len(rows) + 1) + MARGIN
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>']
    for lane in lanes:
        parts.append(f'<rect x="{x[lane] - 55}" y="{MARGIN}" width="110" height="24" rx="4" fill="#e8eef7" '
                     f'stroke="#6a87b8"/><text x="{x[lane]}" y="{MARGIN + 16}" text-anchor="middle" '
                     f'font-weight="bold">{escape(lane)}</text>')
        parts.append(f'<line x1="{x[lane]}" y1="{MARGIN + 24}" x2="{x[lane]}" y2="{height - MARGIN}" '
                     f'stroke="#bbb" stroke-dasharray="4,3"/>')
    for i, r in enumerate(rows):
        y = TOP + ROW * (i + 1)
        colour = "#333" if r["ok"] else "#c0392b"
        parts.append(f'<text x="{MARGIN}" y="{y + 4}" fill="#888">{escape(r["time"])}</text>')
        if r["from"] == r["to"]:
            cx = x[r["from"]]
            note_width = max(LANE_GAP - 12, 6 * len(r["label"]) + 10)   # ~6 px a character at 11 px
            parts.append(f'<rect x="{cx + 4}" y="{y - 10}" width="{note_width}" height="16" fill="#fff8dc" '
                         f'stroke="#d4b106"/><text x="{cx + 8}" y="{y + 2}" fill="{colour}">'
                         f'{escape(r["label"])}</text>')
            continue
        x1, x2 = x[r["from"]], x[r["to"]]
        if r.get("lost"):
            parts.append(_lost(x1, x2, y, r["label"]))
            continue
        parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" marker-end="url(#arrow)"/>')
        parts.append(f'<text x="{(x1 + x2) / 2}" y="{y - 4}" text-anchor="middle" fill="{colour}">'
                     f'{escape(r["label"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _lost(x1: float, x2: float, y: float, label: str) -> str:
    """A lost message: dashed, red, ending in a cross three quarters of the way to the receiver."""
    end = x1 + (x2 - x1) * 0.75
    return (f'<g data-hop="timed-out"><title>no answer: the request timed out (dropped on the way, '
            f'or the receiver is down)</title>'
            f'<line x1="{x1}" y1="{y}" x2="{end}" y2="{y}" stroke="#c0392b" stroke-dasharray="6,4"/>'
            f'<path d="M{end - 5},{y - 5} L{end + 5},{y + 5} M{end - 5},{y + 5} L{end + 5},{y - 5}" '
            f'stroke="#c0392b" stroke-width="2"/>'
            f'<text x="{(x1 + end) / 2}" y="{y - 4}" text-anchor="middle" fill="#c0392b">{escape(label)}</text></g>')
