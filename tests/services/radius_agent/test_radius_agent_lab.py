"""The radius-agent in a real lab (127.0.97.x): the domain controller, the Okta org, Okta Verify,
TWO agents (radius-agent and radius-agent-2, each with its own duplicate cache) and AD Connector.

What only the real pieces show: a retransmission that lands on the other agent starts a second
push on the phone (Okta documents it, failure F2 in docs/radius.md) while each agent alone sends one; "Okta performs
primary authentication" against the org's /api/v1/authn (the AD password checked by an LDAP bind at
the DC) in one request and through Access-Challenge; AD Connector failing every sign-in with that
setting (it treats a challenge as failure); and a revoked API token making the agents DISRUPTED.
The token test revokes the lab's token, so it runs last and resets the org afterwards.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from pyrad import packet as rp

from lab.provision import enrol_okta_verify
from tests.services.radius_agent.fakes import RadiusClient, access_request, decode_reply
from tests.support import admin_headers, default_seed, running_services, url

SUBNET = "127.0.97"
NAS_IP = f"{SUBNET}.41"
DIRECTORY = "d-9067a1b2c3"
AGENTS = ("radius-agent", "radius-agent-2")
SERVICES = ["dc", "okta", "phone", *AGENTS, "ad-connector"]
PASSWORD = {"alice": "Alice-Passw0rd!", "bob": "Bob-Passw0rd!", "carol": "Carol-Passw0rd!"}


class Lab:
    def __init__(self, topology):
        self.topology = topology
        self.secret = topology["credentials"]["radius_shared_secret"].encode()
        token = topology["credentials"]["okta_api_token"]
        self.org = httpx.Client(base_url=url(topology, "okta"), headers={"Authorization": f"SSWS {token}"},
                                timeout=15)
        self.phone = httpx.Client(base_url=url(topology, "phone"), timeout=10)
        self.connector = httpx.Client(base_url=url(topology, "ad-connector"), timeout=60)
        self.app = self.org.get("/api/v1/radius/apps").json()[0]

    def agent(self, name: str) -> tuple[str, int]:
        svc = self.topology["services"][name]
        return svc["host"], svc["ports"]["radius"]

    def admin(self, name: str) -> str:
        return url(self.topology, name, "admin")

    def pushes(self, login: str) -> int:
        return sum(1 for p in self.phone.get("/pushes").json() if p["login"] == login)

    def respond(self, login: str, action: str, after: float = 0.0) -> None:
        answer = self.phone.put(f"/accounts/{login}/behaviour", json={"action": action, "after": after})
        assert answer.status_code == 200

    def code(self, login: str) -> str:
        return self.phone.get(f"/accounts/{login}/code").json()["code"]

    def events(self, name: str, kind: str = "radius.request") -> list[dict]:
        return [e for e in httpx.get(f"{self.admin(name)}/events",
                                     headers=admin_headers(self.topology)).json() if e["kind"] == kind]

    def set_primary_auth(self, on: bool) -> None:
        """PUT the app setting, then wait until both agents have re-read it (no restart)."""
        resp = self.org.put(f"/api/v1/radius/apps/{self.app['id']}", json={"primaryAuth": on})
        assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + 10
        for name in AGENTS:
            while not (evs := self.events(name, "radius.apps")) or evs[-1]["fields"]["apps"][0]["primary_auth"] != on:
                assert time.monotonic() < deadline, f"{name} did not pick up primaryAuth={on}"
                time.sleep(0.3)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    agent = {"app_refresh_seconds": 1, "push_poll_interval_seconds": 0.2}
    settings = {"radius-agent": agent, "radius-agent-2": agent,
                "ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0}}
    with running_services(SERVICES, tmp_path_factory.mktemp("ra-lab"), SUBNET, agents=2, settings=settings,
                       timeout=90) as topology:
        lab = Lab(topology)
        carol = lab.org.get("/api/v1/users/carol@corp.example.com").json()
        assert lab.org.post(f"/api/v1/apps/{lab.app['id']}/users", json={"id": carol["id"]}).status_code == 200
        seed = default_seed()
        people = [u for u in seed["users"] if u["sam"] in ("alice", "bob", "carol")]
        enrol_okta_verify(topology, {"domain": seed["domain"], "users": people})
        yield lab
        for c in (lab.org, lab.phone, lab.connector):
            c.close()


@pytest.fixture
def nas():
    c = RadiusClient(("0.0.0.0", 0), NAS_IP)
    yield c
    c.close()


def exchange(lab, nas, agent, user, password, state=None, timeout=15.0):
    req = access_request(lab.secret, user, password)
    if state is not None:
        req.AddAttribute("State", state)
        req.add_message_authenticator()
    nas.server = lab.agent(agent)
    data = nas.exchange(req, timeout=timeout)
    assert data is not None, f"no answer from {agent}"
    return decode_reply(req, data)


# -- 5. two agents: duplicates are only recognised by the agent that has the request -----------------
@pytest.mark.parametrize("agent", AGENTS)
def test_each_agent_alone_drops_retransmissions_and_sends_one_push(lab, nas, agent):
    login = "alice@corp.example.com"
    lab.respond(login, "approve", 1.5)
    before = lab.pushes(login)
    req = access_request(lab.secret, "alice", "push")
    raw = req.RequestPacket()
    nas.server = lab.agent(agent)
    for _ in range(3):                       # the request and two retransmissions, same bytes
        nas.send(raw)
        time.sleep(0.4)
    data = nas.recv(10)
    assert data is not None and decode_reply(req, data).code == rp.AccessAccept
    assert nas.recv(0.5) is None
    assert lab.pushes(login) == before + 1
    assert [e["outcome"] for e in lab.events(agent)[-3:]].count("dropped_duplicate") == 2


def test_a_retransmission_landing_on_the_other_agent_starts_a_second_push(lab, nas):
    login = "alice@corp.example.com"
    lab.respond(login, "approve", 1.5)
    before = lab.pushes(login)
    req = access_request(lab.secret, "alice", "push")
    raw = req.RequestPacket()
    nas.sock.sendto(raw, lab.agent("radius-agent"))
    time.sleep(0.5)
    nas.sock.sendto(raw, lab.agent("radius-agent-2"))      # no sticky load balancing: the retry moves
    replies = [nas.recv(10), nas.recv(10)]
    assert all(r is not None and decode_reply(req, r).code == rp.AccessAccept for r in replies)
    assert lab.pushes(login) == before + 2                  # F2: two pushes on the phone
    for agent in AGENTS:                                    # each agent processed it as new
        assert lab.events(agent)[-1]["outcome"] == "accept"


# -- 1. "Okta performs primary authentication" against the org ---------------------------------------
def test_primary_auth_password_and_code_or_push_in_one_request(lab, nas):
    lab.set_primary_auth(True)
    try:
        code = lab.code("alice@corp.example.com")
        assert exchange(lab, nas, "radius-agent", "alice", f"{PASSWORD['alice']},{code}").code == rp.AccessAccept
        lab.respond("bob@corp.example.com", "approve", 0.3)
        assert exchange(lab, nas, "radius-agent-2", "bob", f"{PASSWORD['bob']},push").code == rp.AccessAccept
        assert exchange(lab, nas, "radius-agent", "bob", "Wrong-Passw0rd!,push").code == rp.AccessReject
        assert "E0000004" in lab.events("radius-agent")[-1]["fields"]["reason"]
    finally:
        lab.set_primary_auth(False)


def test_a_client_answering_the_challenge_signs_in(lab, nas):
    lab.set_primary_auth(True)
    try:
        menu = exchange(lab, nas, "radius-agent", "carol", PASSWORD["carol"])
        assert menu.code == rp.AccessChallenge
        text = menu["Reply-Message"][0]
        choices = dict((label, n) for n, label in re.findall(r"(\d+) - ([^,]+)", text))
        assert set(choices) == {"Okta Verify TOTP", "Okta Verify Push"}, text
        prompt = exchange(lab, nas, "radius-agent", "carol", choices["Okta Verify TOTP"], state=menu["State"][0])
        assert prompt.code == rp.AccessChallenge and "passcode" in prompt["Reply-Message"][0]
        code = lab.code("carol@corp.example.com")
        assert exchange(lab, nas, "radius-agent", "carol", code, state=prompt["State"][0]).code == rp.AccessAccept
        # the same dialogue ending in a push, answered on the phone
        lab.respond("carol@corp.example.com", "approve", 0.3)
        menu = exchange(lab, nas, "radius-agent", "carol", PASSWORD["carol"])
        done = exchange(lab, nas, "radius-agent", "carol", choices["Okta Verify Push"], state=menu["State"][0])
        assert done.code == rp.AccessAccept
        # the State lives in the agent that issued it: the other agent rejects it
        menu = exchange(lab, nas, "radius-agent", "carol", PASSWORD["carol"])
        other = exchange(lab, nas, "radius-agent-2", "carol", "1", state=menu["State"][0])
        assert other.code == rp.AccessReject
    finally:
        lab.set_primary_auth(False)


def connector_signin(lab, user, mfa_code):
    body = {"directoryId": DIRECTORY, "username": user, "password": PASSWORD[user], "mfaCode": mfa_code}
    deadline = time.monotonic() + 30
    while (resp := lab.connector.post("/connector/authenticate", json=body)).status_code != 200 \
            or resp.json().get("reason") in ("directory_not_active", "radius_not_ready"):
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.5)
    return resp.json()


def test_with_ad_connector_primary_auth_fails_every_sign_in(lab):
    ok = connector_signin(lab, "bob", lab.code("bob@corp.example.com"))
    assert ok["authenticated"], ok
    lab.set_primary_auth(True)
    try:
        lab.respond("bob@corp.example.com", "approve", 0.3)
        pushed = connector_signin(lab, "bob", "push")          # "push" is not bob's password
        assert (pushed["authenticated"], pushed["reason"]) == (False, "radius_reject")
        # even the AD password in the MFA field fails: the agent challenges, the connector gives up
        challenged = connector_signin(lab, "bob", PASSWORD["bob"])
        assert (challenged["authenticated"], challenged["reason"]) == (False, "radius_challenge"), challenged
        assert lab.events("radius-agent")[-1]["outcome"] == "challenge"
    finally:
        lab.set_primary_auth(False)


# -- 2. User-Name resolution against the org --------------------------------------------------------
def last_reason(lab, agent="radius-agent") -> str:
    return lab.events(agent)[-1]["fields"]["reason"] or ""


def test_username_format_mismatch_and_suspended_user_are_rejected_with_reasons(lab, nas):
    # the wrong code 000000 is never reached: resolution fails first, so no TOTP step is spent
    fmt = lab.org.put(f"/api/v1/radius/apps/{lab.app['id']}", json={"usernameFormat": "email"})
    assert fmt.status_code == 200, fmt.text
    try:
        deadline = time.monotonic() + 10
        while True:
            assert exchange(lab, nas, "radius-agent", "alice", "000000").code == rp.AccessReject
            if "${source.email}" in last_reason(lab):
                break
            assert time.monotonic() < deadline, last_reason(lab)
            time.sleep(0.3)
        assert "does not match the app's username format" in last_reason(lab)
        assert "assigned to Amazon WorkSpaces as 'alice@corp.example.com'" in last_reason(lab)
    finally:
        assert lab.org.put(f"/api/v1/radius/apps/{lab.app['id']}",
                           json={"usernameFormat": "ad_sam_account_name"}).status_code == 200
    bob = lab.org.get("/api/v1/users/bob@corp.example.com").json()
    assert lab.org.post(f"/api/v1/users/{bob['id']}/lifecycle/suspend").status_code == 200
    try:
        assert exchange(lab, nas, "radius-agent", "bob", "000000").code == rp.AccessReject
        assert "is SUSPENDED in Okta" in last_reason(lab)
    finally:
        assert lab.org.post(f"/api/v1/users/{bob['id']}/lifecycle/unsuspend").status_code == 200


# -- 6. the agent's link to the org ------------------------------------------------------------------
def test_a_revoked_token_makes_the_agents_disrupted_and_reject(lab, nas):
    # The agents' own token (given at installation) revoked with itself: the admin's still works.
    agent_token = lab.topology["credentials"]["okta_agent_token"]
    revoked = httpx.delete(f"{lab.org.base_url}/api/v1/api-tokens/current",
                           headers={"Authorization": f"SSWS {agent_token}"})
    assert revoked.status_code == 204
    try:
        deadline = time.monotonic() + 10
        for agent in AGENTS:
            while (health := httpx.get(f"{lab.admin(agent)}/healthz")).status_code == 200:
                assert time.monotonic() < deadline, f"{agent} still healthy after the revocation"
                time.sleep(0.3)
            assert health.status_code == 503 and "DISRUPTED" in health.json()["detail"]
            assert "E0000011" in health.json()["detail"]
        reply = exchange(lab, nas, "radius-agent", "alice", lab.code("alice@corp.example.com"))
        assert reply.code == rp.AccessReject
        assert "E0000011" in lab.events("radius-agent")[-1]["fields"]["reason"]
        log = (Path(lab.topology["state_dir"]) / "logs" / "radius-agent.log").read_text()
        assert "refuses the agent's API token: E0000011 Invalid token provided; agent DISRUPTED" in log
        statuses = [e["outcome"] for e in lab.events("radius-agent", "radius.agent_status")]
        assert statuses[-1] == "disrupted"
    finally:
        httpx.post(f"{lab.admin('okta')}/reset",
                   headers=admin_headers(lab.topology))          # back to the seed, with the lab's token
    deadline = time.monotonic() + 10
    for agent in AGENTS:
        while httpx.get(f"{lab.admin(agent)}/healthz").status_code != 200:
            assert time.monotonic() < deadline, f"{agent} did not recover after the token came back"
            time.sleep(0.3)
