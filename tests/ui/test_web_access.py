"""WorkSpaces Web Access in Chromium, on a lab with every component real (dc, okta, phone,
radius-agent, ad-connector, workspaces on 127.0.126): Bob enters the registration code, then his
user name, password and, in the field labelled with the directory's display label ("Okta"), the
code his phone shows, or `push`, approved on the phone's page while Web Access waits; a wrong code
and Web Access denied by the directory's access properties show the client's messages; and the
Okta bookmark app, added in the Okta admin console, shows as a tile on his dashboard that opens
Web Access.

Screenshots: reports/ui/test_web_access/ (the committed copies are docs/screenshots/web-access-*.png).
The access properties are set with boto3 (the console's pages are another module's tests).
"""
from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lab.client_env import org_url
from lab.provision import enrol_okta_verify
from tests.services.workspaces.fakes import aws_client
from tests.support import admin_headers, default_seed, running_services, url
from tests.ui.okta_admin import api as okta_api
from tests.ui.okta_admin import sign_in as admin_sign_in

SUBNET = "127.0.126"
DIRECTORY = "d-9067a1b2c3"
CODE = "WSlab+ABC12D"
BOB, BOB_PASSWORD = "bob", "Bob-Passw0rd!"
SERVICES = ["dc", "okta", "phone", "radius-agent", "ad-connector", "workspaces"]
AUTH_FAILED = "Authentication Failed: Please check your username and password to make sure you typed them correctly"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
                "workspaces": {"stage_delay_seconds": 0.3}, "okta": {"delegated_auth": "ldap"}}
    with running_services(SERVICES, tmp_path_factory.mktemp("ui-webaccess"), SUBNET, settings=settings) as topo:
        seed = default_seed()       # as `lab up` does, for bob only: Okta Verify on his phone
        enrol_okta_verify(topo, {"domain": seed["domain"], "users": [u for u in seed["users"] if u["sam"] == BOB]})
        yield topo


@pytest.fixture(autouse=True)
def fresh(lab):
    """WorkSpaces as seeded (Web Access off, no sessions); Bob's phone answers pushes by itself."""
    resp = httpx.post(url(lab, "workspaces", "admin") + "/reset", timeout=60, headers=admin_headers(lab))
    assert resp.status_code == 200
    phone_behaviour(lab, "approve")


def phone_behaviour(lab, action: str) -> None:
    assert httpx.put(url(lab, "phone") + f"/accounts/{BOB}/behaviour", json={"action": action}).status_code == 200


def web_access(lab, allowed: bool) -> None:
    aws_client(lab, "workspaces").modify_workspace_access_properties(
        ResourceId=DIRECTORY, WorkspaceAccessProperties={"DeviceTypeWeb": "ALLOW" if allowed else "DENY"})


def phone_code(lab) -> str:
    return httpx.get(url(lab, "phone") + f"/accounts/{BOB}/code").json()["code"]


def register(page: Any, start: str | None = None) -> None:
    if start:
        page.goto(start)
    page.get_by_role("heading", name="Enter your registration code").wait_for()
    page.get_by_label("Registration code").fill(CODE)
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Sign In").wait_for()


def sign_in(page: Any, mfa: str) -> None:
    page.get_by_label("Username").fill(BOB)
    page.get_by_label("Password").fill(BOB_PASSWORD)
    page.get_by_label("Okta").fill(mfa)
    page.get_by_role("button", name="Sign In").click()


def on_desktop(page: Any) -> None:
    page.get_by_role("region", name="WorkSpace desktop").wait_for(timeout=60_000)
    desktop = page.get_by_role("region", name="WorkSpace desktop").inner_text()
    assert re.search(r"Computer name\s+WSAMZN-", desktop), desktop
    assert re.search(r"User\s+bob", desktop) and "Standard" in desktop and "wsb-0123456789" in desktop, desktop
    assert page.get_by_role("heading", name=re.compile(r"^WSAMZN-")).is_visible()


def test_sign_in_with_the_code_on_the_phone(lab, page, shot):
    web_access(lab, True)
    page.goto(url(lab, "workspaces") + "/webclient")
    shot(page, "web-access-01-registration")
    register(page)
    assert page.get_by_label("Okta").is_visible(), "the MFA field wears the directory's display label"
    shot(page, "web-access-02-signin")
    sign_in(page, phone_code(lab))
    on_desktop(page)
    shot(page, "web-access-03-desktop")
    page.get_by_role("button", name="Disconnect").click()
    page.get_by_role("heading", name="Sign In").wait_for()      # the code is remembered, as the client does


