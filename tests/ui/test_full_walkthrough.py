"""The whole walkthrough in Chromium, from a blank lab, by clicking only, in the walkthrough's order.

A blank lab (every service: dc, mail, okta, ad-agent, phone, radius-agent, ad-connector,
workspaces, aws-console on 127.0.102). The operator sets up the AD Connector in the AWS console;
the Okta administrator imports AD, adds the RADIUS app and assigns it, turns on Okta Verify push
and adds an enrolment policy with its rule, and activates Alice; Alice opens the activation email
and enrols Okta Verify by scanning on her phone's page; the operator enables MFA on the directory
(RADIUS status Completed), registers it with WorkSpaces, allows Web Access and launches Alice's
WorkSpace; Alice signs in on WorkSpaces Web Access with the code her phone shows, then with `push`
approved on the phone's page, then through the bookmark tile on her Okta dashboard, which the
Okta administrator adds last. Nothing goes through an API or the `lab` command: every step is a
click or typing in a page; reading what a page shows is fine.

A screenshot per step goes to reports/ui/walkthrough/ (docs/walkthrough.md shows a committed set);
each step's time is printed (`-s`), never asserted.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lab.client_env import org_url
from tests.support import default_seed, running_services, url

from .conftest import REPORTS
from .walkthrough import (
    ALICE,
    ALICE_PASSWORD,
    SLOW,
    Steps,
    alice_enrols_okta_verify,
    approve_push,
    okta_activate_alice,
    okta_add_radius_app,
    okta_admin_sign_in,
    okta_import_ad,
    okta_push_policy,
    phone_code,
    phone_leaves_pushes_to_alice,
)

SUBNET = "127.0.102"
SERVICES = ["dc", "mail", "okta", "ad-agent", "phone", "radius-agent", "ad-connector", "workspaces", "aws-console"]
SEED = default_seed()
CONNECTOR = next(a for a in SEED["service_accounts"] if a["sam"] == SEED["aws"]["directory"]["service_account"])
SHARED_SECRET = "Walkthrough-Shared-Secret-1"      # typed twice: in the Okta app and in the AWS console
FOLDER = REPORTS / "walkthrough"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # Shorter waits than the real ones (stage delays, the AD agent's long poll, the RADIUS agent's
    # reading of its apps: 30 s, "a few minutes" at Okta); the steps are the walkthrough's.
    settings = {"ad-agent": {"poll_wait_seconds": 2}, "radius-agent": {"app_refresh_seconds": 2},
                "ad-connector": {"stage_delay_seconds": 0.5}, "workspaces": {"stage_delay_seconds": 0.5}}
    with running_services(SERVICES, tmp_path_factory.mktemp("ui-full-walkthrough"), SUBNET, blank=True,
                          settings=settings) as topology:
        yield topology


def shot_into_walkthrough(page: Any, name: str) -> Path:
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the AWS console ---------------------------------------------------------------------------------
def console_sign_in(page: Any, base: str, password: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Account ID").fill("123456789012")
    page.get_by_label("IAM user name").fill("lab-operator")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def console_set_up_directory(page: Any, dc_address: str, steps: Steps) -> str:
    """Directory Service → Set up directory (AD Connector) → Active. Returns the directory id."""
    page.get_by_role("link", name="Directory Service").first.click()
    page.get_by_role("link", name="Set up directory").click()
    page.get_by_label("Directory DNS name").fill(SEED["domain"]["dns_name"])
    page.get_by_label("Directory NetBIOS name").fill(SEED["domain"]["netbios_name"])
    page.get_by_label("DNS IP addresses").fill(dc_address)
    page.get_by_label("Service account username").fill(CONNECTOR["sam"])
    page.get_by_label("Service account password").fill(CONNECTOR["password"])
    page.get_by_label("Confirm password").fill(CONNECTOR["password"])
    steps.done(page, "aws-set-up-directory")
    page.get_by_role("button", name="Create directory").click()
    expect(page.get_by_label("Directory status")).to_have_text("Active", timeout=SLOW)    # live, no reload
    steps.done(page, "aws-directory-active")
    return page.url.rsplit("/", 1)[-1]


def console_enable_mfa(page: Any, agent: dict[str, Any], steps: Steps) -> None:
    """The directory's Multi-factor authentication → Enable, every field the walkthrough names."""
    page.get_by_role("region", name="Multi-factor authentication").get_by_role("link", name="Enable").click()
    page.get_by_label("Display label").fill("Okta")
    page.get_by_label("RADIUS server DNS name or IP addresses").fill(agent["host"])
    page.get_by_label("Port").fill(str(agent["ports"]["radius"]))
    page.get_by_label("Server timeout (in seconds)").fill("30")
    page.get_by_label("Max RADIUS request retries").fill("0")
    page.get_by_label("Shared secret code", exact=True).fill(SHARED_SECRET)
    page.get_by_label("Confirm shared secret code").fill(SHARED_SECRET)
    page.get_by_label("Protocol").select_option("PAP")
    steps.done(page, "aws-enable-mfa")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_label("RADIUS status")).to_have_text("Completed", timeout=SLOW)
    steps.done(page, "aws-mfa-completed")


