"""Scanning by address (the phone fetches the QR image an enrolment page shows and reads it as its
camera would), the checks an otpauth code passes before anything is stored (issue 16: a bad
secret used to be stored and answer 500 for ever, even after `lab reset`), and the phone's pages
(CSRF on every form). The org is real (okta + phone on 127.0.66)."""
import hashlib
import re

import httpx
import pyotp
import pytest

from lab.client_env import lab_verify, org_url
from services.phone.authenticator import Account, InvalidAccount, Wallet
from tests.support import admin_headers, running_services, url

ALICE = "alice@corp.example.com"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEH"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["okta", "phone"], tmp_path_factory.mktemp("phone-scan"), "127.0.66") as topo:
        yield topo


@pytest.fixture
def org(lab):
    token = lab["credentials"]["okta_api_token"]
    with httpx.Client(base_url=org_url(lab), headers={"Authorization": f"SSWS {token}"}, timeout=20,
                      verify=lab_verify(lab)) as c:
        yield c


@pytest.fixture(autouse=True)
def reset(lab):
    for name in ("okta", "phone"):
        assert httpx.post(url(lab, name, "admin") + "/reset", timeout=30, headers=admin_headers(lab)).status_code == 200
    for acc in httpx.get(url(lab, "phone") + "/accounts").json():
        httpx.delete(f"{url(lab, 'phone')}/accounts/{acc['login']}")


def enrol(org, ftype):
    uid = org.get(f"/api/v1/users/{ALICE}").json()["id"]
    f = org.post(f"/api/v1/users/{uid}/factors", json={"factorType": ftype, "provider": "OKTA"})
    assert f.status_code == 200, f.text
    return f.json()


def test_scan_by_url_enrols_totp_and_push_from_the_org_qr_images(lab, org):
    phone = url(lab, "phone")
    totp = enrol(org, "token:software:totp")
    qr = totp["_embedded"]["activation"]["_links"]["qrcode"]["href"]
    scanned = httpx.post(f"{phone}/scan", json={"url": qr}, timeout=20)
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["login"] == ALICE and scanned.json()["totp"] is True
    code = httpx.get(f"{phone}/accounts/alice/code").json()["code"]
    assert org.post(totp["_links"]["activate"]["href"], json={"passCode": code}).json()["status"] == "ACTIVE"
    push = enrol(org, "push")
    scanned = httpx.post(f"{phone}/scan", json={"url": push["_embedded"]["activation"]["_links"]["qrcode"]["href"]},
                         timeout=20)
    assert scanned.status_code == 200 and scanned.json()["push"] is True
    assert org.post(push["_links"]["poll"]["href"]).json()["status"] == "ACTIVE"
    # the QR code is spent once the factor is active: the camera now sees nothing there
    again = httpx.post(f"{phone}/scan", json={"url": qr}, timeout=20)
    assert again.status_code == 400 and "no QR code to see" in again.json()["detail"]


@pytest.mark.parametrize("address, said", [
    ("file:///etc/passwd", "http(s)"),
    ("http://127.0.66.30:8080/.well-known/okta-organization", "no image"),
    ("http://127.0.66.30:8080/api/v1/users/x/factors/y/qr/z", "no QR code to see"),
    ("http://127.0.66.250:8080/qr.png", "could not load"),
])
def test_scan_by_url_refuses_what_is_not_a_qr_image(lab, address, said):
    resp = httpx.post(f"{url(lab, 'phone')}/scan", json={"url": address}, timeout=30)
    assert resp.status_code == 400 and said in resp.json()["detail"], resp.text
    assert httpx.get(f"{url(lab, 'phone')}/accounts").json() == []


@pytest.mark.parametrize("query, said", [
    ("secret=not-base32!", "not valid base32"),
    ("secret=", "secret is empty"),
    ("secret=JBSWY3DP", "too short"),
    (f"secret={SECRET}&digits=4", "digits"),
    (f"secret={SECRET}&period=0", "period"),
    (f"secret={SECRET}&digits=six", "digits"),
    (f"secret={SECRET}&algorithm=MD5", "algorithm"),
])
def test_invalid_otpauth_is_refused_on_scan_and_never_stored(lab, query, said):
    phone = url(lab, "phone")
    resp = httpx.post(f"{phone}/scan", json={"uri": f"otpauth://totp/lab:{ALICE}?{query}"})
    assert resp.status_code == 400 and said in resp.json()["detail"], resp.text
    assert httpx.get(f"{phone}/accounts").json() == []
    assert httpx.get(f"{phone}/accounts/alice/code").status_code == 404
    events = httpx.get(url(lab, "phone", "admin") + "/events", headers=admin_headers(lab)).json()
    assert any(e["kind"] == "phone.scan" and e["outcome"] == "refused" for e in events)


