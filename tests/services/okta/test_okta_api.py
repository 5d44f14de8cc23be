"""The org as a process (okta only, 127.0.84): SSWS token, users lifecycle and errors, groups,
apps and app users, the RADIUS agent's private endpoint, TOTP enrol/activate/verify with replay,
wrong code and lockout, System Log, rate limits, malformed input, and the official okta SDK."""
import asyncio
import re
import time

import httpx
import pyotp
import pytest

from lab.client_env import lab_verify, org_url
from tests.services.okta.support import assert_error, org_client, sdk_config
from tests.support import admin_headers, running_services, url

SETTINGS = {"okta": {"factor_lockout_attempts": 3, "rate_limits": {"/api/v1/groups": 5}}}


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    with running_services(["okta"], tmp_path_factory.mktemp("okta-api"), "127.0.84",
                          settings=SETTINGS) as topology:
        yield topology


@pytest.fixture(scope="module")
def api(topo):
    with org_client(topo) as client:
        yield client


def code_at(secret: str, offset_steps: int = 0) -> str:
    import time
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def totp_factor(api, login: str) -> tuple[dict, str]:
    """Enrol and activate an Okta Verify TOTP factor; return it and its secret."""
    user = api.get(f"/api/v1/users/{login}").json()
    enrolled = api.post(f"/api/v1/users/{user['id']}/factors",
                        json={"factorType": "token:software:totp", "provider": "OKTA"}).json()
    secret = enrolled["_embedded"]["activation"]["sharedSecret"]
    done = api.post(enrolled["_links"]["activate"]["href"], json={"passCode": code_at(secret)})
    assert done.status_code == 200 and done.json()["status"] == "ACTIVE"
    return done.json(), secret


# -- the token ---------------------------------------------------------------------------------
def test_api_token_is_required(topo):
    base = url(topo, "okta")
    assert_error(httpx.get(f"{base}/api/v1/users"), 401, "E0000011")
    assert_error(httpx.get(f"{base}/api/v1/users", headers={"Authorization": "SSWS wrong"}), 401, "E0000011")
    token = topo["credentials"]["okta_api_token"]
    assert_error(httpx.get(f"{base}/api/v1/users", headers={"Authorization": f"Bearer {token}"}), 401, "E0000011")
    events = httpx.get(url(topo, "okta", "admin") + "/events", headers=admin_headers(topo)).json()
    auth = [e for e in events if e["kind"] == "okta.auth"]
    assert auth and all(token not in str(e) for e in events)