def test_sign_in_with_push_approved_on_the_phone(lab, page, shot):
    web_access(lab, True)
    phone_behaviour(lab, "ignore")            # the phone leaves the push to Bob
    phone_page = page.context.new_page()
    phone_page.goto(url(lab, "phone") + f"/phone/{BOB}")
    register(page, url(lab, "workspaces") + "/webclient")
    sign_in(page, "push")
    page.get_by_role("status").get_by_text("Waiting for you to approve the sign-in on your phone").wait_for()
    shot(page, "web-access-04-push-waiting")
    card = phone_page.locator("section.push")
    card.get_by_role("heading", name="Did you just try to sign in?").wait_for(timeout=30_000)
    shot(phone_page, "web-access-05-phone-push")
    card.get_by_role("button", name="Yes, it's me").click()
    on_desktop(page)
    shot(page, "web-access-06-desktop-after-push")


def test_a_wrong_code_shows_the_clients_message(lab, page, shot):
    web_access(lab, True)
    register(page, url(lab, "workspaces") + "/webclient")
    wrong = f"{(int(phone_code(lab)) + 500_000) % 1_000_000:06d}"
    sign_in(page, wrong)
    assert page.get_by_role("alert").inner_text() == AUTH_FAILED
    assert page.get_by_label("Username").input_value() == BOB, "the form is back, the user name kept"
    shot(page, "web-access-07-wrong-code")


def test_web_access_denied_shows_the_clients_message(lab, page, shot):
    web_access(lab, False)
    register(page, url(lab, "workspaces") + "/webclient")
    sign_in(page, phone_code(lab))
    denied = page.get_by_role("alert").inner_text()
    assert denied.startswith("This OS/platform is not authorized to access your WorkSpace"), denied
    shot(page, "web-access-08-denied")


def test_the_bookmark_tile_on_the_okta_dashboard_opens_web_access(lab, page, browser, shot):
    web_access(lab, True)
    org, web_access_url = org_url(lab), url(lab, "workspaces") + "/webclient"
    # the administrator adds the bookmark app in the Okta admin console and assigns it to Bob
    admin = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        console = admin.new_page()
        admin_sign_in(console, org, "/admin/apps")
        console.get_by_role("link", name="Add Bookmark App").click()
        console.get_by_label("Application label").fill("WorkSpaces Web Access")
        console.get_by_label("URL").fill(web_access_url)
        console.get_by_role("button", name="Done").click()
        console.get_by_role("cell", name=web_access_url).wait_for()
        console.get_by_role("link", name="Assignments").click()
        console.get_by_label("Assign to People").select_option(label="Bob Brown (bob@corp.example.com)")
        console.get_by_role("button", name="Assign person").click()
        shot(console, "web-access-09-okta-bookmark-app")
    finally:
        admin.close()
    with okta_api(lab) as okta:
        app = next(a for a in okta.get("/api/v1/apps").json() if a["label"] == "WorkSpaces Web Access")
        assert app["signOnMode"] == "BOOKMARK" and app["name"] == "bookmark"
        assert app["settings"]["app"] == {"url": web_access_url, "requestIntegration": False}
    # Bob signs in to his Okta dashboard and opens the tile
    page.goto(f"{org}/login")
    page.get_by_label("Username").fill(BOB)
    page.get_by_label("Password").fill(BOB_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    verify = page.get_by_role("button", name="Send Push")
    home = page.get_by_role("heading", name="My Apps")
    verify.or_(home).first.wait_for()
    if verify.is_visible():                   # Bob has Okta Verify: the org asks for it (his phone approves)
        verify.click()
    home.wait_for(timeout=60_000)
    tile = page.get_by_role("link", name="WorkSpaces Web Access")
    shot(page, "web-access-10-okta-dashboard-tile")
    with page.context.expect_page() as opened:
        tile.click()
    client = opened.value
    client.wait_for_url(web_access_url)            # through the org's app link, as in Okta
    register(client)
    sign_in(client, "push")
    on_desktop(client)
    shot(client, "web-access-11-desktop-from-bookmark")
