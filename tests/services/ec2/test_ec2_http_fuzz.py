"""HTTP fuzzing of the EC2 Query API and its admin network API (ec2 alone on 127.0.133.x).

Requests for every operation the lab emulates, and a few it does not, are drawn from botocore's
`ec2` model, encoded by botocore's serializer, then bent as form fields
(tests/support/aws_query_fuzzing.py), and signed with the lab's keys; the SigV4 headers are bent
byte-wise (aws_fuzzing.fuzz_signature's mutation over a Query call); the enforcer's report is fuzzed
from a JSON schema (schemathesis) and the admin API as every service's. Every answer must be EC2's
XML (an error is `<Response><Errors>…`), never a 500; the log must hold no traceback; and the
service must still answer its health check and a real boto3 call afterwards.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from tests.services.ec2.support import ec2_client
from tests.support import admin_client, running_services, url
from tests.support.aws_fuzzing import Generator
from tests.support.aws_query_fuzzing import QueryClient, fuzz_query
from tests.support.fuzzing import LogWatch, mutate
from tests.support.http_fuzzing import SCALE, fuzz_admin, fuzz_openapi, json_api, obj

SUBNET = "127.0.133"
CASES = 30 * SCALE
OPERATIONS = ["DescribeSecurityGroups", "CreateSecurityGroup", "DeleteSecurityGroup",
              "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
              "RevokeSecurityGroupEgress", "DescribeSecurityGroupRules", "DescribeInstances",
              "DescribeNetworkInterfaces", "ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute",
              "RunInstances", "DescribeVpcs"]      # the last two are AWS's but not the lab's


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ec2": {"long_poll_seconds": 0.5, "apply_wait_seconds": 0.5}}
    with running_services(["ec2"], tmp_path_factory.mktemp("ec2-fuzz"), SUBNET, settings=settings) as topology:
        yield topology


def known(lab) -> dict[str, list]:
    ec2 = ec2_client(lab)
    groups = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    instances = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    enis = [e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]]
    rules = [r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules()["SecurityGroupRules"]]
    return {"GroupId": groups + ["sg-0123456789abcdef0"], "GroupIds": [groups[:2]], "Groups": [groups[1:3]],
            "InstanceId": instances, "InstanceIds": [instances], "NetworkInterfaceId": enis,
            "NetworkInterfaceIds": [enis[:2]], "SecurityGroupRuleIds": [rules[:2]],
            "VpcId": ["vpc-0a1b2c3d4e5f60789"], "IpProtocol": ["tcp", "udp", "-1", "icmp"],
            "CidrIp": ["10.0.0.0/8", "0.0.0.0/0"], "FromPort": [53, 1812], "ToPort": [53, 1812],
            "GroupName": ["InstanceRDC-sg", "fuzz-group"], "Description": ["fuzz group"],
            "MaxResults": [5, 10, 1000], "Name": ["group-name", "group-id", "vpc-id", "tag:Name"]}


def healthy(lab) -> None:
    svc = lab["services"]["ec2"]
    assert httpx.get(f"http://{svc['host']}:{svc['ports']['admin']}/healthz").json()["healthy"]
    assert "SecurityGroups" in ec2_client(lab).describe_security_groups()


def test_fuzz_the_query_api(lab):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ec2.log")
    generator = Generator("ec2", random.Random(5120), known=known(lab))
    report = fuzz_query(QueryClient(url(lab, "ec2"), lab["credentials"]), generator, OPERATIONS, CASES,
                        random.Random(5121))
    print(f"ec2 API: {report.summary()} in {time.monotonic() - started:.1f} s")
    assert not report.findings, report.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    healthy(lab)


def test_fuzz_the_signature_headers(lab):
    """The SigV4 parser's input through the Query wire: a valid signed call with one header bent."""
    rnd = random.Random(5122)
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ec2.log")
    client = QueryClient(url(lab, "ec2"), lab["credentials"])
    body = b"Action=DescribeSecurityGroups&Version=2016-11-15"
    findings = []
    for _ in range(150 * SCALE):
        request = AWSRequest(method="POST", url=client.endpoint + "/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(client.creds, "ec2", client.region).add_auth(request)
        headers = dict(request.headers.items())
        name = rnd.choice(["Authorization", "X-Amz-Date", "Content-Type"])
        raw = mutate(headers[name].encode("latin-1"), rnd)
        headers[name] = raw.translate(None, bytes(range(32)) + b"\x7f").decode("latin-1").strip() or "x"
        resp = client.session.post(client.endpoint + "/", data=body, headers=headers, timeout=20)
        if resp.status_code >= 500 or (resp.status_code >= 400 and b"<Errors>" not in resp.content):
            findings.append((name, headers[name][:100], resp.status_code, resp.text[:200]))
    assert not findings, findings[:5]
    assert not log.tracebacks(), log.tracebacks()[:3]
    healthy(lab)


REPORT = json_api("EC2 enforcer report (lab)", {
    "POST /admin/network/applied": {"required": ["generation"], **obj(
        generation={"type": "integer"},
        counters={"type": "object", "additionalProperties": {"type": "object", "properties": {
            "packets": {"type": "integer"}}}})},
})


def test_fuzz_the_admin_network_api_and_the_admin_api(lab, tmp_path):
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "ec2.log")
    with admin_client(lab, "ec2") as admin:
        report = fuzz_openapi(REPORT, url(lab, "ec2", "admin"), headers=dict(admin.headers), examples=25 * SCALE,
                              seed=5123)
        for after in ["-1", "x", "1e9", "99999999999999999999999", "", "0", "1.5"]:
            assert admin.get("/admin/network", params={"after": after}).status_code in (200, 400, 422)
    other = fuzz_admin(lab, "ec2", tmp_path, examples=10, seed=5124)
    assert not report.findings + other.findings, report.failures() + other.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    healthy(lab)
