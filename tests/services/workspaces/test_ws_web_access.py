"""ModifyWorkspaceAccessProperties through boto3, and WorkSpaces Web Access over HTTP (its pages,
CSRF, cookies, the access properties it honours). The browser tests are tests/ui/test_web_access*.py.

One seeded lab (dc, ad-connector and workspaces on 127.0.125.x); the RADIUS server is an in-test
responder on the radius-agent's address that accepts every code, with the lab's shared secret.
"""
from __future__ import annotations

import re

import botocore.exceptions
import httpx
import pytest

from tests.services.workspaces.fakes import RadiusResponder, aws_client
from tests.support import admin_headers, running_services, url

SUBNET = "127.0.125"
DIRECTORY = "d-9067a1b2c3"
CODE = "WSlab+ABC12D"
DEVICE_TYPES = ["DeviceTypeWindows", "DeviceTypeOsx", "DeviceTypeWeb", "DeviceTypeIos", "DeviceTypeAndroid",
                "DeviceTypeChromeOs", "DeviceTypeZeroClient", "DeviceTypeLinux", "DeviceTypeWorkSpacesThinClient"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.3, "connect_check_timeout_seconds": 1.0},
                "workspaces": {"stage_delay_seconds": 0.3}}
    with running_services(["dc", "ad-connector", "workspaces"], tmp_path_factory.mktemp("webaccess"), SUBNET,
                          settings=settings) as topo:
        radius = RadiusResponder(topo["services"]["radius-agent"]["host"],
                                 topo["credentials"]["radius_shared_secret"].encode(), "accept",
                                 port=topo["services"]["radius-agent"]["ports"]["radius"])
        try:
            yield topo
        finally:
            radius.close()


@pytest.fixture(scope="module")
def ws(lab):
    return aws_client(lab, "workspaces")


@pytest.fixture(autouse=True)
def fresh(lab):
    resp = httpx.post(url(lab, "workspaces", "admin") + "/reset", timeout=60, headers=admin_headers(lab))
    assert resp.status_code == 200


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]


def access(ws):
    return ws.describe_workspace_directories(DirectoryIds=[DIRECTORY])["Directories"][0]["WorkspaceAccessProperties"]


# -- the API --------------------------------------------------------------------------------------
def test_a_registered_directory_lists_every_device_type_web_access_off(ws):
    props = access(ws)
    assert sorted(props) == sorted(DEVICE_TYPES)
    assert props["DeviceTypeWeb"] == "DENY" and props["DeviceTypeWindows"] == "ALLOW"


def test_modify_access_properties_changes_only_what_is_sent(ws):
    assert ws.modify_workspace_access_properties(ResourceId=DIRECTORY, WorkspaceAccessProperties={
        "DeviceTypeWeb": "ALLOW", "DeviceTypeLinux": "ALLOW"})["ResponseMetadata"]["HTTPStatusCode"] == 200
    props = access(ws)
    assert props["DeviceTypeWeb"] == "ALLOW" and props["DeviceTypeLinux"] == "ALLOW"
    assert props["DeviceTypeOsx"] == "ALLOW" and props["DeviceTypeWorkSpacesThinClient"] == "DENY"
    ws.modify_workspace_access_properties(ResourceId=DIRECTORY, WorkspaceAccessProperties={"DeviceTypeWeb": "DENY"})
    assert access(ws)["DeviceTypeWeb"] == "DENY" and access(ws)["DeviceTypeLinux"] == "ALLOW"


def test_modify_access_properties_refusals(ws):
    err = error_of(ws.modify_workspace_access_properties, ResourceId="d-0123456789",
                   WorkspaceAccessProperties={"DeviceTypeWeb": "ALLOW"})
    assert err["Code"] == "ResourceNotFoundException"
    err = error_of(ws.modify_workspace_access_properties, ResourceId=DIRECTORY,
                   WorkspaceAccessProperties={"DeviceTypeWeb": "MAYBE"})
    assert err["Code"] == "InvalidParameterValuesException"
    assert "workspaceAccessProperties.deviceTypeWeb" in err["Message"] and "[ALLOW, DENY]" in err["Message"]
    err = error_of(ws.modify_workspace_access_properties, ResourceId="not-a-directory",
                   WorkspaceAccessProperties={"DeviceTypeWeb": "ALLOW"})
    assert err["Code"] == "InvalidParameterValuesException" and "resourceId" in err["Message"]
    err = error_of(ws.modify_workspace_access_properties, ResourceId=DIRECTORY, WorkspaceAccessProperties={})
    assert err["Code"] == "InvalidParameterValuesException"
    with pytest.raises(botocore.exceptions.ParamValidationError):     # botocore's own check: nothing sent
        ws.modify_workspace_access_properties(ResourceId=DIRECTORY)
    assert access(ws)["DeviceTypeWeb"] == "DENY", "a refused call changed nothing"


