"""The EC2 API of the lab's VPC, driven by boto3 as a user would: every call, its paginators, and
EC2's errors (codes, messages, statuses). One ec2 process with the default seed on 127.0.130.x;
tests that change the VPC make their own groups and leave the seed's as they found them."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.services.ec2.support import ec2_client, error_of, group_named
from tests.support import running_services

SUBNET = "127.0.130"
DIRECTORY = "d-9067a1b2c3"
SG = re.compile(r"sg-0[0-9a-f]{16}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["ec2"], tmp_path_factory.mktemp("ec2"), SUBNET) as topology:
        yield topology


@pytest.fixture(scope="module")
def ec2(lab):
    return ec2_client(lab)


@pytest.fixture
def group(ec2):
    """A fresh group of the test's own, deleted afterwards."""
    made = ec2.create_security_group(GroupName=f"test-{uuid.uuid4().hex[:8]}", Description="a test group")
    yield made["GroupId"]
    ec2.delete_security_group(GroupId=made["GroupId"])


def tcp(port, cidr="10.0.0.0/16", **extra):
    return dict(IpProtocol="tcp", FromPort=port, ToPort=port, IpRanges=[{"CidrIp": cidr}], **extra)


# -- the seed: the walkthrough's network --------------------------------------------------------------

def test_the_seed_has_the_walkthroughs_groups(ec2):
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert {"default", "InstanceRDC-sg", "InstanceOkta-sg", f"{DIRECTORY}_controllers"} <= set(groups)
    directory = groups[f"{DIRECTORY}_controllers"]
    assert directory["Description"] == f"AWS created security group for {DIRECTORY} directory controllers"
    assert all(SG.fullmatch(g["GroupId"]) for g in groups.values())
    dc = {(p["IpProtocol"], p["FromPort"]): {pair["GroupId"] for pair in p["UserIdGroupPairs"]}
          for p in groups["InstanceRDC-sg"]["IpPermissions"]}
    for protocol in ("tcp", "udp"):
        for port in (53, 88, 389):
            assert directory["GroupId"] in dc[(protocol, port)], (protocol, port)
    assert groups["InstanceOkta-sg"]["GroupId"] in dc[("tcp", 389)], "the Okta AD agent reads the DC"
    okta = groups["InstanceOkta-sg"]["IpPermissions"]
    assert okta == [{"IpProtocol": "udp", "FromPort": 1812, "ToPort": 1812, "IpRanges": [], "Ipv6Ranges": [],
                     "PrefixListIds": [], "UserIdGroupPairs": [{"Description": "AD Connector RADIUS",
                                                                "GroupId": directory["GroupId"],
                                                                "UserId": "123456789012"}]}]
    assert groups["InstanceRDC-sg"]["IpPermissionsEgress"][0]["IpProtocol"] == "-1"   # AWS's default egress


def test_describe_instances_names_the_walkthroughs_machines(ec2, lab):
    reservations = ec2.describe_instances()["Reservations"]
    instances = {i["Tags"][0]["Value"]: i for r in reservations for i in r["Instances"]}
    assert set(instances) == {"InstanceRDC", "InstanceOkta"}
    rdc, okta = instances["InstanceRDC"], instances["InstanceOkta"]
    assert re.fullmatch(r"i-0[0-9a-f]{16}", rdc["InstanceId"])
    assert rdc["PrivateIpAddress"] == lab["services"]["dc"]["host"]
    assert rdc["SecurityGroups"] == [{"GroupId": group_named(ec2, "InstanceRDC-sg")["GroupId"],
                                      "GroupName": "InstanceRDC-sg"}]
    addresses = [a["PrivateIpAddress"] for a in okta["NetworkInterfaces"][0]["PrivateIpAddresses"]]
    assert addresses == [lab["services"]["radius-agent"]["host"], lab["services"]["ad-agent"]["host"]]
    assert rdc["State"]["Name"] == "running"
    named = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["Instance*Okta"]}])["Reservations"]
    assert [i["InstanceId"] for r in named for i in r["Instances"]] == [okta["InstanceId"]]
    by_address = ec2.describe_instances(Filters=[{"Name": "network-interface.addresses.private-ip-address",
                                                  "Values": [lab["services"]["ad-agent"]["host"]]}])
    assert by_address["Reservations"][0]["Instances"][0]["InstanceId"] == okta["InstanceId"]


