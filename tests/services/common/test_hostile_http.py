"""Hostile HTTP bodies against every service's real HTTP apps (issue 16 §3) and the privacy of what
a running lab writes (§2): each JSON endpoint answers a body nested 100 000 deep with a 400 and an
oversized body with a 413, both in its API's own error shape, and keeps serving; every file the
services wrote is 0600 in 0700 directories.

Limits (services/common/http_guard.py): 1 MiB for the org, both AWS APIs, the sign-in and the
phone; 64 KiB for the mailbox's API and every admin API; JSON deeper than 64 levels.
"""
from __future__ import annotations

import smtplib
import stat
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.services.workspaces.fakes import aws_client
from tests.support import admin_client, admin_headers, running_services, url

SUBNET = "127.0.46"
DEEP = b"[" * 100_000
AWS_JSON = "application/x-amz-json-1.1"
MiB = 1 << 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("hostile")
    with running_services(["dc", "mail", "okta", "phone", "ad-connector", "workspaces"], state, SUBNET) as topo:
        yield topo


def _aws(lab, target_service: str, target: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(url(lab, target_service) + "/", content=body, timeout=30,
                      headers={"Content-Type": AWS_JSON, "X-Amz-Target": target, **headers})


# -- every JSON endpoint: too deep -> 400, in its own shape -------------------------------------------

def test_okta_answers_deep_json_with_E0000003(lab):
    token = lab["credentials"]["okta_api_token"]
    for path, headers in (("/api/v1/authn", {}), ("/api/v1/users", {"Authorization": f"SSWS {token}"})):
        resp = httpx.post(url(lab, "okta") + path, content=DEEP, timeout=30,
                          headers={"Content-Type": "application/json", **headers})
        assert resp.status_code == 400, resp.text
        assert resp.json()["errorCode"] == "E0000003"
        assert resp.json()["errorSummary"] == "The request body was not well-formed."


@pytest.mark.parametrize("service,target", [("ad-connector", "DirectoryService_20150416.DescribeDirectories"),
                                            ("workspaces", "WorkspacesService.DescribeWorkspaces")])
def test_the_aws_apis_answer_deep_json_with_a_serialization_exception(lab, service, target):
    resp = _aws(lab, service, target, DEEP)
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] == "SerializationException"
    assert resp.headers["content-type"] == AWS_JSON and resp.headers["x-amzn-requestid"]


def test_the_sign_in_and_the_connector_answer_in_their_own_shapes(lab):
    signin = httpx.post(url(lab, "workspaces") + "/client/signin", content=DEEP, timeout=30,
                        headers={"Content-Type": "application/json"})
    assert signin.status_code == 400 and signin.json()["reason"] == "bad_request" and signin.json()["message"]
    connector = httpx.post(url(lab, "ad-connector") + "/connector/authenticate", content=DEEP, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert connector.status_code == 400
    assert connector.json()["authenticated"] is False and connector.json()["reason"] == "bad_request"


def test_the_phone_and_the_admin_apis_answer_with_a_detail(lab):
    phone = httpx.put(url(lab, "phone") + "/accounts/alice/behaviour", content=DEEP, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert phone.status_code == 400 and "deeper" in phone.json()["detail"]
    for name in ("okta", "phone", "dc"):
        with admin_client(lab, name) as admin:
            resp = admin.post("/faults", content=b"[" * 50_000, headers={"Content-Type": "application/json"})
            assert resp.status_code == 400 and "deeper" in resp.json()["detail"]
            assert admin.get("/faults").json() == []


def test_brackets_inside_strings_are_not_nesting(lab):
    body = b'{"username": "' + b"[" * 5000 + b'", "password": "x"}'
    resp = httpx.post(url(lab, "okta") + "/api/v1/authn", content=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 401 and resp.json()["errorCode"] == "E0000004"


# -- every endpoint: too large -> 413, in its own shape ------------------------------------------------

def test_oversized_bodies_are_413_in_each_shape(lab):
    big = b'{"pad": "' + b"x" * (MiB + 10) + b'"}'
    okta = httpx.post(url(lab, "okta") + "/api/v1/authn", content=big, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert okta.status_code == 413 and okta.json()["errorCode"] == "E0000003"
    ds = _aws(lab, "ad-connector", "DirectoryService_20150416.DescribeDirectories", big)
    assert ds.status_code == 413 and ds.json()["__type"] == "SerializationException"
    ws = _aws(lab, "workspaces", "WorkspacesService.DescribeWorkspaces", big)
    assert ws.status_code == 413 and ws.json()["__type"] == "SerializationException"
    phone = httpx.post(url(lab, "phone") + "/scan", content=big, timeout=30, headers={"Content-Type": "image/png"})
    assert phone.status_code == 413 and "exceeds" in phone.json()["detail"]
    mail = httpx.request("DELETE", url(lab, "mail") + "/messages", content=b"x" * (64 * 1024 + 1), timeout=30)
    assert mail.status_code == 413
    admin = httpx.post(url(lab, "okta", "admin") + "/clock", content=b"x" * (64 * 1024 + 1), timeout=30,
                       headers=admin_headers(lab))
    assert admin.status_code == 413


def test_a_chunked_body_is_cut_off_at_the_limit_too(lab):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536          # 2.5 MiB, no Content-Length
    resp = httpx.post(url(lab, "okta") + "/api/v1/authn", content=chunks(), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["errorCode"] == "E0000003"


def test_every_service_keeps_serving(lab):
    for name in ("dc", "mail", "okta", "phone", "ad-connector", "workspaces"):
        assert httpx.get(url(lab, name, "admin") + "/healthz", timeout=10).status_code == 200, name
    assert aws_client(lab, "ds").describe_directories()["DirectoryDescriptions"]
    assert isinstance(aws_client(lab, "workspaces").describe_workspaces()["Workspaces"], list)


# -- §2: every file the services wrote is private ---------------------------------------------------

def test_every_file_the_services_wrote_is_private(lab):
    # Make each service write: a message in the mailbox, the org's and the AWS stores, the journals.
    mail = lab["services"]["mail"]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "noreply@okta.example", "alice@corp.example.com", "hi"
    message.set_content("activation link")
    with smtplib.SMTP(mail["host"], mail["ports"]["smtp"], timeout=10) as smtp:
        smtp.send_message(message)
    assert httpx.get(url(lab, "mail") + "/messages", timeout=10).json()
    state = Path(lab["state_dir"])
    services = ["dc", "mail", "okta", "phone", "ad-connector", "workspaces"]
    checked = []
    for top in [state / name for name in services] + [state / "events"]:
        assert top.is_dir(), top
        for path in [top, *top.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            want = 0o700 if path.is_dir() else 0o600
            assert mode == want, f"{path} is {oct(mode)}, not {oct(want)}"
            checked.append(path.name)
    # The secrets named in issue 16 are among what was checked.
    assert "org.sqlite3" in checked and "directories.sqlite3" in checked
    assert any(n.endswith("-wal") for n in checked) and any(n.endswith(".json") for n in checked)
