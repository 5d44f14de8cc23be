"""The Okta admin console: signing in, the session and CSRF rules, Directory → People and Groups,
Security → API → Tokens (Chromium against a running org)."""
from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from lab.client_env import lab_verify, org_url
from tests.support import url

from .okta_admin import ADMIN, api, browser_post, reset, sign_in

SUBNET = "127.0.62"


@pytest.fixture(scope="module")
def org(start_services):
    return start_services(["mail", "okta"], SUBNET)


@pytest.fixture
def base(org):
    reset(org, "okta", "mail")
    return org_url(org)


def test_nothing_under_admin_opens_without_signing_in(page, org, base, shot):
    for path in ("/admin", "/admin/people", "/admin/apps", "/admin/reports/syslog", "/admin/security/api"):
        page.goto(base + path)
        assert page.url.startswith(base + "/admin/signin"), path
    shot(page, "01-sign-in")
    page.get_by_label("Username").fill(ADMIN["login"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Unable to sign in")
    shot(page, "02-sign-in-refused")
    # An end user with a good password is not an administrator.
    with api(org) as client:
        client.post("/api/v1/users?activate=true", json={
            "profile": {"login": "kim@corp.example.com", "firstName": "Kim", "lastName": "Kent"},
            "credentials": {"password": {"value": "Kim-Passw0rd!"}}}).raise_for_status()
    page.get_by_label("Username").fill("kim@corp.example.com")
    page.get_by_label("Password").fill("Kim-Passw0rd!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("permission")


def test_session_cookie_is_httponly_and_a_form_without_its_csrf_token_is_refused(page, org, base, shot):
    sign_in(page, base)
    cookie = next(c for c in page.context.cookies() if c["name"] == "okta_admin_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # The same signed-in browser posts the Add Person form without the token: 403, nobody added.
    resp = browser_post(page, base + "/admin/people/new", {"firstName": "Eve", "lastName": "Evil",
                                                           "login": "eve@corp.example.com"})
    assert resp.status == 403 and "CSRF check failed" in resp.text()
    resp = browser_post(page, base + "/admin/people/new", {"firstName": "Eve", "lastName": "Evil",
                                                           "login": "eve@corp.example.com",
                                                           "csrf_token": "x" * 43})
    assert resp.status == 403
    # In the browser: the Add Person form with its token taken out.
    page.goto(base + "/admin/people/new")
    page.locator("form[action='/admin/people/new'] input[name=csrf_token]").evaluate("e => e.remove()")
    page.get_by_label("First name").fill("Eve")
    page.get_by_label("Last name").fill("Evil")
    page.get_by_label("Username").fill("eve@corp.example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("403 Forbidden")
    shot(page, "02b-csrf-refused")
    with api(org) as client:
        assert client.get("/api/v1/users", params={"q": "eve"}).json() == []
    # Without a session, a POST is sent to the sign-in page too.
    anonymous = httpx.post(base + "/admin/people/new", data={"firstName": "x"}, follow_redirects=False,
                           verify=lab_verify(org))
    assert anonymous.status_code == 303 and "/admin/signin" in anonymous.headers["location"]


def test_people_list_search_add_person_and_activate(page, org, base, shot):
    sign_in(page, base)
    expect(page.get_by_role("link", name="Alice Anderson")).to_be_visible()
    shot(page, "03-people")
    page.get_by_label("Search").fill("ivan")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Ivan Ivanov")).to_be_visible()
    expect(page.get_by_role("link", name="Alice Anderson")).to_have_count(0)

    # Add Person with a username that exists: the org's own message.
    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Add Person").click()
    page.get_by_label("First name").fill("Alice")
    page.get_by_label("Last name").fill("Again")
    page.get_by_label("Username").fill("alice@corp.example.com")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert").inner_text()
    assert "Api validation failed: login" in alert
    assert "An object with this field already exists in the current organization" in alert
    assert page.get_by_label("Last name").input_value() == "Again"      # nothing the admin typed is lost
    shot(page, "04-add-person-refused")

    # A new person, password set by the user, activation email not yet: STAGED.
    page.get_by_label("Username").fill("jane@corp.example.com")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Primary email").fill("jane@corp.example.com")
    page.get_by_label("Secondary email").fill("jane.doe@home.example.net")
    page.get_by_label("Set by user").check()
    page.get_by_label("Send user activation email now").uncheck()
    shot(page, "05-add-person")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Person added: jane@corp.example.com (STAGED)")
    expect(page.get_by_role("heading", name=re.compile("Jane Doe"))).to_have_text(re.compile("STAGED$"))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=re.compile("Jane Doe"))).to_have_text(re.compile("PROVISIONED$"))
    shot(page, "06-person-activated")

    topology = org
    with api(topology) as client:
        jane = client.get("/api/v1/users/jane@corp.example.com").json()
        assert jane["status"] == "PROVISIONED"
        assert jane["profile"]["secondEmail"] == "jane.doe@home.example.net"
        logged = client.get("/api/v1/logs", params={"filter": 'target.alternateId eq "jane@corp.example.com"'})
        events = [e["eventType"] for e in logged.json()]
        actors = {e["actor"]["alternateId"] for e in logged.json()}
    assert events == ["user.lifecycle.create", "user.lifecycle.activate"]
    assert actors == {ADMIN["login"]}          # the System Log names the admin who clicked
    mail = httpx.get(url(topology, "mail") + "/messages", params={"to": "jane@corp.example.com"}, timeout=10).json()
    assert any("Welcome to Okta" in m["subject"] for m in mail)


def test_person_lifecycle_suspend_unsuspend_reset_factors_deactivate_and_a_refusal(page, org, base, shot):
    with api(org) as client:
        bob = client.get("/api/v1/users/bob@corp.example.com").json()["id"]
        client.post(f"/api/v1/users/{bob}/factors",
                    json={"factorType": "token:software:totp", "provider": "GOOGLE"}).raise_for_status()
    sign_in(page, base)
    page.get_by_role("link", name="Bob Brown").click()
    expect(page.get_by_role("cell", name="token:software:totp")).to_be_visible()       # his factors
    expect(page.get_by_role("link", name="Amazon WorkSpaces")).to_be_visible()          # his apps
    expect(page.get_by_role("link", name="WorkSpaces Users")).to_be_visible()           # his groups
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_have_text("Person suspended.")
    page.get_by_role("button", name="Unsuspend").click()
    page.get_by_role("button", name="Reset Multifactor").click()
    expect(page.get_by_text("No factor enrolled.")).to_be_visible()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("heading", name=re.compile("Bob Brown"))).to_have_text(re.compile("DEPROVISIONED$"))
    shot(page, "07-person-deactivated")
    # The page offers only what the status allows; the API still decides, and its refusal shows.
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = browser_post(page, f"{base}/admin/people/{bob}/lifecycle/unlock", {"csrf_token": token})
    assert refused.status == 403
    assert "This operation is not allowed in the user&#39;s current status." in refused.text()
    with api(org) as client:
        types = [e["eventType"] for e in client.get("/api/v1/logs", params={"filter": f'target.id eq "{bob}"'}).json()]
    assert types[-4:] == ["user.lifecycle.suspend", "user.lifecycle.unsuspend", "user.mfa.factor.reset_all",
                          "user.lifecycle.deactivate"]


def test_a_locked_out_person_is_unlocked(page, org, base, shot):
    with api(org) as client:
        client.post("/api/v1/users?activate=true", json={
            "profile": {"login": "lou@corp.example.com", "firstName": "Lou", "lastName": "Locke"},
            "credentials": {"password": {"value": "Lou-Passw0rd!"}}}).raise_for_status()
        for _ in range(10):          # the default password policy locks out after 10 wrong passwords
            client.post("/api/v1/authn", json={"username": "lou@corp.example.com", "password": "wrong"})
            time.sleep(0.3)          # under the per-user limit of 4 authentications a second
        assert client.get("/api/v1/users/lou@corp.example.com").json()["status"] == "LOCKED_OUT"
    sign_in(page, base)
    page.get_by_role("link", name="Lou Locke").click()
    expect(page.get_by_role("heading", name=re.compile("Lou Locke"))).to_have_text(re.compile("LOCKED_OUT$"))
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name=re.compile("Lou Locke"))).to_have_text(re.compile("ACTIVE$"))
    shot(page, "08-person-unlocked")
    with api(org) as client:
        ok = client.post("/api/v1/authn", json={"username": "lou@corp.example.com", "password": "Lou-Passw0rd!"})
    assert ok.json()["status"] == "SUCCESS"


