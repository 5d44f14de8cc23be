"""The walkthrough's steps as a person does them in the pages, shared by the Okta half
(test_okta_walkthrough.py) and the whole walkthrough (test_full_walkthrough.py).

Each step clicks and types only (reading what a page shows is fine), checks what the page then
says, and hands its screenshot to `Steps`. Nothing here calls an API or the `lab` command.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from .okta_admin import ADMIN

ALICE = "alice@corp.example.com"          # in AD's "WorkSpaces Users" (lab/seeds/default.yaml)
ALICE_PASSWORD = "Alice-Passw0rd!"
SLOW = 60_000                             # an import or a delegated sign-in waits for the agent's poll


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


# -- the Okta admin console ------------------------------------------------------------------------
def okta_admin_sign_in(admin: Any, org: str) -> None:
    admin.goto(f"{org}/admin")
    admin.get_by_label("Username").fill(ADMIN["login"])
    admin.get_by_label("Password").fill(ADMIN["password"])
    admin.get_by_role("button", name="Sign in").click()


def okta_import_ad(admin: Any, steps: Steps) -> None:
    """Directory Integrations → Import Now (full); Alice arrives, STAGED."""
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


def okta_add_radius_app(admin: Any, steps: Steps, secret: str, port: str = "1812") -> None:
    """Applications → Add Amazon WorkSpaces (RADIUS); its Assignments → the group."""
    admin.get_by_role("link", name="Applications").click()
    admin.get_by_role("link", name="Add Amazon WorkSpaces (RADIUS)").click()
    admin.get_by_label("Application label").fill("Amazon WorkSpaces")
    admin.get_by_label("UDP Port").fill(port)
    admin.get_by_label("Secret Key").fill(secret)
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


def okta_push_policy(admin: Any, steps: Steps) -> None:
    """Security → Multifactor: push on; a policy for the group, Okta Verify required, its rule."""
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


def okta_activate_alice(admin: Any, steps: Steps) -> None:
    """People → Alice → Activate: the activation email goes out."""
    admin.get_by_role("link", name="People").click()
    admin.get_by_role("link", name="Alice Anderson").click()
    admin.get_by_role("button", name="Activate").click()
    expect(admin.get_by_role("heading", name=re.compile("Alice Anderson"))).to_have_text(
        re.compile("(PROVISIONED|ACTIVE)$"))
    expect(admin.get_by_role("status")).to_contain_text("the activation email went to their primary email")
    steps.done(admin, "alice-activated")


# -- Alice: her mailbox, the sign-in pages and her phone --------------------------------------------
def alice_enrols_okta_verify(user: Any, context: Any, mail: str, steps: Steps) -> Any:
    """The mailbox → the activation email → its link; her AD password; Okta Verify by scanning
    (push, then codes). Returns her phone's page."""
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
    user.get_by_label("Enter code").fill(phone_code(phone_page))
    user.get_by_role("button", name="Verify").click()
    expect(user.get_by_role("heading", name="My Apps")).to_be_visible()
    steps.done(user, "enrolled-dashboard")
    return phone_page


def phone_code(phone_page: Any) -> str:
    """The six digits Okta Verify shows on the phone's page for Alice's account."""
    code = phone_page.locator(".account").first.locator("[data-code]")
    expect(code).to_have_text(re.compile(r"^\s*\d{3} ?\d{3}\s*$"))
    return code.inner_text().replace(" ", "").strip()


def phone_leaves_pushes_to_alice(phone_page: Any, phone: str) -> None:
    """Her phone's page: a push waits for her answer (no automatic approve or deny)."""
    phone_page.goto(f"{phone}/phone/alice")
    phone_page.get_by_label("When a push arrives").select_option("ignore")
    phone_page.get_by_role("button", name="Save").click()
    expect(phone_page.get_by_role("status")).to_contain_text(f"{ALICE}: ignore")


def approve_push(phone_page: Any, steps: Steps | None = None, name: str = "phone-push-card") -> None:
    push = phone_page.locator("section.push")
    expect(push.get_by_role("heading", name="Did you just try to sign in?")).to_be_visible(timeout=SLOW)
    if steps is not None:
        steps.done(phone_page, name)
    push.get_by_role("button", name="Yes, it's me").click()
