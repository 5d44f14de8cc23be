"""HTTP fuzzing of the org's JSON APIs and its admin API (okta, with mail and phone as its peers,
on 127.0.56), as the DC, mail and RADIUS parsers are fuzzed.

The org does not publish an OpenAPI document, so the test builds the app in-process only to read
`app.openapi()` (paths, methods, path parameters) and adds what the handlers read by hand: the
bodies and query parameters below, from docs/architecture.md and services/okta/README.md. Real ids
(users, apps, groups, policies, rules, a factor) are offered as path values so requests reach the
handlers' logic instead of stopping at 404. Every answer must be Okta's own (never a 500), the log
must hold no traceback, and the org must still serve health and a real request afterwards.
"""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.services.okta.support import assert_error, org_client
from tests.support import default_seed, running_services, url
from tests.support.fuzzing import LogWatch
from tests.support.http_fuzzing import ANY, SCALE, describe, fuzz_admin, fuzz_openapi, obj, scratch_context

SUBNET = "127.0.56"
EXAMPLES = 8 * SCALE   # per operation and mode; ~85 operations x 2 modes, about 40 s on a quiet machine
SEED = 20261
# The fuzzer is not a client over the limits: every bucket wide open, the per-user authn limit off.
SETTINGS = {"okta": {"rate_limits": {p: 1_000_000 for p in ("default", "/api/v1/logs", "/api/v1/radius",
                                                             "/api/v1/authn", "/api/v1/users", "/api/v1/apps",
                                                             "/api/v1/groups")},
                     "authn_user_limit_per_second": 0}}

# Valid-shaped values (schemathesis' negative mode turns them into wrong types, missing members
# and out-of-set values by itself).
TEXT = {"type": "string"}
FLAG = {"type": "boolean"}
NUMBER = {"type": "integer"}
LOGINS = [f"{u['sam']}@corp.example.com" for u in default_seed()["users"]]
PASSWORDS = [u["password"] for u in default_seed()["users"]]


def one(*values: object) -> dict:
    return {"enum": list(values)}


PROFILE = obj(login={"anyOf": [one(*LOGINS), {"type": "string", "format": "email"}]}, email=TEXT,
              firstName=TEXT, lastName=TEXT, samAccountName=TEXT, userName=TEXT, mobilePhone=TEXT)
CREDENTIALS = obj(password=obj(value={"anyOf": [one(*PASSWORDS), TEXT]}),
                  provider=obj(type=one("OKTA", "ACTIVE_DIRECTORY", "LDAP", "IMPORT"), name=TEXT))
RADIUS_SETTINGS = obj(port={"type": "integer", "minimum": 1, "maximum": 65535}, sharedSecret=TEXT,
                      primaryAuth=FLAG, usernameTemplate=TEXT,
                      usernameFormat=one("ad_sam_account_name", "okta_username", "email", "ad_upn"),
                      requireMessageAuthenticator=FLAG, inlineEnrollment=FLAG,
                      groupReturn=obj(enabled=FLAG, attribute=NUMBER, groups=TEXT))
POLICY = obj(type=one("MFA_ENROLL", "PASSWORD", "OKTA_SIGN_ON"), name=TEXT, description=TEXT,
             status=one("ACTIVE", "INACTIVE"), priority=NUMBER,
             conditions=obj(people=obj(groups=obj(include={"type": "array", "items": TEXT},
                                                  exclude={"type": "array", "items": TEXT}))),
             settings=obj(factors=obj(okta_otp=obj(enroll=obj(self=one("REQUIRED", "OPTIONAL", "NOT_ALLOWED"))),
                                      okta_push=obj(enroll=obj(self=one("REQUIRED", "OPTIONAL", "NOT_ALLOWED"))))),
             actions=obj(enroll=obj(self=one("LOGIN", "CHALLENGE", "NEVER"))))
