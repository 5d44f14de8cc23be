"""HTTP fuzzing of the AWS Directory Service API of AD Connector (dc and ad-connector on 127.0.57).

Requests are drawn from botocore's `ds` model (tests/support/aws_fuzzing.py) and signed with the lab's keys,
valid-shaped and mutated, for every operation the lab emulates and a few it does not. The internal
endpoints WorkSpaces calls (`/connector/authenticate`, `/connector/users/lookup`) and the admin API
are fuzzed from OpenAPI descriptions (schemathesis); the RADIUS server is the tests' responder that
accepts every code. Every answer
must be AWS's (`__type` and `message`, never a 500), the log must hold no traceback, and the
service must still answer its health check and a real boto3 call afterwards.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from tests.services.workspaces.fakes import RadiusResponder, aws_client
from tests.support import running_services, url
from tests.support.aws_fuzzing import Generator, SignedClient, fuzz_aws, fuzz_signature
from tests.support.fuzzing import LogWatch
from tests.support.http_fuzzing import SCALE, fuzz_admin, fuzz_openapi, json_api, obj

SUBNET = "127.0.57"
DIRECTORY = "d-9067a1b2c3"
CASES = 40 * SCALE           # valid-shaped and as many mutated calls per operation
EXAMPLES = 25 * SCALE        # per mode, for each internal endpoint
SIGNATURE_CASES = 300 * SCALE
OPERATIONS = ["DescribeDirectories", "ConnectDirectory", "EnableRadius", "UpdateRadius", "DisableRadius",
              "DeleteDirectory",
              "CreateMicrosoftAD", "DescribeTrusts"]   # the last two are AWS's but not the lab's


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.2, "connect_check_timeout_seconds": 1.0,
                                 "radius_probe_timeout_seconds": 0.5, "radius_probe_retries": 0}}
    with running_services(["dc", "ad-connector"], tmp_path_factory.mktemp("ds-fuzz"), SUBNET,
                          settings=settings) as topology:
        agent = topology["services"]["radius-agent"]     # stands in for the RADIUS agent: accepts every code
        radius = RadiusResponder(agent["host"], topology["credentials"]["radius_shared_secret"].encode(), "accept",
                                 port=agent["ports"]["radius"])
        try:
            yield topology
        finally:
            radius.close()


TEXT = {"type": "string"}
USERS = {"enum": ["alice", "CORP\\bob", "alice@corp.example.com", "nobody", "*", "a)(cn=*", "Administrator"]}
INTERNAL = json_api("AD Connector internal (lab)", {
    "POST /connector/authenticate": {"required": ["directoryId", "username", "password", "mfaCode"], **obj(
        directoryId={"enum": [DIRECTORY]}, username=USERS, password={"enum": ["Alice-Passw0rd!", "wrong"]},
        mfaCode={"type": "string", "pattern": "^([0-9]{6}|push)$"})},
    "POST /connector/users/lookup": {"required": ["directoryId", "username"], **obj(
        directoryId={"enum": [DIRECTORY]}, username=USERS)},
})


def test_fuzz_the_internal_endpoints_and_the_admin_api(lab, tmp_path):
    """What WorkSpaces calls (authenticate, user lookup): first, while the seed directory exists."""
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ad-connector.log")
    report = fuzz_openapi(INTERNAL, url(lab, "ad-connector"), examples=EXAMPLES, seed=4117)
    admin = fuzz_admin(lab, "ad-connector", tmp_path, examples=10, seed=4118)
    print(f"ad-connector internal: {report.summary()}; admin: {admin.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings + admin.findings, report.failures() + admin.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    found = httpx.post(url(lab, "ad-connector") + "/connector/users/lookup",
                       json={"directoryId": DIRECTORY, "username": "alice"})
    assert found.json()["found"] is True


def test_fuzz_the_directory_service_api(lab):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ad-connector.log")
    svc = lab["services"]["ad-connector"]
    generator = Generator("ds", random.Random(4116), known={
        "DirectoryId": [DIRECTORY, "d-0000000000"], "DirectoryIds": [[DIRECTORY]],
        "Name": ["corp.example.com"], "CustomerDnsIps": [[lab["services"]["dc"]["host"]]],
        "RadiusServers": [[lab["services"]["radius-agent"]["host"]]],
        "VpcId": ["vpc-0123456789abcdef0"], "SubnetIds": [["subnet-01234567", "subnet-89abcdef"]]})
    client = SignedClient(url(lab, "ad-connector"), generator.model, lab["credentials"])
    report = fuzz_aws(client, generator, OPERATIONS, CASES)
    print(f"ds API: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    assert httpx.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz").json()["healthy"]
    assert "DirectoryDescriptions" in aws_client(lab, "ds").describe_directories()


def test_fuzz_the_signature_headers(lab):
    """The SigV4 parser's input: a valid call with Authorization, X-Amz-Date, X-Amz-Target or
    Content-Type bent byte-wise."""
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ad-connector.log")
    generator = Generator("ds", random.Random(1))
    client = SignedClient(url(lab, "ad-connector"), generator.model, lab["credentials"])
    report = fuzz_signature(client, "DescribeDirectories", {}, SIGNATURE_CASES, random.Random(4119))
    print(f"ds signatures: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    assert "DirectoryDescriptions" in aws_client(lab, "ds").describe_directories()


def test_a_non_ascii_signature_is_refused_not_crashed(lab):
    """Found by fuzzing: hmac.compare_digest raised TypeError on a non-ASCII Signature (a 500)."""
    generator = Generator("ds", random.Random(1))
    client = SignedClient(url(lab, "ad-connector"), generator.model, lab["credentials"])
    sent = client.call("DescribeDirectories", {}, mangle=lambda h: {
        **h, "Authorization": h["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + "\u00e9" * 64})
    assert sent.status_code == 403, sent.text
    assert sent.json()["__type"] == "InvalidSignatureException"
