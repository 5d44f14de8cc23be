"""In-process checks of the org's pure parts (username templates, filter expressions, TOTP
windows) and of first-start seeding, blank labs and re-starts without re-seeding."""
import asyncio

import pyotp
import pytest
from fastapi.testclient import TestClient

from lab import topology as topo
from services.common.context import ServiceContext
from services.common.events import Journal
from services.okta import otp
from services.okta.__main__ import build
from services.okta.errors import OktaError
from services.okta.expressions import parse
from services.okta.templates import FORMATS, evaluate

PROFILE = {"login": "Alice.A@corp.example.com", "email": "Alice.A@Corp.example.com",
           "samAccountName": "AliceA", "userName": "alice.a@corp.example.com", "employeeID": "E42"}


@pytest.mark.parametrize("fmt,expected", [
    ("okta_username", "Alice.A@corp.example.com"),
    ("okta_username_prefix", "Alice.A"),
    ("email", "Alice.A@Corp.example.com"),
    ("email_lowercase", "alice.a@corp.example.com"),
    ("email_prefix", "Alice.A"),
    ("ad_sam_account_name", "AliceA"),
    ("ad_sam_account_name_lowercase", "alicea"),
    ("ad_user_principal_name", "alice.a@corp.example.com"),
    ("ad_user_principal_name_prefix", "alice.a"),
    ("ad_employee_id", "E42"),
])
def test_username_templates(fmt, expected):
    assert evaluate(FORMATS[fmt], PROFILE) == expected


def test_custom_suffix_template():
    assert evaluate(FORMATS["custom"], PROFILE, {"userSuffix": "@vpn"}) == "alice.a@corp.example.com@vpn"


def test_filter_expressions():
    user = {"status": "ACTIVE", "profile": {"login": "bob@x.com", "samAccountName": "bob"},
            "created": "2026-01-02T00:00:00.000Z"}
    assert parse('status eq "active"')(user)
    assert parse('profile.samaccountname eq "BOB" and status eq "ACTIVE"')(user)
    assert parse('(status eq "STAGED" or profile.login sw "bob") and profile.login co "@x"')(user)
    assert not parse('status ne "ACTIVE"')(user)
    assert parse('created gt "2026-01-01T00:00:00.000Z"')(user)
    assert parse("profile.samAccountName pr")(user) and not parse("profile.mobilePhone pr")(user)
    for bad in ('status eq', 'status equals "x"', '(status eq "x"', 'status eq "x" and', '"x"'):
        with pytest.raises(OktaError):
            parse(bad)


def test_totp_window_is_one_step_either_side():
    secret = pyotp.random_base32()
    totp, now = pyotp.TOTP(secret), 1_800_000_015.0
    step = int(now // 30)
    assert otp.matching_step(secret, totp.at(now), now) == step
    assert otp.matching_step(secret, totp.at(now - 30), now) == step - 1
    assert otp.matching_step(secret, totp.at(now + 30), now) == step + 1
    assert otp.matching_step(secret, totp.at(now - 60), now) is None or totp.at(now - 60) in {
        totp.at(now - 30), totp.at(now), totp.at(now + 30)}
    assert otp.matching_step(secret, "12345", now) is None and otp.matching_step(secret, "abcdef", now) is None


def _ctx(tmp_path, blank: bool) -> ServiceContext:
    topology = topo.build(tmp_path, subnet="127.0.84", blank=blank,
                          credentials=topo.load_or_create_credentials(tmp_path))
    ctx = ServiceContext(name="okta", topology=topology)
    ctx.journal = Journal("okta", ctx.clock)
    return ctx


def _client(ctx) -> tuple[TestClient, dict]:
    service = asyncio.run(build(ctx))
    headers = {"Authorization": f"SSWS {ctx.credential('okta_api_token')}"}
    return TestClient(service.http_apps["api"]), headers


def test_blank_lab_has_no_users_but_takes_the_token(tmp_path):
    client, headers = _client(_ctx(tmp_path, blank=True))
    users = client.get("/api/v1/users", headers=headers).json()      # only the org's first administrator
    assert [(u["profile"]["login"], u["credentials"]["provider"]["type"]) for u in users] == \
        [("okta.admin@corp.example.com", "OKTA")]
    assert client.get("/api/v1/radius/apps", headers=headers).json() == []
    assert client.get("/api/v1/users").status_code == 401


def test_seed_runs_once(tmp_path):
    ctx = _ctx(tmp_path, blank=False)
    client, headers = _client(ctx)
    first = {u["id"] for u in client.get("/api/v1/users", params={"filter": 'status pr'}, headers=headers).json()}
    assert len(first) == 10              # the seed's 9 AD users and the org's administrator
    client2, _ = _client(_ctx(tmp_path, blank=False))      # a restart on the same state dir
    again = {u["id"] for u in client2.get("/api/v1/users", params={"filter": 'status pr'}, headers=headers).json()}
    assert again == first
    app = client2.get("/api/v1/radius/apps", headers=headers).json()[0]
    assert app["sharedSecret"] == ctx.credential("radius_shared_secret")


def test_revoked_token_is_refused_and_stays_revoked(tmp_path):
    client, headers = _client(_ctx(tmp_path, blank=True))
    assert client.delete("/api/v1/api-tokens/current", headers=headers).status_code == 204
    resp = client.get("/api/v1/users", headers=headers)
    assert resp.status_code == 401 and resp.json()["errorCode"] == "E0000011"
    client2, _ = _client(_ctx(tmp_path, blank=True))
    assert client2.get("/api/v1/users", headers=headers).status_code == 401


def test_sdk_style_header_without_space(tmp_path):
    ctx = _ctx(tmp_path, blank=True)
    client, _ = _client(ctx)
    no_space = {"Authorization": "SSWS" + ctx.credential("okta_api_token")}
    assert client.get("/api/v1/users", headers=no_space).status_code == 200


def test_a_bad_setting_stops_the_org_before_it_starts(tmp_path):
    ctx = _ctx(tmp_path, blank=True)
    ctx.topology["services"]["okta"]["settings"] = {"delegated_auth": "sometimes"}
    with pytest.raises(ValueError, match="delegated_auth"):
        asyncio.run(build(ctx))
    assert not (ctx.state_dir / "org.sqlite3").exists()


def test_the_sign_in_page_names_each_push_device_and_tells_equal_names_apart():
    from types import SimpleNamespace

    from services.okta.enduser.signin import SignIn

    factors = [{"id": "f1", "factorType": "push", "profile": {"name": "Lab iPhone"}},
               {"id": "f2", "factorType": "token:software:totp", "profile": {"credentialId": "pat"}},
               {"id": "f3", "factorType": "push", "profile": {"name": "Lab iPhone"}},
               {"id": "f4", "factorType": "push", "profile": {"name": "Lab iPhone Pro"}},
               {"id": "f5", "factorType": "push", "profile": {}}]
    org = SimpleNamespace(people=SimpleNamespace(factors_of=lambda uid: factors if uid == "u1" else []))
    signin = SignIn(org, pages=None, sessions=None)     # type: ignore[arg-type]
    assert signin.device_names("u1") == {"f1": "Lab iPhone", "f3": "Lab iPhone 2", "f4": "Lab iPhone Pro"}
    assert signin.device_names(None) == {} and signin.device_names("u2") == {}
