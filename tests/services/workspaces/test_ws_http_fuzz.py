"""HTTP fuzzing of Amazon WorkSpaces (dc, ad-connector and workspaces on 127.0.58): the AWS JSON 1.1
API from botocore's `workspaces` model, SigV4-signed, valid-shaped and mutated; the client sign-in
endpoint (`POST /client/signin`, described here since no app documents it); Web Access's pages
(`/webclient/*`, their forms sent with a valid CSRF pair and a remembered registration code, so
the fuzz reaches the handlers rather than the CSRF check); and the admin API.
The RADIUS server is the tests' responder that accepts every code (as in test_ws_api.py), so
sign-ins run to the end instead of waiting out RADIUS retries.

Every answer must be the API's own (AWS's `__type` and `message`; the sign-in's JSON), never a 500;
the log must hold no traceback; the service must still answer health and a real boto3 call.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from tests.services.workspaces.fakes import RadiusResponder, aws_client
from tests.support import running_services, url
from tests.support.aws_fuzzing import Generator, SignedClient, fuzz_aws
from tests.support.fuzzing import LogWatch
from tests.support.http_fuzzing import SCALE, fuzz_admin, fuzz_openapi, json_api, obj

SUBNET = "127.0.58"
DIRECTORY = "d-9067a1b2c3"
CASES = 30 * SCALE           # valid-shaped and as many mutated calls per operation
EXAMPLES = 25 * SCALE        # per mode, for the sign-in endpoint
OPERATIONS = ["DescribeWorkspaceDirectories", "DescribeWorkspaces", "DescribeWorkspacesConnectionStatus",
              "CreateWorkspaces", "RegisterWorkspaceDirectory", "DeregisterWorkspaceDirectory",
              "ModifyWorkspaceAccessProperties", "RebootWorkspaces", "StopWorkspaces", "StartWorkspaces",
              "RebuildWorkspaces"]   # the last is AWS's but not the lab's
TEXT = {"type": "string"}
SIGNIN = json_api("WorkSpaces client sign-in (lab)", {"POST /client/signin": {"required": [
    "registrationCode", "username", "password", "mfaCode"], **obj(
    # real values for valid-shaped requests (schemathesis' negative mode makes up others)
    registrationCode={"enum": ["WSlab+ABC12D", "wslab+abc12d"]},
    username={"enum": ["alice", "CORP\\bob", "carol@corp.example.com", "nobody", " alice "]},
    password={"enum": ["Alice-Passw0rd!", "wrong"]}, mfaCode={"type": "string", "pattern": "^([0-9]{6}|push)$"})}})


CSRF = "c" * 43      # the double-submit pair: the same value as cookie and header
FORM = "application/x-www-form-urlencoded"


def _form_op(members: dict) -> dict:
    return {"responses": {"default": {"description": "any"}},
            "requestBody": {"required": True, "content": {FORM: {"schema": obj(**members)}}}}


GET = {"responses": {"default": {"description": "any"}}}
WEB_ACCESS = {"openapi": "3.0.3", "info": {"title": "WorkSpaces Web Access (lab)", "version": "lab"}, "paths": {
    "/webclient": {"get": GET},
    "/webclient/registration": {"post": _form_op({"registration_code": {"enum": ["WSlab+ABC12D", "nope"]}})},
    "/webclient/registration/change": {"post": _form_op({})},
    "/webclient/signin": {"get": GET, "post": _form_op({
        "username": {"enum": ["alice", "CORP\\bob", "nobody"]}, "password": {"enum": ["Alice-Passw0rd!", "x"]},
        "mfa_code": {"type": "string", "pattern": "^([0-9]{6}|push)$"}})},
    "/webclient/signin/{job}": {"get": {**GET, "parameters": [
        {"name": "job", "in": "path", "required": True, "schema": TEXT}]}},
    "/webclient/desktop": {"get": GET},
    "/webclient/disconnect": {"post": _form_op({})},
}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.2, "connect_check_timeout_seconds": 1.0,
                                 "radius_probe_timeout_seconds": 0.5},
                "workspaces": {"stage_delay_seconds": 0.2}}
    with running_services(["dc", "ad-connector", "workspaces"], tmp_path_factory.mktemp("ws-fuzz"), SUBNET,
                          settings=settings) as topology:
        agent = topology["services"]["radius-agent"]     # stands in for the RADIUS agent: accepts every code
        radius = RadiusResponder(agent["host"], topology["credentials"]["radius_shared_secret"].encode(), "accept",
                                 port=agent["ports"]["radius"])
        try:
            yield topology
        finally:
            radius.close()


def still_serving(lab) -> None:
    svc = lab["services"]["workspaces"]
    assert httpx.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz").json()["healthy"]
    assert DIRECTORY in [d["DirectoryId"] for d in
                         aws_client(lab, "workspaces").describe_workspace_directories()["Directories"]]


def test_fuzz_the_workspaces_api(lab):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "workspaces.log")
    workspaces = aws_client(lab, "workspaces").describe_workspaces()["Workspaces"]
    generator = Generator("workspaces", random.Random(5150), known={
        "DirectoryId": [DIRECTORY, "d-0000000000"], "DirectoryIds": [[DIRECTORY]],
        "WorkspaceIds": [[w["WorkspaceId"] for w in workspaces[:3]]], "UserName": ["alice", "ALICE", "nobody"],
        "WorkspaceId": [w["WorkspaceId"] for w in workspaces[:3]] + ["ws-000000000"],
        "BundleId": ["wsb-0123456789"], "ResourceId": [DIRECTORY, "d-0000000000"]})
    client = SignedClient(url(lab, "workspaces"), generator.model, lab["credentials"])
    report = fuzz_aws(client, generator, OPERATIONS, CASES)
    print(f"workspaces API: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    still_serving(lab)


def every_workspace_available(lab, timeout: float = 60) -> None:
    """The API fuzz above may have rebooted or stopped WorkSpaces: a sign-in to one of those is
    rightly refused with 503 "Unhealthy", which the sign-in fuzz below would count as a finding."""
    ws = aws_client(lab, "workspaces")
    deadline = time.monotonic() + timeout
    while True:
        states = {w["WorkspaceId"]: w["State"] for w in ws.describe_workspaces()["Workspaces"]}
        stopped = [i for i, state in states.items() if state == "STOPPED"]
        if stopped:
            ws.start_workspaces(StartWorkspaceRequests=[{"WorkspaceId": i} for i in stopped])
        if all(state in ("AVAILABLE", "ERROR", "TERMINATED") for state in states.values()):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def test_fuzz_the_client_signin_and_the_admin_api(lab, tmp_path):
    every_workspace_available(lab)
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "workspaces.log")
    connector_log = LogWatch(Path(lab["state_dir"]) / "logs" / "ad-connector.log")    # the sign-in's next hop
    report = fuzz_openapi(SIGNIN, url(lab, "workspaces"), examples=EXAMPLES, seed=5151)
    admin = fuzz_admin(lab, "workspaces", tmp_path, examples=10, seed=5152)
    print(f"workspaces sign-in: {report.summary()}; admin: {admin.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings + admin.findings, report.failures() + admin.failures()
    assert not log.tracebacks() + connector_log.tracebacks(), (log.tracebacks() + connector_log.tracebacks())[:3]
    still_serving(lab)


def test_fuzz_web_access(lab):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "workspaces.log")
    aws_client(lab, "workspaces").modify_workspace_access_properties(   # so sign-ins reach the connector
        ResourceId=DIRECTORY, WorkspaceAccessProperties={"DeviceTypeWeb": "ALLOW"})
    headers = {"Cookie": f"lab_csrf={CSRF}; ws_regcode=WSlab+ABC12D", "X-CSRF-Token": CSRF}
    report = fuzz_openapi(WEB_ACCESS, url(lab, "workspaces"), headers=headers, examples=EXAMPLES, seed=5153)
    print(f"workspaces Web Access: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    still_serving(lab)


def test_a_null_list_member_is_a_validation_error(lab):
    """Found by fuzzing: `{"Workspaces": [null]}` passed validation and the handler failed (a 500)."""
    generator = Generator("workspaces", random.Random(1))
    client = SignedClient(url(lab, "workspaces"), generator.model, lab["credentials"])
    resp = client.call("CreateWorkspaces", {"Workspaces": [None]})
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] == "InvalidParameterValuesException"
    assert resp.json()["message"] == ("1 validation error detected: Value null at 'workspaces.1.member' failed "
                                      "to satisfy constraint: Member must not be null")
    resp = client.call("DescribeWorkspaces", {"WorkspaceIds": ["ws-lab000000", None]})
    assert resp.status_code == 400 and "'workspaceIds.2.member'" in resp.json()["message"], resp.text