FACTOR_TYPE = one("token:software:totp", "push", "sms", "call", "email")
AUTHN = obj(username=one(*LOGINS, "alice", "bob", "nobody@corp.example.com"), password=one(*PASSWORDS, "wrong"),
            stateToken=TEXT, token=TEXT, passCode={"type": "string", "pattern": "^[0-9]{6}$"},
            factorType=FACTOR_TYPE, provider=one("OKTA"), profile=obj(phoneNumber=TEXT, email=TEXT),
            options=obj(multiOptionalFactorEnroll=FLAG, warnBeforePasswordExpired=FLAG),
            newPassword=TEXT, oldPassword=TEXT)
FACTOR = obj(factorType=FACTOR_TYPE, provider=one("OKTA", "GOOGLE"),
             profile=obj(phoneNumber={"type": "string", "pattern": "^\\+1[0-9]{10}$"}, email=TEXT),
             passCode={"type": "string", "pattern": "^[0-9]{6}$"})
BODIES = {
    "POST /api/v1/users": obj(profile=PROFILE, credentials=CREDENTIALS, groupIds={"type": "array", "items": TEXT}),
    "POST /api/v1/users/{key}": obj(profile=PROFILE, credentials=CREDENTIALS),
    "POST /api/v1/users/{uid}/factors*": FACTOR,
    "POST /api/v1/groups": obj(profile=obj(name=TEXT, description=TEXT)),
    "POST /api/v1/apps": obj(name=one("radius", "radius_workspaces"), label=TEXT, signOnMode=one("RADIUS"),
                             settings=obj(app=RADIUS_SETTINGS)),
    "POST /api/v1/apps/{app_id}/users": obj(id=TEXT, scope=one("USER"), credentials=obj(userName=TEXT)),
    "PUT /api/v1/apps/{app_id}/groups/{gid}": obj(priority=NUMBER, profile=obj()),
    "PUT /api/v1/radius/apps/{app_id}": RADIUS_SETTINGS,
    "POST /api/v1/authn*": AUTHN,
    "POST /api/v1/policies": POLICY,
    "PUT /api/v1/policies/{pid}": POLICY,
    "POST /api/v1/policies/{pid}/rules": POLICY,
    "PUT /api/v1/policies/{pid}/rules/{rid}": POLICY,
    "POST /idp/authenticators/okta-verify/enroll": obj(activationToken=TEXT, pushEndpoint=TEXT, deviceName=TEXT),
    "POST /idp/push/{txid}/answer": obj(result=one("APPROVE", "DENY"), number=ANY),
    "POST /api/v1/users/{uid}/factors/{fid}/verify": obj(passCode=TEXT, useNumberMatchingChallenge=ANY),
    "POST /api/v1/agents/ad/register": obj(name=TEXT, host=TEXT, domain=TEXT, version=TEXT, netbiosName=TEXT),
    "POST /api/v1/agents/ad/{agent_id}/tasks/{task_id}": obj(outcome=TEXT, error=TEXT, full=FLAG,
                                                              users={"type": "array", "items": obj()},
                                                              groups={"type": "array", "items": obj()}),
    "POST /api/v1/directories/{dir_id}/import": obj(full=FLAG),
}
PAGED = {"limit": {"type": "integer"}, "after": TEXT}
QUERIES = {
    "GET /api/v1/users": {**PAGED, "q": ANY, "filter": ANY, "search": ANY},
    "POST /api/v1/users": {"activate": ANY, "provider": ANY, "nextLogin": ANY},
    "POST /api/v1/users/{key}/lifecycle/{operation}": {"sendEmail": ANY},
    "DELETE /api/v1/users/{key}": {"sendEmail": ANY},
    "GET /api/v1/groups": {**PAGED, "q": ANY, "filter": ANY, "search": ANY},
    "GET /api/v1/apps": {**PAGED, "q": ANY, "filter": ANY},
    "GET /api/v1/apps/{app_id}/users": PAGED,
    "GET /api/v1/groups/{gid}/users": PAGED,
    "GET /api/v1/logs": {**PAGED, "since": ANY, "until": ANY, "filter": ANY, "q": ANY, "sortOrder": ANY},
    "GET /api/v1/policies": {"type": ANY},
    "POST /api/v1/users/{uid}/factors": {"activate": ANY, "updatePhone": ANY, "templateId": ANY},
    "POST /api/v1/users/{uid}/factors/{fid}/verify": {"templateId": ANY, "tokenLifetimeSeconds": ANY},
    "GET /api/v1/agents/ad/{agent_id}/tasks": {"wait": ANY},
    "GET /api/v1/directories/{dir_id}/imports": PAGED,
}
LIFECYCLE_OPS = ["activate", "reactivate", "deactivate", "suspend", "unsuspend", "unlock", "reset_factors",
                 "expire_password", "reset_password"]