def test_rate_limit_headers_and_429(api):
    if time.time() % 60 > 50:              # the buckets are per minute: do not straddle a new one
        time.sleep(61 - time.time() % 60)
    first = api.get("/api/v1/users?limit=1")
    assert int(first.headers["X-Rate-Limit-Limit"]) >= int(first.headers["X-Rate-Limit-Remaining"])
    assert int(first.headers["X-Rate-Limit-Reset"]) > 1_700_000_000
    statuses = [api.get("/api/v1/groups").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    limited = api.get("/api/v1/groups")
    assert_error(limited, 429, "E0000047")
    assert "Date" in limited.headers and "X-Rate-Limit-Reset" in limited.headers
    assert api.get("/api/v1/users?limit=1").status_code == 200   # other buckets unaffected


# -- users --------------------------------------------------------------------------------------
def test_seeded_users_have_ad_profiles(api):
    alice = api.get("/api/v1/users/alice@corp.example.com").json()
    assert re.fullmatch(r"00u[A-Za-z0-9]{17}", alice["id"])
    assert alice["status"] == "ACTIVE"
    assert alice["profile"].items() >= {"login": "alice@corp.example.com", "email": "alice@corp.example.com",
                                        "firstName": "Alice", "lastName": "Anderson",
                                        "samAccountName": "alice", "userName": "alice@corp.example.com"}.items()
    p = alice["profile"]
    assert (p["samAccountName"], p["userName"], p["firstName"]) == ("alice", "alice@corp.example.com", "Alice")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", alice["created"])
    assert alice["_links"]["self"]["href"].endswith(f"/api/v1/users/{alice['id']}")
    assert api.get(f"/api/v1/users/{alice['id']}").json()["id"] == alice["id"]
    assert api.get("/api/v1/users/alice").json()["id"] == alice["id"]       # login prefix
    assert api.get("/api/v1/users/ivan").json()["status"] == "STAGED"
    assert_error(api.get("/api/v1/users/Administrator"), 404, "E0000007")   # never imported


def test_list_search_filter_and_paging(api):
    page1 = api.get("/api/v1/users", params={"limit": 3})
    assert len(page1.json()) == 3 and 'rel="next"' in page1.headers["Link"]
    seen = [u["id"] for u in page1.json()]
    nxt = page1.links["next"]["url"]
    while nxt:
        resp = api.get(nxt)
        seen += [u["id"] for u in resp.json()]
        nxt = resp.links.get("next", {}).get("url")
    assert len(seen) == len(set(seen)) == 10      # the seed's 9 AD users and the org's administrator
    q = api.get("/api/v1/users", params={"q": "bo"}).json()
    assert [u["profile"]["login"] for u in q] == ["bob@corp.example.com"]
    staged = api.get("/api/v1/users", params={"filter": 'status eq "STAGED"'}).json()
    assert [u["profile"]["samAccountName"] for u in staged] == ["ivan"]
    found = api.get("/api/v1/users", params={"search": 'profile.samaccountname eq "carol"'}).json()
    assert [u["profile"]["login"] for u in found] == ["carol@corp.example.com"]
    assert_error(api.get("/api/v1/users", params={"search": "profile.login eq"}), 400, "E0000001")
    assert_error(api.get("/api/v1/users", params={"limit": "many"}), 400, "E0000001")


def test_create_users_per_activate_and_password(api):
    def make(login, activate, password=None):
        body = {"profile": {"login": login, "firstName": "T", "lastName": "User"}}
        if password:
            body["credentials"] = {"password": {"value": password}}
        return api.post("/api/v1/users", params={"activate": activate}, json=body)
    assert make("staged@corp.example.com", "false").json()["status"] == "STAGED"
    assert make("prov@corp.example.com", "true").json()["status"] == "PROVISIONED"
    active = make("active@corp.example.com", "true", "S3cret-pass!")
    assert active.json()["status"] == "ACTIVE" and active.json()["profile"]["email"] == "active@corp.example.com"
    assert "S3cret-pass!" not in active.text
    assert_error(make("active@corp.example.com", "true"), 400, "E0000001")          # duplicate login
    ad = api.post("/api/v1/users", params={"activate": "false"},
                  json={"profile": {"login": "imported@corp.example.com", "samAccountName": "imported"},
                        "credentials": {"provider": {"type": "ACTIVE_DIRECTORY", "name": "corp.example.com"}}}).json()
    assert ad["status"] == "STAGED" and ad["credentials"]["provider"]["type"] == "ACTIVE_DIRECTORY"
    api.post(f"/api/v1/users/{ad['id']}/lifecycle/activate", params={"sendEmail": "false"})
    assert api.get(f"/api/v1/users/{ad['id']}").json()["status"] == "ACTIVE"     # AD holds the password
    assert_error(api.post("/api/v1/users", json={"profile": {"firstName": "x"}}), 400, "E0000001")
    assert_error(api.post("/api/v1/users", json={"profile": {"login": 42}}), 400, "E0000001")


def test_lifecycle_transitions_and_errors(api):
    u = api.post("/api/v1/users", params={"activate": "false"},
                 json={"profile": {"login": "life@corp.example.com", "firstName": "L", "lastName": "C"},
                       "credentials": {"password": {"value": "Pa55-word!"}}}).json()
    lc = f"/api/v1/users/{u['id']}/lifecycle"
    act = api.post(f"{lc}/activate", params={"sendEmail": "false"})
    assert act.status_code == 200 and act.json()["activationToken"] and "/welcome/" in act.json()["activationUrl"]
    assert api.get(f"/api/v1/users/{u['id']}").json()["status"] == "ACTIVE"
    assert_error(api.post(f"{lc}/activate"), 403, "E0000016")
    assert api.post(f"{lc}/suspend").status_code == 200
    assert api.get(f"/api/v1/users/{u['id']}").json()["status"] == "SUSPENDED"
    assert_error(api.post(f"{lc}/suspend"), 400, "E0000001")
    assert api.post(f"{lc}/unsuspend").status_code == 200
    assert_error(api.post(f"{lc}/unlock"), 403, "E0000038")
    assert api.post(f"{lc}/reset_factors").status_code == 200
    assert api.post(f"{lc}/deactivate").status_code == 204
    assert api.get(f"/api/v1/users/{u['id']}").json()["status"] == "DEPROVISIONED"
    assert_error(api.post(f"{lc}/deactivate"), 403, "E0000038")
    assert api.post(f"{lc}/activate", params={"sendEmail": "true"}).json() == {}
    assert_error(api.post("/api/v1/users/00uNOPE0000000000000/lifecycle/activate"), 404, "E0000007")
    assert_error(api.post(f"{lc}/explode"), 404, "E0000007")
    types = [e["eventType"] for e in api.get("/api/v1/logs", params={"filter": f'target.id eq "{u["id"]}"'}).json()]
    assert {"user.lifecycle.create", "user.lifecycle.activate", "user.lifecycle.suspend",
            "user.lifecycle.unsuspend", "user.lifecycle.deactivate"} <= set(types)


def test_groups_and_members(api, topo):
    # this module's tight /api/v1/groups bucket: wait for a fresh minute if the 429 test used it
    groups = api.get("/api/v1/groups")
    if groups.status_code == 429:
        httpx.post(url(topo, "okta", "admin") + "/reset", headers=admin_headers(topo))
        groups = api.get("/api/v1/groups")
    names = {g["profile"]["name"]: g for g in groups.json()}
    assert {"WorkSpaces Users", "Full time employees", "Domain Admins"} <= names.keys()
    g = names["Full time employees"]
    assert re.fullmatch(r"00g[A-Za-z0-9]{17}", g["id"])
    members = api.get(f"/api/v1/groups/{g['id']}/users").json()
    assert {m["profile"]["samAccountName"] for m in members} == {"alice", "bob", "carol"}
    assert_error(api.get("/api/v1/groups/00gNOPE"), 404, "E0000007")


# -- apps ---------------------------------------------------------------------------------------
def test_radius_app_private_settings(api, topo):
    apps = api.get("/api/v1/radius/apps").json()
    assert len(apps) == 1
    app = apps[0]
    assert app["label"] == "Amazon WorkSpaces" and app["port"] == 1812
    assert app["sharedSecret"] == topo["credentials"]["radius_shared_secret"]
    assert app["usernameTemplate"] == "${source.samAccountName}"
    assert (app["primaryAuth"], app["requireMessageAuthenticator"], app["inlineEnrollment"]) == (False, False, True)
    public = api.get(f"/api/v1/apps/{app['id']}").json()
    assert public["name"] == "radius_workspaces" and re.fullmatch(r"0oa[A-Za-z0-9]{17}", public["id"])
    assert public["credentials"]["userNameTemplate"]["template"] == "${source.samAccountName}"
    assert topo["credentials"]["radius_shared_secret"] not in str(public)
    assert [a["id"] for a in api.get("/api/v1/apps").json()] == [app["id"]]


def test_app_users_assign_read_delete(api):
    app_id = api.get("/api/v1/radius/apps").json()[0]["id"]
    users = api.get(f"/api/v1/apps/{app_id}/users").json()
    names = sorted(u["credentials"]["userName"] for u in users)
    assert names == ["alice", "bob", "dave", "erin", "frank", "grace", "heidi"]
    carol = api.get("/api/v1/users/carol").json()
    assert_error(api.get(f"/api/v1/apps/{app_id}/users/{carol['id']}"), 404, "E0000007")
    au = api.post(f"/api/v1/apps/{app_id}/users", json={"id": carol["id"], "scope": "USER"})
    assert au.status_code == 200
    assert au.json()["credentials"] == {"userName": "carol"} and au.json()["id"] == carol["id"]
    assert api.get(f"/api/v1/apps/{app_id}/users/{carol['id']}").json()["credentials"]["userName"] == "carol"
    explicit = api.post(f"/api/v1/apps/{app_id}/users",
                        json={"id": carol["id"], "credentials": {"userName": "carol.c"}}).json()
    assert explicit["credentials"]["userName"] == "carol.c"
    assert api.delete(f"/api/v1/apps/{app_id}/users/{carol['id']}").status_code == 204
    assert_error(api.delete(f"/api/v1/apps/{app_id}/users/{carol['id']}"), 404, "E0000007")
    assert_error(api.post(f"/api/v1/apps/{app_id}/users", json={"id": "00uNOPE"}), 404, "E0000007")
    assert_error(api.post(f"/api/v1/apps/{app_id}/users", json={"id": 7}), 400, "E0000001")
    assert_error(api.get("/api/v1/apps/0oaNOPE/users"), 404, "E0000007")
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "application.user_membership.add"'}).json()
    assert any(carol["id"] in [t["id"] for t in e["target"]] for e in logs)


def test_username_format_change_recomputes_app_users(api):
    app_id = api.get("/api/v1/radius/apps").json()[0]["id"]
    try:
        changed = api.put(f"/api/v1/radius/apps/{app_id}", json={"usernameFormat": "ad_user_principal_name"})
        assert changed.json()["usernameTemplate"] == "${source.userName}"
        alice = api.get("/api/v1/users/alice").json()
        assert api.get(f"/api/v1/apps/{app_id}/users/{alice['id']}").json()["credentials"]["userName"] \
            == "alice@corp.example.com"
        assert_error(api.put(f"/api/v1/radius/apps/{app_id}", json={"port": "x"}), 400, "E0000001")
    finally:
        api.put(f"/api/v1/radius/apps/{app_id}", json={"usernameFormat": "ad_sam_account_name"})


# -- TOTP ---------------------------------------------------------------------------------------
def test_totp_enrol_qr_activate_verify(api, topo):
    web = httpx.Client(verify=lab_verify(topo), timeout=10)     # no token: the QR link is its own credential
    user = api.get("/api/v1/users/bob").json()
    enrolled = api.post(f"/api/v1/users/{user['id']}/factors",
                        json={"factorType": "token:software:totp", "provider": "OKTA"})
    assert enrolled.status_code == 200
    f = enrolled.json()
    assert f["status"] == "PENDING_ACTIVATION" and re.fullmatch(r"ost[A-Za-z0-9]{17}", f["id"])
    act = f["_embedded"]["activation"]
    assert (act["timeStep"], act["encoding"], act["keyLength"]) == (30, "base32", 6)
    uri = act["qrContents"]
    assert uri == (f"otpauth://totp/lab:bob@corp.example.com?secret={act['sharedSecret']}"
                   "&issuer=lab&period=30&digits=6")
    png = web.get(f["_links"]["qrcode"]["href"])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert web.get(f["_links"]["qrcode"]["href"], params={"format": "text"}).text == uri
    assert_error(api.post(f["_links"]["activate"]["href"], json={"passCode": "000000"}
                          if code_at(act["sharedSecret"]) != "000000" else {"passCode": "111111"}), 403, "E0000068")
    assert_error(api.post(f"{f['_links']['self']['href']}/verify", json={"passCode": "123456"}), 400, "E0000001")
    done = api.post(f["_links"]["activate"]["href"], json={"passCode": code_at(act["sharedSecret"])}).json()
    assert done["status"] == "ACTIVE" and "verify" in done["_links"]
    listed = api.get(f"/api/v1/users/{user['id']}/factors").json()
    assert [(x["factorType"], x["provider"], x["status"]) for x in listed] == [
        ("token:software:totp", "OKTA", "ACTIVE")]
    assert "sharedSecret" not in str(listed)
    assert_error(web.get(f["_links"]["qrcode"]["href"]), 404, "E0000007")   # gone once active
    catalog = {(c["factorType"], c["provider"]): c["status"]
               for c in api.get(f"/api/v1/users/{user['id']}/factors/catalog").json()}
    assert catalog[("token:software:totp", "OKTA")] == "ACTIVE" and catalog[("push", "OKTA")] == "NOT_SETUP"
    assert_error(api.post(f"/api/v1/users/{user['id']}/factors",
                          json={"factorType": "token:software:totp", "provider": "OKTA"}), 400, "E0000001")
    assert_error(api.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "sms"}), 400, "E0000001")