def test_a_valid_otpauth_with_lower_case_spaced_secret_and_sha256(lab):
    phone = url(lab, "phone")
    spaced = " ".join(re.findall(".{1,4}", SECRET.lower()))
    resp = httpx.post(f"{phone}/scan", json={"uri": f"otpauth://totp/lab:{ALICE}?secret={spaced}"
                                             "&algorithm=SHA256&digits=8&period=60"})
    assert resp.status_code == 200, resp.text
    shown = httpx.get(f"{phone}/accounts/alice/code").json()
    assert len(shown["code"]) == 8 and 0 < shown["seconds_remaining"] <= 60
    expected = pyotp.TOTP(SECRET, digits=8, interval=60, digest=hashlib.sha256)
    assert expected.verify(shown["code"], valid_window=1)


def test_an_account_stored_bad_before_the_check_says_so_and_can_be_removed(tmp_path):
    wallet = Wallet(tmp_path / "okta_verify.json")
    wallet.accounts[ALICE] = Account(login=ALICE, totp_secret="not base32!")
    wallet.save()
    reopened = Wallet(tmp_path / "okta_verify.json")
    with pytest.raises(InvalidAccount, match="remove it and scan"):
        reopened.code("alice", 0)
    reopened.remove("alice")
    assert Wallet(tmp_path / "okta_verify.json").accounts == {}


def test_phone_page_forms_need_their_csrf_token(lab):
    phone = url(lab, "phone")
    uri = f"otpauth://totp/lab:{ALICE}?secret={SECRET}"
    with httpx.Client(base_url=phone) as browser:
        page = browser.get("/phone/alice/add")
        assert page.status_code == 200 and "Add account" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        refused = browser.post("/phone/alice/scan", data={"uri": uri})
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert httpx.get(f"{phone}/accounts").json() == []
        done = browser.post("/phone/alice/scan", data={"uri": uri, "csrf_token": token})
        assert done.status_code == 200 and "Account added" in done.text
        bad = browser.post("/phone/alice/scan", data={"uri": f"otpauth://totp/lab:{ALICE}?secret=!!",
                                                      "csrf_token": token})
        assert bad.status_code == 400 and "not valid base32" in bad.text
        shown = browser.get("/phone/alice/live").text
        shown_code = re.search(r"data-code>(\d{3}) (\d{3})<", shown)
        assert shown_code and "s left of 30" in shown and SECRET not in shown
        assert pyotp.TOTP(SECRET).verify("".join(shown_code.groups()), valid_window=1)


def test_the_phone_refuses_an_org_whose_certificate_is_not_the_lab_cas(lab, org):
    """The phone trusts the lab CA alone for the org's HTTPS URLs: behind a TLS-inspecting proxy
    (the org's `intercept_tls` fault) neither the QR image nor the push enrolment goes through."""
    push = enrol(org, "push")
    activation = push["_embedded"]["activation"]
    assert activation["_links"]["qrcode"]["href"].startswith("https://")
    faults = url(lab, "okta", "admin") + "/faults"
    added = httpx.post(faults, json={"action": "intercept_tls", "protocol": "https"}, headers=admin_headers(lab))
    assert added.status_code == 200, added.text
    try:
        by_url = httpx.post(f"{url(lab, 'phone')}/scan", json={"url": activation["_links"]["qrcode"]["href"]},
                            timeout=20)
        assert by_url.status_code == 400 and "could not load" in by_url.text, by_url.text
        by_uri = httpx.post(f"{url(lab, 'phone')}/scan", json={"uri": activation["qrContents"]}, timeout=20)
        assert by_uri.status_code == 400 and "the org could not be reached" in by_uri.text, by_uri.text
        for refused in (by_url, by_uri):    # the reason, not just "ConnectError"
            assert "its certificate is not trusted (" in refused.json()["detail"], refused.text
    finally:
        httpx.delete(faults, headers=admin_headers(lab)).raise_for_status()
    assert httpx.get(f"{url(lab, 'phone')}/accounts").json() == []
    scanned = httpx.post(f"{url(lab, 'phone')}/scan", json={"uri": activation["qrContents"]}, timeout=20)
    assert scanned.status_code == 200, scanned.text
