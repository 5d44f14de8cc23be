"""The Authentication API's state machine with raw HTTP (okta + mail, 127.0.93; no DC, so only
Okta-mastered users): activation by the emailed link (PASSWORD_RESET, then MFA_ENROLL per the
walkthrough policy), enrolment through /api/v1/authn (TOTP activate, push poll, previous, skip),
MFA_REQUIRED / MFA_CHALLENGE with E0000068 / E0000082, E0000079 for steps out of order, the
sliding stateToken expiry (E0000011), LOCKED_OUT and PASSWORD_EXPIRED, UNAUTHENTICATED from an
app's link, and authn state surviving a restart."""
from __future__ import annotations

import re
import time

import httpx
import pyotp
import pytest

from lab import process_runtime as pr
from lab.client_env import lab_verify, org_url
from tests.services.okta.support import assert_error, org_client
from tests.support import admin_headers, default_seed, running_services, url

SUBNET = "127.0.93"


def seed() -> dict:
    s = default_seed()
    s["okta"]["policies"] = [{
        "type": "MFA_ENROLL", "name": "Full time employees", "groups": ["Full time employees"],
        "factors": {"okta_otp": "REQUIRED", "okta_push": "OPTIONAL"},
        "rules": [{"name": "Must enroll MFA at first sign in", "enroll": "LOGIN"}]}]
    return s


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("okta-authn")
    with running_services(["mail", "okta"], state, SUBNET, seed=seed(),
                          # several sign-ins of one user within a second (the lockout test):
                          # above Okta's 4/s per-user authn limit (tested in test_okta_codes_and_limits.py)
                          settings={"okta": {"authn_state_ttl_seconds": 300,
                                             "authn_user_limit_per_second": 50}}) as topo:
        yield {"topo": topo, "state": state}


@pytest.fixture(scope="module")
def api(lab):
    with org_client(lab["topo"]) as client:
        yield client


def authn(lab, path: str = "/api/v1/authn", **body) -> httpx.Response:
    href = path if path.startswith("http") else org_url(lab["topo"]) + path
    return httpx.post(href, json=body, timeout=10, verify=lab_verify(lab["topo"]))


def fte_group(api) -> str:
    return api.get("/api/v1/groups", params={"q": "Full time"}).json()[0]["id"]