def console_register_and_launch(page: Any, directory_id: str, steps: Steps) -> str:
    """WorkSpaces: register the directory, allow Web Access, launch Alice's WorkSpace. Returns the
    registration code the page shows."""
    page.get_by_role("link", name="WorkSpaces directories").click()
    page.get_by_role("button", name=f"Register {directory_id}").click()
    expect(page.get_by_label("Registration status")).to_have_text("REGISTERED", timeout=SLOW)
    code = page.get_by_label("Registration code").inner_text().strip()
    page.get_by_label("Web Access").select_option("ALLOW")
    page.get_by_role("button", name="Save access control options").click()
    expect(page.get_by_role("status")).to_contain_text("Access control options saved.")
    steps.done(page, "aws-directory-registered")
    page.get_by_role("link", name="WorkSpaces", exact=True).click()
    page.get_by_role("link", name="Launch WorkSpaces").click()
    page.get_by_label("Directory", exact=True).select_option(directory_id)
    page.get_by_label("Username").fill("alice")
    page.get_by_role("button", name="Launch WorkSpaces").click()
    row = page.get_by_role("table", name="WorkSpaces").get_by_role("row", name=re.compile(r"alice"))
    expect(row).to_contain_text("AVAILABLE", timeout=SLOW)
    steps.done(page, "aws-workspace-available")
    return code


# -- WorkSpaces Web Access ---------------------------------------------------------------------------
def web_access_sign_in(page: Any, code: str | None, mfa: str) -> None:
    """Web Access: the registration code (when it asks), then name, password and the field the
    directory's display label names."""
    page.get_by_role("heading", name=re.compile("Enter your registration code|Sign In")).first.wait_for()
    if code is not None and page.get_by_label("Registration code").is_visible():
        page.get_by_label("Registration code").fill(code)
        page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Sign In").wait_for()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(ALICE_PASSWORD)
    page.get_by_label("Okta").fill(mfa)
    page.get_by_role("button", name="Sign In").click()


def on_alices_desktop(page: Any) -> None:
    desktop = page.get_by_role("region", name="WorkSpace desktop")
    expect(desktop).to_be_visible(timeout=SLOW)
    expect(desktop).to_contain_text(re.compile(r"User\s*alice"))