def test_totp_verify_window_replay_and_wrong_code(api, topo):
    f, secret = totp_factor(api, "frank")
    verify = f["_links"]["verify"]["href"]
    ok = api.post(verify, json={"passCode": code_at(secret, -1)}, headers={"X-Lab-Trace": "trace-totp-1"})
    assert ok.status_code == 200 and ok.json() == {"factorResult": "SUCCESS"}
    assert api.post(verify, json={"passCode": code_at(secret)}).json()["factorResult"] == "SUCCESS"
    replay = assert_error(api.post(verify, json={"passCode": code_at(secret)}), 403, "E0000082")
    assert "only be used once" in replay["errorSummary"]
    # the factor's own code two steps back: recognised, but outside the window (counted, so the
    # next step's code, a success, starts the count over before the wrong codes below)
    late = assert_error(api.post(verify, json={"passCode": code_at(secret, -2)}), 403, "E0000083")
    assert late["errorSummary"] == "PassCode is valid but exceeded time window."
    assert api.post(verify, json={"passCode": code_at(secret, 1)}).json()["factorResult"] == "SUCCESS"
    used = {code_at(secret, s) for s in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in used)
    body = assert_error(api.post(verify, json={"passCode": wrong}), 403, "E0000068")
    assert body["errorCauses"][0]["errorSummary"].startswith("Your passcode doesn't match")
    far = pyotp.TOTP(secret).at(__import__("time").time() + 300)
    if far not in used:
        assert_error(api.post(verify, json={"passCode": far}), 403, "E0000068")
    assert_error(api.post(verify, json={"passCode": 123456}), 400, "E0000001")
    assert_error(api.post(verify, content=b"{nope"), 400, "E0000001")
    events = httpx.get(url(topo, "okta", "admin") + "/events", headers=admin_headers(topo)).json()
    mine = [e for e in events if e["kind"] == "okta.factor.verify" and e["trace"] == "trace-totp-1"]
    assert mine and mine[0]["outcome"] == "SUCCESS" and mine[0]["peer"] == "127.0.0.1"
    text = str(events)
    assert secret not in text and code_at(secret) not in text
    types = {e["eventType"] for e in api.get("/api/v1/logs", params={"sortOrder": "DESCENDING", "limit": 50}).json()}
    assert {"user.authentication.auth_via_mfa", "user.mfa.okta_verify", "user.mfa.factor.activate"} <= types


