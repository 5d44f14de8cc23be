"""The AWS console in Chromium, on the seeded lab: the operator signs in, sets up an AD Connector
(Requested → Creating → Active on the page, no reload), enables MFA (RADIUS status Creating →
Completed), registers the directory with WorkSpaces and launches a WorkSpace (Pending → Available).
A wrong shared secret ends in RADIUS status Failed on the page; a signed-out request and a form
without its CSRF token are refused. Every call behind the pages is boto3's, SigV4-signed."""
from __future__ import annotations

import re

import boto3
import pytest
from playwright.sync_api import expect

from tests.support import default_seed, url

from .okta_admin import reset

SUBNET = "127.0.121"
SLOW = 45_000          # a lifecycle: DNS, LDAP and Kerberos checks, a RADIUS probe, stage delays
SEED = default_seed()
CONNECTOR = next(a for a in SEED["service_accounts"] if a["sam"] == SEED["aws"]["directory"]["service_account"])
SEED_DIRECTORY = SEED["aws"]["directory"]["id"]


@pytest.fixture(scope="module")
def lab(start_services):
    return start_services(["dc", "mail", "okta", "radius-agent", "ad-connector", "workspaces", "aws-console"],
                          SUBNET, settings={"ad-connector": {"stage_delay_seconds": 0.5},
                                            "workspaces": {"stage_delay_seconds": 0.5}})


@pytest.fixture
def base(lab):
    reset(lab, "ad-connector", "workspaces", "aws-console")
    return url(lab, "aws-console")


