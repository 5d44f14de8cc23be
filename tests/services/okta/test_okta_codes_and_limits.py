"""The org's sent-code factors, groupReturn and the per-user authn limit, with the phone and the
mail service as processes (okta + phone + mail, 127.0.71):

- sms / call / email factors: enrol (profile.phoneNumber / profile.email), the activation code
  delivered to the phone (`GET /messages`) or the mailbox, activate, list, catalog; verify without
  passCode sends a code (201 CHALLENGE) throttled to one per 30 s (429 E0000109 / E0000133 /
  E0000047), verify with it (E0000068 when wrong, used once); codes never in events or the log;
- /api/v1/authn: `_embedded.factors` with the masked number, MFA_CHALLENGE, then SUCCESS;
- groupReturn on RADIUS apps and `GET /api/v1/users/{id}/groups`;
- "Authenticate the same user": 4 per second, 429 E0000047 with headers and a System Log event."""
from __future__ import annotations

import re
import time

import httpx
import pytest

from lab.client_env import lab_verify, org_url
from services.okta.limits import RateLimiter
from services.okta.settings import OrgSettings
from tests.services.okta.support import assert_error, org_client
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.71"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["mail", "phone", "okta"], tmp_path_factory.mktemp("okta-codes"), SUBNET) as topo:
        yield topo


@pytest.fixture(scope="module")
def api(lab):
    with org_client(lab) as client:
        yield client


class Clock:
    """The org's service clock, moved forward past the 30 s send throttle."""

    def __init__(self, topo):
        self.href = url(topo, "okta", "admin") + "/clock"
        self.auth = admin_headers(topo)

    def advance(self, seconds: float = 31) -> None:
        now = httpx.get(self.href, headers=self.auth).json()["offset_seconds"]
        assert httpx.post(self.href, json={"offset_seconds": now + seconds}, headers=self.auth).status_code == 200


@pytest.fixture(scope="module")
def clock(lab):
    return Clock(lab)


def new_user(api, login: str, password: str = "Start-Passw0rd1") -> dict:
    resp = api.post("/api/v1/users", params={"activate": "true"}, json={
        "profile": {"login": login, "firstName": login.split("@")[0].title(), "lastName": "Tester"},
        "credentials": {"password": {"value": password}}})
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(fetch, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := fetch()):
        assert time.monotonic() < deadline, f"nothing arrived: {what}"
        time.sleep(0.1)
    return found


def last_code(lab, kind: str, to: str, after: int = 0) -> tuple[str, int]:
    """The code in the newest message for `to` with id > after: (code, id)."""
    if kind == "email":               # `after` counts the messages already seen (newest last)
        mail = url(lab, "mail")
        inbox = wait_for(lambda: httpx.get(f"{mail}/messages", params={"to": to}).json()[after:], f"email to {to}")
        text = httpx.get(f"{mail}/messages/{inbox[-1]['id']}").json()["text"]
        return re.search(r"verification code is (\d{6})", text).group(1), after + len(inbox)
    phone = url(lab, "phone")
    msgs = wait_for(lambda: [m for m in httpx.get(f"{phone}/messages", params={"to": to, "kind": kind}).json()
                             if m["id"] > after], f"{kind} to {to}")
    return re.search(r"code is (\d{6})", msgs[-1]["text"]).group(1), msgs[-1]["id"]


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1000000:06d}"


def events(lab) -> list[dict]:
    return httpx.get(url(lab, "okta", "admin") + "/events", headers=admin_headers(lab)).json()