EXCLUDE = [
    # The fuzzer's own credential: revoking it would turn every later request into a 401.
    "DELETE /api/v1/api-tokens/{tid}",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["okta", "mail", "phone"], tmp_path_factory.mktemp("okta-fuzz"), SUBNET,
                          settings=SETTINGS) as topology:
        yield topology


@pytest.fixture(scope="module")
def ids(lab):
    """Read once, before any fuzzing deletes what it reads (later tests get stale ids: 404s)."""
    return real_ids(lab)


def real_ids(topology) -> dict[str, list[str]]:
    """Ids the org holds now, per path parameter name; a TOTP factor is enrolled for bob."""
    with org_client(topology) as api:
        users = api.get("/api/v1/users", params={"limit": 200}).json()
        apps = api.get("/api/v1/apps").json()
        groups = api.get("/api/v1/groups").json()
        policies = api.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()
        bob = api.get("/api/v1/users/bob").json()
        factor = api.post(f"/api/v1/users/{bob['id']}/factors",
                          json={"factorType": "token:software:totp", "provider": "OKTA"}).json()
        rules = [r["id"] for p in policies for r in api.get(f"/api/v1/policies/{p['id']}/rules").json()]
    user_keys = [u["id"] for u in users] + ["alice", "bob@corp.example.com"]
    return {"key": user_keys, "uid": user_keys, "app_id": [a["id"] for a in apps], "gid": [g["id"] for g in groups],
            "pid": [p["id"] for p in policies], "rid": rules, "fid": [factor["id"]], "operation": LIFECYCLE_OPS,
            "op": ["activate", "deactivate"], "app_name": ["amazon_workspaces"], "dir_id": ["0oa-ad"]}


def okta_document(state_dir: Path) -> dict:
    from services.okta.app import make_app
    from services.okta.org import Org
    from services.okta.settings import OrgSettings
    from services.okta.store import Store

    ctx = scratch_context("okta", state_dir)
    store = Store(state_dir / "org.sqlite3")
    try:
        return make_app(Org.open(ctx, store, "http://127.0.0.1:1", OrgSettings.from_settings({}))).openapi()
    finally:
        store.close()


