"""The WorkSpaces API with boto3, on the default seed: directories, WorkSpaces, paging and filters,
CreateWorkspaces' per-request failures, registration rules, and the connection status a client
sign-in changes.

One seeded lab (dc, ad-connector and workspaces on 127.0.90.x) for the module; the RADIUS server is
an in-test responder that accepts every code, on the radius-agent's address and port with the lab's
shared secret.
"""
from __future__ import annotations

import re

import botocore.exceptions
import httpx
import pytest

from tests.services.workspaces.fakes import RadiusResponder, aws_client
from tests.support import admin_headers, running_services, url, wait_until

SUBNET = "127.0.90"
DIRECTORY = "d-9067a1b2c3"
SEED_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("ws")
    settings = {"ad-connector": {"stage_delay_seconds": 0.3, "connect_check_timeout_seconds": 1.0},
                "workspaces": {"stage_delay_seconds": 0.3}}
    with running_services(["dc", "ad-connector", "workspaces"], state, SUBNET, settings=settings) as topo:
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


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response


def test_seeded_directory(ws):
    directories = ws.describe_workspace_directories()["Directories"]
    assert [d["DirectoryId"] for d in directories] == [DIRECTORY]
    directory = directories[0]
    assert directory["RegistrationCode"] == "WSlab+ABC12D" and directory["State"] == "REGISTERED"
    assert directory["CustomerUserName"] == "svc-adconnector"
    assert re.fullmatch(r"sg-[0-9a-f]{17}", directory["WorkspaceSecurityGroupId"])
    assert directory["DnsIpAddresses"] == [f"{SUBNET}.10"], "the directory's DNS servers, as DS shows them"
    assert ws.describe_workspace_directories(DirectoryIds=["d-0123456789"])["Directories"] == []
    err = error_of(ws.describe_workspace_directories, Limit=26)
    assert err["Error"]["Code"] == "InvalidParameterValuesException"
    assert "Member must have value less than or equal to 25" in err["Error"]["Message"]


def test_describe_workspaces_filters(ws):
    names = sorted(w["UserName"] for w in ws.describe_workspaces()["Workspaces"])
    assert names == sorted(SEED_USERS)
    alice = ws.describe_workspaces(DirectoryId=DIRECTORY, UserName="ALICE")["Workspaces"]
    assert [w["UserName"] for w in alice] == ["alice"], "user names are not case-sensitive"
    assert "ConnectionState" not in alice[0], "only the model's members go on the wire"
    by_id = ws.describe_workspaces(WorkspaceIds=[alice[0]["WorkspaceId"]])["Workspaces"]
    assert by_id == alice
    assert len(ws.describe_workspaces(BundleId="wsb-0123456789")["Workspaces"]) == len(SEED_USERS)


@pytest.mark.parametrize("kwargs, message", [
    (dict(UserName="alice"), "The DirectoryId parameter is required when UserName is used."),
    (dict(DirectoryId=DIRECTORY, BundleId="wsb-0123456789"), "An invalid number of parameters provided"),
    (dict(WorkspaceIds=["ws-lab000000"], DirectoryId=DIRECTORY), "An invalid number of parameters provided"),
    (dict(Limit=30), "Member must have value less than or equal to 25"),
    (dict(DirectoryId="x-12345678901"), "Member must satisfy regular expression pattern"),
])
def test_describe_workspaces_rejects(ws, kwargs, message):
    err = error_of(ws.describe_workspaces, **kwargs)
    assert err["Error"]["Code"] == "InvalidParameterValuesException"
    assert message in err["Error"]["Message"]


