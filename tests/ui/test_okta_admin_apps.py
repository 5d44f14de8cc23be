"""The Okta admin console: Applications (the Amazon WorkSpaces RADIUS app, its assignments, a
Bookmark app) and Security → Multifactor (factor enrollment policies and rules), in Chromium."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lab.client_env import org_url

from .okta_admin import api, reset, sign_in

SUBNET = "127.0.63"


@pytest.fixture(scope="module")
def org(start_services):
    return start_services(["mail", "okta"], SUBNET)


@pytest.fixture
def base(org):
    reset(org, "okta", "mail")
    return org_url(org)


def test_add_the_workspaces_radius_app_refused_then_added_and_assigned(page, org, base, shot):
    sign_in(page, base, "/admin/apps")
    page.get_by_role("link", name="Add Amazon WorkSpaces (RADIUS)").click()
    labels = page.get_by_label("Application username format").locator("option").all_inner_texts()
    assert {"Okta username", "Okta username prefix", "Email", "AD SAM account name"} <= set(labels)
    page.get_by_label("Application label").fill("WorkSpaces class")
    page.get_by_label("UDP Port").fill("70000")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("alert")).to_contain_text("settings.app.port: must be a UDP port number")
    assert page.get_by_label("Application label").input_value() == "WorkSpaces class"
    shot(page, "01-radius-app-refused")

    page.get_by_label("UDP Port").fill("1813")
    page.get_by_label("Secret Key").fill("class-Secret-1")
    page.get_by_label("Okta performs primary authentication").check()
    page.get_by_label("Application username format").select_option(label="Okta username prefix")
    page.get_by_label("Include groups in RADIUS response").select_option(label="Class (25)")
    page.get_by_label(re.compile("^Groups to return")).fill("WorkSpaces Users")
    shot(page, "02-radius-app-form")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status")).to_have_text("Application added: WorkSpaces class")
    assert "class-Secret-1" not in page.content()               # the secret is never shown again
    with api(org) as client:
        app = next(a for a in client.get("/api/v1/radius/apps").json() if a["label"] == "WorkSpaces class")
    assert (app["port"], app["sharedSecret"], app["primaryAuth"]) == (1813, "class-Secret-1", True)
    assert app["usernameTemplate"] == '${fn:substringBefore(source.login, "@")}'
    assert app["groupReturn"] == {"attribute": 25, "groups": ["WorkSpaces Users"], "vendorId": 9, "vendorType": 1}

    # Assignments: a person, then a group (its members follow, scope GROUP).
    page.get_by_role("link", name="Assignments").click()
    page.get_by_label("Assign to People").select_option(label="Carol Clark (carol@corp.example.com)")
    page.get_by_role("button", name="Assign person").click()
    expect(page.get_by_role("status")).to_have_text("Assigned: carol")
    page.get_by_label("Assign to Groups").select_option(label="WorkSpaces Users")
    page.get_by_role("button", name="Assign group").click()
    people = page.get_by_role("table", name="Assigned people")
    expect(people.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    groups = page.get_by_role("table", name="Assigned groups")
    expect(groups.get_by_role("cell", name="WorkSpaces Users", exact=True)).to_be_visible()
    shot(page, "03-radius-app-assignments")
    page.get_by_role("button", name="Remove carol").click()
    expect(people.get_by_role("cell", name="carol", exact=True)).to_have_count(0)
    with api(org) as client:
        users = {u["credentials"]["userName"]: u["scope"] for u in client.get(f"/api/v1/apps/{app['id']}/users").json()}
        events = [e["eventType"] for e in client.get("/api/v1/logs", params={"q": "application"}).json()]
    assert users["alice"] == "GROUP" and "carol" not in users
    assert "application.lifecycle.create" in events and "application.user_membership.remove" in events

    # Sign On settings: a new username format recomputes every app username; a blank secret keeps it.
    page.get_by_role("link", name="General").click()
    page.get_by_label("Application username format").select_option(label="Email")
    page.get_by_role("button", name="Save Sign On settings").click()
    expect(page.get_by_role("status")).to_contain_text("Sign On settings saved")
    shot(page, "03b-radius-app-sign-on")
    with api(org) as client:
        again = next(a for a in client.get("/api/v1/radius/apps").json() if a["id"] == app["id"])
        names = {u["credentials"]["userName"] for u in client.get(f"/api/v1/apps/{app['id']}/users").json()}
    assert again["usernameTemplate"] == "${source.email}" and again["sharedSecret"] == "class-Secret-1"
    assert again["port"] == 1813 and again["groupReturn"]["attribute"] == 25 and again["primaryAuth"] is True
    assert "alice@corp.example.com" in names


def test_a_bookmark_app_is_added_with_its_url_and_assigned(page, org, base, shot):
    sign_in(page, base, "/admin/apps")
    page.get_by_role("link", name="Add Bookmark App").click()
    page.get_by_label("Application label").fill("AWS access portal")
    page.get_by_label("URL").fill("not a url")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("alert")).to_contain_text("settings.app.url: The URL must be an absolute http or https URL")
    page.get_by_label("URL").fill("https://clients.amazonworkspaces.com/")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("cell", name="https://clients.amazonworkspaces.com/")).to_be_visible()
    page.get_by_role("link", name="Assignments").click()
    page.get_by_label("Assign to People").select_option(label="Alice Anderson (alice@corp.example.com)")
    page.get_by_role("button", name="Assign person").click()
    shot(page, "04-bookmark-app")
    with api(org) as client:
        app = next(a for a in client.get("/api/v1/apps").json() if a["label"] == "AWS access portal")
        assert app["signOnMode"] == "BOOKMARK" and app["name"] == "bookmark"
        assert app["settings"]["app"]["url"] == "https://clients.amazonworkspaces.com/"
        assert [u["credentials"]["userName"] for u in client.get(f"/api/v1/apps/{app['id']}/users").json()] \
            == ["alice@corp.example.com"]
        assert all(a["label"] != "AWS access portal" for a in client.get("/api/v1/radius/apps").json())


def test_factor_enrollment_policy_for_a_group_with_a_rule_then_reordered(page, org, base, shot):
    sign_in(page, base, "/admin/security/multifactor")
    shot(page, "05-multifactor")
    page.get_by_role("button", name="Create Policy").click()          # no name: the org's message
    expect(page.get_by_role("alert")).to_contain_text("name: The field cannot be left blank")
    page.get_by_label("Policy name").fill("WorkSpaces users")
    page.get_by_label("Assign to groups").select_option(label="WorkSpaces Users")
    page.get_by_label("Okta Verify (Push)", exact=True).select_option(label="Required")
    page.get_by_label("SMS Authentication", exact=True).select_option(label="Optional")
    page.get_by_role("button", name="Create Policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy added: WorkSpaces users")
    card = page.get_by_role("region", name="WorkSpaces users")
    card.get_by_label("Rule name").fill("Enroll at first sign in")
    card.get_by_label("Enroll in multifactor").select_option(label="the first time a user signs in")
    card.get_by_role("button", name="Add rule to WorkSpaces users").click()
    rules = page.get_by_role("table", name="Rules of WorkSpaces users")
    expect(rules.get_by_role("cell", name="the first time a user signs in")).to_be_visible()
    page.get_by_role("button", name="Move WorkSpaces users up").click()
    expect(page.get_by_role("status")).to_contain_text("moved up")
    expect(page.get_by_role("region").get_by_role("heading")).to_have_text(
        [re.compile("^1. WorkSpaces users"), re.compile("^2. Full time employees"), re.compile("^3. Default Policy")])
    shot(page, "06-multifactor-policy")
    with api(org) as client:
        pols = client.get("/api/v1/policies", params={"type": "MFA_ENROLL"}).json()
        mine = pols[0]
        assert mine["name"] == "WorkSpaces users" and mine["priority"] == 1
        factors = mine["settings"]["factors"]
        assert factors["okta_push"]["enroll"]["self"] == "REQUIRED"
        assert factors["okta_sms"]["enroll"]["self"] == "OPTIONAL"
        assert factors["okta_otp"]["enroll"]["self"] == "NOT_ALLOWED"
        rule = client.get(f"/api/v1/policies/{mine['id']}/rules").json()[0]
        assert rule["actions"]["enroll"]["self"] == "LOGIN"


def test_factor_types_deactivated_are_no_longer_offered_at_enrolment(page, org, base, shot):
    with api(org) as client:     # ivan (WorkSpaces Users) falls to the Default Policy: every factor optional
        ivan = client.get("/api/v1/users/ivan@corp.example.com").json()["id"]

        def offered() -> set[str]:
            return {f["factorType"] for f in client.get(f"/api/v1/users/{ivan}/factors/catalog").json()}

        assert {"push", "sms", "call", "email"} <= offered()
        sign_in(page, base, "/admin/security/multifactor")
        types = page.get_by_role("table", name="Factor Types")
        page.get_by_role("button", name="Deactivate SMS Authentication").click()
        expect(page.get_by_role("status")).to_have_text("SMS Authentication: inactive.")
        page.get_by_role("button", name="Deactivate Okta Verify: Enable Push Verification").click()
        expect(types.get_by_role("row", name=re.compile("Enable Push Verification"))).to_contain_text("Inactive")
        shot(page, "07-factor-types")
        assert "sms" not in offered() and "push" not in offered() and "call" in offered()
        page.get_by_role("button", name="Activate SMS Authentication").click()
        expect(page.get_by_role("status")).to_have_text("SMS Authentication: active.")
        assert "sms" in offered()
        logged = client.get("/api/v1/logs", params={"q": "system.mfa.factor"}).json()
    assert [e["eventType"] for e in logged] == ["system.mfa.factor.deactivate", "system.mfa.factor.deactivate",
                                                "system.mfa.factor.activate"]
