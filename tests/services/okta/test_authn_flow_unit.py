"""The Authentication API's state machine in-process, without HTTP: AuthnFlow over a real store,
the service clock moved by its offset. Primary authentication to SUCCESS, a wrong password
(E0000004, counted), MFA_ENROLL -> MFA_ENROLL_ACTIVATE -> SUCCESS with a TOTP code,
MFA_REQUIRED -> verify, a step out of order (E0000079) and an expired stateToken (E0000011)."""
from __future__ import annotations

import asyncio

import pyotp
import pytest

from services.okta import authn_factors as steps
from services.okta import policies
from services.okta.authn_flow import AuthnFlow
from services.okta.errors import OktaError
from services.okta.groups import create_group
from services.okta.membership import add_member
from services.okta.org import Audit, Org
from services.okta.users import create_user
from tests.services.okta.support import in_process_org

PASSWORD = "Corr3ct-Horse"


@pytest.fixture
def org(tmp_path) -> Org:
    return in_process_org(tmp_path)


def flow(org: Org) -> AuthnFlow:
    return AuthnFlow(org, Audit(ip="127.0.0.9", user_agent="unit", trace="t-1"))


def sign_in(org: Org, login: str, password: str = PASSWORD) -> dict:
    return asyncio.run(flow(org).authenticate({"username": login, "password": password}))


def test_password_alone_succeeds_and_a_wrong_one_is_counted(org):
    user = create_user(org, {"login": "ann@x.com", "email": "ann@x.com"}, "ACTIVE", password=PASSWORD)
    body = sign_in(org, "ann")                                    # the login's prefix finds her
    assert body["status"] == "SUCCESS" and body["sessionToken"]
    assert org.people.user(user["id"])["lastLogin"]
    with pytest.raises(OktaError) as err:
        sign_in(org, "ann@x.com", "wrong")
    assert err.value.code == "E0000004"
    assert org.people.user(user["id"])["passwordFailures"] == 1
    with pytest.raises(OktaError) as err:
        sign_in(org, "nobody@x.com")
    assert err.value.code == "E0000004"


def test_enrol_totp_then_verify_it_next_time(org):
    group = create_group(org, "FTE", None)
    user = create_user(org, {"login": "bo@x.com", "email": "bo@x.com"}, "ACTIVE", password=PASSWORD)
    add_member(org, group, user["id"])
    p = policies.create_policy(org, ptype="MFA_ENROLL", name="FTE",
                               conditions={"people": {"groups": {"include": [group["id"]]}}},
                               settings={"type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "REQUIRED"}}}})
    policies.create_rule(org, p, name="at login", actions={"enroll": {"self": "LOGIN"}})

    body = sign_in(org, "bo@x.com")
    assert body["status"] == "MFA_ENROLL" and "skip" not in body["_links"]
    token = body["stateToken"]
    with pytest.raises(OktaError) as err:                           # not this state's step
        steps.verify(flow(org), {"stateToken": token, "passCode": "000000"}, "nope")
    assert err.value.code == "E0000079"
    body = steps.enroll(flow(org), {"stateToken": token, "factorType": "token:software:totp"})
    assert body["status"] == "MFA_ENROLL_ACTIVATE"
    factor = body["_embedded"]["factor"]
    secret = factor["_embedded"]["activation"]["sharedSecret"]
    code = pyotp.TOTP(secret).at(org.now())
    body = steps.activate(flow(org), {"stateToken": token, "passCode": code}, factor["id"])
    assert body["status"] == "SUCCESS"

    org.ctx.clock.offset_seconds += 60                              # a fresh TOTP step
    body = sign_in(org, "bo@x.com")
    assert body["status"] == "MFA_REQUIRED"
    assert [f["factorType"] for f in body["_embedded"]["factors"]] == ["token:software:totp"]
    body = steps.verify(flow(org), {"stateToken": body["stateToken"], "passCode": pyotp.TOTP(secret).at(org.now())},
                        factor["id"])
    assert body["status"] == "SUCCESS"


def test_state_token_expires_on_the_service_clock(org):
    create_user(org, {"login": "cy@x.com", "email": "cy@x.com"}, "PASSWORD_EXPIRED", password=PASSWORD)
    body = sign_in(org, "cy@x.com")
    assert body["status"] == "PASSWORD_EXPIRED"
    again = flow(org).load({"stateToken": body["stateToken"]})     # a call renews the sliding expiry
    assert again["status"] == "PASSWORD_EXPIRED"
    org.ctx.clock.offset_seconds += org.settings.authn_state_ttl_seconds + 1
    with pytest.raises(OktaError) as err:
        asyncio.run(flow(org).change_password({"stateToken": body["stateToken"], "oldPassword": PASSWORD,
                                               "newPassword": "N3w-Passphrase"}))
    assert err.value.code == "E0000011"