def new_user(api, login: str, password: str | None = None, group: str | None = None, activate: bool = True) -> dict:
    body: dict = {"profile": {"login": login, "firstName": login.split("@")[0].title(), "lastName": "Tester"}}
    if password:
        body["credentials"] = {"password": {"value": password}}
    if group:
        body["groupIds"] = [group]
    resp = api.post("/api/v1/users", params={"activate": str(activate).lower()}, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def test_the_activation_email_is_copied_to_the_secondary_email(lab, api):
    resp = api.post("/api/v1/users", params={"activate": "true"},
                    json={"profile": {"login": "oona@corp.example.com", "email": "oona@corp.example.com",
                                      "secondEmail": "oona.home@example.net", "firstName": "Oona",
                                      "lastName": "Lab"}})
    assert resp.status_code == 200, resp.text
    mail = url(lab["topo"], "mail")
    deadline = time.monotonic() + 10
    while not (copy := httpx.get(f"{mail}/messages", params={"to": "oona.home@example.net"}).json()):
        assert time.monotonic() < deadline, "no copy at the secondary email"
        time.sleep(0.1)
    full = httpx.get(f"{mail}/messages/{copy[0]['id']}").json()
    assert full["subject"] == "Welcome to Okta!"
    assert sorted(full["envelope"]["to"]) == ["oona.home@example.net", "oona@corp.example.com"]


def test_activation_email_password_reset_then_enrolment(lab, api):
    user = new_user(api, "nina@corp.example.com", group=fte_group(api))
    assert user["status"] == "PROVISIONED"
    mail = url(lab["topo"], "mail")
    deadline = time.monotonic() + 10
    while not (inbox := httpx.get(f"{mail}/messages", params={"to": "nina@corp.example.com"}).json()):
        assert time.monotonic() < deadline, "no activation email"
        time.sleep(0.1)
    text = httpx.get(f"{mail}/messages/{inbox[0]['id']}").json()["text"]
    token = re.search(r"/welcome/([A-Za-z0-9]+)", text).group(1)
    assert_error(authn(lab, token="not-a-token"), 401, "E0000004")
    tx = authn(lab, token=token).json()
    assert tx["status"] == "PASSWORD_RESET" and tx["_links"]["next"]["name"] == "resetPassword"
    assert tx["_embedded"]["user"]["profile"]["login"] == "nina@corp.example.com"
    reset = tx["_links"]["next"]["href"]
    assert_error(authn(lab, reset, stateToken=tx["stateToken"], newPassword="short"), 403, "E0000080")
    tx = authn(lab, reset, stateToken=tx["stateToken"], newPassword="Activated-Passw0rd1").json()
    assert tx["status"] == "MFA_ENROLL"
    assert api.get(f"/api/v1/users/{user['id']}").json()["status"] == "ACTIVE"
    offered = {(f["factorType"], f["provider"]): f["enrollment"] for f in tx["_embedded"]["factors"]}
    assert offered == {("token:software:totp", "OKTA"): "REQUIRED", ("push", "OKTA"): "OPTIONAL"}
    assert "skip" not in tx["_links"], "a REQUIRED factor cannot be skipped"
    st = tx["stateToken"]
    # out of order: verify while enrolling
    assert_error(authn(lab, "/api/v1/authn/factors/ostNOPE/verify", stateToken=st, passCode="123456"), 403, "E0000079")
    assert_error(authn(lab, "/api/v1/authn/factors", stateToken=st, factorType="token:software:totp",
                       provider="GOOGLE"), 400, "E0000001")
    # push: enrol, go back (previous), then TOTP instead
    tx = authn(lab, "/api/v1/authn/factors", stateToken=st, factorType="push", provider="OKTA").json()
    assert tx["status"] == "MFA_ENROLL_ACTIVATE" and tx["factorResult"] == "WAITING"
    poll = tx["_links"]["next"]
    assert poll["name"] == "poll" and poll["href"].endswith("/lifecycle/activate/poll")
    assert authn(lab, poll["href"], stateToken=st).json()["factorResult"] == "WAITING"
    assert tx["_embedded"]["factor"]["_embedded"]["activation"]["_links"]["qrcode"]["type"] == "image/png"
    tx = authn(lab, tx["_links"]["prev"]["href"], stateToken=st).json()
    assert tx["status"] == "MFA_ENROLL"
    tx = authn(lab, "/api/v1/authn/factors", stateToken=st, factorType="token:software:totp", provider="OKTA").json()
    activation = tx["_embedded"]["factor"]["_embedded"]["activation"]
    assert activation["timeStep"] == 30 and activation["keyLength"] == 6 and activation["encoding"] == "base32"
    secret = activation["sharedSecret"]
    wrong = next(c for c in ("000000", "111111", "222222") if c not in {code(secret, s) for s in (-1, 0, 1)})
    assert_error(authn(lab, tx["_links"]["next"]["href"], stateToken=st, passCode=wrong), 403, "E0000068")
    done = authn(lab, tx["_links"]["next"]["href"], stateToken=st, passCode=code(secret)).json()
    assert done["status"] == "SUCCESS" and done["sessionToken"], "push is optional once TOTP is there"
    assert_error(authn(lab, stateToken=st), 401, "E0000011")          # a finished transaction
    # the next sign-in asks for the factor: MFA_REQUIRED, a replayed code, the next one
    now = code(secret)
    tx = authn(lab, username="nina@corp.example.com", password="Activated-Passw0rd1").json()
    assert tx["status"] == "MFA_REQUIRED"
    verify = tx["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    assert authn(lab, verify, stateToken=tx["stateToken"], passCode=now).json()["status"] == "SUCCESS"
    tx = authn(lab, username="nina", password="Activated-Passw0rd1").json()
    assert_error(authn(lab, verify, stateToken=tx["stateToken"], passCode=now), 403, "E0000082")
    assert authn(lab, verify, stateToken=tx["stateToken"], passCode=code(secret, 1)).json()["status"] == "SUCCESS"
    emails = [e for e in httpx.get(url(lab["topo"], "okta", "admin") + "/events",
                                   headers=admin_headers(lab["topo"])).json() if e["kind"] == "okta.email"]
    assert emails and emails[0]["outcome"] == "sent" and token not in str(emails)


def test_optional_enrolment_can_be_skipped(lab, api):
    policy = api.post("/api/v1/policies", json={
        "type": "MFA_ENROLL", "name": "Optional for everyone", "priority": 2,
        "settings": {"type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "OPTIONAL"}}}}}).json()
    api.post(f"/api/v1/policies/{policy['id']}/rules", json={"name": "first sign in",
                                                              "actions": {"enroll": {"self": "LOGIN"}}})
    try:
        new_user(api, "olga@corp.example.com", password="Olga-Passw0rd!")
        tx = authn(lab, username="olga@corp.example.com", password="Olga-Passw0rd!").json()
        assert tx["status"] == "MFA_ENROLL" and "skip" in tx["_links"]
        assert authn(lab, tx["_links"]["skip"]["href"], stateToken=tx["stateToken"]).json()["status"] == "SUCCESS"
    finally:
        api.delete(f"/api/v1/policies/{policy['id']}")
    # without that policy the default one (enrol when challenged) lets her straight in
    assert authn(lab, username="olga", password="Olga-Passw0rd!").json()["status"] == "SUCCESS"


def test_state_token_expiry_slides(lab, api):
    new_user(api, "sid@corp.example.com", password="Sid-Passw0rd!", group=fte_group(api))
    clock = url(lab["topo"], "okta", "admin") + "/clock"
    try:
        tx = authn(lab, username="sid", password="Sid-Passw0rd!").json()
        assert tx["status"] == "MFA_ENROLL"
        st = tx["stateToken"]
        httpx.post(clock, json={"offset_seconds": 200}, headers=admin_headers(lab["topo"]))
        again = authn(lab, stateToken=st).json()          # renews the expiry
        assert again["status"] == "MFA_ENROLL" and again["expiresAt"] > tx["expiresAt"]
        httpx.post(clock, json={"offset_seconds": 400},
                   headers=admin_headers(lab["topo"]))   # 400 s after the start, 200 after the renewal
        assert authn(lab, stateToken=st).json()["status"] == "MFA_ENROLL"
        httpx.post(clock, json={"offset_seconds": 800}, headers=admin_headers(lab["topo"]))
        assert_error(authn(lab, stateToken=st), 401, "E0000011")
        assert_error(authn(lab, "/api/v1/authn/cancel", stateToken=st), 401, "E0000011")
    finally:
        httpx.post(clock, json={"offset_seconds": 0}, headers=admin_headers(lab["topo"]))


def test_lockout_hidden_then_shown_and_password_expired(lab, api):
    user = new_user(api, "lou@corp.example.com", password="Lou-Passw0rd!")
    policy = api.get("/api/v1/policies", params={"type": "PASSWORD"}).json()[0]
    policy["settings"]["password"]["lockout"]["maxAttempts"] = 3
    assert api.put(f"/api/v1/policies/{policy['id']}", json=policy).status_code == 200
    for _ in range(3):
        assert_error(authn(lab, username="lou", password="wrong"), 401, "E0000004")
    assert api.get(f"/api/v1/users/{user['id']}").json()["status"] == "LOCKED_OUT"
    assert_error(authn(lab, username="lou", password="Lou-Passw0rd!"), 401, "E0000004")
    policy["settings"]["password"]["lockout"]["showLockoutFailures"] = True
    api.put(f"/api/v1/policies/{policy['id']}", json=policy)
    locked = authn(lab, username="lou", password="Lou-Passw0rd!").json()
    assert locked["status"] == "LOCKED_OUT" and "stateToken" not in locked
    api.post(f"/api/v1/users/{user['id']}/lifecycle/unlock")
    # PASSWORD_EXPIRED: change it, then in
    api.post(f"/api/v1/users/{user['id']}/lifecycle/expire_password")
    tx = authn(lab, username="lou", password="Lou-Passw0rd!").json()
    assert tx["status"] == "PASSWORD_EXPIRED" and tx["_links"]["next"]["name"] == "changePassword"
    change = tx["_links"]["next"]["href"]
    assert_error(authn(lab, change, stateToken=tx["stateToken"], oldPassword="nope", newPassword="New-Passw0rd!"),
                 403, "E0000014")
    done = authn(lab, change, stateToken=tx["stateToken"], oldPassword="Lou-Passw0rd!", newPassword="New-Passw0rd!")
    assert done.json()["status"] == "SUCCESS"
    assert authn(lab, username="lou", password="New-Passw0rd!").json()["status"] == "SUCCESS"


def test_unauthenticated_from_an_app_link(lab, api):
    app = api.get("/api/v1/apps").json()[0]
    new_user(api, "una@corp.example.com", password="Una-Passw0rd!")
    tx = httpx.get(url(lab["topo"], "okta") + f"/home/{app['name']}/{app['id']}").json()
    assert tx["status"] == "UNAUTHENTICATED" and tx["_embedded"]["target"]["label"] == "Amazon WorkSpaces"
    assert tx["_links"]["next"]["name"] == "authenticate"
    done = authn(lab, stateToken=tx["stateToken"], username="una", password="Una-Passw0rd!").json()
    assert done["status"] == "SUCCESS"


def test_transactions_survive_a_restart(lab, api):
    new_user(api, "rita@corp.example.com", password="Rita-Passw0rd!", group=fte_group(api))
    tx = authn(lab, username="rita", password="Rita-Passw0rd!").json()
    assert tx["status"] == "MFA_ENROLL"
    topo, state = lab["topo"], lab["state"]
    pr.stop(state, ["okta"])
    pr.wait_healthy(topo, pr.start(state / "topology.json", topo, ["okta"]), timeout=20)
    assert authn(lab, stateToken=tx["stateToken"]).json()["status"] == "MFA_ENROLL"
    assert [p["name"] for p in api.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()] == [
        "Full time employees", "Default Policy"]


def test_push_activation_link_by_email(lab, api):
    user = new_user(api, "pia@corp.example.com", password="Pia-Passw0rd!", group=fte_group(api))
    tx = authn(lab, username="pia", password="Pia-Passw0rd!").json()
    tx = authn(lab, "/api/v1/authn/factors", stateToken=tx["stateToken"], factorType="push", provider="OKTA").json()
    activation = tx["_embedded"]["factor"]["_embedded"]["activation"]
    send = activation["_links"]["send"][0]
    assert send["name"] == "email" and send["href"].endswith("/lifecycle/activate/email")
    assert authn(lab, send["href"], stateToken=tx["stateToken"]).json()["status"] == "MFA_ENROLL_ACTIVATE"
    mail = url(lab["topo"], "mail")
    deadline = time.monotonic() + 10
    while not (inbox := [m for m in httpx.get(f"{mail}/messages", params={"to": "pia"}).json()
                         if m["subject"] == "Activate Okta Verify"]):
        assert time.monotonic() < deadline, "no push activation email"
        time.sleep(0.1)
    text = httpx.get(f"{mail}/messages/{inbox[0]['id']}").json()["text"]
    assert activation["qrContents"] in text and activation["qrContents"].startswith("oktaverify://")
    # the same through the Factors API
    fid = tx["_embedded"]["factor"]["id"]
    assert api.post(f"/api/v1/users/{user['id']}/factors/{fid}/lifecycle/activate/email").status_code == 200