def test_lockout_after_failures_and_unlock(api):
    f, secret = totp_factor(api, "grace")
    verify = f["_links"]["verify"]["href"]
    used = {code_at(secret, s) for s in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in used)
    for _ in range(3):
        assert_error(api.post(verify, json={"passCode": wrong}), 403, "E0000068")
    assert api.get("/api/v1/users/grace").json()["status"] == "LOCKED_OUT"
    assert_error(api.post(verify, json={"passCode": code_at(secret)}), 403, "E0000069")
    uid = api.get("/api/v1/users/grace").json()["id"]
    assert api.post(f"/api/v1/users/{uid}/lifecycle/unlock").status_code == 200
    assert api.post(verify, json={"passCode": code_at(secret)}).json()["factorResult"] == "SUCCESS"
    locks = api.get("/api/v1/logs", params={"filter": 'eventType eq "user.account.lock"'}).json()
    assert locks and locks[-1]["target"][0]["id"] == uid


def test_google_authenticator_and_reset_factors(api):
    heidi = api.get("/api/v1/users/heidi").json()
    f = api.post(f"/api/v1/users/{heidi['id']}/factors",
                 json={"factorType": "token:software:totp", "provider": "GOOGLE"}).json()
    assert re.fullmatch(r"uft[A-Za-z0-9]{17}", f["id"]) and f["vendorName"] == "GOOGLE"
    secret = f["_embedded"]["activation"]["sharedSecret"]
    assert api.post(f["_links"]["activate"]["href"], json={"passCode": code_at(secret)}).status_code == 200
    assert api.post(f"/api/v1/users/{heidi['id']}/lifecycle/reset_factors").status_code == 200
    assert api.get(f"/api/v1/users/{heidi['id']}/factors").json() == []


