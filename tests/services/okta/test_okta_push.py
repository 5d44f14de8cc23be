"""Okta Verify with the phone as a process (okta + phone, 127.0.85): enrolment by QR contents
(TOTP and push), push verify approved / denied / ignored (TIMEOUT), answers only from the
enrolled device, the trace id carried to the phone, and state surviving an org restart."""
import contextlib
import time

import httpx
import pytest

from lab.client_env import lab_verify, org_url
from tests.services.okta.support import assert_error, org_client
from tests.support import admin_headers, running_services, url

TTL = 2


class Lab:
    """okta + phone, restartable with the same state directory."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.stack: contextlib.ExitStack | None = None
        self.topo: dict = {}

    def start(self):
        self.stack = contextlib.ExitStack()
        self.topo = self.stack.enter_context(running_services(
            ["okta", "phone"], self.state_dir, "127.0.85", settings={"okta": {"push_ttl_seconds": TTL}}))

    def stop(self):
        if self.stack is not None:
            self.stack.close()
            self.stack = None

    @property
    def phone(self) -> str:
        return url(self.topo, "phone")

    def api(self) -> httpx.Client:
        return org_client(self.topo)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("okta-push"))
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def api(lab):
    with lab.api() as client:
        yield client


def enrol_okta_verify(api, phone: str, login: str) -> dict:
    """What the lab's enrolment does: TOTP (scan, activate with the phone's code), then push
    (scan; the phone calls the org's device endpoint). Returns {"totp": factor, "push": factor}."""
    user = api.get(f"/api/v1/users/{login}").json()
    totp = api.post(f"/api/v1/users/{user['id']}/factors",
                    json={"factorType": "token:software:totp", "provider": "OKTA"}).json()
    assert httpx.post(f"{phone}/scan", json={"uri": totp["_embedded"]["activation"]["qrContents"]}).status_code == 200
    code = httpx.get(f"{phone}/accounts/{login}/code").json()["code"]
    assert api.post(totp["_links"]["activate"]["href"], json={"passCode": code}).json()["status"] == "ACTIVE"
    push = api.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "push", "provider": "OKTA"})
    assert push.status_code == 200
    p = push.json()
    act = p["_embedded"]["activation"]
    assert p["status"] == "PENDING_ACTIVATION" and act["factorResult"] == "WAITING"
    assert p["id"].startswith("opf") and len(p["id"]) == 20
    uri = act["qrContents"]
    assert uri.startswith(f"oktaverify://{user['profile']['login']}/?t=") and f"f={p['id']}" in uri
    assert api.get(act["_links"]["qrcode"]["href"], params={"format": "text"}).text == uri
    assert api.get(act["_links"]["qrcode"]["href"]).content.startswith(b"\x89PNG")
    waiting = api.post(p["_links"]["poll"]["href"]).json()
    assert waiting["factorResult"] == "WAITING"
    scanned = httpx.post(f"{phone}/scan", json={"uri": uri})
    assert scanned.status_code == 200 and scanned.json()["push"] is True
    active = api.post(p["_links"]["poll"]["href"]).json()
    assert active["status"] == "ACTIVE" and active["profile"]["name"] == "Lab iPhone"
    factors = {f["factorType"]: f for f in api.get(f"/api/v1/users/{user['id']}/factors").json()}
    assert {k: f["status"] for k, f in factors.items()} == {"token:software:totp": "ACTIVE", "push": "ACTIVE"}
    return factors


def behave(lab, login, action, after=0):
    assert httpx.put(f"{lab.phone}/accounts/{login}/behaviour",
                     json={"action": action, "after": after}).status_code == 200


