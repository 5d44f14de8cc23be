"""Issue 17, over the wire with the real org, phone and RADIUS agent (127.0.145): Okta Verify's
number challenge (the sign-in page's correctAnswer, three choices on the phone, a wrong number
denied, RADIUS pushes without a number) and several Okta Verify devices per user (each its own
push factor; the agent pushes to the first, radclient as the NAS)."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest

from lab.client_env import lab_verify, org_url
from tests.services.okta.support import org_client
from tests.support import running_services, url

SUBNET = "127.0.145"
PAT = "pat@corp.example.com"
PASSWORD = "Pat-Passw0rd!"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"okta": {"okta_verify_number_challenge": "all", "okta_verify_max_devices": 2,
                         "push_ttl_seconds": 20},
                "radius-agent": {"app_refresh_seconds": 1, "push_poll_interval_seconds": 0.2}}
    state = tmp_path_factory.mktemp("numbers")
    with running_services(["okta", "phone", "radius-agent"], state, SUBNET,
                          settings=settings, timeout=60) as topology:
        topology["_test_state"] = state
        with org_client(topology) as api, httpx.Client(base_url=url(topology, "phone"), timeout=15) as phone:
            api.post("/api/v1/users", params={"activate": "true"},
                     json={"profile": {"login": PAT, "firstName": "Pat", "lastName": "P"},
                           "credentials": {"password": {"value": PASSWORD}}})
            for login in (PAT, "alice@corp.example.com", "bob@corp.example.com"):
                enrol_push(api, phone, login)
            yield topology, api, phone


def enrol_push(api: httpx.Client, phone: httpx.Client, login: str, device: str = "Lab iPhone") -> dict:
    uid = api.get(f"/api/v1/users/{login}").json()["id"]
    push = api.post(f"/api/v1/users/{uid}/factors", json={"factorType": "push", "provider": "OKTA"})
    assert push.status_code == 200, push.text
    scan = phone.post("/scan", params={"device": device},
                      json={"uri": push.json()["_embedded"]["activation"]["qrContents"]})
    assert scan.status_code == 200, scan.text
    assert scan.json()["device"] == device
    return push.json()


def wait_push(phone: httpx.Client, transaction_prefix_count: int, login: str) -> dict:
    """The newest push for `login` once the phone holds more than `transaction_prefix_count`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [p for p in phone.get("/pushes").json() if p["login"] == login]
        if len(mine) > transaction_prefix_count:
            return mine[-1]
        time.sleep(0.1)
    raise AssertionError(f"no push reached the phone for {login}")


def pushes_of(phone: httpx.Client, login: str) -> int:
    return len([p for p in phone.get("/pushes").json() if p["login"] == login])


def sign_in_to_push(topology, user_agent: str = "Mozilla/5.0 (lab browser)") -> tuple[str, dict]:
    """The sign-in page's calls: password, then Okta Verify push; returns the stateToken and answer."""
    base, headers = org_url(topology), {"User-Agent": user_agent}
    mfa = httpx.post(f"{base}/api/v1/authn", json={"username": PAT, "password": PASSWORD}, headers=headers,
                     verify=lab_verify(topology)).json()
    assert mfa["status"] == "MFA_REQUIRED"
    factor = next(f for f in mfa["_embedded"]["factors"] if f["factorType"] == "push")
    body = httpx.post(factor["_links"]["verify"]["href"], json={"stateToken": mfa["stateToken"]},
                      headers=headers, verify=lab_verify(topology)).json()
    assert body["status"] == "MFA_CHALLENGE" and body["factorResult"] == "WAITING"
    return mfa["stateToken"], body


def poll(topology, state_token: str, body: dict, until: set[str]) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if body.get("status") == "SUCCESS" or body.get("factorResult") in until:
            return body
        time.sleep(0.3)        # under the org's 4 authn calls per second per user
        body = httpx.post(body["_links"]["next"]["href"], json={"stateToken": state_token},
                          verify=lab_verify(topology)).json()
    raise AssertionError(f"the push did not end: {body}")


