"""The Directory Service API of the emulated AD Connector, driven by boto3 exactly as a user would:
SigV4, AWS's errors, the Stage lifecycle decided by a real DNS/LDAP check, RadiusStatus decided by
a real RADIUS probe, and a blank lab walked from nothing to a WorkSpace.

One blank lab (dc, ad-connector and workspaces on 127.0.89.x) for the module: a blank lab has no AWS
resources but the DC keeps its directory. ConnectDirectory's failures are the DC's admin faults
(a removed SRV record, dropped DNS or LDAP), an address nothing listens on, or a wrong password.
RADIUS servers are in-test responders.
"""
from __future__ import annotations

import json
import re
import time

import botocore.exceptions
import httpx
import pytest
from botocore.config import Config

from tests.services.workspaces.fakes import RadiusResponder, aws_client
from tests.support import admin_headers, running_services, url, wait_until

SUBNET = "127.0.89"
DELAY = 0.2
SECRET = "Correct-Horse-Battery-1"
SETTINGS = {"stage_delay_seconds": DELAY, "radius_probe_timeout_seconds": 0.4,
            "connect_check_timeout_seconds": 0.5}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("ds")
    with running_services(["dc", "ad-connector", "workspaces"], state, SUBNET, blank=True,
                          settings={"ad-connector": SETTINGS, "workspaces": {"stage_delay_seconds": DELAY}}) as topo:
        yield topo


@pytest.fixture
def dc_fault(lab):
    """Injects faults into the DC (its admin API) for one test, and clears them afterwards."""
    admin = url(lab, "dc", "admin")

    def inject(spec):
        httpx.post(f"{admin}/faults", json=spec, headers=admin_headers(lab)).raise_for_status()

    yield inject
    httpx.delete(f"{admin}/faults", headers=admin_headers(lab)).raise_for_status()


@pytest.fixture(scope="module")
def ds(lab):
    return aws_client(lab, "ds")