def test_verify_refused_for_inactive_users(api):
    f, secret = totp_factor(api, "erin")
    erin = api.get("/api/v1/users/erin").json()
    api.post(f"/api/v1/users/{erin['id']}/lifecycle/suspend")
    try:
        assert_error(api.post(f["_links"]["verify"]["href"], json={"passCode": code_at(secret)}), 403, "E0000038")
    finally:
        api.post(f"/api/v1/users/{erin['id']}/lifecycle/unsuspend")


# -- logs, bad input ----------------------------------------------------------------------------
def test_system_log_queries(api):
    all_ = api.get("/api/v1/logs", params={"limit": 1000}).json()
    assert all_ and all(e["published"].endswith("Z") for e in all_)
    one = api.get("/api/v1/logs", params={"limit": 1})
    assert len(one.json()) == 1 and 'rel="next"' in one.headers["Link"]
    nxt = api.get(one.links["next"]["url"]).json()
    assert nxt and nxt[0]["uuid"] == all_[1]["uuid"]
    desc = api.get("/api/v1/logs", params={"sortOrder": "DESCENDING", "limit": 1}).json()
    assert desc[0]["uuid"] == all_[-1]["uuid"]
    since = all_[-1]["published"]
    assert all(e["published"] >= since for e in api.get("/api/v1/logs", params={"since": since}).json())
    assert api.get("/api/v1/logs", params={"until": "2000-01-01T00:00:00.000Z",
                                           "since": "1999-01-01T00:00:00.000Z"}).json() == []
    assert_error(api.get("/api/v1/logs", params={"since": "yesterday"}), 400, "E0000001")
    assert_error(api.get("/api/v1/logs", params={"filter": 'eventType eq'}), 400, "E0000001")


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/users", b"{not json"),
    ("POST", "/api/v1/users", b"[1, 2]"),
    ("POST", "/api/v1/users", b'{"profile": "alice"}'),
    ("POST", "/api/v1/users/alice/factors", b"nope"),
    ("POST", "/api/v1/users/alice/factors", b'{"factorType": ["push"]}'),
    ("POST", "/idp/authenticators/okta-verify/enroll", b"{"),
    ("POST", "/idp/authenticators/okta-verify/enroll", b'{"activationToken": 1, "pushEndpoint": "x"}'),
])
def test_malformed_input_is_400_E0000001(api, method, path, body):
    resp = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "E0000001")