def test_sms_factor_enrol_activate_verify_throttle(lab, api, clock):
    user = new_user(api, "sam@corp.example.com")
    base = f"/api/v1/users/{user['id']}/factors"
    assert_error(api.post(base, json={"factorType": "sms", "provider": "OKTA"}), 400, "E0000001")
    assert_error(api.post(base, json={"factorType": "sms", "provider": "OKTA",
                                      "profile": {"phoneNumber": "call me"}}), 400, "E0000001")
    resp = api.post(base, json={"factorType": "sms", "provider": "OKTA",
                                "profile": {"phoneNumber": "+1 555-010-0001"}})
    assert resp.status_code == 200, resp.text
    f = resp.json()
    assert f["id"].startswith("mbl") and len(f["id"]) == 20 and f["status"] == "PENDING_ACTIVATION"
    assert f["profile"] == {"phoneNumber": "+15550100001"}
    assert "activate" in f["_links"] and f["_links"]["resend"][0]["name"] == "sms"
    code, seen = last_code(lab, "sms", "+15550100001")
    # resend within 30 s: SMS throttle
    assert_error(api.post(f["_links"]["resend"][0]["href"]), 429, "E0000109")
    assert_error(api.post(f["_links"]["activate"]["href"], json={"passCode": other(code)}), 403, "E0000068")
    done = api.post(f["_links"]["activate"]["href"], json={"passCode": code})
    assert done.status_code == 200 and done.json()["status"] == "ACTIVE", done.text
    listed = api.get(base).json()
    assert [(x["factorType"], x["provider"], x["status"]) for x in listed] == [("sms", "OKTA", "ACTIVE")]
    catalog = {(c["factorType"], c["provider"]): c["status"] for c in api.get(f"{base}/catalog").json()}
    assert catalog[("sms", "OKTA")] == "ACTIVE" and catalog[("call", "OKTA")] == "NOT_SETUP"
    assert catalog[("email", "OKTA")] == "NOT_SETUP"
    verify = done.json()["_links"]["verify"]["href"]
    # the activation SMS went out just now: a challenge within 30 s is throttled
    throttled = assert_error(api.post(verify, json={}), 429, "E0000109")
    assert "30 seconds" in throttled["errorSummary"]
    clock.advance()
    sent = api.post(verify, json={})
    assert sent.status_code == 201 and sent.json()["factorResult"] == "CHALLENGE", sent.text
    assert sent.json()["_links"]["verify"]["href"].endswith("/verify")
    code, seen = last_code(lab, "sms", "+15550100001", seen)
    assert_error(api.post(verify), 429, "E0000109")
    assert_error(api.post(verify, json={"passCode": other(code)}), 403, "E0000068")
    ok = api.post(verify, json={"passCode": code})
    assert ok.status_code == 200 and ok.json() == {"factorResult": "SUCCESS"}
    assert_error(api.post(verify, json={"passCode": code}), 403, "E0000068")      # used once
    # the code never reaches an event or the System Log
    assert code not in str(events(lab))
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "system.sms.send_factor_verify_message"'}).json()
    assert logs and code not in str(api.get("/api/v1/logs").json())


def test_push_activation_link_by_sms(lab, api):
    """The `send` link a pending push factor advertises for sms answers: the phone gets the link."""
    user = new_user(api, "sven@corp.example.com")
    made = api.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "push", "provider": "OKTA"}).json()
    links = {s["name"]: s["href"] for s in made["_embedded"]["activation"]["_links"]["send"]}
    assert links["sms"].endswith(f"/factors/{made['id']}/lifecycle/activate/sms")
    assert_error(api.post(links["sms"], json={"profile": {"phoneNumber": "12"}}), 400, "E0000001")
    assert_error(api.post(links["sms"], json={}), 400, "E0000001")
    sent = api.post(links["sms"], json={"profile": {"phoneNumber": "+1 555 010 0042"}})
    assert sent.status_code == 200, sent.text
    uri = sent.json()["_embedded"]["activation"]["qrContents"]
    phone = url(lab, "phone")
    msgs = wait_for(lambda: httpx.get(f"{phone}/messages", params={"to": "+15550100042", "kind": "sms"}).json(),
                    "the activation link by sms")
    assert uri.startswith("oktaverify://") and uri in msgs[-1]["text"]
    sms = api.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "sms", "provider": "OKTA",
                                                               "profile": {"phoneNumber": "+15550100043"}}).json()
    not_push = f"/api/v1/users/{user['id']}/factors/{sms['id']}/lifecycle/activate/sms"
    assert_error(api.post(not_push, json={"profile": {"phoneNumber": "+15550100043"}}), 400, "E0000001")


