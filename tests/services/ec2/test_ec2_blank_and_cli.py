"""A blank lab's VPC (the customer's network, before the walkthrough) and the AWS CLI against EC2.

A blank lab has no AWS side configured: no directory, so no directory group and none of the
walkthrough's rules; but the instances, their groups and the one rule the directory needed before
AWS came (the Okta AD agent reading the DC over LDAP) are the customer's and are there. ec2 alone
on 127.0.134.x. The AWS CLI test runs `python -m awscli` when the package is installed."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.services.ec2.support import ec2_client
from tests.support import running_services, url

SUBNET = "127.0.134"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["ec2"], tmp_path_factory.mktemp("ec2-blank"), SUBNET, blank=True) as topology:
        yield topology


def test_a_blank_lab_has_the_vpcs_groups_without_the_walkthroughs_rules(lab):
    """No directory group and no group-to-group rule for AD Connector; instead (the lab has no EC2
    pages for a person to add them yet) the walkthrough's ports are open to the VPC's own block."""
    ec2 = ec2_client(lab)
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert set(groups) == {"default", "InstanceRDC-sg", "InstanceOkta-sg"}
    vpc = f"{SUBNET}.0/24"

    def rules(name):
        return sorted((p["IpProtocol"], p["FromPort"], tuple(g["GroupId"] for g in p["UserIdGroupPairs"]),
                       tuple(r["CidrIp"] for r in p["IpRanges"])) for p in groups[name]["IpPermissions"])
    assert rules("InstanceOkta-sg") == [("udp", 1812, (), (vpc,))]
    okta_group = groups["InstanceOkta-sg"]["GroupId"]
    # one permission per protocol and port, as AWS lists them: TCP 389 has both sources
    assert rules("InstanceRDC-sg") == sorted(
        [("tcp", 389, (okta_group,), (vpc,)), ("udp", 389, (), (vpc,))] +
        [(proto, port, (), (vpc,)) for port in (53, 88) for proto in ("tcp", "udp")])
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "requester-managed", "Values": ["true"]}])
    assert [g["GroupName"] for e in enis["NetworkInterfaces"] for g in e["Groups"]] == ["default", "default"], \
        "AD Connector's interfaces wait in the VPC's default group until a directory is connected"


@pytest.mark.skipif(importlib.util.find_spec("awscli") is None, reason="the AWS CLI (awscli) is not installed")
def test_the_aws_cli_works_unchanged(lab, tmp_path):
    creds = lab["credentials"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
               AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"], AWS_DEFAULT_REGION=creds["aws_region"],
               AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))

    def aws(*args):
        done = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", url(lab, "ec2"), "--output", "json",
                               "ec2", *args], capture_output=True, text=True, env=env, timeout=60)
        return done

    made = aws("create-security-group", "--group-name", "cli-group", "--description", "made by the CLI")
    assert made.returncode == 0, made.stderr
    group = json.loads(made.stdout)["GroupId"]
    added = aws("authorize-security-group-ingress", "--group-id", group, "--protocol", "udp", "--port", "1812",
                "--cidr", f"{SUBNET}.41/32")
    assert added.returncode == 0, added.stderr
    again = aws("authorize-security-group-ingress", "--group-id", group, "--protocol", "udp", "--port", "1812",
                "--cidr", f"{SUBNET}.41/32")
    assert again.returncode != 0 and "InvalidPermission.Duplicate" in again.stderr
    shown = json.loads(aws("describe-security-groups", "--group-ids", group).stdout)["SecurityGroups"][0]
    assert shown["IpPermissions"][0]["IpRanges"] == [{"CidrIp": f"{SUBNET}.41/32"}]
    assert aws("delete-security-group", "--group-id", group).returncode == 0
