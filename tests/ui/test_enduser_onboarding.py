"""The end user's first day, in Chromium, through the lab's pages only: Ivan (imported, never
activated; here in "Full time employees", whose policy requires Okta Verify) gets the activation
email; he opens it in the mailbox page, follows its link, signs in with his AD password, sets up
Okta Verify by scanning the QR codes with his phone's page ("Scan with my phone": the phone fetches
the image and reads it), then signs in on the sign-in page with a push he approves on the phone's
page, and again with the code the phone's page shows. A screenshot per step (reports/ui/).

One lab (dc, okta, mail, phone on 127.0.67) and one browser for the module; every test starts from
`reset`."""
from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lab.client_env import lab_verify, org_url
from tests.support import admin_headers, default_seed, running_services, url, wait_until

SUBNET = "127.0.67"
IVAN = "ivan@corp.example.com"
IVAN_PASSWORD = "Ivan-Passw0rd!"
SERVICES = ["dc", "okta", "mail", "phone"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    seed = default_seed()
    ivan = next(u for u in seed["users"] if u["sam"] == "ivan")
    ivan["groups"].append("Full time employees")          # the walkthrough's policy: Okta Verify required
    with running_services(SERVICES, tmp_path_factory.mktemp("ui-enduser"), SUBNET, seed=seed,
                          settings={"okta": {"delegated_auth": "ldap", "push_ttl_seconds": 60}}) as topo:
        yield topo


@pytest.fixture
def admin(lab):
    token = lab["credentials"]["okta_api_token"]
    with httpx.Client(base_url=org_url(lab), headers={"Authorization": f"SSWS {token}"}, timeout=30,
                      verify=lab_verify(lab)) as c:
        yield c


@pytest.fixture(autouse=True)
def fresh(lab):
    for name in SERVICES:
        assert httpx.post(url(lab, name, "admin") + "/reset", timeout=60, headers=admin_headers(lab)).status_code == 200


def activate_with_email(admin: httpx.Client) -> dict[str, Any]:
    """What the admin does (`lab activate ivan`): the org emails the activation link."""
    user = admin.get(f"/api/v1/users/{IVAN}").json()
    assert user["status"] == "STAGED", user
    resp = admin.post(f"/api/v1/users/{user['id']}/lifecycle/activate", params={"sendEmail": "true"})
    assert resp.status_code == 200, resp.text
    return user


def test_activate_enrol_by_scanning_then_sign_in_with_push_and_with_code(lab, admin, browser, shot):
    activate_with_email(admin)
    org, mail, phone = org_url(lab), url(lab, "mail"), url(lab, "phone")
    wait_until(lambda: httpx.get(f"{mail}/messages", params={"to": IVAN}).json(), bool, timeout=30)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        # 1. the mailbox: the newest message first; open it, follow its link
        page.goto(f"{mail}/?to=ivan")
        page.get_by_role("link", name=re.compile("Welcome to Okta!")).first.click()
        frame = page.frame_locator("iframe.message")
        frame.get_by_role("link", name=re.compile("Activate")).first.wait_for()
        shot(page, "01-mailbox-activation-email")
        frame.get_by_role("link", name=re.compile("Activate")).first.click()
        page.wait_for_url(re.compile(r"/welcome/"))
        # 2. the activation page: an AD-sourced user signs in with his AD password
        assert page.get_by_role("heading", name="Welcome to Okta, Ivan!").is_visible()
        page.get_by_label("Password").fill("not-his-password")
        page.get_by_role("button", name="Sign In").click()
        assert page.get_by_role("alert").inner_text().startswith("Authentication failed")
        shot(page, "02-activation-wrong-password")
        page.get_by_label("Password").fill(IVAN_PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        # 3. Set up multifactor authentication: Okta Verify, iPhone
        page.get_by_role("heading", name="Set up multifactor authentication").wait_for()
        shot(page, "03-set-up-mfa")
        page.get_by_label("iPhone").check()
        page.get_by_role("button", name="Setup").click()
        page.get_by_role("heading", name="Set up Okta Verify").wait_for()
        page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")   # the QR image shows
        shot(page, "04-okta-verify-qr")
        # 4. "Scan with my phone": the phone's page opens, pointed at the QR image; Scan
        with context.expect_page() as opened:
            page.get_by_role("link", name="Scan with my phone").click()
        phone_page = opened.value
        phone_page.wait_for_load_state()
        assert phone_page.url.startswith(f"{phone}/phone/ivan/add?url=")
        shot(phone_page, "05-phone-camera-sees-the-qr")
        phone_page.get_by_role("button", name="Scan").click()
        assert "Account added: ivan@corp.example.com (push notifications)." in \
            phone_page.get_by_role("status").inner_text()
        # ... and the enrolment page moves on by itself (htmx polling): now the codes
        page.get_by_role("heading", name="Set up Okta Verify codes").wait_for()
        shot(page, "06-okta-verify-codes-qr")
        page.get_by_text("Can't scan?").click()
        assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{1,4} ?", page.locator(".secret").inner_text() + " ")
        with context.expect_page() as opened:
            page.get_by_role("link", name="Scan with my phone").click()
        phone_page.close()
        phone_page = opened.value
        phone_page.get_by_role("button", name="Scan").click()
        assert "(push notifications and codes)" in phone_page.get_by_role("status").inner_text()
        code = read_code(phone_page)
        shot(phone_page, "07-phone-shows-the-code")
        page.get_by_label("Enter code").fill(code)
        page.get_by_role("button", name="Verify").click()
        # 5. done: the dashboard (no tiles: the RADIUS app has no link); the settings list the factors
        page.get_by_role("heading", name="My Apps").wait_for()
        shot(page, "08-dashboard")
        page.get_by_role("link", name="Settings").click()
        rows = page.locator("table tr").all_inner_texts()
        assert any("Okta Verify (push)" in r and "ACTIVE" in r for r in rows), rows
        assert any("Okta Verify (code)" in r and "ACTIVE" in r for r in rows), rows
        shot(page, "09-settings-factors")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign In").wait_for()
        # 6. sign in with a push, approved on the phone's page (the phone leaves it to him)
        phone_page.goto(f"{phone}/phone/ivan")
        phone_page.get_by_label("When a push arrives").select_option("ignore")
        phone_page.get_by_role("button", name="Save").click()
        assert "ivan@corp.example.com: ignore" in phone_page.get_by_role("status").inner_text()
        sign_in(page, org)
        page.get_by_role("heading", name="Verify it's you").wait_for()
        shot(page, "10-verify-choose")
        page.get_by_role("button", name="Send Push").click()
        page.get_by_text("Push sent!").wait_for()
        shot(page, "11-push-sent-waiting")
        card = phone_page.locator("section.push")
        card.get_by_role("heading", name="Did you just try to sign in?").wait_for()
        shot(phone_page, "12-phone-push-card")
        card.get_by_role("button", name="Yes, it's me").click()
        page.get_by_role("heading", name="My Apps").wait_for()
        assert phone_page.locator("section.push").count() == 0
        shot(page, "13-signed-in-with-push")
        page.get_by_role("button", name="Sign out").click()
        # 7. sign in with the code the phone's page shows
        sign_in(page, org)
        page.get_by_role("heading", name="Verify it's you").wait_for()
        code = read_code(phone_page, fresh=True)
        page.get_by_label("Enter code").fill(code)
        page.get_by_role("button", name="Verify").click()
        page.get_by_role("heading", name="My Apps").wait_for()
        shot(page, "14-signed-in-with-code")
    finally:
        context.close()
    events = httpx.get(url(lab, "okta", "admin") + "/events", headers=admin_headers(lab)).json()
    # the pages went through the Authentication API's state machine: its own events say how
    assert [e["fields"]["via"] for e in events if e["kind"] == "okta.authn" and "via" in e["fields"]] \
        == ["enroll_totp", "push", "otp"]


def sign_in(page, org: str) -> None:
    page.goto(f"{org}/login")
    page.get_by_label("Username").fill(IVAN)
    page.get_by_label("Password").fill(IVAN_PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def read_code(phone_page, fresh: bool = False) -> str:
    """The code on the phone's page; with `fresh`, one with a few seconds left in its step (a
    person waits for the next code rather than type one about to change)."""
    account = phone_page.locator(".account").first
    account.locator("[data-code]").wait_for()

    def shown() -> tuple[str, int] | None:
        text = account.locator("[data-code]").inner_text().replace(" ", "")
        seconds = int(account.locator("[data-seconds]").inner_text())
        return (text, seconds) if not fresh or seconds >= 5 else None

    code, _ = wait_until(shown, bool, timeout=40)
    assert re.fullmatch(r"\d{6}", code)
    return code


def enrol_with_the_api(lab, admin: httpx.Client, login: str) -> None:
    """Okta Verify for `login` as `lab up` enrols it: factors through the API, the phone scans."""
    phone = url(lab, "phone")
    user = admin.get(f"/api/v1/users/{login}").json()
    totp = admin.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "token:software:totp",
                                                                  "provider": "OKTA"}).json()
    assert httpx.post(f"{phone}/scan", json={"uri": totp["_embedded"]["activation"]["qrContents"]}).status_code == 200
    code = httpx.get(f"{phone}/accounts/{login}/code").json()["code"]
    assert admin.post(totp["_links"]["activate"]["href"], json={"passCode": code}).status_code == 200
    push = admin.post(f"/api/v1/users/{user['id']}/factors", json={"factorType": "push", "provider": "OKTA"}).json()
    assert httpx.post(f"{phone}/scan", json={"uri": push["_embedded"]["activation"]["qrContents"]}).status_code == 200


def test_a_push_denied_on_the_phone_and_one_left_to_expire(lab, admin, page, browser, shot):
    org, phone = org_url(lab), url(lab, "phone")
    enrol_with_the_api(lab, admin, "alice@corp.example.com")
    assert httpx.put(f"{phone}/accounts/alice/behaviour", json={"action": "ignore"}).status_code == 200
    phone_page = page.context.new_page()
    phone_page.goto(f"{phone}/phone/alice")
    assert "Push notifications: ignore" in phone_page.locator(".account").inner_text()  # what `lab phone respond` set
    page.goto(f"{org}/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("Alice-Passw0rd!")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("button", name="Send Push").click()
    card = phone_page.locator("section.push")
    card.get_by_role("button", name="No, it's not me").click()
    page.get_by_text("You have chosen to reject this login.").wait_for()
    assert phone_page.locator("section.push").count() == 0
    shot(page, "push-rejected")
    # again, and nobody answers: the card goes when the org's push expires (the phone's clock moves on)
    page.get_by_role("button", name="Send Push again").click()
    card.wait_for()
    shot(phone_page, "push-card-waiting")
    assert httpx.post(url(lab, "phone", "admin") + "/clock", json={"offset_seconds": 120},
                      headers=admin_headers(lab)).status_code == 200
    try:
        phone_page.locator("section.push").wait_for(state="detached")
        assert "expired" in phone_page.locator("#live").inner_text()
    finally:
        httpx.post(url(lab, "phone", "admin") + "/clock", json={"offset_seconds": 0}, headers=admin_headers(lab))


def test_pages_need_a_session_and_every_form_its_csrf_token(lab, admin, page):
    org = org_url(lab)
    with httpx.Client(base_url=org, timeout=20, verify=lab_verify(lab)) as anonymous:
        for path in ("/app/UserHome", "/enduser/settings"):
            resp = anonymous.get(path)
            assert resp.status_code == 303 and resp.headers["location"] == f"/login?fromURI={path}"
        assert anonymous.get("/").headers["location"] == "/login"
        form = anonymous.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        cookies = form.headers.get_list("set-cookie")
        sid = next(c for c in cookies if c.startswith("sid="))
        assert "HttpOnly" in sid and "SameSite=lax" in sid and "; Secure" in sid     # served over HTTPS
        assert anonymous.get("/welcome/not-a-token").status_code == 404
        credentials = {"username": "alice", "password": "Alice-Passw0rd!"}
        refused = anonymous.post("/login", data=credentials)
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert anonymous.post("/login/step", data={"action": "skip"}).status_code == 403
        assert anonymous.post("/login/signout").status_code == 403
        signed = anonymous.post("/login", data=credentials | {"csrf_token": token})
        # alice has no factor yet and the policy requires Okta Verify: on to enrolment
        assert signed.status_code == 303 and signed.headers["location"] == "/login/step"
        assert "Set up multifactor authentication" in anonymous.get("/login/step").text
        assert anonymous.get("/app/UserHome").status_code == 303          # not signed in yet
    # the Users API's appLinks: an API token is needed; the RADIUS app gives no link
    uid = admin.get("/api/v1/users/alice@corp.example.com").json()["id"]
    assert admin.get(f"/api/v1/users/{uid}/appLinks").json() == []
    assert httpx.get(f"{org}/api/v1/users/{uid}/appLinks", verify=lab_verify(lab)).status_code == 401
    assert admin.get("/api/v1/users/nobody/appLinks").json()["errorCode"] == "E0000007"