def test_groups_members_and_apps_and_api_tokens_revoke(page, org, base, shot):
    with api(org) as client:
        app = client.get("/api/v1/apps").json()[0]
        group = client.get("/api/v1/groups", params={"q": "WorkSpaces Users"}).json()[0]
        client.put(f"/api/v1/apps/{app['id']}/groups/{group['id']}", json={}).raise_for_status()
    sign_in(page, base)
    page.get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="WorkSpaces Users").click()
    expect(page.get_by_role("table", name="Members").get_by_role("link", name="Alice Anderson")).to_be_visible()
    expect(page.get_by_role("table", name="Members").get_by_role("link", name="Carol Clark")).to_have_count(0)
    expect(page.get_by_role("table", name="Applications").get_by_role("link")).to_have_text([app["label"]])
    shot(page, "09-group")

    page.get_by_role("link", name="API Tokens").click()
    expect(page.get_by_role("cell", name="Okta RADIUS agent", exact=True)).to_be_visible()
    shot(page, "10-api-tokens")
    page.get_by_role("button", name="Revoke Okta RADIUS agent").click()
    expect(page.get_by_role("status")).to_contain_text("Token revoked")
    expect(page.get_by_role("cell", name="Okta RADIUS agent", exact=True)).to_have_count(0)
    agent_token = org["credentials"]["okta_agent_token"]
    resp = httpx.get(base + "/api/v1/radius/apps", headers={"Authorization": f"SSWS {agent_token}"}, timeout=10,
                     verify=lab_verify(org))
    assert resp.status_code == 401 and resp.json()["errorCode"] == "E0000011"


def test_sign_out_ends_the_session(page, org, base):
    sign_in(page, base)
    page.get_by_role("button", name="Sign out").click()
    page.goto(base + "/admin/people")
    assert page.url.startswith(base + "/admin/signin")
