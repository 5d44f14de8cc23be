"""services/common/aws_api.py in-process: SigV4 verification against requests botocore signed,
coral-style validation messages from the botocore models, output shaping and error bodies."""
from __future__ import annotations

import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from services.common.aws_api import AwsError, AwsModel
from services.common.aws_sigv4 import SigV4Verifier

KEY, SECRET, REGION = "AKIALABTEST000000001", "lab-secret-key", "us-east-1"
BODY = b'{"DirectoryIds": ["d-0123456789"]}'


def signed(service="ds", region=REGION, key=KEY, secret=SECRET, body=BODY):
    request = AWSRequest(method="POST", url="http://127.0.89.40:8080/", data=body, headers={
        "X-Amz-Target": "DirectoryService_20150416.DescribeDirectories",
        "Content-Type": "application/x-amz-json-1.1", "User-Agent": "Boto3/test"})
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.89.40:8080"
    return headers


def verify(headers, body=BODY, now=time.time):
    SigV4Verifier(KEY, SECRET, REGION, "ds", now=now).verify("POST", "/", "", headers, body)


def code_of(call):
    with pytest.raises(AwsError) as info:
        call()
    return info.value.code, info.value.message, info.value.status


def test_a_botocore_signature_verifies():
    verify(signed())


@pytest.mark.parametrize("kwargs, code, status, message", [
    (dict(key="AKIAOTHERKEY00000000"), "UnrecognizedClientException", 400, "The security token included"),
    (dict(secret="other"), "InvalidSignatureException", 403, "The request signature we calculated"),
    (dict(region="eu-west-1"), "InvalidSignatureException", 403, "Credential should be scoped to a valid region"),
    (dict(service="workspaces"), "InvalidSignatureException", 403, "Credential should be scoped to correct service"),
])
def test_signature_failures(kwargs, code, status, message):
    got = code_of(lambda: verify(signed(**kwargs)))
    assert got[0] == code and got[2] == status and got[1].startswith(message)


def test_any_region_the_service_is_offered_in_verifies_and_is_returned():
    verifier = SigV4Verifier(KEY, SECRET, REGION, "ds", regions=frozenset({"us-east-1", "eu-west-1"}))
    assert verifier.verify("POST", "/", "", signed(region="eu-west-1"), BODY) == "eu-west-1"
    assert verifier.verify("POST", "/", "", signed(), BODY) == REGION
    got = code_of(lambda: verifier.verify("POST", "/", "", signed(region="mars-north-1"), BODY))
    assert got[0] == "InvalidSignatureException" and "not 'mars-north-1'" in got[1]


def test_a_changed_body_or_a_missing_header_fails():
    assert code_of(lambda: verify(signed(), body=BODY.replace(b"0123", b"9999")))[0] == "InvalidSignatureException"
    headers = signed()
    del headers["authorization"]
    assert code_of(lambda: verify(headers))[0] == "MissingAuthenticationTokenException"


def test_skew_beyond_15_minutes_expires():
    headers = signed()
    code, message, _ = code_of(lambda: verify(headers, now=lambda: time.time() + 16 * 60))
    assert code == "InvalidSignatureException" and message.startswith("Signature expired: ")
    code, message, _ = code_of(lambda: verify(headers, now=lambda: time.time() - 16 * 60))
    assert message.startswith("Signature not yet current: ")


def test_validation_messages_follow_coral():
    ws = AwsModel("workspaces")
    op = ws.operation("CreateWorkspaces")
    errors = ws.validate(op, {"Workspaces": [{"DirectoryId": "d-0123456789", "UserName": "u" * 64}]})
    assert errors == [
        "Value null at 'workspaces.1.member.bundleId' failed to satisfy constraint: Member must not be null",
        f"Value '{'u' * 64}' at 'workspaces.1.member.userName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"]
    ds = AwsModel("ds")
    errors = ds.validate(ds.operation("ConnectDirectory"), {
        "Name": "corp.example.com", "Password": "", "Size": "Small",
        "ConnectSettings": {"VpcId": "vpc-01234567", "SubnetIds": [], "CustomerUserName": "svc"}})
    assert errors == ["Value at 'password' failed to satisfy constraint: Member must have length greater than "
                      "or equal to 1"], "sensitive values are never shown"
    with pytest.raises(AwsError) as info:
        ds.validate(ds.operation("EnableRadius"), {"DirectoryId": "d-0123456789",
                                                   "RadiusSettings": {"RadiusPort": "1812"}})
    assert info.value.code == "SerializationException"


def test_output_keeps_only_model_members_and_epoch_timestamps():
    ws = AwsModel("workspaces")
    op = ws.operation("DescribeWorkspacesConnectionStatus")
    out = ws.shape_output(op, {"WorkspacesConnectionStatus": [{
        "WorkspaceId": "ws-abcdefghi", "ConnectionState": "CONNECTED", "Secret": "x",
        "LastKnownUserConnectionTimestamp": "2026-01-02T03:04:05Z"}]})
    assert out == {"WorkspacesConnectionStatus": [{"WorkspaceId": "ws-abcdefghi", "ConnectionState": "CONNECTED",
                                                   "LastKnownUserConnectionTimestamp": 1767323045.0}]}


def test_error_bodies_carry_the_shapes_members():
    status, body = AwsModel("ds").error_body(AwsError("EntityDoesNotExistException", "gone"), "req-1")
    assert status == 400
    assert body == {"__type": "EntityDoesNotExistException", "message": "gone", "Message": "gone", "RequestId": "req-1"}
    status, body = AwsModel("workspaces").error_body(
        AwsError("ResourceNotFoundException", "nope", ResourceId="d-0123456789", Other="dropped"), "req-2")
    assert body == {"__type": "ResourceNotFoundException", "message": "nope", "ResourceId": "d-0123456789"}