def test_fuzz_the_org_api(lab, ids, tmp_path):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "okta.log")
    token = lab["credentials"]["okta_api_token"]
    document = describe(okta_document(tmp_path), bodies=BODIES, queries=QUERIES, path_values=ids,
                        exclude=EXCLUDE)
    report = fuzz_openapi(document, url(lab, "okta"), headers={"Authorization": f"SSWS {token}"},
                          examples=EXAMPLES, seed=SEED)
    print(f"okta API: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    # Still serving: health, a real request, and a user made now is found again.
    assert httpx.get(url(lab, "okta", "admin") + "/healthz").json()["healthy"]
    with org_client(lab) as api:
        made = api.post("/api/v1/users", params={"activate": "false"},
                        json={"profile": {"login": "after.fuzz@corp.example.com", "firstName": "A", "lastName": "F"}})
        assert made.status_code == 200, made.text
        assert api.get("/api/v1/users/after.fuzz@corp.example.com").json()["id"] == made.json()["id"]


def test_fuzz_the_public_endpoints_without_a_token(lab, ids, tmp_path):
    """What a public client (and the phone) calls with no SSWS token: the authentication API, the
    Okta Verify device endpoints, the welcome link; and every other path must answer 401, not fail."""
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "okta.log")
    document = describe(okta_document(tmp_path), bodies=BODIES, queries=QUERIES, path_values=ids,
                        exclude=EXCLUDE)
    report = fuzz_openapi(document, url(lab, "okta"), examples=max(2, EXAMPLES // 4), seed=SEED + 1)
    print(f"okta API without a token: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    assert_error(httpx.get(url(lab, "okta") + "/api/v1/users"), 401, "E0000011")


def test_fuzz_the_org_admin_api(lab, tmp_path):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "okta.log")
    report = fuzz_admin(lab, "okta", tmp_path, examples=EXAMPLES, seed=SEED)
    print(f"okta admin API: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    assert httpx.get(url(lab, "okta", "admin") + "/healthz").json()["healthy"]
    with org_client(lab) as api:
        assert_error(api.get("/api/v1/users/nobody-here"), 404, "E0000007")


# -- regressions: what the fuzzing found ---------------------------------------------------------
def new_user(api, login: str) -> dict:
    """A user of the test's own (the fuzzing before it may have deleted the seed's)."""
    made = api.post("/api/v1/users", params={"activate": "true"},
                    json={"profile": {"login": login, "firstName": "R", "lastName": "Egression"},
                          "credentials": {"password": {"value": "Regress-Passw0rd!"}}})
    assert made.status_code == 200, made.text
    return made.json()


def test_a_profile_update_keeps_the_login_a_unique_email(lab):
    with org_client(lab) as api:
        user, other = new_user(api, "rex@corp.example.com"), new_user(api, "rita@corp.example.com")
        for login in (None, "", "no-at-sign", other["profile"]["login"], "RITA@corp.example.com", 42):
            assert_error(api.post(f"/api/v1/users/{user['id']}", json={"profile": {"login": login}}), 400, "E0000001")
        assert api.get(f"/api/v1/users/{user['id']}").json()["profile"]["login"] == "rex@corp.example.com"
        assert api.get("/api/v1/users/rex@corp.example.com").status_code == 200      # lookups still work
        moved = api.post(f"/api/v1/users/{user['id']}", json={"profile": {"login": "Rex2@corp.example.com"}})
        assert moved.status_code == 200 and moved.json()["profile"]["login"] == "Rex2@corp.example.com"


def test_non_ascii_tokens_and_codes_are_refused_not_crashed(lab):
    base = url(lab, "okta")
    assert_error(httpx.post(f"{base}/api/v1/authn", json={"token": "jeton-é"}), 401, "E0000004")
    lone_surrogate = b'{"activationToken": "\\u00e9\\ud800", "pushEndpoint": "http://127.0.56.60:8080/push"}'
    assert_error(httpx.post(f"{base}/idp/authenticators/okta-verify/enroll", content=lone_surrogate), 401, "E0000011")
    with org_client(lab) as api:
        user = new_user(api, "ravi@corp.example.com")
        factor = api.post(f"/api/v1/users/{user['id']}/factors",
                          json={"factorType": "token:software:totp", "provider": "OKTA"}).json()
        arabic_indic = "\u0661\u0662\u0663\u0664\u0665\u0666"            # "123456", and str.isdigit() says so
        assert_error(api.post(factor["_links"]["activate"]["href"], json={"passCode": arabic_indic}), 403, "E0000068")


@pytest.mark.parametrize("profile", [
    {"login": "eve@corp.example.com\r\nBcc: x@example.com"},
    {"login": "eve@corp.example.com", "email": "eve@corp.example.com\nX-Injected: 1"},
    {"login": "eve lyn@corp.example.com"},
])
def test_an_address_with_whitespace_is_refused_before_any_email(lab, profile):
    """Found by fuzzing: a CR/LF in the login or email reached the activation email's To: header."""
    with org_client(lab) as api:
        body = {"profile": {"firstName": "E", "lastName": "V", **profile}}
        assert_error(api.post("/api/v1/users", params={"activate": "true"}, json=body), 400, "E0000001")
        rex = new_user(api, f"rex{len(str(profile))}@corp.example.com")
        assert_error(api.post(f"/api/v1/users/{rex['id']}", json={"profile": profile}), 400, "E0000001")
