"""The AWS APIs against the whole lab, every component a real process: the DC (DNS, LDAP, KDC), the
Okta org, Okta Verify, the Okta RADIUS agent, AD Connector and WorkSpaces (127.0.90.x).

What only the real pieces can show: the RADIUS agent answers AD Connector's `awsfakeuser` probe
(with a Reject, which counts as reachable) so RadiusStatus converges to Completed; a wrong shared
secret leaves it Failed; a Terraform-style update converges again; and a sign-in with the phone's
code marks the WorkSpace CONNECTED for DescribeWorkspacesConnectionStatus.
"""
from __future__ import annotations

import httpx
import pytest

from lab.provision import enrol_okta_verify
from tests.services.workspaces.fakes import aws_client
from tests.support import default_seed, running_services, url, wait_until

SUBNET = "127.0.90"
DIRECTORY = "d-9067a1b2c3"
SERVICES = ["dc", "okta", "phone", "radius-agent", "ad-connector", "workspaces"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.3, "radius_probe_timeout_seconds": 1.0},
                "workspaces": {"stage_delay_seconds": 0.3}}
    with running_services(SERVICES, tmp_path_factory.mktemp("full"), SUBNET, settings=settings) as topo:
        seed = default_seed()   # as `lab up` does, but only for bob: Okta Verify on the phone
        enrol_okta_verify(topo, {"domain": seed["domain"], "users": [u for u in seed["users"] if u["sam"] == "bob"]})
        yield topo


def radius_status(ds):
    return ds.describe_directories(DirectoryIds=[DIRECTORY])["DirectoryDescriptions"][0].get("RadiusStatus")


def update(ds, lab, secret):
    """What Terraform's aws_directory_service_radius_settings does: the whole object, then wait."""
    agent = lab["services"]["radius-agent"]
    ds.update_radius(DirectoryId=DIRECTORY, RadiusSettings={
        "RadiusServers": [agent["host"]], "RadiusPort": agent["ports"]["radius"], "RadiusTimeout": 5,
        "RadiusRetries": 1, "SharedSecret": secret, "AuthenticationProtocol": "PAP",
        "DisplayLabel": "Okta", "UseSameUsername": True})
    assert radius_status(ds) == "Creating"
    return wait_until(lambda: radius_status(ds), lambda status: status != "Creating", timeout=15)


def test_radius_status_follows_the_real_agent(lab):
    ds = aws_client(lab, "ds")
    assert radius_status(ds) == "Completed", "the seed's directory starts with MFA on"
    assert update(ds, lab, "Not-The-Agents-Secret-1") == "Failed"
    assert update(ds, lab, lab["credentials"]["radius_shared_secret"]) == "Completed"


def test_sign_in_marks_the_workspace_connected(lab):
    ws = aws_client(lab, "workspaces")
    wait_until(lambda: radius_status(aws_client(lab, "ds")), lambda status: status == "Completed")
    bob = ws.describe_workspaces(DirectoryId=DIRECTORY, UserName="Bob")["Workspaces"][0]["WorkspaceId"]
    assert ws.describe_workspaces_connection_status(
        WorkspaceIds=[bob])["WorkspacesConnectionStatus"][0]["ConnectionState"] == "DISCONNECTED"
    code = httpx.get(url(lab, "phone") + "/accounts/bob/code").json()["code"]
    signin = httpx.post(url(lab, "workspaces") + "/client/signin", timeout=60, json={
        "registrationCode": "WSlab+ABC12D", "username": "bob", "password": "Bob-Passw0rd!", "mfaCode": code})
    assert signin.status_code == 200, signin.text
    status = ws.describe_workspaces_connection_status(WorkspaceIds=[bob])["WorkspacesConnectionStatus"][0]
    assert status["ConnectionState"] == "CONNECTED" and status["LastKnownUserConnectionTimestamp"]


def test_create_workspace_for_a_real_directory_user(lab):
    ws = aws_client(lab, "workspaces")
    result = ws.create_workspaces(Workspaces=[
        {"DirectoryId": DIRECTORY, "UserName": "IVAN", "BundleId": "wsb-0123456789"},
        {"DirectoryId": DIRECTORY, "UserName": "nobody", "BundleId": "wsb-0123456789"}])
    assert [p["UserName"] for p in result["PendingRequests"]] == ["ivan"]
    assert [f["ErrorCode"] for f in result["FailedRequests"]] == ["ResourceNotFound.User"]
