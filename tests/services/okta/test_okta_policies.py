"""MFA enrolment policies through the official okta SDK, unchanged (okta only, 127.0.93): the
seeded walkthrough policy, the system defaults, creating a policy and its rule, priorities,
deactivation, and the factor catalog each user's policy gives."""
from __future__ import annotations

import asyncio

import pytest

from tests.services.okta.support import assert_error, org_client, sdk_config
from tests.support import default_seed, running_services

SUBNET = "127.0.93"


def walkthrough_seed() -> dict:
    seed = default_seed()
    seed["okta"]["policies"] = [{
        "type": "MFA_ENROLL", "name": "Full time employees", "groups": ["Full time employees"],
        "factors": {"okta_otp": "REQUIRED", "okta_push": "REQUIRED"},
        "rules": [{"name": "Must enroll MFA at first sign in", "enroll": "LOGIN"}]}]
    return seed


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    with running_services(["okta"], tmp_path_factory.mktemp("okta-policies"), SUBNET,
                          seed=walkthrough_seed()) as topology:
        yield topology


@pytest.fixture(scope="module")
def api(topo):
    with org_client(topo) as client:
        yield client


@pytest.fixture
def sdk(topo, monkeypatch):
    okta_client = pytest.importorskip("okta.client")
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    return okta_client.Client(sdk_config(topo))


def test_sdk_reads_the_seeded_policy_and_its_rule(sdk, api):
    async def drive():
        policies, _, err = await sdk.list_policies(type="MFA_ENROLL")
        assert err is None, err
        assert [(p.name, p.priority, p.system) for p in policies] == [
            ("Full time employees", 1, False), ("Default Policy", 2, True)]
        fte = policies[0]
        assert type(fte).__name__ == "AuthenticatorEnrollmentPolicy" and fte.status == "ACTIVE"
        group = api.get("/api/v1/groups", params={"q": "Full time"}).json()[0]
        assert fte.conditions.people.groups.include == [group["id"]]
        got, _, err = await sdk.get_policy(fte.id)
        assert err is None and got.name == "Full time employees"
        rules, _, err = await sdk.list_policy_rules(fte.id)
        assert err is None, err
        assert [(r.name, r.actions.enroll.var_self) for r in rules] == [("Must enroll MFA at first sign in", "LOGIN")]
        pwd, _, err = await sdk.list_policies(type="PASSWORD")
        assert err is None and [p.name for p in pwd] == ["Default Policy"]
    asyncio.run(drive())
    raw = api.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()[0]
    assert raw["settings"]["factors"]["okta_push"]["enroll"]["self"] == "REQUIRED"
    assert raw["_links"]["rules"]["href"].endswith(f"/api/v1/policies/{raw['id']}/rules")


def test_sdk_creates_a_policy_and_rule_that_apply_first(sdk, api):
    from okta.models import AuthenticatorEnrollmentPolicy, AuthenticatorEnrollmentPolicyRule
    group = api.post("/api/v1/groups", json={"profile": {"name": "Contractors", "description": "x"}}).json()
    user = api.post("/api/v1/users", params={"activate": "true"}, json={
        "profile": {"login": "connie@corp.example.com", "firstName": "Connie", "lastName": "C"},
        "credentials": {"password": {"value": "Connie-Passw0rd!"}}}).json()
    api.put(f"/api/v1/groups/{group['id']}/users/{user['id']}")

    async def drive():
        body = AuthenticatorEnrollmentPolicy.from_dict({
            "type": "MFA_ENROLL", "name": "Contractors", "priority": 1, "status": "ACTIVE",
            "conditions": {"people": {"groups": {"include": [group["id"]]}}},
            "settings": {"type": "AUTHENTICATORS", "authenticators": [
                {"key": "okta_verify", "enroll": {"self": "REQUIRED"}},
                {"key": "google_otp", "enroll": {"self": "OPTIONAL"}}]}})
        created, _, err = await sdk.create_policy(body)
        assert err is None, err
        assert created.id.startswith("00p") and created.priority == 1
        rule_body = AuthenticatorEnrollmentPolicyRule.from_dict({
            "type": "MFA_ENROLL", "name": "At first sign in", "actions": {"enroll": {"self": "LOGIN"}},
            "conditions": {"people": {"users": {"exclude": []}}}})
        rule, _, err = await sdk.create_policy_rule(created.id, rule_body)
        assert err is None, err
        assert rule.actions.enroll.var_self == "LOGIN" and rule.priority == 1
        names = [p.name for p in (await sdk.list_policies(type="MFA_ENROLL"))[0]]
        assert names == ["Contractors", "Full time employees", "Default Policy"]
        return created.id
    pid = asyncio.run(drive())
    # the catalog follows the policy that applies to the user
    catalog = {(c["factorType"], c["provider"]): c["enrollment"]
               for c in api.get(f"/api/v1/users/{user['id']}/factors/catalog").json()}
    assert catalog == {("token:software:totp", "OKTA"): "REQUIRED", ("push", "OKTA"): "REQUIRED",
                       ("token:software:totp", "GOOGLE"): "OPTIONAL"}
    # deactivated, the policy no longer applies: the default's catalog again
    async def deactivate():
        _, err = (await sdk.deactivate_policy(pid))[-2:]
        return err
    assert asyncio.run(deactivate()) is None
    assert {c["enrollment"] for c in api.get(f"/api/v1/users/{user['id']}/factors/catalog").json()} == {"OPTIONAL"}
    assert api.delete(f"/api/v1/policies/{pid}").status_code == 204
    assert_error(api.get(f"/api/v1/policies/{pid}"), 404, "E0000007")


def test_policy_validation_and_the_default_policy_is_protected(api):
    assert_error(api.get("/api/v1/policies"), 400, "E0000001")
    assert_error(api.get("/api/v1/policies", params={"type": "NOPE"}), 400, "E0000001")
    assert_error(api.post("/api/v1/policies", json={"type": "MFA_ENROLL", "name": "x", "settings": {
        "type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "SOMETIMES"}}}}}), 400, "E0000001")
    assert_error(api.post("/api/v1/policies", json={"type": "MFA_ENROLL", "name": "x", "conditions": {
        "people": {"groups": {"include": ["00gNOPE"]}}}}), 400, "E0000001")
    default = api.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()[-1]
    assert default["system"] is True
    assert_error(api.delete(f"/api/v1/policies/{default['id']}"), 400, "E0000001")
    assert_error(api.post(f"/api/v1/policies/{default['id']}/lifecycle/deactivate"), 400, "E0000001")
    pid = api.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()[0]["id"]
    assert_error(api.post(f"/api/v1/policies/{pid}/rules", json={"name": "r", "actions": {"enroll": {"self": "X"}}}),
                 400, "E0000001")
    assert_error(api.get(f"/api/v1/policies/{pid}/rules/0prNOPE"), 404, "E0000007")
    logs = api.get("/api/v1/logs", params={"filter": 'eventType eq "policy.lifecycle.create"'}).json()
    assert logs, "policy changes reach the System Log"
