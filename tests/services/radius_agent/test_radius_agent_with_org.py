"""The radius-agent against the REAL org (services/okta) and phone: the walking skeleton over the
contract, with Okta Verify enrolled through the Factors API and the phone, as a user would."""
from __future__ import annotations

import time

import httpx
import pytest
from pyrad import packet as rp

from tests.services.radius_agent.fakes import RadiusClient, access_request, decode_reply
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.87"
NAS_IP = f"{SUBNET}.41"


class Org:
    def __init__(self, topology):
        self.topology = topology
        token = topology["credentials"]["okta_api_token"]
        self.http = httpx.Client(base_url=url(topology, "okta"), headers={"Authorization": f"SSWS {token}"},
                                 timeout=10)
        self.phone = httpx.Client(base_url=url(topology, "phone"), timeout=10)

    def user_id(self, login: str) -> str:
        resp = self.http.get(f"/api/v1/users/{login}")
        assert resp.status_code == 200, resp.text
        return resp.json()["id"]

    def enrol_okta_verify(self, login: str) -> None:
        """TOTP and push, scanned by the phone; TOTP activated with the phone's code."""
        uid = self.user_id(login)
        totp = self.http.post(f"/api/v1/users/{uid}/factors",
                              json={"factorType": "token:software:totp", "provider": "OKTA"})
        assert totp.status_code == 200, totp.text
        qr = totp.json()["_embedded"]["activation"]["qrContents"]
        assert self.phone.post("/scan", json={"uri": qr}).status_code == 200
        code = self.phone.get(f"/accounts/{login}/code").json()["code"]
        act = self.http.post(f"/api/v1/users/{uid}/factors/{totp.json()['id']}/lifecycle/activate",
                             json={"passCode": code})
        assert act.status_code == 200, act.text
        push = self.http.post(f"/api/v1/users/{uid}/factors", json={"factorType": "push", "provider": "OKTA"})
        assert push.status_code == 200, push.text
        scan = self.phone.post("/scan", json={"uri": push.json()["_embedded"]["activation"]["qrContents"]})
        assert scan.status_code == 200, scan.text

    def code(self, login: str) -> str:
        return self.phone.get(f"/accounts/{login}/code").json()["code"]

    def respond(self, login: str, action: str, after: float = 0.0) -> None:
        answer = self.phone.put(f"/accounts/{login}/behaviour", json={"action": action, "after": after})
        assert answer.status_code == 200


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"radius-agent": {"app_refresh_seconds": 1, "push_poll_interval_seconds": 0.2}}
    with running_services(["okta", "phone", "radius-agent"], tmp_path_factory.mktemp("ra-org"), SUBNET,
                          settings=settings, timeout=60) as topology:
        org = Org(topology)
        for login in ("alice@corp.example.com", "bob@corp.example.com", "carol@corp.example.com"):
            org.enrol_okta_verify(login)
        svc = topology["services"]["radius-agent"]
        yield topology, org, (svc["host"], svc["ports"]["radius"])
        org.http.close()
        org.phone.close()


@pytest.fixture
def nas(lab):
    c = RadiusClient(lab[2], NAS_IP)
    yield c
    c.close()


def ask(lab, nas, user, password, timeout=15.0):
    secret = lab[0]["credentials"]["radius_shared_secret"].encode()
    req = access_request(secret, user, password)
    data = nas.exchange(req, timeout=timeout)
    assert data is not None, "no answer"
    return decode_reply(req, data).code


def test_code_from_the_phone_is_accepted(lab, nas):
    assert ask(lab, nas, "alice", lab[1].code("alice@corp.example.com")) == rp.AccessAccept


def test_wrong_code_is_rejected(lab, nas):
    good = lab[1].code("bob@corp.example.com")
    assert ask(lab, nas, "bob", f"{(int(good) + 500000) % 1000000:06d}") == rp.AccessReject


def test_push_approved_then_denied(lab, nas):
    org = lab[1]
    org.respond("bob@corp.example.com", "approve", 0.3)
    assert ask(lab, nas, "bob", "push") == rp.AccessAccept
    org.respond("bob@corp.example.com", "deny", 0.3)
    assert ask(lab, nas, "bob", "PUSH") == rp.AccessReject
    org.respond("bob@corp.example.com", "approve")


def test_unassigned_user_is_rejected(lab, nas):
    assert ask(lab, nas, "carol", lab[1].code("carol@corp.example.com")) == rp.AccessReject


def test_retransmissions_during_a_push_reach_the_phone_once(lab, nas):
    org = lab[1]
    org.respond("alice@corp.example.com", "approve", 1.5)
    before = [p for p in org.phone.get("/pushes").json() if p["login"] == "alice@corp.example.com"]
    secret = lab[0]["credentials"]["radius_shared_secret"].encode()
    req = access_request(secret, "alice", "push")
    raw = req.RequestPacket()
    nas.send(raw)
    for _ in range(3):
        time.sleep(0.4)
        nas.send(raw)
    data = nas.recv(10.0)
    assert data is not None and decode_reply(req, data).code == rp.AccessAccept
    after = [p for p in org.phone.get("/pushes").json() if p["login"] == "alice@corp.example.com"]
    assert len(after) == len(before) + 1
    org.respond("alice@corp.example.com", "approve")


def agent_events(lab, since=0):
    admin = f"http://{lab[0]['services']['radius-agent']['host']}:{lab[0]['services']['radius-agent']['ports']['admin']}"
    return [e for e in httpx.get(f"{admin}/events", params={"since": since},
                                 headers=admin_headers(lab[0])).json() if e["kind"] == "radius.request"]


def test_primary_auth_switched_on_in_the_org_fails_every_workspaces_sign_in(lab, nas):
    # Failure F7 (docs/radius.md): "Okta performs primary authentication" checked. AD Connector sends the MFA code as
    # the password, so Okta sees a wrong password (or, while the org has no /api/v1/authn, cannot
    # check one): Access-Reject either way. The agent re-reads the app without a restart.
    org = lab[1]
    app = org.http.get("/api/v1/radius/apps").json()[0]
    assert org.http.put(f"/api/v1/radius/apps/{app['id']}", json={"primaryAuth": True}).status_code == 200
    try:
        deadline = time.monotonic() + 5
        while True:
            assert ask(lab, nas, "bob", "push") == rp.AccessReject or time.monotonic() < deadline
            last = agent_events(lab)[-1]
            if last["fields"]["method"].startswith("password"):
                break
            time.sleep(0.5)
        assert last["outcome"] == "reject"
    finally:
        assert org.http.put(f"/api/v1/radius/apps/{app['id']}", json={"primaryAuth": False}).status_code == 200
    deadline = time.monotonic() + 5
    while ask(lab, nas, "bob", "push") != rp.AccessAccept:
        assert time.monotonic() < deadline, "the agent did not pick up primaryAuth=false"
        time.sleep(0.5)