def test_sign_in_page_shows_the_number_and_the_phone_three_choices(lab):
    topology, _api, phone = lab
    before = pushes_of(phone, PAT)
    token, body = sign_in_to_push(topology)
    answer = body["_embedded"]["factor"]["_embedded"]["challenge"]["correctAnswer"]
    pushed = wait_push(phone, before, PAT)
    assert len(set(pushed["choices"])) == 3 and answer in pushed["choices"]
    assert all(10 <= n <= 99 for n in pushed["choices"])
    # the scripted "approve" cannot see the sign-in page: the push waits for the person
    time.sleep(0.5)
    assert phone.get("/pushes").json()[-1]["state"] == "waiting"
    tapped = phone.post(f"/pushes/{pushed['transactionId']}/answer", json={"answer": "approve", "number": answer})
    assert tapped.status_code == 200 and tapped.json()["state"] == "approved", tapped.text
    done = poll(topology, token, body, {"REJECTED", "TIMEOUT"})
    assert done["status"] == "SUCCESS" and done["sessionToken"]


def test_a_wrong_number_denies_the_sign_in(lab):
    topology, api, phone = lab
    before = pushes_of(phone, PAT)
    token, body = sign_in_to_push(topology)
    answer = body["_embedded"]["factor"]["_embedded"]["challenge"]["correctAnswer"]
    pushed = wait_push(phone, before, PAT)
    wrong = next(n for n in pushed["choices"] if n != answer)
    tapped = phone.post(f"/pushes/{pushed['transactionId']}/answer", json={"answer": "approve", "number": wrong})
    assert tapped.status_code == 200 and tapped.json()["state"] == "denied"
    done = poll(topology, token, body, {"REJECTED", "TIMEOUT"})
    assert done["factorResult"] == "REJECTED"
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "user.mfa.okta_verify.deny_push"'}).json()
    assert any("wrong number" in (e["outcome"].get("reason") or "") for e in logs)


def test_the_phone_takes_only_one_of_its_three_numbers(lab):
    topology, _api, phone = lab
    before = pushes_of(phone, PAT)
    sign_in_to_push(topology)
    pushed = wait_push(phone, before, PAT)
    outside = next(n for n in range(10, 100) if n not in pushed["choices"])
    for bad in ({"answer": "approve"}, {"answer": "approve", "number": outside}):
        refused = phone.post(f"/pushes/{pushed['transactionId']}/answer", json=bad)
        assert refused.status_code == 400 and "tap one of the numbers" in refused.json()["detail"]
    assert phone.post(f"/pushes/{pushed['transactionId']}/answer",
                      json={"answer": "approve", "number": True}).status_code == 400
    assert phone.post("/pushes/v2mst.nope/answer", json={"answer": "deny"}).status_code == 404
    denied = phone.post(f"/pushes/{pushed['transactionId']}/answer", json={"answer": "deny"})
    assert denied.status_code == 200 and denied.json()["state"] == "denied"
    assert phone.post(f"/pushes/{pushed['transactionId']}/answer", json={"answer": "deny"}).status_code == 409