def test_describe_network_interfaces_shows_the_connectors_two_in_its_directorys_group(ec2, lab):
    directory = group_named(ec2, f"{DIRECTORY}_controllers")["GroupId"]
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [directory]}])["NetworkInterfaces"]
    assert sorted(e["PrivateIpAddress"] for e in enis) == lab["services"]["ad-connector"]["settings"]["connect_ips"]
    for eni in enis:
        assert re.fullmatch(r"eni-0[0-9a-f]{16}", eni["NetworkInterfaceId"])
        assert eni["RequesterManaged"] is True
        assert eni["Description"] == f"AWS created network interface for directory {DIRECTORY}"
        assert eni["Groups"] == [{"GroupId": directory, "GroupName": f"{DIRECTORY}_controllers"}]
    everything = ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert len(everything) == 4      # the DC's, InstanceOkta's, and the connector's two


# -- groups ---------------------------------------------------------------------------------------------

def test_create_describe_and_delete_a_group(ec2):
    name = f"web-{uuid.uuid4().hex[:6]}"
    made = ec2.create_security_group(GroupName=name, Description="Web tier", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": "lab"}]}])
    assert SG.fullmatch(made["GroupId"]) and made["Tags"] == [{"Key": "team", "Value": "lab"}]
    shown = ec2.describe_security_groups(GroupIds=[made["GroupId"]])["SecurityGroups"][0]
    assert shown["GroupName"] == name and shown["Description"] == "Web tier"
    assert shown["VpcId"] == "vpc-0a1b2c3d4e5f60789" and shown["IpPermissions"] == []
    assert shown["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"][0]["GroupId"] == made["GroupId"]
    tagged = ec2.describe_security_groups(Filters=[{"Name": "tag:team", "Values": ["lab"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in tagged] == [made["GroupId"]]
    err = error_of(ec2.create_security_group, GroupName=name, Description="again")
    assert err["Code"] == "InvalidGroup.Duplicate" and err["status"] == 400
    assert err["Message"] == f"The security group '{name}' already exists for VPC 'vpc-0a1b2c3d4e5f60789'"
    ec2.delete_security_group(GroupId=made["GroupId"])
    err = error_of(ec2.describe_security_groups, GroupIds=[made["GroupId"]])
    assert err["Code"] == "InvalidGroup.NotFound"
    assert err["Message"] == f"The security group '{made['GroupId']}' does not exist"


@pytest.mark.parametrize("kwargs, code", [
    (dict(GroupName="default", Description="x"), "InvalidParameterValue"),
    (dict(GroupName="sg-mine", Description="x"), "InvalidParameterValue"),
    (dict(GroupName="x" * 256, Description="x"), "InvalidParameterValue"),
    (dict(GroupName="caf\u00e9", Description="x"), "InvalidParameterValue"),
    (dict(GroupName="ok", Description="x", VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
    (dict(GroupName="ok", Description="x", VpcId="nope"), "InvalidVpcID.Malformed"),
])
def test_create_refusals(ec2, kwargs, code):
    assert error_of(ec2.create_security_group, **kwargs)["Code"] == code


def test_describe_errors(ec2):
    assert error_of(ec2.describe_security_groups, GroupIds=["sg-12"])["Code"] == "InvalidGroupId.Malformed"
    assert error_of(ec2.describe_security_groups, GroupIds=["sg-0123456789abcdef0"])["Code"] == "InvalidGroup.NotFound"
    assert error_of(ec2.describe_security_groups, GroupNames=["nobody"])["Code"] == "InvalidGroup.NotFound"
    err = error_of(ec2.describe_security_groups, Filters=[{"Name": "colour", "Values": ["red"]}])
    assert err["Code"] == "InvalidParameterValue" and err["Message"] == "The filter 'colour' is invalid"
    err = error_of(ec2.describe_security_groups, MaxResults=1001)
    assert err["Code"] == "InvalidParameterValue" and "between 5 and 1000" in err["Message"]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    err = error_of(ec2.describe_security_groups, GroupIds=[groups[0]["GroupId"]], MaxResults=5)
    assert err["Code"] == "InvalidParameterCombination"
    assert error_of(ec2.describe_security_groups, NextToken="garbage")["Code"] == "InvalidPaginationToken"
    assert error_of(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])["Code"] == "InvalidInstanceID.NotFound"
    assert error_of(ec2.describe_instances, InstanceIds=["i-xyz"])["Code"] == "InvalidInstanceID.Malformed"
    assert error_of(ec2.describe_network_interfaces,
                    NetworkInterfaceIds=["eni-0123456789abcdef0"])["Code"] == "InvalidNetworkInterfaceID.NotFound"


def test_filters_by_group_name_vpc_id_and_group_id_with_wildcards(ec2):
    rdc = group_named(ec2, "InstanceRDC-sg")
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["Instance*-sg"]},
                                                  {"Name": "vpc-id", "Values": ["vpc-0a1b2c3d4e5f60789"]}])
    assert {g["GroupName"] for g in found["SecurityGroups"]} == {"InstanceRDC-sg", "InstanceOkta-sg"}
    by_id = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [rdc["GroupId"]]}])
    assert [g["GroupName"] for g in by_id["SecurityGroups"]] == ["InstanceRDC-sg"]
    none = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": ["vpc-0000000000000000f"]}])
    assert none["SecurityGroups"] == []
    port = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.from-port", "Values": ["1812"]}])
    assert [g["GroupName"] for g in port["SecurityGroups"]] == ["InstanceOkta-sg"]


