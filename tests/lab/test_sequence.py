"""Sequence diagrams from events: arrows go from sender to receiver, notes stay on their lane."""
from lab.sequence import arrows, svg

TOPOLOGY = {"services": {
    "workspaces": {"host": "127.0.10.50", "settings": {}},
    "ad-connector": {"host": "127.0.10.40", "settings": {"connect_ips": ["127.0.10.41", "127.0.10.42"]}},
    "radius-agent": {"host": "127.0.10.20", "settings": {}},
    "okta": {"host": "127.0.10.30", "settings": {}},
    "phone": {"host": "127.0.10.60", "settings": {}},
}}


def event(service, kind, peer=None, outcome=None, **fields):
    return {"service": service, "kind": kind, "peer": peer, "outcome": outcome, "fields": fields,
            "time": "2026-11-28T09:00:00.000Z", "ts": 0, "seq": 0}


def test_a_push_sign_in_reads_left_to_right_and_back():
    events = [
        event("workspaces", "workspaces.signin_started", user="alice"),
        event("ad-connector", "connector.authenticate", peer="127.0.10.50", user="alice"),
        event("ad-connector", "connector.radius_request", peer="127.0.10.20:1812", user="alice"),
        event("okta", "okta.push.send", peer="127.0.10.20", outcome="WAITING"),
        event("phone", "phone.push_received", peer="okta", outcome="approve"),
        event("radius-agent", "radius.request", peer="127.0.10.41:5555", outcome="accept", user="alice"),
        event("ad-connector", "connector.radius", peer="127.0.10.20:1812", outcome="accept"),
        event("ad-connector", "connector.signin", peer="127.0.10.50", outcome="success"),
        event("workspaces", "workspaces.signin", outcome="success"),
        event("okta", "service.start"),
    ]
    got = [(a["from"], a["to"]) for a in arrows(events, TOPOLOGY)]
    assert got == [("client", "workspaces"), ("workspaces", "ad-connector"), ("ad-connector", "radius-agent"),
                   ("radius-agent", "okta"), ("okta", "phone"), ("radius-agent", "ad-connector"),
                   ("ad-connector", "ad-connector"), ("ad-connector", "workspaces"), ("workspaces", "client")]
    assert arrows(events, TOPOLOGY)[5]["label"] == "Access-Accept (alice)"
    drawing = svg(events, TOPOLOGY)
    assert drawing.startswith("<svg") and drawing.count("<line") > 9 and "<script" not in drawing


def test_a_hop_that_timed_out_is_a_lost_message_from_the_sender():
    """The RADIUS attempt nobody answered (a dropped packet) and Kerberos to an unreachable DC end
    in a cross short of the receiver; answered hops stay plain arrows."""
    topology = {"services": {**TOPOLOGY["services"], "dc": {"host": "127.0.10.10", "settings": {}}}}
    events = [
        event("ad-connector", "connector.radius_request", peer="127.0.10.20:1812", user="alice"),
        event("ad-connector", "connector.radius_attempt", peer="127.0.10.20:1812", outcome="timeout", user="alice"),
        event("ad-connector", "connector.ad_auth", peer="127.0.10.10:88", outcome="unreachable"),
        event("ad-connector", "connector.ad_auth", peer="127.0.10.10:88", outcome="ok"),
    ]
    got = arrows(events, topology)
    assert [(a["from"], a["to"], a["lost"]) for a in got] == [
        ("ad-connector", "radius-agent", False), ("ad-connector", "radius-agent", True),
        ("ad-connector", "dc", True), ("ad-connector", "ad-connector", False)]
    assert got[1]["label"] == "radius_attempt → timeout (alice) (no answer)"
    drawing = svg(events, topology)
    assert drawing.count('data-hop="timed-out"') == 2
    assert drawing.count('stroke-dasharray="6,4"') == 2 and drawing.count('marker-end="url(#arrow)"') == 1