def test_call_factor_uses_the_call_throttle(lab, api, clock):
    user = new_user(api, "cal@corp.example.com")
    f = api.post(f"/api/v1/users/{user['id']}/factors", json={
        "factorType": "call", "provider": "OKTA", "profile": {"phoneNumber": "+44 20 7946 0002"}}).json()
    assert f["id"].startswith("clf") and f["status"] == "PENDING_ACTIVATION"
    code, seen = last_code(lab, "call", "+442079460002")
    assert api.post(f["_links"]["activate"]["href"], json={"passCode": code}).json()["status"] == "ACTIVE"
    verify = f"/api/v1/users/{user['id']}/factors/{f['id']}/verify"
    assert_error(api.post(verify), 429, "E0000133")
    clock.advance()
    assert api.post(verify).status_code == 201
    code, _ = last_code(lab, "call", "+442079460002", seen)
    assert api.post(verify, json={"passCode": code}).json()["factorResult"] == "SUCCESS"


def test_email_factor_code_comes_by_mail(lab, api, clock):
    user = new_user(api, "emma@corp.example.com")
    f = api.post(f"/api/v1/users/{user['id']}/factors", json={
        "factorType": "email", "provider": "OKTA", "profile": {"email": "emma.private@example.org"}}).json()
    assert f["id"].startswith("emf") and f["profile"] == {"email": "emma.private@example.org"}
    code, seen = last_code(lab, "email", "emma.private@example.org")
    assert api.post(f["_links"]["activate"]["href"], json={"passCode": code}).json()["status"] == "ACTIVE"
    verify = f"/api/v1/users/{user['id']}/factors/{f['id']}/verify"
    assert_error(api.post(verify), 429, "E0000047")
    clock.advance()
    assert api.post(verify).json()["factorResult"] == "CHALLENGE"
    code, _ = last_code(lab, "email", "emma.private@example.org", seen)
    assert api.post(verify, json={"passCode": code}).json()["factorResult"] == "SUCCESS"
    mails = [e for e in events(lab) if e["kind"] == "okta.email" and e["fields"].get("user") == "emma@corp.example.com"]
    assert mails and all(e["outcome"] == "sent" for e in mails) and code not in str(mails)


def test_authn_with_an_sms_factor(lab, api, clock):
    user = new_user(api, "tom@corp.example.com", "Tom-Passw0rd1")
    f = api.post(f"/api/v1/users/{user['id']}/factors", json={
        "factorType": "sms", "provider": "OKTA", "profile": {"phoneNumber": "+15550100009"}}).json()
    code, seen = last_code(lab, "sms", "+15550100009")
    api.post(f["_links"]["activate"]["href"], json={"passCode": code})
    clock.advance()
    org = org_url(lab)
    web = httpx.Client(verify=lab_verify(lab), timeout=10)  # the org's links are HTTPS (lab CA)
    tx = web.post(f"{org}/api/v1/authn", json={"username": "tom", "password": "Tom-Passw0rd1"}).json()
    assert tx["status"] == "MFA_REQUIRED"
    factor = tx["_embedded"]["factors"][0]
    assert factor["factorType"] == "sms" and factor["profile"]["phoneNumber"].endswith("0009")
    assert "5550100009" not in factor["profile"]["phoneNumber"]        # masked before sign-in
    verify = factor["_links"]["verify"]["href"]
    ch = web.post(verify, json={"stateToken": tx["stateToken"]}).json()
    assert ch["status"] == "MFA_CHALLENGE" and ch["factorResult"] == "CHALLENGE"
    assert ch["_links"]["next"]["name"] == "verify" and ch["_links"]["resend"][0]["name"] == "sms"
    code, seen = last_code(lab, "sms", "+15550100009", seen)
    assert_error(web.post(ch["_links"]["resend"][0]["href"], json={"stateToken": tx["stateToken"]}), 429, "E0000109")
    assert_error(web.post(verify, json={"stateToken": tx["stateToken"], "passCode": other(code)}), 403, "E0000068")
    done = web.post(verify, json={"stateToken": tx["stateToken"], "passCode": code}).json()
    assert done["status"] == "SUCCESS" and done["sessionToken"]