def test_paginators_walk_every_group_rule_instance_and_interface(ec2):
    made = [ec2.create_security_group(GroupName=f"page-{i}-{uuid.uuid4().hex[:4]}", Description="paging")["GroupId"]
            for i in range(7)]
    try:
        every = ec2.describe_security_groups()["SecurityGroups"]
        pages = list(ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": 5}))
        assert len(pages[0]["SecurityGroups"]) == 5 and len(pages) == -(-len(every) // 5)
        assert [g["GroupId"] for p in pages for g in p["SecurityGroups"]] == [g["GroupId"] for g in every]
        rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
        paged = [r for p in ec2.get_paginator("describe_security_group_rules").paginate(
            PaginationConfig={"PageSize": 5}) for r in p["SecurityGroupRules"]]
        assert [r["SecurityGroupRuleId"] for r in paged] == [r["SecurityGroupRuleId"] for r in rules]
        instances = [i for p in ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5})
                     for r in p["Reservations"] for i in r["Instances"]]
        assert len(instances) == 2
        enis = [e for p in ec2.get_paginator("describe_network_interfaces").paginate(
            PaginationConfig={"PageSize": 5}) for e in p["NetworkInterfaces"]]
        assert len(enis) == 4
        first = ec2.describe_security_groups(MaxResults=5)
        err = error_of(ec2.describe_security_groups, MaxResults=5, NextToken=first["NextToken"],
                       Filters=[{"Name": "group-name", "Values": ["*"]}])
        assert err["Code"] == "InvalidPaginationToken", "a token is good only for its own query"
    finally:
        for group_id in made:
            ec2.delete_security_group(GroupId=group_id)


# -- rules ------------------------------------------------------------------------------------------------