def test_the_desktop_client_honours_its_own_device_type(lab, ws):
    ws.modify_workspace_access_properties(ResourceId=DIRECTORY, WorkspaceAccessProperties={"DeviceTypeWindows": "DENY"})
    signin = httpx.post(url(lab, "workspaces") + "/client/signin", timeout=30, json={
        "registrationCode": CODE, "username": "alice", "password": "Alice-Passw0rd!", "mfaCode": "123456"})
    assert signin.status_code == 403
    assert signin.json()["reason"] == "access_denied_DeviceTypeWindows"
    assert signin.json()["message"].startswith("This OS/platform is not authorized")


# -- Web Access over HTTP ------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def register(client: httpx.Client, code: str = CODE) -> httpx.Response:
    token = csrf_of(client.get("/webclient").text)
    return client.post("/webclient/registration", data={"registration_code": code, "csrf_token": token})


def test_web_access_signs_in_when_allowed_and_shows_the_workspace(lab, ws):
    ws.modify_workspace_access_properties(ResourceId=DIRECTORY, WorkspaceAccessProperties={"DeviceTypeWeb": "ALLOW"})
    with httpx.Client(base_url=url(lab, "workspaces"), follow_redirects=True, timeout=30) as client:
        page = register(client)
        assert page.url.path == "/webclient/signin"
        assert '<label for="f-mfa_code">Okta</label>' in page.text, "the MFA field wears the directory's label"
        cookies = client.cookies.jar
        assert all(c.has_nonstandard_attr("HttpOnly") for c in cookies), "every cookie is HttpOnly"
        done = client.post("/webclient/signin", data={"username": "alice", "password": "Alice-Passw0rd!",
                                                      "mfa_code": "123456", "csrf_token": csrf_of(page.text)})
        assert done.url.path == "/webclient/desktop", done.text
        assert "WSAMZN-" in done.text and "alice" in done.text and "wsb-0123456789" in done.text
        assert any(c.name == "ws_webaccess" and c.has_nonstandard_attr("HttpOnly") for c in client.cookies.jar)
        alice = ws.describe_workspaces(DirectoryId=DIRECTORY, UserName="alice")["Workspaces"][0]["WorkspaceId"]
        state = ws.describe_workspaces_connection_status(WorkspaceIds=[alice])["WorkspacesConnectionStatus"][0]
        assert state["ConnectionState"] == "CONNECTED"
        back = client.post("/webclient/disconnect", data={"csrf_token": csrf_of(done.text)})
        assert back.url.path == "/webclient/signin"
        assert client.get("/webclient/desktop").url.path == "/webclient/signin", "the session is gone"


def test_web_access_denied_shows_the_clients_message(lab):
    with httpx.Client(base_url=url(lab, "workspaces"), follow_redirects=True, timeout=30) as client:
        page = register(client)
        refused = client.post("/webclient/signin", data={"username": "alice", "password": "Alice-Passw0rd!",
                                                         "mfa_code": "123456", "csrf_token": csrf_of(page.text)})
        assert refused.status_code == 403
        assert "This OS/platform is not authorized to access your WorkSpace" in refused.text
    events = httpx.get(url(lab, "workspaces", "admin") + "/events", headers=admin_headers(lab)).json()
    assert any(e["kind"] == "workspaces.signin" and e["fields"].get("reason") == "access_denied_DeviceTypeWeb"
               for e in events)


def test_web_access_wrong_registration_code_and_csrf(lab):
    with httpx.Client(base_url=url(lab, "workspaces"), follow_redirects=True, timeout=30) as client:
        wrong = register(client, "WSlab+NOPE00")
        assert wrong.status_code == 400
        assert "Device can&#39;t connect to the registration service" in wrong.text
        assert client.post("/webclient/registration", data={"registration_code": CODE}).status_code == 403
        page = register(client)
        forged = client.post("/webclient/signin", data={"username": "alice", "password": "x", "mfa_code": "1",
                                                        "csrf_token": "A" * 43})
        assert forged.status_code == 403
        changed = client.post("/webclient/registration/change", data={"csrf_token": csrf_of(page.text)})
        assert changed.url.path == "/webclient" and "Registration code" in changed.text


def test_web_access_escapes_what_the_user_typed(lab):
    with httpx.Client(base_url=url(lab, "workspaces"), follow_redirects=True, timeout=30) as client:
        page = register(client, "<script>alert(1)</script>")
        assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