def test_authn_enrols_an_sms_factor_inline(lab, api, clock):
    """MFA_ENROLL (the default policy offers sms after an MFA challenge; a LOGIN policy here):
    enrol with the phone number, MFA_ENROLL_ACTIVATE with resend, activate with the SMS code."""
    grp = api.post("/api/v1/groups", json={"profile": {"name": "SMS users"}}).json()
    pol = api.post("/api/v1/policies", json={
        "type": "MFA_ENROLL", "name": "SMS users", "priority": 1,
        "conditions": {"people": {"groups": {"include": [grp["id"]]}}},
        "settings": {"type": "FACTORS", "factors": {"okta_sms": {"enroll": {"self": "REQUIRED"}}}}}).json()
    api.post(f"/api/v1/policies/{pol['id']}/rules", json={"name": "at login", "actions": {"enroll": {"self": "LOGIN"}}})
    user = new_user(api, "ivy@corp.example.com", "Ivy-Passw0rd12")
    api.put(f"/api/v1/groups/{grp['id']}/users/{user['id']}")
    org = org_url(lab)
    web = httpx.Client(verify=lab_verify(lab), timeout=10)  # the org's links are HTTPS (lab CA)
    tx = web.post(f"{org}/api/v1/authn", json={"username": "ivy", "password": "Ivy-Passw0rd12"}).json()
    assert tx["status"] == "MFA_ENROLL"
    offered = {(f["factorType"], f["provider"]): f["enrollment"] for f in tx["_embedded"]["factors"]}
    assert offered == {("sms", "OKTA"): "REQUIRED"}
    tx = web.post(f"{org}/api/v1/authn/factors", json={
        "stateToken": tx["stateToken"], "factorType": "sms", "provider": "OKTA",
        "profile": {"phoneNumber": "+15550100077"}}).json()
    assert tx["status"] == "MFA_ENROLL_ACTIVATE" and tx["_links"]["next"]["name"] == "activate"
    assert tx["_links"]["resend"][0]["name"] == "sms"
    code, _ = last_code(lab, "sms", "+15550100077")
    done = web.post(tx["_links"]["next"]["href"], json={"stateToken": tx["stateToken"], "passCode": code}).json()
    assert done["status"] == "SUCCESS"
    api.delete(f"/api/v1/policies/{pol['id']}")


def test_group_return_on_radius_apps_and_user_groups(api):
    app = api.get("/api/v1/radius/apps").json()[0]
    assert "groupReturn" not in app                      # absent by default
    bad = [{"attribute": 12}, {"attribute": 25, "groups": "x"}, {"attribute": 26, "vendorType": 300}, "Class"]
    for body in bad:
        assert_error(api.put(f"/api/v1/radius/apps/{app['id']}", json={"groupReturn": body}), 400, "E0000001")
    set_ = api.put(f"/api/v1/radius/apps/{app['id']}", json={"groupReturn": {"attribute": "Class",
                                                                             "groups": ["WorkSpaces Users"]}})
    assert set_.status_code == 200, set_.text
    want = {"attribute": 25, "groups": ["WorkSpaces Users"], "vendorId": 9, "vendorType": 1}
    assert set_.json()["groupReturn"] == want
    assert api.get("/api/v1/radius/apps").json()[0]["groupReturn"] == want
    vsa = api.put(f"/api/v1/radius/apps/{app['id']}", json={"groupReturn": {"attribute": 26, "groups": [],
                                                                            "vendorId": 311, "vendorType": 25}})
    assert vsa.json()["groupReturn"] == {"attribute": 26, "groups": [], "vendorId": 311, "vendorType": 25}
    assert "groupReturn" not in api.put(f"/api/v1/radius/apps/{app['id']}", json={"groupReturn": None}).json()
    assert "groupReturn" not in api.get("/api/v1/radius/apps").json()[0]
    alice = api.get("/api/v1/users/alice@corp.example.com").json()
    groups = api.get(f"/api/v1/users/{alice['id']}/groups")
    assert groups.status_code == 200
    # Everyone first (type BUILT_IN: every user is in it), then the AD groups
    first = groups.json()[0]
    assert (first["profile"]["name"], first["type"]) == ("Everyone", "BUILT_IN")
    assert_error(api.put(f"/api/v1/groups/{first['id']}/users/{alice['id']}"), 403, "E0000006")
    assert_error(api.delete(f"/api/v1/groups/{first['id']}/users/{alice['id']}"), 403, "E0000006")
    assert sorted(g["profile"]["name"] for g in groups.json()[1:]) == ["Full time employees", "WorkSpaces Users"]
    assert all(g["id"].startswith("00g") and g["type"] == "OKTA_GROUP" for g in groups.json()[1:])
    assert api.get("/api/v1/users/alice/groups").json() == groups.json()   # by login prefix too
    assert_error(api.get("/api/v1/users/00uNOPE/groups"), 404, "E0000007")