def test_factors_api_verify_asks_for_the_number_per_call(lab):
    """Okta's Factors API: a number matching push only when the call's body asks for one."""
    _topology, api, phone = lab
    uid = api.get(f"/api/v1/users/{PAT}").json()["id"]
    push = next(f for f in api.get(f"/api/v1/users/{uid}/factors").json() if f["factorType"] == "push")
    assert phone.put("/accounts/pat/behaviour", json={"action": "ignore"}).status_code == 200
    before = pushes_of(phone, PAT)
    plain = api.post(f"/api/v1/users/{uid}/factors/{push['id']}/verify")      # no body: a plain push
    assert plain.status_code == 201 and "_embedded" not in plain.json()
    assert wait_push(phone, before, PAT)["choices"] is None          # delivered (in the background)
    api.delete(plain.json()["_links"]["cancel"]["href"])
    bad = api.post(f"/api/v1/users/{uid}/factors/{push['id']}/verify", json={"useNumberMatchingChallenge": "yes"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E0000001"
    sent = api.post(f"/api/v1/users/{uid}/factors/{push['id']}/verify", json={"useNumberMatchingChallenge": True})
    assert sent.status_code == 201 and sent.json()["factorResult"] == "WAITING"
    answer = sent.json()["_embedded"]["challenge"]["correctAnswer"]
    polled = api.get(sent.json()["_links"]["poll"]["href"]).json()
    assert polled["_embedded"]["challenge"]["correctAnswer"] == answer
    assert answer in wait_push(phone, before + 1, PAT)["choices"]
    api.delete(sent.json()["_links"]["cancel"]["href"])
    assert phone.put("/accounts/pat/behaviour", json={"action": "approve"}).status_code == 200


def test_the_radius_agents_sign_in_gets_no_number(lab):
    """The agent's primary-authentication path uses the Authentication API too: with
    number_challenge_radius: skip (Okta's "Disable number matching challenge for RADIUS") its
    push is a plain one, which the scripted phone approves."""
    topology, _api, phone = lab
    before = pushes_of(phone, PAT)
    token, body = sign_in_to_push(topology, user_agent="okta-radius-agent-lab/2.x")
    assert "_embedded" not in body["_embedded"]["factor"]
    assert wait_push(phone, before, PAT)["choices"] is None
    assert poll(topology, token, body, {"REJECTED", "TIMEOUT"})["status"] == "SUCCESS"


radclient = pytest.mark.skipif(shutil.which("radclient") is None, reason="radclient not installed")


def run_radclient(topology, user: str, password: str) -> subprocess.CompletedProcess:
    svc = topology["services"]["radius-agent"]
    attrs = f'User-Name = "{user}"\nUser-Password = "{password}"\nNAS-IP-Address = {SUBNET}.41\n'
    return subprocess.run(["radclient", "-x", "-r", "1", "-t", "12", f"{svc['host']}:{svc['ports']['radius']}",
                           "auth", topology["credentials"]["radius_shared_secret"]],
                          input=attrs, capture_output=True, text=True, timeout=30)


@radclient
def test_radius_push_goes_without_a_number(lab):
    """Okta: number challenge is not supported over RADIUS; the org (number_challenge_radius:
    skip) sends the agent's push as a plain one, which the scripted phone approves."""
    topology, _api, phone = lab
    assert phone.put("/accounts/alice/behaviour", json={"action": "approve", "after": 0.3}).status_code == 200
    before = pushes_of(phone, "alice@corp.example.com")
    out = run_radclient(topology, "alice", "push")
    assert "Access-Accept" in out.stdout, out.stdout + out.stderr
    pushed = wait_push(phone, before, "alice@corp.example.com")
    assert pushed["choices"] is None and pushed["state"] == "approved"


@radclient
def test_a_second_device_is_its_own_factor_and_radius_pushes_to_the_first(lab):
    topology, api, phone = lab
    bob = "bob@corp.example.com"
    ipad = enrol_push(api, phone, bob, device="Lab iPad")
    uid = api.get(f"/api/v1/users/{bob}").json()["id"]
    pushes = [f for f in api.get(f"/api/v1/users/{uid}/factors").json()
              if f["factorType"] == "push" and f["status"] == "ACTIVE"]
    assert [f["profile"]["name"] for f in pushes] == ["Lab iPhone", "Lab iPad"]
    assert ipad["id"] == pushes[1]["id"]
    devices = sorted(a["device"] for a in phone.get("/accounts").json() if a["login"] == bob)
    assert devices == ["Lab iPad", "Lab iPhone"]
    # a third device goes over okta_verify_max_devices (2)
    third = api.post(f"/api/v1/users/{uid}/factors", json={"factorType": "push", "provider": "OKTA"})
    assert third.status_code == 400 and third.json()["errorCode"] == "E0000001"
    # the iPhone denies, the iPad would approve: the answer tells which phone got the push
    assert phone.put(f"/accounts/{bob}/behaviour",
                     json={"action": "deny", "device": "Lab iPhone"}).status_code == 200
    assert phone.put(f"/accounts/{bob}/behaviour",
                     json={"action": "approve", "device": "Lab iPad"}).status_code == 200
    before = pushes_of(phone, bob)
    out = run_radclient(topology, "bob", "push")
    assert "Access-Reject" in out.stdout, out.stdout + out.stderr
    got = [p for p in phone.get("/pushes").json() if p["login"] == bob][before:]
    assert [p["device"] for p in got] == ["Lab iPhone"] and got[0]["state"] == "denied"
    events = [json.loads(line) for line in
              (topology["_test_state"] / "events" / "radius-agent.jsonl").read_text().splitlines()]
    bobs = [e for e in events if e["kind"] == "radius.request" and e["fields"].get("user") == "bob"]
    reason = bobs[-1]["fields"]["reason"]
    assert "User rejected the Okta Verify push" in reason
    assert "2 Okta Verify devices enrolled (Lab iPhone, Lab iPad); the push went to the first only" in reason
    # the org's verify of the iPad's factor reaches the iPad only
    before = pushes_of(phone, bob)
    sent = api.post(f"/api/v1/users/{uid}/factors/{ipad['id']}/verify")
    assert sent.status_code == 201
    assert wait_push(phone, before, bob)["device"] == "Lab iPad"


# -- the pieces, without processes --------------------------------------------------------------

def test_the_agent_chooses_among_push_factors_as_set():
    from services.radius_agent.model import Policy, Reject, choose_push
    iphone = {"id": "opf1", "factorType": "push", "profile": {"name": "Lab iPhone"}}
    ipad = {"id": "opf2", "factorType": "push", "profile": {"name": "Lab iPad"}}
    totp = {"id": "ost1", "factorType": "token:software:totp"}
    assert choose_push([totp, iphone], "first") == (iphone, None)
    chosen, note = choose_push([totp, iphone, ipad], "first")
    assert chosen is iphone and note is not None and "2 Okta Verify devices enrolled (Lab iPhone, Lab iPad)" in note
    with pytest.raises(Reject, match="does not choose"):
        choose_push([iphone, ipad], "reject")
    with pytest.raises(Reject, match="no ACTIVE Okta Verify push factor"):
        choose_push([totp], "first")
    assert Policy.from_settings({}).multi_device == "first"
    assert Policy.from_settings({"okta_verify_multi_device": "reject"}).multi_device == "reject"
    with pytest.raises(ValueError, match="okta_verify_multi_device"):
        Policy.from_settings({"okta_verify_multi_device": "all"})


def test_the_phone_keeps_several_devices_of_one_person(tmp_path):
    from services.phone.authenticator import Wallet
    wallet = Wallet(tmp_path / "okta_verify.json")
    for device, factor in (("Lab iPhone", "opf1"), ("Lab iPad", "opf2")):
        acc = wallet.account("ann@corp.example.com", device)
        acc.push_factor_id, acc.device_credential = factor, f"cred-{factor}"
    wallet.save()
    reopened = Wallet(tmp_path / "okta_verify.json")
    assert sorted(a.device for a in reopened.accounts_of("ann")) == ["Lab iPad", "Lab iPhone"]
    ipad = reopened.by_factor("opf2")                          # a push reaches its factor's device
    assert ipad is not None and ipad.device == "Lab iPad"
    assert reopened.find("ann").device == "Lab iPhone"
    reopened.set_behaviour("ann", "deny", 0, device="Lab iPad")
    assert [a.action for a in reopened.accounts_of("ann")] == ["approve", "deny"]
    reopened.set_behaviour("ann", "ignore", 1)                 # no device: all of them
    assert {a.action for a in reopened.accounts_of("ann")} == {"ignore"}
    reopened.remove("ann", "Lab iPad")
    assert [a.device for a in Wallet(tmp_path / "okta_verify.json").accounts_of("ann")] == ["Lab iPhone"]