def test_authorize_and_revoke_ingress_by_permissions_and_by_rule_id(ec2, group):
    added = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        tcp(22), dict(IpProtocol="udp", FromPort=1812, ToPort=1812,
                      UserIdGroupPairs=[{"GroupId": group_named(ec2, "InstanceOkta-sg")["GroupId"],
                                         "Description": "agents"}])])
    assert added["Return"] is True
    rules = added["SecurityGroupRules"]
    assert [r["IpProtocol"] for r in rules] == ["tcp", "udp"]
    assert all(re.fullmatch(r"sgr-0[0-9a-f]{16}", r["SecurityGroupRuleId"]) for r in rules)
    assert rules[0]["CidrIpv4"] == "10.0.0.0/16" and rules[1]["ReferencedGroupInfo"]["GroupId"].startswith("sg-")
    err = error_of(ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[tcp(22)])
    assert err["Code"] == "InvalidPermission.Duplicate"
    assert err["Message"] == \
        'the specified rule "peer: 10.0.0.0/16, TCP, from port: 22, to port: 22, ALLOW" already exists'
    revoked = ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[tcp(22)])
    assert [r["SecurityGroupRuleId"] for r in revoked["RevokedSecurityGroupRules"]] == [rules[0]["SecurityGroupRuleId"]]
    err = error_of(ec2.revoke_security_group_ingress, GroupId=group, IpPermissions=[tcp(22)])
    assert err["Code"] == "InvalidPermission.NotFound"
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=[rules[1]["SecurityGroupRuleId"]])
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"] == []
    err = error_of(ec2.revoke_security_group_ingress, GroupId=group,
                   SecurityGroupRuleIds=[rules[1]["SecurityGroupRuleId"]])
    assert err["Code"] == "InvalidSecurityGroupRuleId.NotFound"


def test_revoke_names_the_permissions_it_did_not_find(ec2, group):
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[tcp(443)])
    answer = ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[tcp(443), tcp(444)])
    assert len(answer["RevokedSecurityGroupRules"]) == 1
    assert answer["UnknownIpPermissions"][0]["FromPort"] == 444


def test_the_legacy_top_level_form_and_protocol_numbers(ec2, group):
    ec2.authorize_security_group_ingress(GroupId=group, IpProtocol="6", FromPort=80, ToPort=81, CidrIp="10.1.2.3/32")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        dict(IpProtocol="-1", IpRanges=[{"CidrIp": "192.168.0.0/16"}]),
        dict(IpProtocol="icmp", FromPort=8, ToPort=-1, IpRanges=[{"CidrIp": "0.0.0.0/0"}])])
    permissions = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in permissions} == {
        ("tcp", 80, 81), ("-1", None, None), ("icmp", 8, -1)}


@pytest.mark.parametrize("permission, code", [
    (dict(IpProtocol="tcp", IpRanges=[{"CidrIp": "10.0.0.0/8"}]), "InvalidParameterValue"),
    (dict(IpProtocol="tcp", FromPort=90, ToPort=80, IpRanges=[{"CidrIp": "10.0.0.0/8"}]), "InvalidParameterValue"),
    (dict(IpProtocol="tcp", FromPort=1, ToPort=70000, IpRanges=[{"CidrIp": "10.0.0.0/8"}]), "InvalidParameterValue"),
    (dict(IpProtocol="gre", IpRanges=[{"CidrIp": "10.0.0.0/8"}]), "InvalidParameterValue"),
    (tcp(22, cidr="10.0.0.300/8"), "InvalidParameterValue"),
    (dict(IpProtocol="tcp", FromPort=1, ToPort=2, UserIdGroupPairs=[{"GroupId": "sg-0123456789abcdef0"}]),
     "InvalidGroup.NotFound"),
    (dict(IpProtocol="tcp", FromPort=1, ToPort=2, UserIdGroupPairs=[{"GroupId": "sg-bad"}]),
     "InvalidGroupId.Malformed"),
    (dict(IpProtocol="tcp", FromPort=1, ToPort=2, PrefixListIds=[{"PrefixListId": "pl-12345678"}]),
     "InvalidPrefixListId.NotFound"),
    (dict(IpProtocol="tcp", FromPort=1, ToPort=2), "InvalidParameterValue"),
])
def test_authorize_refusals(ec2, group, permission, code):
    assert error_of(ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[permission])["Code"] == code


def test_egress_rules(ec2, group):
    egress = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    default = [r for r in egress if r["IsEgress"]]
    assert len(default) == 1 and default[0]["CidrIpv4"] == "0.0.0.0/0" and default[0]["IpProtocol"] == "-1"
    ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[default[0]["SecurityGroupRuleId"]])
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[tcp(443, cidr="0.0.0.0/0")])
    shown = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert shown == [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                      "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    err = error_of(ec2.revoke_security_group_egress, GroupId=group, IpPermissions=[tcp(80, cidr="0.0.0.0/0")])
    assert err["Code"] == "InvalidPermission.NotFound"
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[tcp(443, cidr="0.0.0.0/0")])