def poll_until_final(api, href, timeout=6.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(href).json()
        if body["factorResult"] != "WAITING" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_enrol_okta_verify_through_the_phone(lab, api):
    enrol_okta_verify(api, lab.phone, "alice")
    enrol_okta_verify(api, lab.phone, "bob")
    code = httpx.get(f"{lab.phone}/accounts/alice/code").json()["code"]
    totp = next(f for f in api.get("/api/v1/users/alice/factors").json() if f["factorType"] != "push")
    assert api.post(totp["_links"]["verify"]["href"], json={"passCode": code}).json() == {"factorResult": "SUCCESS"}
    assert_error(api.post(totp["_links"]["verify"]["href"], json={"passCode": code}), 403, "E0000082")


def test_second_push_enrolment_is_refused(lab, api):
    alice = api.get("/api/v1/users/alice").json()
    assert_error(api.post(f"/api/v1/users/{alice['id']}/factors",
                          json={"factorType": "push", "provider": "OKTA"}), 400, "E0000001")


def _push(api, login, trace=None):
    push = next(f for f in api.get(f"/api/v1/users/{login}/factors").json() if f["factorType"] == "push")
    headers = {"X-Lab-Trace": trace} if trace else {}
    resp = api.post(push["_links"]["verify"]["href"], headers=headers)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["factorResult"] == "WAITING" and body["expiresAt"].endswith("Z")
    assert "/transactions/" in body["_links"]["poll"]["href"]
    return body


def test_push_approved(lab, api):
    behave(lab, "alice", "approve")
    started = _push(api, "alice", trace="trace-push-ok")
    final = poll_until_final(api, started["_links"]["poll"]["href"])
    assert final["factorResult"] == "SUCCESS"
    pushes = httpx.get(f"{lab.phone}/pushes").json()
    assert pushes[-1]["login"] == "alice@corp.example.com" and pushes[-1]["answered"]
    events = httpx.get(url(lab.topo, "phone", "admin") + "/events", headers=admin_headers(lab.topo)).json()
    got = [e for e in events if e["kind"] == "phone.push_received" and e["trace"] == "trace-push-ok"]
    assert got, "the trace id must travel with the push"
    okta_events = httpx.get(url(lab.topo, "okta", "admin") + "/events", headers=admin_headers(lab.topo)).json()
    kinds = {(e["kind"], e["outcome"]) for e in okta_events if e["trace"] == "trace-push-ok"}
    assert {("okta.push.send", "WAITING"), ("okta.push.deliver", "delivered"), ("okta.push.answer", "SUCCESS")} <= kinds
    types = {e["eventType"] for e in api.get("/api/v1/logs", params={"limit": 1000}).json()}
    assert {"system.push.send_factor_verify_push", "user.mfa.okta_verify", "user.authentication.auth_via_mfa"} <= types


def test_push_denied(lab, api):
    behave(lab, "alice", "deny", after=0.2)
    started = _push(api, "alice")
    assert api.get(started["_links"]["poll"]["href"]).json()["factorResult"] == "WAITING"
    final = poll_until_final(api, started["_links"]["poll"]["href"])
    assert final["factorResult"] == "REJECTED" and "verify" in final["_links"]
    denies = api.get("/api/v1/logs", params={"filter": 'eventType eq "user.mfa.okta_verify.deny_push"'}).json()
    assert denies and denies[-1]["outcome"]["result"] == "FAILURE"


def test_push_ignored_times_out(lab, api):
    behave(lab, "alice", "ignore")
    started = _push(api, "alice")
    time.sleep(TTL + 0.3)
    final = api.get(started["_links"]["poll"]["href"]).json()
    assert final["factorResult"] == "TIMEOUT" and "verify" in final["_links"]
    behave(lab, "alice", "approve")


def test_push_timeout_follows_the_service_clock(lab, api):
    behave(lab, "alice", "ignore")
    admin = url(lab.topo, "okta", "admin")
    started = _push(api, "alice")
    try:
        httpx.post(f"{admin}/clock", json={"offset_seconds": TTL + 1}, headers=admin_headers(lab.topo))
        assert api.get(started["_links"]["poll"]["href"]).json()["factorResult"] == "TIMEOUT"
    finally:
        httpx.post(f"{admin}/clock", json={"offset_seconds": 0}, headers=admin_headers(lab.topo))
        behave(lab, "alice", "approve")


def test_only_the_enrolled_device_may_answer(lab, api):
    behave(lab, "alice", "ignore")
    started = _push(api, "alice")
    txid = started["_links"]["poll"]["href"].rsplit("/", 1)[1]
    answer = url(lab.topo, "okta") + f"/idp/push/{txid}/answer"
    # a second "device" enrolled for carol gets a real credential, but not alice's
    carol = api.get("/api/v1/users/carol").json()
    p = api.post(f"/api/v1/users/{carol['id']}/factors", json={"factorType": "push", "provider": "OKTA"}).json()
    token = p["_embedded"]["activation"]["qrContents"].split("t=")[1].split("&")[0]
    enrolled = httpx.post(url(lab.topo, "okta") + "/idp/authenticators/okta-verify/enroll",
                          json={"activationToken": token, "pushEndpoint": "http://127.0.0.1:9/push",
                                "deviceName": "Mallory's phone"})
    assert enrolled.status_code == 200 and enrolled.json()["login"] == "carol@corp.example.com"
    foreign = enrolled.json()["deviceCredential"]
    # the activation token was single-use
    again = httpx.post(url(lab.topo, "okta") + "/idp/authenticators/okta-verify/enroll",
                       json={"activationToken": token, "pushEndpoint": "http://127.0.0.1:9/push"})
    assert_error(again, 401, "E0000011")
    for headers in ({"Authorization": f"OktaVerify {foreign}"}, {"Authorization": "OktaVerify nonsense"},
                    {}, {"Authorization": f"SSWS {lab.topo['credentials']['okta_api_token']}"}):
        assert_error(httpx.post(answer, json={"result": "APPROVE"}, headers=headers), 403, "E0000006")
    assert api.get(started["_links"]["poll"]["href"]).json()["factorResult"] == "WAITING"
    assert_error(httpx.post(url(lab.topo, "okta") + "/idp/push/v2mst.nope/answer", json={"result": "APPROVE"}),
                 404, "E0000007")
    behave(lab, "alice", "approve")


def test_push_to_an_unreachable_device_times_out(lab, api):
    carol = api.get("/api/v1/users/carol").json()
    push = next(f for f in api.get(f"/api/v1/users/{carol['id']}/factors").json() if f["factorType"] == "push")
    started = api.post(push["_links"]["verify"]["href"]).json()
    time.sleep(TTL + 0.3)
    assert api.get(started["_links"]["poll"]["href"]).json()["factorResult"] == "TIMEOUT"
    events = httpx.get(url(lab.topo, "okta", "admin") + "/events", headers=admin_headers(lab.topo)).json()
    assert any(e["kind"] == "okta.push.deliver" and e["outcome"].startswith("error") for e in events)


def test_restart_keeps_users_factors_codes_and_transactions(lab):
    with lab.api() as api:
        alice = api.get("/api/v1/users/alice").json()
        created = api.post("/api/v1/users", params={"activate": "false"},
                           json={"profile": {"login": "persist@corp.example.com"}}).json()
        totp = next(f for f in api.get(f"/api/v1/users/{alice['id']}/factors").json() if f["factorType"] != "push")
        code = httpx.get(f"{lab.phone}/accounts/alice/code").json()["code"]
        first = api.post(totp["_links"]["verify"]["href"], json={"passCode": code})
        behave(lab, "alice", "approve")
        done = _push(api, "alice")
        assert poll_until_final(api, done["_links"]["poll"]["href"])["factorResult"] == "SUCCESS"
        log_count = len(api.get("/api/v1/logs", params={"limit": 1000}).json())
    lab.stop()
    lab.start()
    with lab.api() as api:
        assert api.get("/api/v1/users/alice").json()["id"] == alice["id"]
        assert api.get(f"/api/v1/users/{created['id']}").json()["status"] == "STAGED"
        assert len(api.get("/api/v1/users", params={"limit": 200}).json()) == 11   # 9 seed, admin, new: not re-seeded
        factors = {f["factorType"]: f["status"] for f in api.get(f"/api/v1/users/{alice['id']}/factors").json()}
        assert factors == {"token:software:totp": "ACTIVE", "push": "ACTIVE"}
        if first.status_code == 200:   # the same code is still a replay after the restart
            assert_error(api.post(totp["_links"]["verify"]["href"], json={"passCode": code}), 403, "E0000082")
        assert api.get(done["_links"]["poll"]["href"]).json()["factorResult"] == "SUCCESS"
        assert len(api.get("/api/v1/logs", params={"limit": 1000}).json()) >= log_count
        # the phone's device credential still answers pushes after the restart
        again = _push(api, "alice")
        assert poll_until_final(api, again["_links"]["poll"]["href"])["factorResult"] == "SUCCESS"


def test_authn_push_with_primary_authentication(lab, api):
    base = org_url(lab.topo)
    web = httpx.Client(verify=lab_verify(lab.topo), timeout=10)  # the org's links are HTTPS (lab CA)
    api.post("/api/v1/users", params={"activate": "true"},
             json={"profile": {"login": "pat@corp.example.com", "firstName": "Pat", "lastName": "P"},
                   "credentials": {"password": {"value": "Pat-Passw0rd!"}}})
    enrol_okta_verify(api, lab.phone, "pat@corp.example.com")
    creds = {"username": "pat@corp.example.com", "password": "Pat-Passw0rd!"}
    mfa = web.post(f"{base}/api/v1/authn", json=creds).json()
    assert mfa["status"] == "MFA_REQUIRED"
    factor = next(f for f in mfa["_embedded"]["factors"] if f["factorType"] == "push")
    body = web.post(factor["_links"]["verify"]["href"], json={"stateToken": mfa["stateToken"]}).json()
    assert body["status"] == "MFA_CHALLENGE" and body["factorResult"] == "WAITING"
    assert body["_links"]["next"]["name"] == "poll"
    deadline = time.monotonic() + 5
    while body.get("status") != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.1)
        body = web.post(body["_links"]["next"]["href"], json={"stateToken": mfa["stateToken"]}).json()
    assert body["status"] == "SUCCESS" and body["sessionToken"]
