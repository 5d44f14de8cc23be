"""AD Connector's security group, made by the lab's EC2 as AWS makes it: ConnectDirectory has EC2
create `<directory-id>_controllers` on the connector's two interfaces, DescribeDirectories returns
its `sg-` id, DeleteDirectory deletes it, an unknown VPC is a ClientException with EC2's message.
dc, ec2 and ad-connector on 127.0.132.x, the default seed; boto3 for both APIs."""
from __future__ import annotations

import pytest

from tests.services.ec2.support import ec2_client, error_of, group_named
from tests.services.workspaces.fakes import aws_client
from tests.support import running_services, wait_until

SUBNET = "127.0.132"
SEED_DIRECTORY = "d-9067a1b2c3"
VPC = "vpc-0a1b2c3d4e5f60789"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = {"ad-connector": {"stage_delay_seconds": 0.2, "connect_check_timeout_seconds": 1.0}}
    with running_services(["dc", "ec2", "ad-connector"], tmp_path_factory.mktemp("ds-sg"), SUBNET,
                          settings=settings) as topology:
        yield topology


def connect(ds, vpc=VPC):
    settings = {"VpcId": vpc, "SubnetIds": ["subnet-0a1b2c3d4e5f60781", "subnet-0b1c2d3e4f5a60782"],
                "CustomerDnsIps": [f"{SUBNET}.10"], "CustomerUserName": "svc-adconnector"}
    return ds.connect_directory(Name="corp.example.com", ShortName="CORP", Password="Connector-Passw0rd!",
                                Size="Small", ConnectSettings=settings)["DirectoryId"]


def settled(ds, directory_id):
    return wait_until(lambda: ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0],
                      lambda d: d["Stage"] not in ("Requested", "Creating"), 15)


def test_the_seed_directorys_group_is_ec2s(lab):
    ds, ec2 = aws_client(lab, "ds"), ec2_client(lab)
    directory = ds.describe_directories(DirectoryIds=[SEED_DIRECTORY])["DirectoryDescriptions"][0]
    group = group_named(ec2, f"{SEED_DIRECTORY}_controllers")
    assert directory["ConnectSettings"]["SecurityGroupId"] == group["GroupId"]


def test_connect_directory_has_ec2_make_its_group_and_delete_directory_deletes_it(lab):
    ds, ec2 = aws_client(lab, "ds"), ec2_client(lab)
    directory_id = connect(ds)
    made = ds.describe_directories(DirectoryIds=[directory_id])["DirectoryDescriptions"][0]
    assert made["Stage"] in ("Requested", "Creating") and made["ConnectSettings"]["SecurityGroupId"].startswith("sg-0")
    directory = settled(ds, directory_id)
    assert directory["Stage"] == "Active", directory.get("StageReason")
    group_id = directory["ConnectSettings"]["SecurityGroupId"]
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert group["GroupName"] == f"{directory_id}_controllers" and group["VpcId"] == VPC
    assert group["Description"] == f"AWS created security group for {directory_id} directory controllers"
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group_id]}])["NetworkInterfaces"]
    assert sorted(e["PrivateIpAddress"] for e in enis) == lab["services"]["ad-connector"]["settings"]["connect_ips"]
    seed_group = group_named(ec2, f"{SEED_DIRECTORY}_controllers")["GroupId"]
    assert all({g["GroupId"] for g in e["Groups"]} == {seed_group, group_id} for e in enis), \
        "the interfaces serve both directories"
    ds.delete_directory(DirectoryId=directory_id)
    gone = wait_until(lambda: ec2.describe_security_groups(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroups"], lambda groups: groups == [], 15)
    assert gone == []
    assert error_of(ec2.describe_security_groups, GroupIds=[group_id])["Code"] == "InvalidGroup.NotFound"
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [seed_group]}])["NetworkInterfaces"]
    assert all([g["GroupId"] for g in e["Groups"]] == [seed_group] for e in enis)


def test_a_vpc_ec2_does_not_know_is_a_client_exception_with_ec2s_message(lab):
    ds = aws_client(lab, "ds")
    before = ds.describe_directories()["DirectoryDescriptions"]
    err = error_of(connect, ds, vpc="vpc-0123456789abcdef0")
    assert err["Code"] == "ClientException"
    assert "InvalidVpcID.NotFound" in err["Message"] and "vpc-0123456789abcdef0" in err["Message"]
    assert ds.describe_directories()["DirectoryDescriptions"] == before, "no directory was made"
