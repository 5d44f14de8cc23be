"""Okta Verify's number challenge in Chromium (okta + phone on 127.0.146, the org's
okta_verify_number_challenge: all): the sign-in page shows a number after Send Push, the phone's
page shows three numbers; a wrong one denies the sign-in, the right one signs Pat in. Pat also
carries a second phone (an iPad), shown by name on the phone's page."""
from __future__ import annotations

import re

import httpx
import pytest

from lab.client_env import org_url
from tests.services.okta.support import org_client
from tests.support import running_services, url

SUBNET = "127.0.146"
PAT = "pat@corp.example.com"
PASSWORD = "Pat-Passw0rd!"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"okta": {"okta_verify_number_challenge": "all", "okta_verify_max_devices": 2,
                         "push_ttl_seconds": 60}}
    with running_services(["okta", "phone"], tmp_path_factory.mktemp("ui-numbers"), SUBNET,
                          settings=settings, timeout=60) as topology:
        with org_client(topology) as api, httpx.Client(base_url=url(topology, "phone"), timeout=15) as phone:
            made = api.post("/api/v1/users", params={"activate": "true"},
                            json={"profile": {"login": PAT, "firstName": "Pat", "lastName": "P"},
                                  "credentials": {"password": {"value": PASSWORD}}})
            assert made.status_code == 200, made.text
            uid = made.json()["id"]
            for device in ("Lab iPhone", "Lab iPad"):
                push = api.post(f"/api/v1/users/{uid}/factors", json={"factorType": "push", "provider": "OKTA"})
                assert push.status_code == 200, push.text
                scan = phone.post("/scan", params={"device": device},
                                  json={"uri": push.json()["_embedded"]["activation"]["qrContents"]})
                assert scan.status_code == 200, scan.text
        yield topology


def sign_in_and_send_push(page, org: str, shot=None) -> int:
    page.goto(f"{org}/login")
    page.get_by_label("Username").fill(PAT)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name="Verify it's you").wait_for()
    # two Okta Verify devices: each push is offered under its device's name
    assert page.get_by_role("button", name="Send Push (Lab iPad)", exact=True).count() == 1
    if shot:
        shot(page, "00-two-devices")
    page.get_by_role("button", name="Send Push (Lab iPhone)", exact=True).click()
    page.get_by_text("On Okta Verify, tap this number").wait_for()
    return int(page.locator("[data-number-challenge]").inner_text())


def test_number_challenge_on_the_sign_in_page_and_the_phone(lab, browser, shot):
    from playwright.sync_api import expect
    org, phone = org_url(lab), url(lab, "phone")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    try:
        user, mobile = context.new_page(), context.new_page()
        mobile.goto(f"{phone}/phone/pat")
        expect(mobile.get_by_text("on Lab iPad").first).to_be_visible()
        shot(mobile, "01-phone-two-devices")

        # a wrong number: the sign-in is denied
        number = sign_in_and_send_push(user, org, shot)
        shot(user, "02-sign-in-shows-the-number")
        card = mobile.locator("section.push")
        expect(card.get_by_text("Tap the number shown on the sign-in page")).to_be_visible()
        buttons = card.get_by_role("button", name=re.compile(r"^\d{2}$"))
        expect(buttons).to_have_count(3)
        choices = [int(b) for b in buttons.all_inner_texts()]
        assert number in choices
        expect(card.get_by_role("button", name="Yes, it's me")).to_have_count(0)
        shot(mobile, "03-phone-three-numbers")
        wrong = next(n for n in choices if n != number)
        card.get_by_role("button", name=str(wrong), exact=True).click()
        expect(mobile.get_by_text(f"denied (tapped {wrong})")).to_be_visible()
        expect(user.get_by_role("alert")).to_be_visible()
        shot(user, "04-sign-in-denied")

        # the right number: signed in
        user.get_by_role("button", name="Send Push again").click()
        user.get_by_text("On Okta Verify, tap this number").wait_for()
        number = int(user.locator("[data-number-challenge]").inner_text())
        card = mobile.locator("section.push")
        card.get_by_role("button", name=str(number), exact=True).click()
        expect(user.get_by_role("heading", name="My Apps")).to_be_visible()
        shot(user, "05-signed-in")
        expect(mobile.get_by_text(f"approved (tapped {number})")).to_be_visible()
        shot(mobile, "06-phone-after")
    finally:
        context.close()