def test_describe_workspaces_pages(ws):
    seen, token, pages = [], None, 0
    while True:
        page = ws.describe_workspaces(DirectoryId=DIRECTORY, Limit=3, **({"NextToken": token} if token else {}))
        seen += [w["WorkspaceId"] for w in page["Workspaces"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == len(SEED_USERS)
    first = ws.describe_workspaces(DirectoryId=DIRECTORY, Limit=3)
    err = error_of(ws.describe_workspaces, BundleId="wsb-0123456789", NextToken=first["NextToken"])
    assert err["Error"] == {"Code": "InvalidParameterValuesException",
                            "Message": "The specified NextToken is not valid."}
    paginated = ws.get_paginator("describe_workspaces").paginate(PaginationConfig={"PageSize": 5})
    assert sum(len(p["Workspaces"]) for p in paginated) == len(SEED_USERS)


def test_create_workspaces_reports_each_request(ws):
    bundle = "wsb-0123456789"
    result = ws.create_workspaces(Workspaces=[
        {"DirectoryId": DIRECTORY, "UserName": "administrator", "BundleId": bundle},
        {"DirectoryId": DIRECTORY, "UserName": "Alice", "BundleId": bundle},
        {"DirectoryId": DIRECTORY, "UserName": "mallory", "BundleId": bundle},
        {"DirectoryId": "d-0123456789", "UserName": "bob", "BundleId": bundle},
    ])
    pending = result["PendingRequests"]
    assert [(p["UserName"], p["State"]) for p in pending] == [("Administrator", "PENDING")]
    assert [(f["WorkspaceRequest"]["UserName"], f["ErrorCode"]) for f in result["FailedRequests"]] == [
        ("Alice", "ResourceExists.WorkSpace"), ("mallory", "ResourceNotFound.User"),
        ("bob", "ResourceNotFound.Directory")]
    workspace = wait_until(lambda: ws.describe_workspaces(WorkspaceIds=[pending[0]["WorkspaceId"]])["Workspaces"][0],
                           lambda w: w["State"] == "AVAILABLE", timeout=10)
    assert workspace["UserName"] == "Administrator" and workspace["DirectoryId"] == DIRECTORY
    err = error_of(ws.create_workspaces, Workspaces=[{"DirectoryId": DIRECTORY, "UserName": "x" * 64,
                                                      "BundleId": bundle}])
    assert err["Error"]["Code"] == "InvalidParameterValuesException"


def test_register_and_deregister_rules(ws):
    assert error_of(ws.register_workspace_directory, DirectoryId=DIRECTORY)["Error"]["Code"] == \
        "ResourceAlreadyExistsException"
    err = error_of(ws.register_workspace_directory, DirectoryId="d-0123456789")
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["Error"]["Message"] == "The specified directory could not be found in the specified region."
    err = error_of(ws.deregister_workspace_directory, DirectoryId=DIRECTORY)
    assert err["Error"]["Code"] == "OperationNotSupportedException", "it still has WorkSpaces"
    err = error_of(ws.deregister_workspace_directory, DirectoryId="d-0123456789")
    assert err["Error"]["Code"] == "ResourceNotFoundException"


def test_register_then_deregister_an_empty_directory(lab, ws):
    ds = aws_client(lab, "ds")
    directory_id = ds.connect_directory(
        Name="corp.example.com", Password="Connector-Passw0rd!", Size="Small",
        ConnectSettings={"VpcId": "vpc-0123456789abcdef0", "CustomerDnsIps": [f"{SUBNET}.10"],
                         "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                         "CustomerUserName": "svc-adconnector"})["DirectoryId"]
    wait_until(lambda: ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0],
               lambda d: d["Stage"] == "Active")
    ws.register_workspace_directory(DirectoryId=directory_id)
    events = httpx.get(url(lab, "ad-connector", "admin") + "/events", headers=admin_headers(lab)).json()
    asked = [e for e in events if e["kind"] == "aws.call" and e["fields"].get("operation") == "DescribeDirectories"
             and e["fields"].get("params") == {"DirectoryIds": [directory_id]}]
    assert asked and asked[-1]["peer"] == lab["services"]["workspaces"]["host"], \
        "WorkSpaces asked the DS API itself, signed, from its own address"
    wait_until(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"][0],
               lambda d: d["State"] == "REGISTERED")
    ws.deregister_workspace_directory(DirectoryId=directory_id)
    wait_until(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"],
               lambda found: found == [])


def test_connection_status_after_a_client_sign_in(lab, ws):
    alice = ws.describe_workspaces(DirectoryId=DIRECTORY, UserName="alice")["Workspaces"][0]["WorkspaceId"]
    before = ws.describe_workspaces_connection_status(WorkspaceIds=[alice])["WorkspacesConnectionStatus"][0]
    assert before["ConnectionState"] == "DISCONNECTED" and "LastKnownUserConnectionTimestamp" not in before
    signin = httpx.post(url(lab, "workspaces") + "/client/signin", timeout=30, json={
        "registrationCode": "wslab+abc12d", "username": "alice", "password": "Alice-Passw0rd!", "mfaCode": "123456"})
    assert signin.status_code == 200, signin.text
    events = httpx.get(url(lab, "ad-connector", "admin") + "/events", headers=admin_headers(lab)).json()
    proof = [e for e in events if e["kind"] == "connector.ad_auth"][-1]
    dc = lab["services"]["dc"]
    assert proof["outcome"] == "ok" and proof["fields"]["kerberos"] == "ok", "the DC's KDC proved the password"
    assert proof["peer"] == f"{dc['host']}:{dc['ports']['kerberos']}"
    after = ws.describe_workspaces_connection_status(WorkspaceIds=[alice])["WorkspacesConnectionStatus"][0]
    assert after["ConnectionState"] == "CONNECTED"
    assert after["LastKnownUserConnectionTimestamp"].year >= 2024
    everything = ws.describe_workspaces_connection_status()["WorkspacesConnectionStatus"]
    assert len(everything) >= len(SEED_USERS)


def test_signing_errors(lab):
    wrong_key = aws_client(lab, "workspaces", aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
    err = error_of(wrong_key.describe_workspaces)
    assert err["Error"]["Code"] == "UnrecognizedClientException" and err["ResponseMetadata"]["HTTPStatusCode"] == 400
    wrong_secret = aws_client(lab, "workspaces", aws_secret_access_key="wrong")
    err = error_of(wrong_secret.describe_workspaces)
    assert err["Error"]["Code"] == "InvalidSignatureException" and err["ResponseMetadata"]["HTTPStatusCode"] == 403
    ds_signed = aws_client(lab, "ds", endpoint_url=url(lab, "workspaces"))
    err = error_of(ds_signed.describe_directories)
    assert err["Error"]["Code"] in ("InvalidSignatureException", "UnknownOperationException")


def test_the_seeded_directory_cannot_be_deleted_while_registered(lab):
    ds = aws_client(lab, "ds")
    err = error_of(ds.delete_directory, DirectoryId=DIRECTORY)
    assert err["Error"]["Code"] == "ClientException"
    assert "Amazon WorkSpaces" in err["Error"]["Message"]
    assert ds.describe_directories(DirectoryIds=[DIRECTORY])["DirectoryDescriptions"][0]["Stage"] == "Active"


def test_describe_workspace_bundles(ws):
    assert ws.describe_workspace_bundles()["Bundles"] == [], "the account owns no bundles of its own"
    first = ws.describe_workspace_bundles(Owner="AMAZON")
    assert len(first["Bundles"]) == 25 and first["NextToken"]
    rest = ws.describe_workspace_bundles(Owner="AMAZON", NextToken=first["NextToken"])
    amazon = first["Bundles"] + rest["Bundles"]
    assert "NextToken" not in rest and len({b["BundleId"] for b in amazon}) == len(amazon) > 25
    assert all(b["Owner"] == "AMAZON" and b["State"] == "AVAILABLE" for b in amazon)
    paginated = [b for page in ws.get_paginator("describe_workspace_bundles").paginate(Owner="AMAZON")
                 for b in page["Bundles"]]
    assert paginated == amazon, "boto3's own paginator walks the pages"

    seeded = ws.describe_workspace_bundles(BundleIds=["wsb-0123456789", "wsb-zzzzzzzzzz"])["Bundles"]
    assert [b["BundleId"] for b in seeded] == ["wsb-0123456789"], "the bundle the seed's WorkSpaces use"
    assert seeded[0]["ComputeType"] == {"Name": "STANDARD"} and seeded[0]["RootStorage"]["Capacity"]
    for workspace in ws.describe_workspaces()["Workspaces"]:
        assert ws.describe_workspace_bundles(BundleIds=[workspace["BundleId"]])["Bundles"]

    err = error_of(ws.describe_workspace_bundles, Owner="AMAZON", BundleIds=["wsb-0123456789"])
    assert err["Error"]["Code"] == "InvalidParameterValuesException"
    err = error_of(ws.describe_workspace_bundles, BundleIds=["bundle-1"])
    assert "Member must satisfy regular expression pattern" in err["Error"]["Message"]
    err = error_of(ws.describe_workspace_bundles, BundleIds=[f"wsb-{i:010d}" for i in range(26)])
    assert "Member must have length less than or equal to 25" in err["Error"]["Message"]
    err = error_of(ws.describe_workspace_bundles, Owner="AMAZON", NextToken="bogus")
    assert err["Error"]["Message"] == "The specified NextToken is not valid."


def _pattern(client, shape):
    return client.meta.service_model.shape_for(shape).metadata["pattern"]


def test_seeded_ids_pass_the_apis_own_validation(lab, ws):
    ds = aws_client(lab, "ds")
    seeded = ds.describe_directories(DirectoryIds=[DIRECTORY])["DirectoryDescriptions"][0]
    connect = seeded["ConnectSettings"]
    ids = [(seeded["DirectoryId"], "DirectoryId"), (connect["VpcId"], "VpcId"),
           (connect["SecurityGroupId"], "SecurityGroupId")] + [(s, "SubnetId") for s in connect["SubnetIds"]]
    for value, shape in ids:
        assert re.fullmatch(_pattern(ds, shape), value), (shape, value)
    directory = ws.describe_workspace_directories(DirectoryIds=[DIRECTORY])["Directories"][0]
    assert directory["SubnetIds"] == connect["SubnetIds"]
    assert re.fullmatch(_pattern(ws, "SecurityGroupId"), directory["WorkspaceSecurityGroupId"])
    for workspace in ws.describe_workspaces()["Workspaces"]:
        assert re.fullmatch(_pattern(ws, "WorkspaceId"), workspace["WorkspaceId"])
        assert re.fullmatch(_pattern(ws, "BundleId"), workspace["BundleId"])
        assert re.fullmatch(_pattern(ws, "SubnetId"), workspace["SubnetId"])

    # The repro: connect-directory with the VPC and subnets copied from the seeded directory.
    made = ds.connect_directory(Name="corp.example.com", Password="Connector-Passw0rd!", Size="Small",
                                ConnectSettings={"VpcId": connect["VpcId"], "SubnetIds": connect["SubnetIds"],
                                                 "CustomerDnsIps": seeded["DnsIpAddrs"],
                                                 "CustomerUserName": connect["CustomerUserName"]})["DirectoryId"]
    try:
        assert re.fullmatch(_pattern(ds, "DirectoryId"), made)
    finally:
        ds.delete_directory(DirectoryId=made)


def test_the_seeded_directory_has_what_connect_directory_gives(lab):
    ds = aws_client(lab, "ds")
    seeded = ds.describe_directories(DirectoryIds=[DIRECTORY])["DirectoryDescriptions"][0]
    assert seeded["Alias"] == DIRECTORY and seeded["AccessUrl"] == f"{DIRECTORY}.awsapps.com"
    assert seeded["LaunchTime"] and seeded["StageLastUpdatedDateTime"]
    assert seeded["Stage"] == "Active" and seeded["RadiusStatus"] == "Completed"
    assert "SharedSecret" not in seeded["RadiusSettings"]
