"""EC2 → Security Groups: the editor's form to IpPermissions, the ec2_endpoint setting, the pages
without an EC2 API (the console starts and says so), and the pages against the real ec2 service
(127.0.150.x) over HTTP: the list, a group's rules, add and delete through the form, EC2's own
refusals on the form. The browser flow is tests/ui/test_aws_console_ec2.py."""
from __future__ import annotations

import re

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient

from services.aws_console import ec2_pages
from services.aws_console.settings import ConsoleSettings
from tests.support import running_services, url

from .support import console_app, csrf_of, sign_in

NOWHERE = "http://127.0.150.1:9"       # refused at once: no listener on the discard port
SUBNET = "127.0.150"


def test_the_form_makes_ip_permissions():
    tcp = {"protocol": "tcp", "ports": " 1000-2000 ", "source": "cidr", "cidr": "10.0.0.0/16", "description": "x"}
    assert ec2_pages.ingress_permission(tcp) == {
        "IpProtocol": "tcp", "FromPort": 1000, "ToPort": 2000,
        "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "x"}]}
    udp = {"protocol": "udp", "ports": "1812", "source": "sg-0123456789abcdef0", "cidr": "ignored", "description": ""}
    assert ec2_pages.ingress_permission(udp) == {
        "IpProtocol": "udp", "FromPort": 1812, "ToPort": 1812,
        "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}
    # All traffic and ICMP have no port range, whatever was typed; ICMP is every type and code (-1).
    assert ec2_pages.ingress_permission({"protocol": "-1", "ports": "22", "cidr": "10.1.0.0/16"}) == {
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
    assert ec2_pages.ingress_permission({"protocol": "icmp", "source": "cidr", "cidr": "0.0.0.0/0"}) == {
        "IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    # What is not a number goes as typed, blanks are left out: EC2 refuses in its own words.
    assert ec2_pages.ingress_permission({"protocol": "tcp", "ports": "http-x", "cidr": ""}) == {
        "IpProtocol": "tcp", "FromPort": "http", "ToPort": "x", "IpRanges": [{}]}
    assert ec2_pages.ingress_permission({"protocol": "tcp", "ports": ""})["IpRanges"] == [{}]


def test_filled_rows_become_one_list_of_permissions():
    form = {"protocol": "tcp", "ports": "53", "cidr": "10.0.0.0/16",
            "protocol-1": "udp", "ports-1": "53", "source-1": "sg-0123456789abcdef0",
            "protocol-2": "tcp", "source-2": "cidr"}                  # row 3: only its Type: left out
    got = ec2_pages.permissions(form)
    assert [(p["IpProtocol"], p["FromPort"]) for p in got] == [("tcp", 53), ("udp", 53)]
    assert got[1]["UserIdGroupPairs"] == [{"GroupId": "sg-0123456789abcdef0"}]
    assert len(ec2_pages.permissions({"protocol": "tcp"})) == 1, "the first row always goes: EC2 judges it"


def test_rule_view_names_the_source_group_and_the_counter():
    names = {"sg-a": "controllers"}
    view = ec2_pages.rule_view({"SecurityGroupRuleId": "sgr-1", "IpProtocol": "udp", "FromPort": 1812,
                                "ToPort": 1812, "ReferencedGroupInfo": {"GroupId": "sg-a"},
                                "Tags": [{"Key": "lab:matched-packets", "Value": "7"}]}, names)
    assert view == {"id": "sgr-1", "protocol": "UDP", "ports": "1812", "source": "sg-a (controllers)",
                    "description": "", "matched": "7"}
    every = ec2_pages.rule_view({"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv4": "10.0.0.0/8"}, names)
    assert (every["protocol"], every["ports"], every["source"], every["matched"]) == ("All", "All", "10.0.0.0/8", None)


@pytest.mark.parametrize("value, ok", [(None, True), ("http://127.0.0.1:1", True), ("ftp://x", False), ("", False)])
def test_ec2_endpoint_is_optional_but_checked(value, ok):
    settings = {"ds_endpoint": "http://a:1", "workspaces_endpoint": "http://b:2"}
    if value is not None:
        settings["ec2_endpoint"] = value
    if ok:
        assert ConsoleSettings.from_settings(settings).ec2_endpoint == value
    else:
        with pytest.raises(ValueError, match="ec2_endpoint"):
            ConsoleSettings.from_settings(settings)


def test_without_ec2_the_pages_say_it_is_not_available():
    with TestClient(console_app(NOWHERE, NOWHERE), base_url="http://console.test") as client:
        assert sign_in(client).status_code == 303
        home = client.get("/")
        assert 'href="/ec2/securitygroups"' in home.text
        for path in ("/ec2/securitygroups", "/ec2/securitygroups/sg-0123456789abcdef0"):
            r = client.get(path)
            assert r.status_code == 503 and "EC2 is not available" in r.text
        token = csrf_of(client, "/")
        r = client.post("/ec2/securitygroups/sg-0123456789abcdef0/rules", data={"csrf_token": token, "protocol": "tcp"})
        assert r.status_code == 503 and "EC2 is not available" in r.text
        # Without the CSRF token nothing is sent.
        assert client.post("/ec2/securitygroups/sg-1/rules", data={"protocol": "tcp"}).status_code == 403


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["ec2", "dc", "ad-connector", "workspaces", "aws-console"],
                          tmp_path_factory.mktemp("console-ec2"), SUBNET) as topology:
        yield topology


def ec2(lab):
    creds = lab["credentials"]
    return boto3.client("ec2", endpoint_url=url(lab, "ec2"), region_name=creds["aws_region"],
                        aws_access_key_id=creds["aws_access_key_id"],
                        aws_secret_access_key=creds["aws_secret_access_key"])


def test_the_pages_add_and_delete_rules_through_ec2(lab):
    groups = {g["GroupName"]: g for g in ec2(lab).describe_security_groups()["SecurityGroups"]}
    okta = groups["InstanceOkta-sg"]["GroupId"]
    with httpx.Client(base_url=url(lab, "aws-console"), timeout=30) as client:
        assert sign_in(client, password=lab["credentials"]["console_password"]).status_code == 303
        listing = client.get("/ec2/securitygroups").text
        for g in groups.values():
            assert g["GroupId"] in listing and g["GroupName"] in listing
        token = csrf_of(client, f"/ec2/securitygroups/{okta}")
        rule = {"csrf_token": token, "protocol": "tcp", "ports": "8443", "source": "cidr", "cidr": "10.9.0.0/16",
                "description": "<b>lab</b>"}
        r = client.post(f"/ec2/securitygroups/{okta}/rules", data=rule, follow_redirects=False)
        assert r.status_code == 303, r.text
        added = re.search(r"added=(sgr-[0-9a-f]+)", r.headers["location"])
        assert added, r.headers["location"]
        made = added.group(1)
        described = ec2(lab).describe_security_group_rules(SecurityGroupRuleIds=[made])["SecurityGroupRules"][0]
        assert (described["IpProtocol"], described["FromPort"], described["CidrIpv4"]) == ("tcp", 8443, "10.9.0.0/16")
        page = client.get(f"/ec2/securitygroups/{okta}").text
        assert made in page and "&lt;b&gt;lab&lt;/b&gt;" in page and "<b>lab</b>" not in page
        again = client.post(f"/ec2/securitygroups/{okta}/rules", data=rule)
        assert again.status_code == 400 and "InvalidPermission.Duplicate" in again.text
        bad = client.post(f"/ec2/securitygroups/{okta}/rules", data=rule | {"ports": "http"})
        assert bad.status_code == 400 and 'role="alert"' in bad.text
        r = client.post(f"/ec2/securitygroups/{okta}/rules/{made}/delete", data={"csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303
        assert made not in client.get(f"/ec2/securitygroups/{okta}").text
        gone = client.post(f"/ec2/securitygroups/{okta}/rules/{made}/delete", data={"csrf_token": token})
        assert gone.status_code == 400 and "InvalidSecurityGroupRuleId.NotFound" in gone.text
        assert client.get("/ec2/securitygroups/sg-0000000000000000f").status_code == 404


def test_several_rules_in_one_save_and_the_outbound_editor(lab):
    """Two filled rows are one Authorize call (both added, or neither when EC2 refuses one); the
    outbound editor adds and deletes egress rules through EC2's egress calls."""
    groups = {g["GroupName"]: g for g in ec2(lab).describe_security_groups()["SecurityGroups"]}
    rdc = groups["InstanceRDC-sg"]["GroupId"]
    client_ec2 = ec2(lab)

    def ids(egress: bool) -> set[str]:
        found = client_ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [rdc]}])
        return {r["SecurityGroupRuleId"] for r in found["SecurityGroupRules"] if r["IsEgress"] == egress}

    with httpx.Client(base_url=url(lab, "aws-console"), timeout=30) as client:
        assert sign_in(client, password=lab["credentials"]["console_password"]).status_code == 303
        token = csrf_of(client, f"/ec2/securitygroups/{rdc}")
        before = ids(False)
        two = {"csrf_token": token, "protocol": "tcp", "ports": "3389", "cidr": "10.7.0.0/16",
               "protocol-1": "udp", "ports-1": "123", "cidr-1": "10.7.0.0/16", "protocol-2": "tcp"}
        r = client.post(f"/ec2/securitygroups/{rdc}/rules", data=two, follow_redirects=False)
        assert r.status_code == 303, r.text
        added = ids(False) - before
        assert len(added) == 2 and all(x in r.headers["location"] for x in added), "the empty third row is left out"
        page = client.get(r.headers["location"]).text
        assert "Inbound rules " in page and "added." in page
        # One bad row refuses the whole save: nothing is added.
        bad = two | {"ports": "3390", "ports-1": "http"}
        refused = client.post(f"/ec2/securitygroups/{rdc}/rules", data=bad)
        assert refused.status_code == 400 and 'role="alert"' in refused.text
        assert ids(False) - before == added

        egress_before = ids(True)
        out = {"csrf_token": token, "protocol": "udp", "ports": "514", "cidr": "10.8.0.0/16", "description": "syslog"}
        r = client.post(f"/ec2/securitygroups/{rdc}/egress-rules", data=out, follow_redirects=False)
        assert r.status_code == 303, r.text
        [made] = ids(True) - egress_before
        page = client.get(r.headers["location"]).text
        assert f"Outbound rule {made} added." in page and "Outbound rules (" in page
        r = client.post(f"/ec2/securitygroups/{rdc}/egress-rules/{made}/delete", data={"csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303 and ids(True) == egress_before
        for rule in added:
            client.post(f"/ec2/securitygroups/{rdc}/rules/{rule}/delete", data={"csrf_token": token})