def test_the_whole_walkthrough_from_a_blank_lab(lab, browser):
    org, mail, phone = org_url(lab), url(lab, "mail"), url(lab, "phone")
    aws, web_access = url(lab, "aws-console"), url(lab, "workspaces") + "/webclient"
    steps = Steps(shot_into_walkthrough)

    def person() -> Any:
        """Each person has their own browser (their own cookies)."""
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(30_000)
        return context

    operator_browser, admin_browser, alice_browser = person(), person(), person()
    try:
        operator, admin = operator_browser.new_page(), admin_browser.new_page()
        alice = alice_browser.new_page()

        # 1. AWS: the AD Connector, pointing at the domain controller's DNS.
        console_sign_in(operator, aws, lab["credentials"]["console_password"])
        directory_id = console_set_up_directory(operator, lab["services"]["dc"]["host"], steps)

        # 2. Okta: AD import, the RADIUS app and its group, push and the enrolment policy, Alice.
        okta_admin_sign_in(admin, org)
        okta_import_ad(admin, steps)
        okta_add_radius_app(admin, steps, SHARED_SECRET, port=str(lab["services"]["radius-agent"]["ports"]["radius"]))
        okta_push_policy(admin, steps)
        okta_activate_alice(admin, steps)

        # 3. Alice: the activation email, her AD password, Okta Verify scanned on her phone.
        phone_page = alice_enrols_okta_verify(alice, alice_browser, mail, steps)

        # 4. AWS: MFA on the directory, then WorkSpaces: register, Web Access allowed, launch.
        console_enable_mfa(operator, lab["services"]["radius-agent"], steps)
        code = console_register_and_launch(operator, directory_id, steps)

        # 5. Alice on WorkSpaces Web Access: the code her phone shows.
        alice.goto(web_access)
        web_access_sign_in(alice, code, phone_code(phone_page))
        on_alices_desktop(alice)
        steps.done(alice, "web-access-desktop-with-code")
        alice.get_by_role("button", name="Disconnect").click()

        # 6. Again, typing push; she approves on her phone's page.
        phone_leaves_pushes_to_alice(phone_page, phone)
        web_access_sign_in(alice, None, "push")
        approve_push(phone_page, steps, "phone-push-for-web-access")
        on_alices_desktop(alice)
        steps.done(alice, "web-access-desktop-with-push")
        alice.get_by_role("button", name="Disconnect").click()

        # 7. Optional last step: an Okta bookmark app to Web Access, on Alice's dashboard.
        admin.get_by_role("link", name="Applications").click()
        admin.get_by_role("link", name="Add Bookmark App").click()
        admin.get_by_label("Application label").fill("WorkSpaces Web Access")
        admin.get_by_label("URL").fill(web_access)
        admin.get_by_role("button", name="Done").click()
        admin.get_by_role("link", name="Assignments").click()
        admin.get_by_label("Assign to Groups").select_option(label="WorkSpaces Users")
        admin.get_by_role("button", name="Assign group").click()
        expect(admin.get_by_role("table", name="Assigned people").get_by_role(
            "cell", name=ALICE, exact=True)).to_be_visible()
        steps.done(admin, "okta-bookmark-app")
        alice.goto(org + "/login")
        home = alice.get_by_role("heading", name="My Apps")
        username = alice.get_by_label("Username")
        expect(home.or_(username).first).to_be_visible()
        if username.is_visible():          # her Okta session from the enrolment may have ended
            username.fill("alice")
            alice.get_by_label("Password").fill(ALICE_PASSWORD)
            alice.get_by_role("button", name="Sign In").click()
            alice.get_by_role("button", name="Send Push").click()
            approve_push(phone_page)
        expect(home).to_be_visible(timeout=SLOW)
        tile = alice.get_by_role("link", name="WorkSpaces Web Access")
        steps.done(alice, "okta-dashboard-tile")
        with alice_browser.expect_page() as opened:
            tile.click()
        client = opened.value
        web_access_sign_in(client, code, "push")           # her last code is spent: a push this time
        approve_push(phone_page)
        on_alices_desktop(client)
        steps.done(client, "web-access-from-the-bookmark")
    finally:
        for context in (operator_browser, admin_browser, alice_browser):
            context.close()
    steps.report()
