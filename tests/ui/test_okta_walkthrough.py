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

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from lab.client_env import org_url
from tests.support import running_services, url

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
    phone_leaves_pushes_to_alice,
)

SUBNET = "127.0.69"
SERVICES = ["dc", "okta", "mail", "phone", "ad-agent"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # The agent's long poll shortened as in the scenarios' blank lab; the walkthrough is unchanged.
    with running_services(SERVICES, tmp_path_factory.mktemp("ui-walkthrough"), SUBNET, blank=True,
                          settings={"ad-agent": {"poll_wait_seconds": 2}}) as topology:
        yield topology


def test_the_okta_walkthrough_from_the_ad_import_to_a_push_sign_in(lab, page, browser, shot):
    org, mail, phone = org_url(lab), url(lab, "mail"), url(lab, "phone")
    steps = Steps(shot)
    page.context.set_default_timeout(30_000)
    admin = page

    # 1-4. The admin: AD import, the RADIUS app and its group, push and a policy, Alice activated.
    okta_admin_sign_in(admin, org)
    okta_import_ad(admin, steps)
    okta_add_radius_app(admin, steps, "Walkthrough-Secret-1")
    okta_push_policy(admin, steps)
    okta_activate_alice(admin, steps)

    # Alice has her own browser (her own cookies: the org's session is one cookie per browser).
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    try:
        user = context.new_page()
        # 5. The mailbox → the activation email → its link; her AD password; Okta Verify by scanning.
        phone_page = alice_enrols_okta_verify(user, context, mail, steps)
        user.get_by_role("button", name="Sign out").click()
        expect(user.get_by_role("heading", name="Sign In")).to_be_visible()

        # 6. The sign-in page: username, password, Send Push; Yes, it's me on the phone's page.
        phone_leaves_pushes_to_alice(phone_page, phone)
        user.get_by_label("Username").fill("alice")
        user.get_by_label("Password").fill(ALICE_PASSWORD)
        user.get_by_role("button", name="Sign In").click()
        expect(user.get_by_role("heading", name="Verify it's you")).to_be_visible(timeout=SLOW)
        user.get_by_role("button", name="Send Push").click()
        expect(user.get_by_text("Push sent!")).to_be_visible()
        approve_push(phone_page, steps)
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