def test_authenticate_the_same_user_four_per_second(lab, api):
    new_user(api, "rita@corp.example.com", "Rita-Passw0rd1")
    new_user(api, "otto@corp.example.com", "Otto-Passw0rd1")
    org = url(lab, "okta")
    with httpx.Client(timeout=10) as c:
        answers = [c.post(f"{org}/api/v1/authn", json={"username": "rita", "password": "Rita-Passw0rd1"})
                   for _ in range(10)]
        other_user = c.post(f"{org}/api/v1/authn", json={"username": "otto", "password": "Otto-Passw0rd1"})
    limited = [r for r in answers if r.status_code == 429]
    assert limited and len(limited) <= 6, [r.status_code for r in answers]
    assert {r.status_code for r in answers} <= {200, 429}
    body = assert_error(limited[0], 429, "E0000047")
    assert body["errorSummary"].startswith("API call exceeded rate limit")
    h = limited[0].headers
    assert h["X-Rate-Limit-Limit"] == "4" and h["X-Rate-Limit-Remaining"] == "0"
    assert int(h["X-Rate-Limit-Reset"]) >= int(time.time()) and "GMT" in h["Date"]
    assert other_user.status_code == 200                  # another user is not affected
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "system.operation.rate_limit.violation"'}).json()
    mine = [e for e in logs if e["outcome"]["reason"] == "user_rate_limited"]
    assert mine and mine[-1]["actor"]["alternateId"] == "rita@corp.example.com"
    assert mine[-1]["debugContext"]["debugData"]["threshold"] == 4
    time.sleep(1.1)
    assert httpx.post(f"{org}/api/v1/authn", json={"username": "rita", "password": "Rita-Passw0rd1"}).status_code == 200


class _Clock:
    def __init__(self, now=1000.5):
        self.now_value = now

    def now(self):
        return self.now_value


def _limiter(settings, clock=None) -> RateLimiter:
    s = OrgSettings.from_settings(settings)
    return RateLimiter((clock or _Clock()).now, s.rate_limits, s.authn_user_limit_per_second)


def test_user_limit_is_configurable():
    clock = _Clock()
    limiter = _limiter({"authn_user_limit_per_second": 2}, clock)
    got = [limiter.take_user("00uA").allowed for _ in range(3)]
    assert got == [True, True, False]
    assert limiter.take_user("00uB").allowed is True          # per user
    clock.now_value += 1                                       # the next second
    assert limiter.take_user("00uA").allowed is True
    off = _limiter({"authn_user_limit_per_second": 0})
    assert all(off.take_user("x").allowed for _ in range(50))
    default = _limiter({})
    assert [default.take_user("y").allowed for _ in range(5)] == [True] * 4 + [False]
