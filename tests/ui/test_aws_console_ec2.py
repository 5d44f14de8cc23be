"""EC2 → Security Groups in Chromium, on the seeded lab (ec2 and aws-console on 127.0.151.x): the
operator lists the groups, opens InstanceOkta's, deletes its UDP 1812 rule (the RADIUS agent's port,
open to the directory's group), sees it gone, adds it back with the directory's group
`d-..._controllers` as the source, sees it listed; adding it once more shows EC2's
InvalidPermission.Duplicate on the form. Every change is checked through boto3 against EC2 itself.
Screenshots: reports/ui/test_aws_console_ec2/ (the committed copies are
docs/screenshots/aws-console-ec2-*.png)."""
from __future__ import annotations

import re

import boto3
import pytest
from playwright.sync_api import expect

from tests.support import default_seed, url

from .okta_admin import reset
from .test_aws_console import sign_in

SUBNET = "127.0.151"
CONTROLLERS = f"{default_seed()['aws']['directory']['id']}_controllers"


@pytest.fixture(scope="module")
def lab(start_services):
    return start_services(["ec2", "aws-console"], SUBNET)


@pytest.fixture
def base(lab):
    reset(lab, "ec2", "aws-console")
    return url(lab, "aws-console")


def ec2(lab):
    creds = lab["credentials"]
    return boto3.client("ec2", endpoint_url=url(lab, "ec2"), region_name=creds["aws_region"],
                        aws_access_key_id=creds["aws_access_key_id"],
                        aws_secret_access_key=creds["aws_secret_access_key"])


def udp_1812(client, group_id: str) -> list[dict]:
    rules = client.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return [r for r in rules["SecurityGroupRules"]
            if not r["IsEgress"] and r["IpProtocol"] == "udp" and r["FromPort"] == 1812]


def test_delete_and_add_back_instance_okta_s_radius_rule(page, lab, base, shot):
    client = ec2(lab)
    groups = {g["GroupName"]: g["GroupId"] for g in client.describe_security_groups()["SecurityGroups"]}
    okta, controllers = groups["InstanceOkta-sg"], groups[CONTROLLERS]
    [seeded] = udp_1812(client, okta)
    assert seeded["ReferencedGroupInfo"]["GroupId"] == controllers

    sign_in(page, lab, base, "/ec2/securitygroups")
    table = page.get_by_role("table", name="Security groups")
    for name, group_id in groups.items():
        expect(table.get_by_role("row").filter(has_text=group_id)).to_contain_text(name)
    shot(page, "01-security-groups")

    table.get_by_role("row").filter(has_text="InstanceOkta-sg").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{okta} - InstanceOkta-sg")
    rules = page.get_by_role("table", name="Inbound rules")
    row = rules.get_by_role("row").filter(has_text=seeded["SecurityGroupRuleId"])
    expect(row).to_contain_text("UDP")
    expect(row).to_contain_text(f"{controllers} ({CONTROLLERS})")
    shot(page, "02-instance-okta-rules")

    row.get_by_role("button", name=f"Delete rule {seeded['SecurityGroupRuleId']}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Inbound rule {seeded['SecurityGroupRuleId']} deleted")
    expect(rules.get_by_role("row").filter(has_text=seeded["SecurityGroupRuleId"])).to_have_count(0)
    assert udp_1812(client, okta) == []

    def add_rule() -> None:
        page.get_by_label("Type", exact=True).select_option(label="Custom UDP")
        page.get_by_label("Port range", exact=True).fill("1812")
        page.get_by_label("Source", exact=True).select_option(label=f"{controllers} ({CONTROLLERS})")
        page.get_by_label("Description", exact=True).fill("RADIUS from AD Connector <lab>")
        page.get_by_role("button", name="Add inbound rules").click()

    add_rule()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Inbound rule sgr-[0-9a-f]+ added"))
    [added] = udp_1812(client, okta)
    assert added["ReferencedGroupInfo"]["GroupId"] == controllers
    assert added["Description"] == "RADIUS from AD Connector <lab>"
    row = rules.get_by_role("row").filter(has_text=added["SecurityGroupRuleId"])
    expect(row).to_contain_text("1812")
    expect(row).to_contain_text("RADIUS from AD Connector <lab>")          # escaped text, shown as typed
    shot(page, "03-rule-added")

    add_rule()
    expect(page.get_by_role("alert")).to_contain_text("InvalidPermission.Duplicate")
    expect(page.get_by_label("Port range", exact=True)).to_have_value("1812")     # the form keeps what was typed
    assert len(udp_1812(client, okta)) == 1
    shot(page, "04-duplicate-refused")


def test_two_inbound_rules_in_one_save_and_an_outbound_rule(page, lab, base, shot):
    """The editor's second row: DNS over TCP and UDP to InstanceRDC in one save; then the
    outbound editor adds a rule that EC2 lists as egress."""
    client = ec2(lab)
    rdc = next(g["GroupId"] for g in client.describe_security_groups()["SecurityGroups"]
               if g["GroupName"] == "InstanceRDC-sg")
    sign_in(page, lab, base, f"/ec2/securitygroups/{rdc}")
    page.get_by_label("Type", exact=True).select_option(label="Custom TCP")
    page.get_by_label("Port range", exact=True).fill("5353")
    page.get_by_label("CIDR block", exact=True).fill("10.20.0.0/16")
    page.get_by_label("Type, rule 2").select_option(label="Custom UDP")
    page.get_by_label("Port range, rule 2").fill("5353")
    page.get_by_label("CIDR block, rule 2").fill("10.20.0.0/16")
    page.get_by_role("button", name="Add inbound rules").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Inbound rules sgr-[0-9a-f]+, sgr-[0-9a-f]+ added"))
    inbound = client.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [rdc]}])
    assert {r["IpProtocol"] for r in inbound["SecurityGroupRules"]
            if not r["IsEgress"] and r.get("FromPort") == 5353} == {"tcp", "udp"}

    page.get_by_label("Type, outbound rule 1").select_option(label="Custom UDP")
    page.get_by_label("Port range, outbound rule 1").fill("514")
    page.get_by_label("CIDR block, outbound rule 1").fill("10.30.0.0/16")
    page.get_by_label("Description, outbound rule 1").fill("syslog")
    page.get_by_role("button", name="Add outbound rules").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Outbound rule sgr-[0-9a-f]+ added"))
    outbound = page.get_by_role("table", name="Outbound rules")
    expect(outbound.get_by_role("row").filter(has_text="syslog")).to_contain_text("514")
    shot(page, "05-outbound-rule-added")
    rules = client.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [rdc]}])["SecurityGroupRules"]
    assert any(r["IsEgress"] and r.get("FromPort") == 514 and r.get("CidrIpv4") == "10.30.0.0/16" for r in rules)
