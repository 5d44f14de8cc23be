"""A browser and the org's HTTPS pages (issue 17): the certificate comes from the lab CA, so a
browser that does not trust that CA gets Chromium's certificate error page; `lab ca trust` (NSS's
certutil into ~/.pki/nssdb) makes the same browser open the sign-in page, whose cookies are then
Secure; and with a TLS-inspecting proxy in front of the org (`intercept_tls`) even that browser
is refused. `lab open` prints the HTTPS address and says when the CA is not trusted yet.

One org on 127.0.236; Chromium with a HOME of its own (conftest's `browser_home`: no CA in it
until the test adds it, with `lab ca trust`)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error, expect

from lab.client_env import org_url
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.236"
TRUST_LAB_CA = False        # conftest: this module's browser starts without the lab CA


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_services(["okta"], tmp_path_factory.mktemp("ui-trust"), SUBNET) as topology:
        yield topology


def lab_cli(org: dict[str, Any], home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `lab` command as the trainee runs it, with their HOME."""
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", org["state_dir"], *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, HOME=str(home)))


def visit(browser: Any, address: str) -> tuple[Any, str | None]:
    """A fresh context's page at `address`, and Chromium's network error (None when it loaded)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(address)
        return page, None
    except Error as exc:
        return page, str(exc).splitlines()[0]


def test_a_browser_trusts_the_org_only_once_the_lab_ca_is_installed(org, browser, browser_home, shot):
    home = browser_home
    login = org_url(org) + "/login"
    assert login.startswith("https://") and login == f"https://{SUBNET}.30:{org['services']['okta']['ports']['https']}/login"

    opened = lab_cli(org, home, "open", "signin", "--no-browser")
    assert opened.returncode == 0 and opened.stdout.strip() == login
    assert "lab ca trust" in opened.stderr         # the CA is not trusted yet: it says so

    page, error = visit(browser, login)
    assert error is not None and "ERR_CERT_AUTHORITY_INVALID" in error
    shot(page, "00-certificate-error-without-the-lab-ca")
    page.context.close()

    trusted = lab_cli(org, home, "ca", "trust")
    assert trusted.returncode == 0, trusted.stderr
    assert str(home / ".pki" / "nssdb") in trusted.stdout and "Windows" in trusted.stdout
    assert lab_cli(org, home, "open", "signin", "--no-browser").stderr == ""

    page, error = visit(browser, login)
    assert error is None, error
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    shot(page, "01-sign-in-over-https")
    # Cookies set over HTTPS are Secure (the CSRF cookie of the sign-in form); still HttpOnly.
    cookies = page.context.cookies()
    assert cookies and all(c["secure"] and c["httpOnly"] for c in cookies), cookies
    page.context.close()


def test_with_a_tls_inspecting_proxy_in_front_of_the_org_the_browser_is_refused(org, browser, browser_home):
    assert lab_cli(org, browser_home, "ca", "trust").returncode == 0        # idempotent: trusted already
    faults = f"{url(org, 'okta', 'admin')}/faults"
    added = httpx.post(faults, json={"action": "intercept_tls", "protocol": "https"}, headers=admin_headers(org))
    assert added.status_code == 200, added.text
    try:
        page, error = visit(browser, org_url(org) + "/login")
        assert error is not None and "ERR_CERT_AUTHORITY_INVALID" in error
        page.context.close()
    finally:
        httpx.delete(faults, headers=admin_headers(org)).raise_for_status()
    page, error = visit(browser, org_url(org) + "/login")
    assert error is None, error
    page.context.close()