def test_unknown_paths_and_methods(api):
    assert_error(api.get("/api/v1/nothing-here"), 404, "E0000007")
    assert_error(api.delete("/api/v1/radius/apps"), 405, "E0000022")


def test_device_enrol_with_a_bad_activation_token(topo):
    resp = httpx.post(url(topo, "okta") + "/idp/authenticators/okta-verify/enroll",
                      json={"activationToken": "not-a-token", "pushEndpoint": "http://127.0.0.1:1/push"})
    assert_error(resp, 401, "E0000011")


# -- the official SDK (okta-sdk-python 3.x) --------------------------------------------------
def test_okta_sdk_users_apps_factors(topo, monkeypatch):
    okta_client = pytest.importorskip("okta.client")
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    from okta.models import CreateUserRequest, UserProfile

    async def drive():
        client = okta_client.Client(sdk_config(topo))
        users, _resp, err = await client.list_users()
        assert err is None, err
        logins = {u.profile.login for u in users}
        assert "alice@corp.example.com" in logins
        body = CreateUserRequest(profile=UserProfile(login="sdk@corp.example.com", email="sdk@corp.example.com",
                                                     first_name="Sdk", last_name="User"))
        user, _, err = await client.create_user(body, activate=False)
        assert err is None, err
        assert user.status.value == "STAGED"
        token, _, err = await client.activate_user(user.id, send_email=False)
        assert err is None, err
        assert token.activation_token
        fetched, _, err = await client.get_user("sdk@corp.example.com")
        assert err is None and fetched.id == user.id
        _, _, err = await client.get_user("nobody@corp.example.com")
        assert err is not None and "E0000007" in str(err)
        app_id = (await client.list_applications())[0][0].id
        app_users, _, err = await client.list_application_users(app_id)
        assert err is None, err
        assert "alice" in {au.credentials.user_name for au in app_users}
        alice, _, _ = await client.get_user("alice")
        _factors, _, err = await client.list_factors(alice.id)
        assert err is None, err
        events, _, err = await client.list_log_events(filter='eventType eq "user.lifecycle.create"')
        assert err is None, err
        assert any(e.event_type == "user.lifecycle.create" for e in events)

    asyncio.run(drive())


