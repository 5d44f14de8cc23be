"""The phone as a process: reading an otpauth QR, showing codes, answer settings, bad input."""
import httpx
import pyotp
import pytest

from tests.support import running_services, url

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEH"


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    with running_services(["phone"], tmp_path_factory.mktemp("phone"), "127.0.81") as topology:
        yield url(topology, "phone")


def test_scan_otpauth_then_show_the_current_code(phone):
    uri = f"otpauth://totp/lab:alice@corp.example.com?secret={SECRET}&issuer=lab&period=30&digits=6"
    assert httpx.post(f"{phone}/scan", json={"uri": uri}).status_code == 200
    shown = httpx.get(f"{phone}/accounts/alice/code").json()
    assert shown["user"] == "alice@corp.example.com"
    assert pyotp.TOTP(SECRET).verify(shown["code"], valid_window=1)


def test_accounts_never_show_secrets(phone):
    listing = httpx.get(f"{phone}/accounts").text
    assert SECRET not in listing


def test_behaviour_is_validated(phone):
    assert httpx.put(f"{phone}/accounts/alice/behaviour", json={"action": "shrug"}).status_code == 400
    ok = httpx.put(f"{phone}/accounts/alice/behaviour", json={"action": "deny", "after": 1})
    assert ok.json()["respond"] == {"action": "deny", "after": 1.0}


def test_unknown_account_and_bad_qr(phone):
    assert httpx.get(f"{phone}/accounts/nobody/code").status_code == 404
    assert httpx.post(f"{phone}/scan", json={"uri": "https://example.com"}).status_code == 400
    assert httpx.post(f"{phone}/scan", content=b"{not json").status_code == 400
    assert httpx.get(f"{phone}/accounts").status_code == 200  # still serving


def test_scan_a_qr_code_image(phone):
    import io

    import qrcode

    uri = f"otpauth://totp/lab:bob@corp.example.com?secret={SECRET}&issuer=lab"
    png = io.BytesIO()
    qrcode.make(uri).save(png, format="PNG")
    resp = httpx.post(f"{phone}/scan", content=png.getvalue(), headers={"Content-Type": "image/png"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["login"] == "bob@corp.example.com"
    bad = httpx.post(f"{phone}/scan", content=b"\x89PNG not really", headers={"Content-Type": "image/png"})
    assert bad.status_code == 400
