"""From events to the picture's arrows: which hosts, which protocol, which label (no lab needed:
the topology is built for a subnet and never started)."""
import pytest

from lab import topology as topo
from lab.dashboard import arrows

SUBNET = "127.0.165"


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    return topo.build(tmp_path_factory.mktemp("arrows"), subnet=SUBNET, agents=2)


def event(service, kind, peer=None, outcome=None, **fields):
    return {"service": service, "kind": kind, "peer": peer, "outcome": outcome, "fields": fields, "seq": 1,
            "ts": 1.0, "time": "2026-12-03T15:00:00.000000Z"}


@pytest.mark.parametrize("e, expected", [
    (event("workspaces", "workspaces.signin_started", user="alice"),
     ("client", "workspaces", "HTTPS", "sign in (alice)")),
    (event("ad-connector", "connector.authenticate", f"{SUBNET}.50", user="alice"),
     ("workspaces", "ad-connector", "HTTPS", "authenticate (alice)")),
    (event("ad-connector", "connector.radius_request", f"{SUBNET}.20:1812", user="alice"),
     ("ad-connector", "radius-agent", "RADIUS", "Access-Request (alice)")),
    (event("ad-connector", "connector.radius_request", f"{SUBNET}.22:1812", user="bob"),
     ("ad-connector", "radius-agent-2", "RADIUS", "Access-Request (bob)")),
    (event("radius-agent", "radius.request", f"{SUBNET}.41:50000", "accept", user="alice"),
     ("radius-agent", "ad-connector", "RADIUS", "Access-Accept (alice)")),
    (event("radius-agent", "radius.request", f"{SUBNET}.42:50000", "reject", user="alice"),
     ("radius-agent", "ad-connector", "RADIUS", "Access-Reject (alice)")),
    (event("okta", "okta.factor.verify", f"{SUBNET}.20", "SUCCESS", user="alice@corp.example.com"),
     ("radius-agent", "okta", "HTTPS", "factor.verify → SUCCESS (alice)")),
    (event("okta", "okta.push.deliver", f"{SUBNET}.60", "delivered", user="alice@corp.example.com"),
     ("okta", "phone", "push", "notification → delivered (alice)")),
    (event("phone", "phone.push_answered", "okta", "ok", user="alice@corp.example.com", result="APPROVE"),
     ("phone", "okta", "push", "answer: APPROVE (alice)")),
    (event("dc", "dns.query", f"{SUBNET}.41", "NOERROR", name="_ldap._tcp.corp.example.com", type="SRV"),
     ("ad-connector", "dc", "DNS", "SRV _ldap._tcp.corp.example.com → NOERROR")),
    (event("dc", "kerberos.as_req", f"{SUBNET}.42", "ok", user="alice"),
     ("ad-connector", "dc", "Kerberos", "as_req → ok (alice)")),
    (event("dc", "ldap.bind", f"{SUBNET}.41", "success", user="svc-adconnector"),
     ("ad-connector", "dc", "LDAP", "bind → success (svc-adconnector)")),
    (event("dc", "ldap.search", f"{SUBNET}.21", "success", user="svc-okta"),          # the Okta AD agent
     ("ad-agent", "dc", "LDAP", "search → success (svc-okta)")),
    (event("workspaces", "workspaces.signin", None, "failure", user="alice", reason="dc_unreachable"),
     ("workspaces", "client", "HTTPS", "signin → failure (alice)")),
])
def test_an_event_draws_its_arrow(topology, e, expected):
    drawn = arrows.arrow(e, topology)
    assert drawn is not None
    assert (drawn["from"], drawn["to"], drawn["protocol"], drawn["label"]) == expected
    assert len(drawn["short"]) <= 24 and "@" not in drawn["label"]


def test_failures_are_drawn_as_failures(topology):
    assert not arrows.arrow(event("radius-agent", "radius.request", f"{SUBNET}.41:1", "reject"), topology)["ok"]
    assert arrows.arrow(event("radius-agent", "radius.request", f"{SUBNET}.41:1", "accept"), topology)["ok"]


@pytest.mark.parametrize("e", [
    event("ad-connector", "connector.radius", f"{SUBNET}.20:1812", "accept"),    # a conclusion: a note
    event("ad-agent", "agent.poll", "okta"),                                        # chatter
    event("okta", "okta.radius.config", f"{SUBNET}.20", "ok"),
    event("phone", "phone.code_shown", None, "ok"),                                # no peer
    event("mail", "mail.received", f"{SUBNET}.30"),                                 # the mailbox is not drawn
    event("phone", "phone.push_received", "okta", "approve"),                      # drawn from okta's side
    event("dc", "ldap.bind", "203.0.113.9", "success"),                             # a peer outside the lab
    event("supervisor", "supervisor.restart", "dc"),
])
def test_what_draws_no_arrow(topology, e):
    assert arrows.arrow(e, topology) is None


def test_the_sign_in_outcome():
    ok = arrows.sign_in_outcome(event("workspaces", "workspaces.signin", None, "success", user="alice",
                                      workspace="ws-1"))
    assert ok == {"user": "alice", "success": True, "text": "signed in to ws-1"}
    bad = arrows.sign_in_outcome(event("workspaces", "workspaces.signin", None, "failure", user="bob",
                                       reason="dc_unreachable"))
    assert bad == {"user": "bob", "success": False, "text": "dc_unreachable"}
    assert arrows.sign_in_outcome(event("dc", "ldap.bind")) is None
