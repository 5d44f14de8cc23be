"""The Okta admin console on a blank org (the walkthrough's starting point): the first administrator
signs in, imports Active Directory through the AD agent from Directory Integrations, activates an
imported person, and watches the System Log fill without reloading. Chromium, dc + okta + ad-agent."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lab.client_env import org_url
from tests.support import wait_until

from .okta_admin import api, reset, sign_in

SUBNET = "127.0.64"
SLOW = 30_000      # an import waits for the agent's next poll and its LDAP search


@pytest.fixture(scope="module")
def org(start_services):
    return start_services(["dc", "mail", "okta", "ad-agent"], SUBNET, blank=True)


@pytest.fixture
def base(org):
    reset(org, "okta", "mail")
    with api(org) as client:    # the org forgot the agent: it registers again at its next poll
        wait_until(lambda: client.get("/api/v1/directories").json(), lambda d: d and d[0]["agents"], timeout=90,
                   interval=0.5)
    return org_url(org)


def test_a_blank_org_has_its_admin_who_imports_ad_and_activates_a_person(page, org, base, shot):
    sign_in(page, base, "/admin/directories")
    agents = page.get_by_role("table", name="Agents")
    expect(agents.get_by_role("cell", name="ACTIVE")).to_be_visible()
    page.get_by_label("Full import").check()
    page.get_by_role("button", name="Import Now").click()
    expect(page.get_by_role("status")).to_contain_text("Full import requested")
    imports = page.get_by_role("table", name="Imports")
    expect(imports.get_by_role("cell", name="COMPLETED")).to_be_visible(timeout=SLOW)   # htmx, no reload
    expect(imports).to_contain_text(re.compile(r"users\.created: \d+"))
    shot(page, "01-import-completed")

    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Alice Anderson").click()
    expect(page.get_by_role("heading", name=re.compile("Alice Anderson"))).to_have_text(re.compile("STAGED$"))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=re.compile("Alice Anderson"))).to_have_text(re.compile("ACTIVE$"))
    shot(page, "02-imported-person-activated")
    with api(org) as client:
        assert client.get("/api/v1/users/alice@corp.example.com").json()["status"] == "ACTIVE"


def test_system_log_filters_and_shows_new_events_without_reloading(page, org, base, shot):
    sign_in(page, base, "/admin/reports/syslog")
    events = page.get_by_role("table", name="Events")
    expect(events).to_contain_text("user.session.start")              # the admin's own sign-in
    page.get_by_label("Event type").fill("user.lifecycle")
    page.get_by_role("button", name="Search").click()
    expect(events).not_to_contain_text("user.session.start")
    with api(org) as client:           # meanwhile, someone creates a person through the API
        client.post("/api/v1/users?activate=false",
                    json={"profile": {"login": "live@corp.example.com", "firstName": "Liv", "lastName": "Ely"}}
                    ).raise_for_status()
    url_before = page.url
    expect(events.get_by_role("cell", name=re.compile("Liv Ely"))).to_be_visible(timeout=SLOW)
    assert page.url == url_before
    page.get_by_label("User").fill("nobody@corp.example.com")
    page.get_by_role("button", name="Search").click()
    expect(events).to_contain_text("No events.")
    page.get_by_label("User").fill("live@")
    page.get_by_label("Time").select_option(label="Last 15 minutes")
    page.get_by_role("button", name="Search").click()
    expect(events.get_by_role("row")).to_have_count(2)                 # the header and the create
    shot(page, "03-system-log")