# -- the Authentication API (primary authentication) ---------------------------------------------
def test_authn_password_then_totp(api, topo):
    web = httpx.Client(verify=lab_verify(topo), timeout=10)  # the org's links are HTTPS (lab CA)
    base = org_url(topo)
    u = api.post("/api/v1/users", params={"activate": "true"},
                 json={"profile": {"login": "authn@corp.example.com", "firstName": "Au", "lastName": "Thn"},
                       "credentials": {"password": {"value": "Right-Passw0rd"}}}).json()
    creds = {"username": "authn@corp.example.com", "password": "Right-Passw0rd"}
    plain = web.post(f"{base}/api/v1/authn", json=creds)
    assert plain.status_code == 200 and plain.json()["status"] == "SUCCESS" and plain.json()["sessionToken"]
    assert_error(web.post(f"{base}/api/v1/authn", json={"username": "authn@corp.example.com", "password": "nope"}),
                 401, "E0000004")
    assert_error(web.post(f"{base}/api/v1/authn", json={"username": "ghost@corp.example.com", "password": "x"}),
                 401, "E0000004")
    # an AD-sourced user whose "password" is really an MFA code (failure F7): delegated auth fails
    assert_error(web.post(f"{base}/api/v1/authn", json={"username": "alice@corp.example.com", "password": "123456"}),
                 401, "E0000004")
    f, secret = totp_factor(api, u["id"])
    mfa = web.post(f"{base}/api/v1/authn", json=creds).json()
    assert mfa["status"] == "MFA_REQUIRED" and mfa["stateToken"]
    factor = mfa["_embedded"]["factors"][0]
    assert factor["id"] == f["id"]
    assert factor["_links"]["verify"]["href"].endswith(f"/api/v1/authn/factors/{f['id']}/verify")
    verify = factor["_links"]["verify"]["href"]
    used = {code_at(secret, s) for s in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in used)
    assert_error(web.post(verify, json={"stateToken": mfa["stateToken"], "passCode": wrong}), 403, "E0000068")
    done = web.post(verify, json={"stateToken": mfa["stateToken"], "passCode": code_at(secret, 1)})
    assert done.status_code == 200 and done.json()["status"] == "SUCCESS"
    again = web.post(verify, json={"stateToken": mfa["stateToken"], "passCode": code_at(secret)})
    assert_error(again, 401, "E0000011")
    assert_error(web.post(verify, json={"stateToken": "bogus", "passCode": "123456"}), 401, "E0000011")
    assert_error(web.post(f"{base}/api/v1/authn", content=b"{"), 400, "E0000001")
    assert_error(web.post(f"{base}/api/v1/authn", json={"username": "x", "password": "y"},
                            headers={"Authorization": "SSWS wrong"}), 401, "E0000011")


def test_group_assignment_makes_members_app_users(api, topo):
    app_id = api.get("/api/v1/radius/apps").json()[0]["id"]
    created = api.post("/api/v1/groups", json={"profile": {"name": "VPN people", "description": "x"}})
    if created.status_code == 429:                       # the module's tight groups bucket
        httpx.post(url(topo, "okta", "admin") + "/reset", headers=admin_headers(topo))
        created = api.post("/api/v1/groups", json={"profile": {"name": "VPN people", "description": "x"}})
    gid = created.json()["id"]
    ivan = api.get("/api/v1/users/ivan").json()
    assert api.put(f"/api/v1/groups/{gid}/users/{ivan['id']}").status_code == 204
    added = api.get("/api/v1/logs", params={"filter": 'eventType eq "group.user_membership.add"'}).json()[-1]
    assert added["displayMessage"] == "Add user to group membership"
    assert [(t["type"], t["id"]) for t in added["target"]] == [("User", ivan["id"]), ("UserGroup", gid)]
    assigned = api.put(f"/api/v1/apps/{app_id}/groups/{gid}", json={})
    assert assigned.status_code == 200 and assigned.json()["id"] == gid
    au = api.get(f"/api/v1/apps/{app_id}/users/{ivan['id']}").json()
    assert au["scope"] == "GROUP" and au["credentials"]["userName"] == "ivan"
    newbie = api.post("/api/v1/users", params={"activate": "false"},
                      json={"profile": {"login": "newbie@corp.example.com", "samAccountName": "newbie"},
                            "groupIds": [gid]}).json()
    assert api.get(f"/api/v1/apps/{app_id}/users/{newbie['id']}").json()["credentials"]["userName"] == "newbie"
    assert [g["id"] for g in api.get(f"/api/v1/apps/{app_id}/groups").json()] == [gid]
    assert api.delete(f"/api/v1/apps/{app_id}/groups/{gid}").status_code == 204
    assert_error(api.get(f"/api/v1/apps/{app_id}/users/{ivan['id']}"), 404, "E0000007")
    assert_error(api.put(f"/api/v1/apps/{app_id}/groups/00gNOPE"), 404, "E0000007")