def sign_in(page, lab, base: str, path: str = "/") -> None:
    page.goto(base + path)
    page.get_by_label("Account ID").fill("123456789012")
    page.get_by_label("IAM user name").fill("lab-operator")
    page.get_by_label("Password").fill(lab["credentials"]["console_password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + path)


def ds_client(lab):
    creds = lab["credentials"]
    return boto3.client("ds", endpoint_url=url(lab, "ad-connector"), region_name=creds["aws_region"],
                        aws_access_key_id=creds["aws_access_key_id"],
                        aws_secret_access_key=creds["aws_secret_access_key"])


def enable_mfa(page, lab, secret: str) -> None:
    page.get_by_label("Display label").fill("Okta")
    page.get_by_label("RADIUS server DNS name or IP addresses").fill(lab["services"]["radius-agent"]["host"])
    page.get_by_label("Port").fill(str(lab["services"]["radius-agent"]["ports"]["radius"]))
    page.get_by_label("Server timeout (in seconds)").fill("5")
    page.get_by_label("Max RADIUS request retries").fill("1")
    page.get_by_label("Shared secret code", exact=True).fill(secret)
    page.get_by_label("Confirm shared secret code").fill(secret)
    page.get_by_label("Protocol").select_option("PAP")


def test_signed_out_requests_go_to_sign_in_and_a_wrong_password_is_refused(page, lab, base, shot):
    page.goto(base + "/directoryservice/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/directoryservice/$"))
    page.get_by_label("Account ID").fill("123456789012")
    page.get_by_label("IAM user name").fill("lab-operator")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your authentication information is incorrect")
    shot(page, "01-sign-in-refused")
    # A signed-out POST reaches no AWS API: it is sent to the sign-in page, and no directory appears.
    response = page.request.post(base + "/directoryservice/new", form={"name": "x.example.com"}, max_redirects=0)
    assert response.status == 303 and response.headers["location"].startswith("/signin")
    assert len(ds_client(lab).describe_directories()["DirectoryDescriptions"]) == 1


def test_set_up_a_directory_enable_mfa_register_and_launch_a_workspace(page, lab, base, shot):
    sign_in(page, lab, base, "/directoryservice/")
    table = page.get_by_role("table", name="Directories")
    expect(table.get_by_role("link", name=SEED_DIRECTORY)).to_be_visible()
    page.get_by_role("link", name="Set up directory").click()
    page.get_by_label("Directory DNS name").fill(SEED["domain"]["dns_name"])
    page.get_by_label("Directory NetBIOS name").fill(SEED["domain"]["netbios_name"])
    page.get_by_label("Service account username").fill(CONNECTOR["sam"])
    page.get_by_label("Service account password").fill(CONNECTOR["password"])
    page.get_by_label("Confirm password").fill(CONNECTOR["password"])
    shot(page, "02-set-up-directory")
    page.get_by_role("button", name="Create directory").click()
    status = page.get_by_label("Directory status")
    expect(status).to_have_text(re.compile("Requested|Creating"))
    url_before = page.url
    expect(status).to_have_text("Active", timeout=SLOW)                     # htmx, no reload
    assert page.url == url_before
    directory_id = url_before.rsplit("/", 1)[-1]
    shot(page, "03-directory-active")

    page.get_by_role("link", name="Enable").click()
    enable_mfa(page, lab, lab["credentials"]["radius_shared_secret"])
    shot(page, "04-enable-mfa")
    page.get_by_role("button", name="Enable").click()
    radius = page.get_by_label("RADIUS status")
    expect(radius).to_have_text(re.compile("Creating|Completed"))
    expect(radius).to_have_text("Completed", timeout=SLOW)
    shot(page, "05-mfa-completed")
    described = ds_client(lab).describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
    assert described["RadiusSettings"]["AuthenticationProtocol"] == "PAP"
    assert described["RadiusSettings"]["DisplayLabel"] == "Okta"

    page.get_by_role("link", name="WorkSpaces directories").click()
    page.get_by_role("button", name=f"Register {directory_id}").click()
    expect(page.get_by_label("Registration code")).to_have_text(re.compile(r"^WSiad\+[A-Z0-9]{6}$"))   # us-east-1
    expect(page.get_by_label("Registration status")).to_have_text("REGISTERED", timeout=SLOW)     # htmx
    shot(page, "06-directory-registered")

    page.get_by_role("link", name="WorkSpaces", exact=True).click()
    page.get_by_role("link", name="Launch WorkSpaces").click()
    page.get_by_label("Directory", exact=True).select_option(directory_id)
    page.get_by_label("Username").fill("ivan")
    page.get_by_role("button", name="Launch WorkSpaces").click()
    row = page.get_by_role("table", name="WorkSpaces").get_by_role("row", name=re.compile(rf"ivan .*{directory_id}"))
    expect(row).to_contain_text(re.compile("PENDING|AVAILABLE"))
    expect(row).to_contain_text("AVAILABLE", timeout=SLOW)
    shot(page, "07-workspace-available")


def test_a_wrong_shared_secret_ends_in_radius_status_failed(page, lab, base, shot):
    sign_in(page, lab, base, f"/directoryservice/{SEED_DIRECTORY}")
    page.get_by_role("region", name="Multi-factor authentication").get_by_role("link", name="Edit").click()
    enable_mfa(page, lab, "Not-The-Shared-Secret-1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("RADIUS status")).to_have_text("Failed", timeout=SLOW)
    shot(page, "08-mfa-failed")


def test_api_errors_show_on_the_form_in_the_apis_words(page, lab, base, shot):
    sign_in(page, lab, base, "/directoryservice/new")
    page.get_by_label("Directory DNS name").fill("not a domain")
    page.get_by_label("Service account username").fill(CONNECTOR["sam"])
    page.get_by_label("Service account password").fill("x")
    page.get_by_label("Confirm password").fill("x")
    page.get_by_role("button", name="Create directory").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"(ValidationException|InvalidParameterException): "))
    expect(page.get_by_label("Directory DNS name")).to_have_value("not a domain")     # the form keeps it
    shot(page, "09-api-error-on-form")


def test_a_form_without_its_csrf_token_is_refused(page, lab, base):
    sign_in(page, lab, base, "/directoryservice/")
    # The browser's own session and CSRF cookies go with it; only the form's token is missing.
    response = page.request.post(base + f"/directoryservice/{SEED_DIRECTORY}/mfa/disable", form={},
                                 max_redirects=0)
    assert response.status == 403
    assert "CSRF" in response.text()
    described = ds_client(lab).describe_directories(DirectoryIds=[SEED_DIRECTORY])["DirectoryDescriptions"][0]
    assert described.get("RadiusSettings")            # MFA was not disabled