def connect_args(**over):
    args = dict(Name="corp.example.com", ShortName="CORP", Password="Connector-Passw0rd!", Size="Small",
                ConnectSettings={"VpcId": "vpc-0123456789abcdef0",
                                 "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                                 "CustomerDnsIps": [f"{SUBNET}.10"], "CustomerUserName": "svc-adconnector"})
    args.update(over)
    return args


def describe(ds, directory_id):
    return ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]


def wait_stage(ds, directory_id, timeout=10.0):
    return wait_until(lambda: describe(ds, directory_id), lambda d: d["Stage"] not in ("Requested", "Creating"),
                      timeout)


def wait_radius(ds, directory_id, timeout=10.0):
    """Terraform's waiter: Pending [Creating], Target [Completed] (anything else ends the wait)."""
    return wait_until(lambda: describe(ds, directory_id), lambda d: d.get("RadiusStatus") != "Creating", timeout)


@pytest.fixture(scope="module")
def active(ds):
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    assert wait_stage(ds, directory_id)["Stage"] == "Active"
    return directory_id


def radius(servers, port, **over):
    settings = dict(RadiusServers=servers, RadiusPort=port, RadiusTimeout=1, RadiusRetries=0,
                    SharedSecret=SECRET, AuthenticationProtocol="PAP", DisplayLabel="Okta", UseSameUsername=True)
    settings.update(over)
    return settings


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


@pytest.fixture
def responder():
    made = []

    def make(host=f"{SUBNET}.20", secret=SECRET, mode="reject", port=0):
        r = RadiusResponder(host, secret.encode(), mode, port=port)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# -- ConnectDirectory and the Stage lifecycle -------------------------------------------------------

def test_connect_directory_goes_requested_to_active_with_connect_settings(ds, lab):
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    assert directory_id.startswith("d-") and len(directory_id) == 12
    first = describe(ds, directory_id)
    assert first["Stage"] in ("Requested", "Creating")
    final = wait_stage(ds, directory_id)
    assert final["Stage"] == "Active" and "StageReason" not in final
    settings = final["ConnectSettings"]
    assert re.fullmatch(r"sg-[0-9a-f]{17}", settings["SecurityGroupId"]), "as EC2 makes them"
    assert settings["ConnectIps"] == lab["services"]["ad-connector"]["settings"]["connect_ips"]
    assert settings["CustomerUserName"] == "svc-adconnector"
    assert final["DnsIpAddrs"] == [f"{SUBNET}.10"] and final["Type"] == "ADConnector"
    assert "RadiusSettings" not in final and "RadiusStatus" not in final
    assert "Connector-Passw0rd!" not in json.dumps(final, default=str)


@pytest.mark.parametrize("over, fault, reason", [
    ({}, {"action": "remove_record", "protocol": "dns", "target": "_ldap._tcp.corp.example.com"},
     f"SRV record for LDAP does not exist for IP: {SUBNET}.10"),
    ({}, {"action": "remove_record", "protocol": "dns", "target": "_kerberos._tcp.corp.example.com"},
     f"SRV record for Kerberos does not exist for IP: {SUBNET}.10"),
    (dict(ConnectSettings={"VpcId": "vpc-0123456789abcdef0",
                           "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                           "CustomerDnsIps": [f"{SUBNET}.99"], "CustomerUserName": "svc-adconnector"}),
     None, f"DNS unavailable (TCP port 53) for IP: {SUBNET}.99"),
    ({}, {"action": "drop", "protocol": "dns"}, f"DNS unavailable (TCP port 53) for IP: {SUBNET}.10"),
    ({}, {"action": "drop", "protocol": "ldap"},
     f"Connectivity issues detected: LDAP unavailable (TCP port 389) for IP: {SUBNET}.10"),
    (dict(Password="Wrong-Passw0rd!"), None, "Invalid service account credentials"),
], ids=["no-ldap-srv", "no-kerberos-srv", "no-dns-server", "dns-dropped", "ldap-dropped", "wrong-password"])
def test_connect_directory_fails_with_aws_stage_reason(ds, dc_fault, over, fault, reason):
    if fault:
        dc_fault(fault)
    directory_id = ds.connect_directory(**connect_args(**over))["DirectoryId"]
    final = wait_stage(ds, directory_id)
    assert final["Stage"] == "Failed"
    assert final["StageReason"].startswith(reason)


def test_connect_directory_validation(ds):
    one_subnet = connect_args(ConnectSettings={"VpcId": "vpc-0123456789abcdef0",
                                               "SubnetIds": ["subnet-0123456789abcdef0"],
                                               "CustomerDnsIps": [f"{SUBNET}.10"], "CustomerUserName": "svc"})
    err = error_of(ds.connect_directory, **one_subnet)["Error"]
    assert err["Code"] == "InvalidParameterException" and "two subnets" in err["Message"]
    err = error_of(ds.connect_directory, **connect_args(Size="Huge", Name="not a name"))["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"].startswith("2 validation errors detected: ")
    assert "Member must satisfy enum value set: [Small, Large]" in err["Message"]


def test_delete_directory(ds):
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    assert ds.delete_directory(DirectoryId=directory_id)["DirectoryId"] == directory_id
    assert error_of(describe, ds, directory_id)["Error"]["Code"] == "EntityDoesNotExistException"
    assert error_of(ds.delete_directory, DirectoryId=directory_id)["Error"]["Code"] == "EntityDoesNotExistException"


def test_delete_directory_refused_while_registered_with_workspaces(ds, lab):
    ws = aws_client(lab, "workspaces")
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    assert wait_stage(ds, directory_id)["Stage"] == "Active"
    ws.register_workspace_directory(DirectoryId=directory_id)
    err = error_of(ds.delete_directory, DirectoryId=directory_id)
    assert err["Error"]["Code"] == "ClientException", "in use from REGISTERING on"
    assert "Amazon WorkSpaces" in err["Error"]["Message"] and directory_id in err["Error"]["Message"]
    wait_until(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"][0],
               lambda d: d["State"] == "REGISTERED")
    assert error_of(ds.delete_directory, DirectoryId=directory_id)["Error"]["Code"] == "ClientException"
    assert describe(ds, directory_id)["Stage"] == "Active", "a refused delete leaves the directory alone"

    ws.deregister_workspace_directory(DirectoryId=directory_id)
    wait_until(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"], lambda d: d == [])
    assert ds.delete_directory(DirectoryId=directory_id)["DirectoryId"] == directory_id


def test_registrations_endpoint_refuses_unknown_directories_and_applications(lab):
    api = url(lab, "ad-connector", "api")
    unknown = httpx.put(f"{api}/connector/registrations/d-0000000000/workspaces")
    assert unknown.status_code == 404 and "d-0000000000" in unknown.json()["error"]
    assert httpx.put(f"{api}/connector/registrations/d-0000000000/appstream").status_code == 400
    gone = httpx.delete(f"{api}/connector/registrations/d-0000000000/workspaces")
    assert gone.status_code == 200 and gone.json() == {"registered": False}, "a retried release is harmless"


def test_describe_domain_controllers_of_an_ad_connector(ds, active):
    err = error_of(ds.describe_domain_controllers, DirectoryId=active)
    assert err["Error"]["Code"] == "UnsupportedOperationException", "an AD Connector has no AWS-managed DCs"
    assert "AWS Managed Microsoft AD" in err["Error"]["Message"]
    err = error_of(ds.describe_domain_controllers, DirectoryId="d-0000000000")
    assert err["Error"]["Code"] == "EntityDoesNotExistException"
    err = error_of(ds.describe_domain_controllers, DirectoryId=active, DomainControllerIds=["dc-xyz"])
    assert err["Error"]["Code"] == "InvalidParameterException"


def test_each_region_has_its_own_directories(ds, lab):
    eu, eu_ws = aws_client(lab, "ds", region_name="eu-west-1"), aws_client(lab, "workspaces", region_name="eu-west-1")
    directory_id = eu.connect_directory(**connect_args())["DirectoryId"]
    try:
        made = wait_stage(eu, directory_id)
        assert made["Stage"] == "Active"
        assert made["ConnectSettings"]["AvailabilityZones"] == ["eu-west-1a", "eu-west-1b"]
        assert directory_id not in [d["DirectoryId"] for d in ds.describe_directories()["DirectoryDescriptions"]]
        assert error_of(describe, ds, directory_id)["Error"]["Code"] == "EntityDoesNotExistException"
        err = error_of(aws_client(lab, "workspaces").register_workspace_directory, DirectoryId=directory_id)
        assert err["Error"]["Code"] == "ResourceNotFoundException", "us-east-1's WorkSpaces cannot see it"
        eu_ws.register_workspace_directory(DirectoryId=directory_id)
        assert [d["DirectoryId"] for d in eu_ws.describe_workspace_directories()["Directories"]] == [directory_id]
        assert directory_id not in [d["DirectoryId"] for d in
                                    aws_client(lab, "workspaces").describe_workspace_directories()["Directories"]]
        wait_until(lambda: eu_ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"][0],
                   lambda d: d["State"] == "REGISTERED")
        eu_ws.deregister_workspace_directory(DirectoryId=directory_id)
        wait_until(lambda: eu_ws.describe_workspace_directories()["Directories"], lambda d: d == [])
    finally:
        eu.delete_directory(DirectoryId=directory_id)
    err = error_of(aws_client(lab, "ds", region_name="mars-north-1").describe_directories)
    assert err["Error"]["Code"] == "InvalidSignatureException", "a Region AWS does not offer"


# -- DescribeDirectories ----------------------------------------------------------------------------

def test_describe_directories_errors_and_paging(ds, active):
    err = error_of(ds.describe_directories, DirectoryIds=[])
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["ResponseMetadata"]["RequestId"]
    err = error_of(ds.describe_directories, DirectoryIds=["d-0000000000"])
    assert err["Error"] == {"Code": "EntityDoesNotExistException", "Message": "Directory d-0000000000 does not exist."}
    everything = ds.describe_directories()["DirectoryDescriptions"]
    assert active in [d["DirectoryId"] for d in everything]
    first = ds.describe_directories(Limit=1)
    assert len(first["DirectoryDescriptions"]) == 1 and "NextToken" in first
    rest = ds.describe_directories(Limit=100, NextToken=first["NextToken"])["DirectoryDescriptions"]
    assert len(rest) == len(everything) - 1
    assert error_of(ds.describe_directories, NextToken="garbage")["Error"]["Code"] == "InvalidNextTokenException"


# -- signing ----------------------------------------------------------------------------------------

def test_wrong_access_key_is_an_unrecognized_client(lab):
    ds = aws_client(lab, "ds", aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
    err = error_of(ds.describe_directories)
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"] == {"Code": "UnrecognizedClientException",
                            "Message": "The security token included in the request is invalid."}


def test_wrong_secret_key_is_a_bad_signature(lab):
    ds = aws_client(lab, "ds", aws_secret_access_key="not-the-lab-secret")
    err = error_of(ds.describe_directories)
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["Error"]["Message"].startswith("The request signature we calculated does not match the "
                                              "signature you provided.")
    assert err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_tampered_body_and_unsigned_requests_are_refused(lab, ds):
    endpoint = url(lab, "ad-connector")
    unsigned = httpx.post(endpoint + "/", content=b"{}", headers={
        "X-Amz-Target": "DirectoryService_20150416.DescribeDirectories",
        "Content-Type": "application/x-amz-json-1.1"})
    assert unsigned.status_code == 400
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    assert unsigned.headers["x-amzn-RequestId"]

    def tamper(request, **_):
        request.body = request.body.replace(b"d-0000000000", b"d-1111111111")

    tampered = aws_client(lab, "ds")   # the body changes after signing, on its way out
    tampered.meta.events.register("before-send.ds.DescribeDirectories", tamper)
    err = error_of(tampered.describe_directories, DirectoryIds=["d-0000000000"])
    assert err["Error"]["Code"] == "InvalidSignatureException"


def test_skewed_clock_expires_the_signature(lab, ds):
    admin = url(lab, "ad-connector", "admin")
    httpx.post(f"{admin}/clock", json={"offset_seconds": 3600}, headers=admin_headers(lab)).raise_for_status()
    try:
        err = error_of(ds.describe_directories)
        assert err["Error"]["Code"] == "InvalidSignatureException"
        assert err["Error"]["Message"].startswith("Signature expired: ")
    finally:
        httpx.post(f"{admin}/clock", json={"offset_seconds": 0}, headers=admin_headers(lab)).raise_for_status()


# -- RADIUS settings: validation --------------------------------------------------------------------

@pytest.mark.parametrize("over, fragment", [
    (dict(RadiusTimeout=51), "Value '51' at 'radiusSettings.radiusTimeout' failed to satisfy constraint: "
                             "Member must have value less than or equal to 50"),
    (dict(RadiusRetries=11), "Value '11' at 'radiusSettings.radiusRetries' failed to satisfy constraint: "
                             "Member must have value less than or equal to 10"),
    (dict(RadiusPort=70000), "Member must have value less than or equal to 65535"),
    (dict(AuthenticationProtocol="EAP"), "Value 'EAP' at 'radiusSettings.authenticationProtocol' failed to "
                                         "satisfy constraint: Member must satisfy enum value set: "
                                         "[PAP, CHAP, MS-CHAPv1, MS-CHAPv2]"),
    (dict(SharedSecret="tab\tis not allowed"), "Value at 'radiusSettings.sharedSecret' failed to satisfy "
                                               "constraint: Member must satisfy regular expression pattern"),
    (dict(SharedSecret="x" * 513), "Value at 'radiusSettings.sharedSecret' failed to satisfy constraint: "
                                   "Member must have length less than or equal to 512"),
])
def test_server_side_radius_validation(ds, active, over, fragment):
    err = error_of(ds.enable_radius, DirectoryId=active, RadiusSettings=radius([f"{SUBNET}.20"], 1812, **over))
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert fragment in err["Error"]["Message"]
    assert over.get("SharedSecret", "\0") not in err["Error"]["Message"], "a secret never comes back"
    assert "RadiusSettings" not in describe(ds, active)


@pytest.mark.parametrize("over", [dict(RadiusTimeout=0), dict(RadiusRetries=-1), dict(RadiusPort=812),
                                  dict(SharedSecret="short")])
def test_below_minimum_is_caught_by_botocore_and_by_the_server(lab, ds, active, over):
    with pytest.raises(botocore.exceptions.ParamValidationError):
        ds.enable_radius(DirectoryId=active, RadiusSettings=radius([f"{SUBNET}.20"], 1812, **over))
    unchecked = aws_client(lab, "ds", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    err = error_of(unchecked.enable_radius, DirectoryId=active,
                   RadiusSettings=radius([f"{SUBNET}.20"], 1812, **over))
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert "greater than or equal to" in err["Error"]["Message"]


def test_radius_settings_need_servers_and_a_secret(ds, active):
    settings = radius([f"{SUBNET}.20"], 1812)
    del settings["RadiusServers"], settings["SharedSecret"]
    err = error_of(ds.enable_radius, DirectoryId=active, RadiusSettings=settings)
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert "RadiusSettings.RadiusServers" in err["Error"]["Message"]
    assert "RadiusSettings.SharedSecret" in err["Error"]["Message"]


def test_radius_on_an_unknown_directory(ds):
    for call, kwargs in ((ds.enable_radius, dict(RadiusSettings=radius(["10.0.0.1"], 1812))),
                         (ds.update_radius, dict(RadiusSettings=radius(["10.0.0.1"], 1812))),
                         (ds.disable_radius, {})):
        err = error_of(call, DirectoryId="d-0123456789", **kwargs)
        assert err["Error"]["Code"] == "EntityDoesNotExistException", call


# -- RADIUS status, decided by a real probe ---------------------------------------------------------

@pytest.fixture(scope="module")
def radius_directory(ds):
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    assert wait_stage(ds, directory_id)["Stage"] == "Active"
    return directory_id


@pytest.fixture
def fresh(ds, radius_directory):
    """An Active directory with RADIUS off; turned off again afterwards so no state leaks."""
    ds.disable_radius(DirectoryId=radius_directory)
    yield radius_directory
    ds.disable_radius(DirectoryId=radius_directory)


def test_right_secret_completes_and_any_authentic_reply_counts(ds, lab, fresh, responder):
    server = responder(mode="reject")
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert describe(ds, fresh)["RadiusStatus"] == "Creating"
    final = wait_radius(ds, fresh)
    assert final["RadiusStatus"] == "Completed"
    assert "SharedSecret" not in final["RadiusSettings"]
    assert final["RadiusSettings"]["RadiusServers"] == [f"{SUBNET}.20"]
    connect_ips = set(lab["services"]["ad-connector"]["settings"]["connect_ips"])
    assert {src for src, _ in server.received} == connect_ips, "probed from every connector address"
    assert {user for _, user in server.received} == {"awsfakeuser"}


def test_enabling_twice_is_entity_already_exists(ds, fresh, responder):
    server = responder()
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    err = error_of(ds.enable_radius, DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert err["Error"]["Code"] == "EntityAlreadyExistsException"


def test_wrong_secret_fails_then_update_with_the_right_one_completes(ds, fresh, responder):
    server = responder(secret="Some-Other-Secret-9")
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert wait_radius(ds, fresh)["RadiusStatus"] == "Failed"
    server.secret = SECRET.encode()
    ds.update_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert describe(ds, fresh)["RadiusStatus"] == "Creating"
    assert wait_radius(ds, fresh)["RadiusStatus"] == "Completed"


def test_unreachable_server_fails(ds, fresh, responder):
    server = responder(mode="silent")
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert wait_radius(ds, fresh)["RadiusStatus"] == "Failed"
    assert server.received, "the probe was sent"


def test_every_server_must_answer(ds, fresh, responder):
    up = responder(host=f"{SUBNET}.20")
    responder(host=f"{SUBNET}.21", mode="silent", port=up.port)
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20", f"{SUBNET}.21"], up.port))
    assert wait_radius(ds, fresh)["RadiusStatus"] == "Failed"


def test_sign_in_refused_while_creating_and_disable_removes_settings(ds, lab, fresh, responder):
    server = responder(mode="silent")
    ds.enable_radius(DirectoryId=fresh, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    verdict = httpx.post(url(lab, "ad-connector") + "/connector/authenticate", json={
        "directoryId": fresh, "username": "alice", "password": "Alice-Passw0rd!", "mfaCode": "123456"}).json()
    assert verdict == {"authenticated": False, "reason": "radius_not_ready", "detail": "RadiusStatus is Creating"}
    ds.disable_radius(DirectoryId=fresh)
    after = describe(ds, fresh)
    assert "RadiusSettings" not in after and "RadiusStatus" not in after
    time.sleep(DELAY + 0.6)    # the cancelled probe must not bring the status back
    assert "RadiusStatus" not in describe(ds, fresh)
    ds.disable_radius(DirectoryId=fresh)   # disabling twice is harmless


def test_secrets_never_reach_the_journal(lab, ds, active):
    events = httpx.get(url(lab, "ad-connector", "admin") + "/events", headers=admin_headers(lab)).text
    assert SECRET not in events and "Connector-Passw0rd!" not in events
    assert "EnableRadius" in events, "the calls themselves are journaled"


# -- a blank lab, from nothing to a WorkSpace -------------------------------------------------------

def test_blank_lab_walk(lab, responder):
    ds, ws = aws_client(lab, "ds"), aws_client(lab, "workspaces")
    assert ws.describe_workspace_directories()["Directories"] == []
    server = responder(mode="reject")
    directory_id = ds.connect_directory(**connect_args())["DirectoryId"]
    err = error_of(ws.register_workspace_directory, DirectoryId=directory_id)
    assert err["Error"]["Code"] == "InvalidResourceStateException", "not Active yet"
    assert wait_stage(ds, directory_id)["Stage"] == "Active"

    ds.enable_radius(DirectoryId=directory_id, RadiusSettings=radius([f"{SUBNET}.20"], server.port))
    assert wait_radius(ds, directory_id)["RadiusStatus"] == "Completed"

    registered = ws.register_workspace_directory(DirectoryId=directory_id, EnableSelfService=False)
    assert registered["DirectoryId"] == directory_id and registered["State"] == "REGISTERING"
    directory = wait_until(lambda: ws.describe_workspace_directories(DirectoryIds=[directory_id])["Directories"][0],
                           lambda d: d["State"] == "REGISTERED")
    assert re.fullmatch(r"WSiad\+[A-Z0-9]{6}", directory["RegistrationCode"]), "us-east-1: WS + iad"
    assert re.fullmatch(r"sg-[0-9a-f]{17}", directory["WorkspaceSecurityGroupId"])
    assert directory["CustomerUserName"] == "svc-adconnector" and directory["DirectoryType"] == "AD_CONNECTOR"
    err = error_of(ws.register_workspace_directory, DirectoryId=directory_id)
    assert err["Error"]["Code"] == "ResourceAlreadyExistsException"

    created = ws.create_workspaces(Workspaces=[
        {"DirectoryId": directory_id, "UserName": "ALICE", "BundleId": "wsb-0123456789"},
        {"DirectoryId": directory_id, "UserName": "nobody", "BundleId": "wsb-0123456789"}])
    assert [p["UserName"] for p in created["PendingRequests"]] == ["alice"]
    assert created["PendingRequests"][0]["State"] == "PENDING"
    assert [f["ErrorCode"] for f in created["FailedRequests"]] == ["ResourceNotFound.User"]
    workspace_id = created["PendingRequests"][0]["WorkspaceId"]
    available = wait_until(lambda: ws.describe_workspaces(WorkspaceIds=[workspace_id])["Workspaces"][0],
                           lambda w: w["State"] == "AVAILABLE")
    assert available["ComputerName"].startswith("WSAMZN-")


def test_an_operation_the_lab_does_not_emulate_is_a_quick_400(ds):
    err = error_of(ds.get_directory_limits)
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, "a 400, so botocore does not retry it"
    assert err["Error"]["Code"] == "UnknownOperationException"
