"""The Okta half of the walkthrough, from the AD import to a push sign-in, by clicking only (issue 12).

One continuous test on a blank lab (dc, okta, mail, phone, ad-agent on 127.0.69): the administrator
signs in to the console, imports Active Directory, adds the Amazon WorkSpaces RADIUS app and
assigns it to "WorkSpaces Users", checks Okta Verify's push and adds an enrolment policy with its
rule, and activates Alice; Alice opens the activation email in the mailbox page, signs in with her
AD password, sets up Okta Verify by scanning with her phone's page, then signs in with a push she
approves on the phone's page; the administrator sees it all in the System Log. Nothing goes through
the API or the `lab` command: every step is a click or typing in a page (reading what a page shows
is fine). A screenshot per step in reports/ui/test_okta_walkthrough/; each step's time is printed
(`-s` shows it) rather than asserted.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import running_services, url

from .okta_admin import ADMIN

SUBNET = "127.0.69"
SERVICES = ["dc", "okta", "mail", "phone", "ad-agent"]
ALICE = "alice@corp.example.com"          # in AD's "WorkSpaces Users" (lab/seeds/default.yaml)
ALICE_PASSWORD = "Alice-Passw0rd!"
SLOW = 60_000                             # an import or a delegated sign-in waits for the agent's poll


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # The agent's long poll shortened as in the scenarios' blank lab; the walkthrough is unchanged.
    with running_services(SERVICES, tmp_path_factory.mktemp("ui-walkthrough"), SUBNET, blank=True,
                          settings={"ad-agent": {"poll_wait_seconds": 2}}) as topology:
        yield topology


class Steps:
    """Names each step, takes its screenshot, and keeps its time for the report."""

    def __init__(self, shot: Callable[[Any, str], Any]) -> None:
        self.shot, self.started = shot, time.monotonic()
        self.times: list[tuple[str, float]] = []

    def done(self, page: Any, name: str) -> None:
        now = time.monotonic()
        self.times.append((name, now - self.started))
        self.started = now
        self.shot(page, f"{len(self.times):02d}-{name}")

    def report(self) -> None:
        for name, seconds in self.times:
            print(f"  {name:<32} {seconds:6.1f} s")
        print(f"  {'total':<32} {sum(s for _, s in self.times):6.1f} s")


def reload_until(page: Any, locator: Any, timeout_s: float = 90) -> None:
    """What a person does on a page that does not refresh itself: reload until it shows `locator`."""
    deadline = time.monotonic() + timeout_s
    while not locator.is_visible():
        assert time.monotonic() < deadline, f"not shown after {timeout_s} s: {locator}"
        page.wait_for_timeout(1000)
        page.reload()


def test_the_okta_walkthrough_from_the_ad_import_to_a_push_sign_in(lab, page, browser, shot):
    org, mail, phone = url(lab, "okta"), url(lab, "mail"), url(lab, "phone")
    steps = Steps(shot)
    page.context.set_default_timeout(30_000)
    admin = page

    # 1. The admin signs in; Directory Integrations → Import Now (full); Alice arrives, STAGED.
    admin.goto(f"{org}/admin")
    admin.get_by_label("Username").fill(ADMIN["login"])
    admin.get_by_label("Password").fill(ADMIN["password"])
    admin.get_by_role("button", name="Sign in").click()
    admin.get_by_role("navigation", name="Admin console").get_by_role("link", name="Directory Integrations").click()
    reload_until(admin, admin.get_by_role("table", name="Agents").get_by_role("cell", name="ACTIVE"))
    admin.get_by_label("Full import").check()
    admin.get_by_role("button", name="Import Now").click()
    expect(admin.get_by_role("status")).to_contain_text("Full import requested")
    imports = admin.get_by_role("table", name="Imports")
    expect(imports.get_by_role("cell", name="COMPLETED")).to_be_visible(timeout=SLOW)
    expect(imports).to_contain_text(re.compile(r"users\.created: [1-9]\d*"))
    steps.done(admin, "import-completed")
    admin.get_by_role("link", name="People").click()
    admin.get_by_role("link", name="Alice Anderson").click()
    expect(admin.get_by_role("heading", name=re.compile("Alice Anderson"))).to_have_text(re.compile("STAGED$"))
    steps.done(admin, "alice-imported")

    # 2. Applications → Add Amazon WorkSpaces (RADIUS); its Assignments → the group.
    admin.get_by_role("link", name="Applications").click()
    admin.get_by_role("link", name="Add Amazon WorkSpaces (RADIUS)").click()
    admin.get_by_label("Application label").fill("Amazon WorkSpaces")
    admin.get_by_label("UDP Port").fill("1812")
    admin.get_by_label("Secret Key").fill("Walkthrough-Secret-1")
    admin.get_by_label("Application username format").select_option(label="AD SAM account name")
    steps.done(admin, "radius-app-form")
    admin.get_by_role("button", name="Done").click()
    expect(admin.get_by_role("status")).to_have_text("Application added: Amazon WorkSpaces")
    admin.get_by_role("link", name="Assignments").click()
    admin.get_by_label("Assign to Groups").select_option(label="WorkSpaces Users")
    admin.get_by_role("button", name="Assign group").click()
    expect(admin.get_by_role("table", name="Assigned groups").get_by_role(
        "cell", name="WorkSpaces Users", exact=True)).to_be_visible()
    expect(admin.get_by_role("table", name="Assigned people").get_by_role(
        "cell", name="alice", exact=True)).to_be_visible()
    steps.done(admin, "radius-app-assigned")

    # 3. Security → Multifactor: push on; a policy for the group, Okta Verify required, its rule.
    admin.get_by_role("link", name="Multifactor").click()
    push_type = admin.get_by_role("table", name="Factor Types").get_by_role(
        "row", name=re.compile("Okta Verify: Enable Push Verification"))
    if push_type.get_by_role("button", name=re.compile("^Activate")).count():
        push_type.get_by_role("button", name=re.compile("^Activate")).click()
    expect(push_type).to_contain_text("Active")
    expect(push_type).not_to_contain_text("Inactive")
    admin.get_by_label("Policy name").fill("WorkSpaces users")
    admin.get_by_label("Assign to groups").select_option(label="WorkSpaces Users")
    admin.get_by_label("Okta Verify (TOTP)", exact=True).select_option(label="Required")
    admin.get_by_label("Okta Verify (Push)", exact=True).select_option(label="Required")
    admin.get_by_role("button", name="Create Policy").click()
    expect(admin.get_by_role("status")).to_contain_text("Policy added: WorkSpaces users")
    card = admin.get_by_role("region", name="WorkSpaces users")
    card.get_by_label("Rule name").fill("First sign in")
    card.get_by_label("Enroll in multifactor").select_option(label="the first time a user signs in")
    card.get_by_role("button", name="Add rule to WorkSpaces users").click()
    expect(admin.get_by_role("table", name="Rules of WorkSpaces users").get_by_role(
        "cell", name="the first time a user signs in")).to_be_visible()
    steps.done(admin, "multifactor-policy")

    # 4. People → Alice → Activate: the activation email goes out.
    admin.get_by_role("link", name="People").click()
    admin.get_by_role("link", name="Alice Anderson").click()
    admin.get_by_role("button", name="Activate").click()
    expect(admin.get_by_role("heading", name=re.compile("Alice Anderson"))).to_have_text(
        re.compile("(PROVISIONED|ACTIVE)$"))
    expect(admin.get_by_role("status")).to_contain_text("the activation email went to their primary email")
    steps.done(admin, "alice-activated")

    # Alice has her own browser (her own cookies: the org's session is one cookie per browser).
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    try:
        user = context.new_page()
        # 5. The mailbox → the activation email → its link; her AD password; Okta Verify by scanning.
        user.goto(f"{mail}/?to=alice")
        user.get_by_role("link", name=re.compile("Welcome to Okta!")).first.click(timeout=SLOW)
        message = user.frame_locator("iframe.message")
        message.get_by_role("link", name=re.compile("Activate")).first.wait_for()
        steps.done(user, "mailbox-activation-email")
        message.get_by_role("link", name=re.compile("Activate")).first.click()
        user.wait_for_url(re.compile(r"/welcome/"))
        expect(user.get_by_role("heading", name="Welcome to Okta, Alice!")).to_be_visible()
        user.get_by_label("Password").fill(ALICE_PASSWORD)
        user.get_by_role("button", name="Sign In").click()
        expect(user.get_by_role("heading", name="Set up multifactor authentication")).to_be_visible(timeout=SLOW)
        user.get_by_label("iPhone").check()
        user.get_by_role("button", name="Setup").click()
        expect(user.get_by_role("heading", name="Set up Okta Verify")).to_be_visible()
        user.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
        steps.done(user, "okta-verify-qr")
        with context.expect_page() as opened:
            user.get_by_role("link", name="Scan with my phone").click()
        phone_page = opened.value
        phone_page.get_by_role("button", name="Scan").click()
        expect(phone_page.get_by_role("status")).to_contain_text(f"Account added: {ALICE} (push notifications).")
        steps.done(phone_page, "phone-scanned-push")
        expect(user.get_by_role("heading", name="Set up Okta Verify codes")).to_be_visible()
        with context.expect_page() as opened:
            user.get_by_role("link", name="Scan with my phone").click()
        phone_page.close()
        phone_page = opened.value
        phone_page.get_by_role("button", name="Scan").click()
        expect(phone_page.get_by_role("status")).to_contain_text("(push notifications and codes)")
        code = phone_page.locator(".account").first.locator("[data-code]")
        expect(code).to_have_text(re.compile(r"^\s*\d{3} ?\d{3}\s*$"))
        user.get_by_label("Enter code").fill(code.inner_text().replace(" ", ""))
        user.get_by_role("button", name="Verify").click()
        expect(user.get_by_role("heading", name="My Apps")).to_be_visible()
        steps.done(user, "enrolled-dashboard")
        user.get_by_role("button", name="Sign out").click()
        expect(user.get_by_role("heading", name="Sign In")).to_be_visible()

        # 6. The sign-in page: username, password, Send Push; Yes, it's me on the phone's page.
        phone_page.goto(f"{phone}/phone/alice")       # the phone leaves each push to her
        phone_page.get_by_label("When a push arrives").select_option("ignore")
        phone_page.get_by_role("button", name="Save").click()
        expect(phone_page.get_by_role("status")).to_contain_text(f"{ALICE}: ignore")
        user.get_by_label("Username").fill("alice")
        user.get_by_label("Password").fill(ALICE_PASSWORD)
        user.get_by_role("button", name="Sign In").click()
        expect(user.get_by_role("heading", name="Verify it's you")).to_be_visible(timeout=SLOW)
        user.get_by_role("button", name="Send Push").click()
        expect(user.get_by_text("Push sent!")).to_be_visible()
        push = phone_page.locator("section.push")
        expect(push.get_by_role("heading", name="Did you just try to sign in?")).to_be_visible()
        steps.done(phone_page, "phone-push-card")
        push.get_by_role("button", name="Yes, it's me").click()
        expect(user.get_by_role("heading", name="My Apps")).to_be_visible()
        steps.done(user, "signed-in-with-push")
    finally:
        context.close()

    # 7. Reports → System Log: Alice's sign-in and her push.
    admin.get_by_role("link", name="System Log").click()
    admin.get_by_label("User").fill(ALICE)
    admin.get_by_role("button", name="Search").click()
    events = admin.get_by_role("table", name="Events")
    for kind in ("user.session.start", "system.push.send_factor_verify_push", "user.authentication.auth_via_mfa",
                 "user.lifecycle.activate", "user.mfa.factor.activate"):
        expect(events).to_contain_text(kind)
    steps.done(admin, "system-log")
    steps.report()
