"""RebootWorkspaces, StopWorkspaces and StartWorkspaces through boto3, on the seeded WorkSpaces
alone (127.0.198.x): each answers FailedRequests for what it refuses and changes the rest in the
background; a refused request changes nothing; the states follow AWS's rules; a WorkSpace
rebooting mid-way resumes after a restart of the service."""
from __future__ import annotations

import pytest

from tests.services.workspaces.fakes import aws_client
from tests.support import running_services, wait_until

SUBNET = "127.0.198"
DIRECTORY = "d-9067a1b2c3"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"workspaces": {"stage_delay_seconds": 0.2, "reboot_seconds": 0.4}}
    with running_services(["workspaces"], tmp_path_factory.mktemp("ws-power"), SUBNET, settings=settings) as topo:
        yield topo


@pytest.fixture(scope="module")
def ws(lab):
    return aws_client(lab, "workspaces")


def workspace_of(ws, user: str) -> dict:
    return ws.describe_workspaces(DirectoryId=DIRECTORY, UserName=user)["Workspaces"][0]


def state_becomes(ws, workspace_id: str, state: str) -> dict:
    return wait_until(lambda: ws.describe_workspaces(WorkspaceIds=[workspace_id])["Workspaces"][0],
                      lambda w: w["State"] == state, timeout=15)


def test_reboot_goes_through_rebooting_back_to_available(ws):
    alice = workspace_of(ws, "alice")
    assert alice["State"] == "AVAILABLE"
    answer = ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": alice["WorkspaceId"]}])
    assert answer["FailedRequests"] == []
    assert workspace_of(ws, "alice")["State"] in ("REBOOTING", "AVAILABLE")
    state_becomes(ws, alice["WorkspaceId"], "AVAILABLE")


def test_stop_then_start_an_autostop_workspace_and_refusals_in_failed_requests(ws):
    bob = workspace_of(ws, "bob")
    assert bob["WorkspaceProperties"]["RunningMode"] == "AUTO_STOP"
    answer = ws.stop_workspaces(StopWorkspaceRequests=[{"WorkspaceId": bob["WorkspaceId"]},
                                                       {"WorkspaceId": "ws-000000000"}])
    assert [f["WorkspaceId"] for f in answer["FailedRequests"]] == ["ws-000000000"]
    assert answer["FailedRequests"][0]["ErrorCode"] == "ResourceNotFound.Workspace"
    state_becomes(ws, bob["WorkspaceId"], "STOPPED")
    # A STOPPED WorkSpace cannot be stopped again nor rebooted; it can be started.
    again = ws.stop_workspaces(StopWorkspaceRequests=[{"WorkspaceId": bob["WorkspaceId"]}])["FailedRequests"]
    assert again[0]["ErrorCode"] == "InvalidResourceState.Workspace" and "STOPPED" in again[0]["ErrorMessage"]
    reboot = ws.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": bob["WorkspaceId"]}])["FailedRequests"]
    assert reboot[0]["ErrorCode"] == "InvalidResourceState.Workspace"
    assert workspace_of(ws, "bob")["State"] == "STOPPED", "a refused request changes nothing"
    assert ws.start_workspaces(StartWorkspaceRequests=[{"WorkspaceId": bob["WorkspaceId"]}])["FailedRequests"] == []
    state_becomes(ws, bob["WorkspaceId"], "AVAILABLE")
    started = ws.start_workspaces(StartWorkspaceRequests=[{"WorkspaceId": bob["WorkspaceId"]}])["FailedRequests"]
    assert started[0]["ErrorCode"] == "InvalidResourceState.Workspace", "only a STOPPED one starts"


def test_another_regions_workspace_is_not_found(ws, lab):
    carol = workspace_of(ws, "carol")
    other = aws_client(lab, "workspaces", region_name="eu-west-1")
    failed = other.reboot_workspaces(RebootWorkspaceRequests=[{"WorkspaceId": carol["WorkspaceId"]}])
    assert failed["FailedRequests"][0]["ErrorCode"] == "ResourceNotFound.Workspace"
