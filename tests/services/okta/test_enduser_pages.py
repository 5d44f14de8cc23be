"""The org's end-user pages in-process (FastAPI's TestClient over a real store): an Okta-mastered
user's activation link (choose a password), the dashboard's tiles from the user's app links (a
bookmark app has one and opens its URL; a RADIUS app has none), a session's cookie, and the CSRF
check on the forms. The browser journey with AD users, the phone and the mailbox is
tests/ui/test_enduser_onboarding.py."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from services.okta.app import make_app
from services.okta.gate import ensure_token
from services.okta.org import Org
from services.okta.users import create_user, issue_activation_token
from tests.services.okta.support import in_process_org

PASSWORD = "Corr3ct-Horse"


@pytest.fixture
def org(tmp_path) -> Org:
    return in_process_org(tmp_path, "http://testserver")


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def assign(org: Org, app: dict, user: dict) -> None:
    org.store.put("apps", app["id"], app)
    org.people.save_app_user({"id": user["id"], "appId": app["id"], "userId": user["id"], "scope": "USER",
                              "status": "ACTIVE", "credentials": {"userName": user["profile"]["login"]}})


def test_activation_link_of_an_okta_user_sets_the_password_then_the_dashboard_has_the_bookmark(org):
    user = create_user(org, {"login": "ann@x.com", "email": "ann@x.com", "firstName": "Ann"}, "PROVISIONED")
    token = issue_activation_token(org, user)
    org.people.save(user)
    assign(org, {"id": "0oabookmark1", "name": "bookmark", "label": "Team wiki", "status": "ACTIVE",
                 "signOnMode": "BOOKMARK", "settings": {"app": {"url": "https://wiki.example.com/start"}}}, user)
    assign(org, {"id": "0oaradius1", "name": "radius_workspaces", "label": "Amazon WorkSpaces", "status": "ACTIVE",
                 "signOnMode": "RADIUS", "settings": {"app": {}}}, user)
    with TestClient(make_app(org), follow_redirects=False) as browser:
        page = browser.get(f"/welcome/{token}")
        assert page.status_code == 200 and "Welcome to Okta, Ann!" in page.text
        step = browser.post(f"/welcome/{token}", data={"csrf_token": csrf_of(page.text)})
        assert step.headers["location"] == "/login/step"
        page = browser.get("/login/step")
        assert "Choose a password" in page.text
        weak = browser.post("/login/step", data={"csrf_token": csrf_of(page.text), "action": "reset_password",
                                                 "newPassword": "short", "confirmPassword": "short"})
        assert weak.status_code == 403 and "Password requirements" in weak.text       # the API's own words
        done = browser.post("/login/step", data={"csrf_token": csrf_of(page.text), "action": "reset_password",
                                                 "newPassword": PASSWORD, "confirmPassword": PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/app/UserHome"
        assert "HttpOnly" in done.headers["set-cookie"] and "samesite=lax" in done.headers["set-cookie"].lower()
        assert browser.get(f"/welcome/{token}").status_code == 404               # the link works once
        home = browser.get("/app/UserHome")
        tiles = re.findall(r'<a class="tile" href="([^"]+)"[^>]*>([^<]+)</a>', home.text)
        assert tiles == [("http://testserver/home/bookmark/0oabookmark1/link", "Team wiki")]
        opened = browser.get("/home/bookmark/0oabookmark1/link")
        assert opened.status_code == 302 and opened.headers["location"] == "https://wiki.example.com/start"
        assert browser.get("/home/radius_workspaces/0oaradius1/link").status_code == 404
        assert "No verification methods" in browser.get("/enduser/settings").text
        signout = browser.post("/login/signout", data={"csrf_token": csrf_of(home.text)})
        assert signout.headers["location"] == "/login"
        assert browser.get("/app/UserHome").headers["location"] == "/login?fromURI=/app/UserHome"
    assert org.people.user(user["id"])["status"] == "ACTIVE"


def test_sign_in_without_mfa_and_a_wrong_password_and_forms_without_their_token(org):
    create_user(org, {"login": "bo@x.com", "email": "bo@x.com"}, "ACTIVE", password=PASSWORD)
    with TestClient(make_app(org), follow_redirects=False) as browser:
        page = browser.get("/login?fromURI=/enduser/settings")
        token = csrf_of(page.text)
        assert browser.post("/login", data={"username": "bo", "password": PASSWORD}).status_code == 403
        wrong = browser.post("/login", data={"username": "bo", "password": "nope", "csrf_token": token})
        assert wrong.status_code == 401 and "Authentication failed" in wrong.text
        ok = browser.post("/login", data={"username": "bo", "password": PASSWORD, "csrf_token": token})
        assert ok.status_code == 303 and ok.headers["location"] == "/enduser/settings"   # where it was asked
        assert browser.get("/login?fromURI=//evil.example.com").headers["location"] == "/app/UserHome"


def test_a_bookmark_app_made_by_the_apps_api_opens_its_url_from_the_tile(org):
    """Found by the Web Access browser test: the Apps API keeps the URL under `bookmark`, and the
    tile's link looked only at `settings.app` (the shape Okta serves), so it answered 404."""
    user = create_user(org, {"login": "bo@x.com", "email": "bo@x.com"}, "ACTIVE", password=PASSWORD)
    token = "00" + "t" * 40
    ensure_token(org, token)
    with TestClient(make_app(org), follow_redirects=False) as browser:
        created = browser.post("/api/v1/apps", headers={"Authorization": f"SSWS {token}"}, json={
            "name": "bookmark", "label": "Amazon WorkSpaces", "signOnMode": "BOOKMARK",
            "settings": {"app": {"requestIntegration": False, "url": "http://127.0.10.50:8080/webclient"}}})
        assert created.status_code == 200, created.text
        app = created.json()
        assert app["settings"]["app"] == {"url": "http://127.0.10.50:8080/webclient", "requestIntegration": False}
        assigned = browser.post(f"/api/v1/apps/{app['id']}/users", json={"id": user["id"]},
                                headers={"Authorization": f"SSWS {token}"})
        assert assigned.status_code == 200, assigned.text
        page = browser.get("/login")
        ok = browser.post("/login", data={"username": "bo", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        assert ok.status_code == 303
        tiles = re.findall(r'<a class="tile" href="([^"]+)"[^>]*>([^<]+)</a>', browser.get("/app/UserHome").text)
        assert tiles == [(f"http://testserver/home/bookmark/{app['id']}/link", "Amazon WorkSpaces")]
        opened = browser.get(f"/home/bookmark/{app['id']}/link")
        assert opened.status_code == 302 and opened.headers["location"] == "http://127.0.10.50:8080/webclient"