def test_describe_security_group_rules_by_id(ec2, group):
    rule = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[tcp(8443)])["SecurityGroupRules"][0]
    shown = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    assert shown["SecurityGroupRules"][0]["FromPort"] == 8443
    assert shown["SecurityGroupRules"][0]["Tags"] == [], "no enforcer has reported: no lab tag"
    err = error_of(ec2.describe_security_group_rules, SecurityGroupRuleIds=["sgr-0123456789abcdef0"])
    assert err["Code"] == "InvalidSecurityGroupRuleId.NotFound"


# -- membership and deletion ----------------------------------------------------------------------------

def test_modify_an_instances_and_an_interfaces_groups_and_dependency_violation(ec2, group):
    rdc = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["InstanceRDC"]}])
    instance = rdc["Reservations"][0]["Instances"][0]
    original = [g["GroupId"] for g in instance["SecurityGroups"]]
    ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=original + [group])
    try:
        again = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
        assert [g["GroupId"] for g in again["SecurityGroups"]] == original + [group]
        err = error_of(ec2.delete_security_group, GroupId=group)
        assert err["Code"] == "DependencyViolation"
        assert err["Message"] == f"resource {group} has a dependent object"
    finally:
        ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=original)
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=original + [group])
    shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in shown["Groups"]] == original + [group]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=original)
    assert error_of(ec2.modify_instance_attribute, InstanceId=instance["InstanceId"],
                    Groups=["sg-0123456789abcdef0"])["Code"] == "InvalidGroup.NotFound"
    assert error_of(ec2.modify_instance_attribute, InstanceId="i-0123456789abcdef0",
                    Groups=original)["Code"] == "InvalidInstanceID.NotFound"


def test_a_group_another_refers_to_cannot_be_deleted_nor_the_default(ec2, group):
    other = ec2.create_security_group(GroupName=f"ref-{uuid.uuid4().hex[:6]}", Description="refers")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=other, IpPermissions=[
        dict(IpProtocol="tcp", FromPort=1, ToPort=1, UserIdGroupPairs=[{"GroupId": group}])])
    assert error_of(ec2.delete_security_group, GroupId=group)["Code"] == "DependencyViolation"
    ec2.delete_security_group(GroupId=other)
    default = group_named(ec2, "default")["GroupId"]
    assert error_of(ec2.delete_security_group, GroupId=default)["Code"] == "CannotDelete"
    assert error_of(ec2.delete_security_group, GroupName="nobody-here")["Code"] == "InvalidGroup.NotFound"


# -- the wire ----------------------------------------------------------------------------------------------

def test_missing_and_unknown_parameters_and_actions(ec2, lab):
    assert error_of(ec2.delete_security_group)["Code"] == "MissingParameter"
    err = error_of(ec2.modify_instance_attribute, InstanceId="i-0123456789abcdef0", Attribute="kernel", Value="x")
    assert err["Code"] in ("InvalidInstanceID.NotFound", "UnsupportedOperation")
    assert error_of(ec2.describe_vpcs)["Code"] == "UnsupportedOperation"
    assert error_of(ec2.describe_security_groups, DryRun=True)["Code"] == "DryRunOperation"
    wrong_key = ec2_client(lab, aws_access_key_id="AKIAOTHERKEY00000000")
    err = error_of(wrong_key.describe_security_groups)
    assert err["Code"] == "AuthFailure" and err["status"] == 401
    wrong_secret = ec2_client(lab, aws_secret_access_key="nope")
    assert error_of(wrong_secret.describe_security_groups)["Code"] == "SignatureDoesNotMatch"


def test_another_region_has_nothing(lab):
    west = ec2_client(lab, region_name="eu-west-1")
    assert west.describe_security_groups()["SecurityGroups"] == []
    assert west.describe_instances()["Reservations"] == []
    assert error_of(west.create_security_group, GroupName="x", Description="y")["Code"] == "VPCIdNotSpecified"
