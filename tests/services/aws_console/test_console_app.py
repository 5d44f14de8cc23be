"""The console in-process: settings checks, the form-to-request rules, signing in and out, the
session cookie, CSRF, and how an unreachable AWS endpoint shows (the console keeps serving).

The AWS endpoints here are a loopback port nobody listens on: every AWS call is refused, which is
what these tests need (pages with live AWS are tests/ui/test_aws_console.py and
test_console_live.py)."""
from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from services.aws_console import ds_pages, forms, ws_pages
from services.aws_console.session import COOKIE, Sessions, safe_next
from services.aws_console.settings import ConsoleSettings

from .support import ACCOUNT, PASSWORD, USER, console_app, csrf_of, sign_in

NOWHERE = "http://127.0.122.1:9"      # refused at once: no listener on the discard port


@pytest.fixture
def client():
    with TestClient(console_app(NOWHERE, NOWHERE), base_url="http://console.test") as c:
        yield c


@pytest.mark.parametrize("settings, message", [
    ({"account_id": "12345"}, "account_id must be 12 digits"),
    ({"ds_endpoint": "ftp://x"}, r"ds_endpoint must be an http\(s\) URL"),
    ({"workspaces_endpoint": None}, "workspaces_endpoint is required"),
    ({"poll_seconds": 0}, "poll_seconds must be positive"),
])
def test_bad_settings_name_the_key(settings, message):
    good = {"ds_endpoint": "http://a:1", "workspaces_endpoint": "http://b:2"}
    with pytest.raises(ValueError, match=message):
        ConsoleSettings.from_settings(good | settings)


def test_forms_make_the_api_request():
    form = {"name": " corp.example.com ", "short_name": "CORP", "password": " p w ", "size": "Small",
            "vpc_id": "vpc-1", "subnet_ids": "subnet-a,subnet-b", "dns_ips": "10.0.0.1\n10.0.0.2, ",
            "service_account": "svc", "description": ""}
    assert ds_pages.connect_params(form) == {
        "Name": "corp.example.com", "ShortName": "CORP", "Password": " p w ", "Size": "Small",
        "ConnectSettings": {"VpcId": "vpc-1", "SubnetIds": ["subnet-a", "subnet-b"],
                            "CustomerDnsIps": ["10.0.0.1", "10.0.0.2"], "CustomerUserName": "svc"}}
    mfa = {"servers": "10.0.0.5", "port": "1812", "timeout": "ten", "retries": "2", "secret": "", "protocol": "PAP",
           "label": "Okta", "same_username": "on"}
    # Editing with a blank secret keeps the stored one; a non-number goes to the API as typed.
    assert ds_pages.radius_params(mfa, editing=True) == {
        "RadiusServers": ["10.0.0.5"], "RadiusPort": 1812, "RadiusTimeout": "ten", "RadiusRetries": 2,
        "AuthenticationProtocol": "PAP", "DisplayLabel": "Okta", "UseSameUsername": True}
    assert ds_pages.radius_params(mfa | {"secret": "s3cret"}, editing=False)["SharedSecret"] == "s3cret"
    assert forms.number({"n": "9" * 5000}, "n") == "9" * 5000          # too long for int(): left to the API
    assert ws_pages.access_params({"DeviceTypeWeb": "DENY", "DeviceTypeOsx": "", "other": "x"}) == {
        "DeviceTypeWeb": "DENY"}


def test_sessions_check_every_field_and_next_stays_on_this_site():
    sessions = Sessions(account_id=ACCOUNT, user_name=USER, password=PASSWORD, minutes=1)
    assert sessions.check(ACCOUNT, USER, PASSWORD)
    assert sessions.check(f" {ACCOUNT} ", USER, PASSWORD)
    for wrong in [("999999999999", USER, PASSWORD), (ACCOUNT, "root", PASSWORD), (ACCOUNT, USER, PASSWORD + " "),
                  (ACCOUNT, USER, "")]:
        assert not sessions.check(*wrong)
    assert [safe_next(p) for p in ("/workspaces/", "//evil.example", "https://evil.example/", "x", "/\\evil")] == [
        "/workspaces/", "/", "/", "/", "/"]


def test_a_signed_out_request_goes_to_the_sign_in_page(client):
    for path in ("/", "/directoryservice/", "/directoryservice/d-1234567890", "/workspaces/launch"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next={path}"
    htmx = client.get("/directoryservice/rows", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/signin")
    post = client.post("/directoryservice/new", data={"csrf_token": "x"}, follow_redirects=False)
    assert post.status_code == 303 and post.headers["location"].startswith("/signin")


def test_sign_in_sets_an_httponly_session_and_sign_out_ends_it(client):
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200 and f"{USER} @ {ACCOUNT}" in home.text
    token = csrf_of(client, "/")
    assert client.post("/signout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_in_awss_words_and_what_was_typed_is_escaped(client):
    token = csrf_of(client)
    r = client.post("/signin", data={"csrf_token": token, "account": "<script>x</script>", "username": USER,
                                     "password": "nope"})
    assert r.status_code == 401
    assert "Your authentication information is incorrect" in r.text
    assert "<script>x</script>" not in r.text and "&lt;script&gt;x&lt;/script&gt;" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")


def test_a_post_without_its_csrf_token_is_refused(client):
    csrf_of(client)                                  # the CSRF cookie is set; the form leaves the field out
    r = client.post("/signin", data={"account": ACCOUNT, "username": USER, "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text
    sign_in(client)
    for path in ("/directoryservice/new", "/directoryservice/d-1234567890/mfa/disable", "/workspaces/launch",
                 "/workspaces/directories/d-1234567890/access", "/signout"):
        r = client.post(path, data={"csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403, path
    assert client.get("/", follow_redirects=False).status_code == 200          # still signed in


def test_an_unreachable_aws_api_shows_as_an_error_page_and_the_console_keeps_serving(client):
    sign_in(client)
    r = client.get("/directoryservice/")
    assert r.status_code == 200 and "NetworkError: The request could not be sent" in r.text
    detail = client.get("/directoryservice/d-1234567890")
    assert detail.status_code == 502 and "NetworkError" in detail.text
    assert client.get("/").status_code == 200


def test_static_files_are_served(client):
    assert client.get("/static/lab/htmx.min.js").status_code == 200
    assert isinstance(client, httpx.Client)
