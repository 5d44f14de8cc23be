"""In-process checks of policy evaluation (policies.py) on a real store: priorities with the
system default last, group conditions, first matching rule, inactive policies skipped, both
settings shapes, and the AD data codes delegated authentication understands."""
from __future__ import annotations

from services.okta import delegated, policies
from services.okta.apps import create_radius_app
from services.okta.groups import create_group, ensure_everyone
from services.okta.membership import add_member
from services.okta.users import create_user
from tests.services.okta.support import in_process_org

make_org = in_process_org


def user(org, login, *groups):
    u = create_user(org, {"login": login, "email": login}, "ACTIVE")
    for g in groups:
        add_member(org, g, u["id"])
    return u


def test_default_policy_offers_everything_optionally_and_enrols_when_challenged(tmp_path):
    org = make_org(tmp_path)
    e = policies.enrollment(org, user(org, "a@x.com"))
    assert e.when == "CHALLENGE" and {f for f, _ in e.offered()} == {
        ("push", "OKTA"), ("token:software:totp", "OKTA"), ("token:software:totp", "GOOGLE"),
        ("sms", "OKTA"), ("call", "OKTA"), ("email", "OKTA")}
    assert {req for _, req in e.offered()} == {"OPTIONAL"} and e.missing_required(set()) == []
    policies.ensure_defaults(org)                                  # idempotent
    assert len(policies.ordered(org, "MFA_ENROLL")) == 1


def test_everyone_holds_every_user_and_a_policy_can_target_it(tmp_path):
    """The built-in Everyone group: every user is a member without being added, the default
    policy targets it, an app assigned to it is every user's, new users included."""
    org = make_org(tmp_path)
    everyone = ensure_everyone(org)
    assert ensure_everyone(org)["id"] == everyone["id"]                     # made once
    assert everyone["type"] == "BUILT_IN" and everyone["profile"]["name"] == "Everyone"
    default = policies.ordered(org, "MFA_ENROLL")[-1]
    assert default["conditions"]["people"]["groups"]["include"] == [everyone["id"]]
    app = create_radius_app(org, name="radius", label="WorkSpaces", port=1812, secret="s3cret-s3cret",
                            username_format="okta_username", primary_auth=False, require_ma=False)
    early = user(org, "early@x.com")
    org.store.put("app_groups", f"{app['id']}/{everyone['id']}",
                  {"appId": app["id"], "groupId": everyone["id"], "priority": 0, "lastUpdated": org.iso()})
    add_member(org, everyone, early["id"])                                   # implicit: nothing stored
    late = user(org, "late@x.com")
    assert org.people.member_ids(everyone["id"]) == [early["id"], late["id"]]
    assert org.people.group_ids(late["id"]) == [everyone["id"]]
    assert org.people.app_user(app["id"], late["id"])["scope"] == "GROUP"     # joined the org, got the app
    p = policies.create_policy(org, ptype="MFA_ENROLL", name="All staff",
                               conditions={"people": {"groups": {"include": [everyone["id"]]}}},
                               settings={"type": "FACTORS", "factors": {"okta_push": {"enroll": {"self": "REQUIRED"}}}})
    policies.create_rule(org, p, name="at sign-in", actions={"enroll": {"self": "LOGIN"}})
    assert policies.enrollment(org, late).policy_id == p["id"]


def test_priority_groups_and_first_matching_rule(tmp_path):
    org = make_org(tmp_path)
    fte, contractors = create_group(org, "FTE", None), create_group(org, "Contractors", None)
    alice, carl, nobody = user(org, "alice@x.com", fte), user(org, "carl@x.com", fte, contractors), user(org, "n@x.com")
    p1 = policies.create_policy(org, ptype="MFA_ENROLL", name="FTE",
                                conditions={"people": {"groups": {"include": [fte["id"]]}}},
                                settings={"type": "FACTORS", "factors": {"okta_otp": {"enroll": {"self": "REQUIRED"}}}})
    policies.create_rule(org, p1, name="not carl", conditions={"people": {"users": {"exclude": [carl["id"]]}}},
                         actions={"enroll": {"self": "LOGIN"}})
    p0 = policies.create_policy(org, ptype="MFA_ENROLL", name="Contractors", priority=1,
                                conditions={"people": {"groups": {"include": [contractors["id"]]}}},
                                settings={"type": "AUTHENTICATORS",
                                          "authenticators": [{"key": "okta_verify", "enroll": {"self": "REQUIRED"}}]})
    policies.create_rule(org, p0, name="never", actions={"enroll": {"self": "NEVER"}})
    assert [(p["name"], p["priority"]) for p in policies.ordered(org, "MFA_ENROLL")] == [
        ("Contractors", 1), ("FTE", 2), ("Default Policy", 3)]
    assert policies.enrollment(org, alice).policy_id == p1["id"]
    assert policies.enrollment(org, carl).when == "NEVER"                  # contractors first
    assert policies.enrollment(org, nobody).when == "CHALLENGE"             # the default
    e = policies.enrollment(org, alice)
    assert [s.key for s in e.missing_required(set())] == ["okta_otp"]
    assert e.missing_required({("token:software:totp", "OKTA")}) == []
    # okta_verify is satisfied by either Okta Verify factor
    slots = policies.slots_of(p0["settings"])
    assert slots[0].factors == [("push", "OKTA"), ("token:software:totp", "OKTA")]
    # an inactive policy is skipped; a policy without a matching rule never applies
    p0["status"] = "INACTIVE"
    org.store.put("policies", p0["id"], p0)
    assert policies.enrollment(org, carl).when == "CHALLENGE"


def test_password_policy_lockout_defaults(tmp_path):
    org = make_org(tmp_path)
    assert policies.password_lockout(org, user(org, "p@x.com")) == (10, False)


def test_ad_bind_data_codes():
    msg = "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data {}, v3839"
    assert delegated.outcome_of_bind(True, "") == "ok"
    for code, outcome in (("52e", "bad_password"), ("775", "locked"), ("532", "password_expired"),
                          ("773", "must_change"), ("533", "disabled"), ("701", "expired"), ("525", "no_user")):
        assert delegated.outcome_of_bind(False, msg.format(code)) == outcome
    assert delegated.outcome_of_bind(False, "something else") == "bad_password"
