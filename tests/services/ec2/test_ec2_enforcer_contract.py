"""The network contract between EC2 and the enforcer (services/ec2/enforcer.py), checked with a
fake enforcer in the test: the document's shape, the long poll and its generation, the applied
report and its counters (DescribeSecurityGroupRules' lab tag), a mutating call waiting for the
enforcer, and returning at once without one. ec2 alone on 127.0.131.x."""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from lab.firewall import lifecycle
from tests.services.ec2.support import ec2_client, group_named
from tests.support import admin_client, running_services

SUBNET = "127.0.131"
# Short enough that a test without an enforcer is not waiting on one a previous test left "present".
SETTINGS = {"ec2": {"enforcer_fresh_seconds": 1.0, "apply_wait_seconds": 5.0, "long_poll_seconds": 3.0}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_services(["ec2"], tmp_path_factory.mktemp("ec2-contract"), SUBNET, settings=SETTINGS) as topology:
        yield topology


@pytest.fixture(scope="module")
def ec2(lab):
    return ec2_client(lab)


@pytest.fixture
def admin(lab):
    with admin_client(lab, "ec2") as client:
        yield client


def events(admin, kind):
    """The service's events of `kind`, each with its fields at the top."""
    return [e["fields"] | {"outcome": e["outcome"]} for e in admin.get("/events").json() if e["kind"] == kind]


class FakeEnforcer:
    """Long-polls like the real enforcer and reports each generation applied (after `delay`)."""

    def __init__(self, admin: httpx.Client, delay: float = 0.0, counters: dict | None = None) -> None:
        self.admin, self.delay, self.counters = admin, delay, counters or {}
        self.seen: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        generation = self.admin.get("/admin/network").json()["generation"]
        self.report(generation)
        while not self.stop.is_set():
            doc = self.admin.get("/admin/network", params={"after": generation}, timeout=30).json()
            if doc["generation"] > generation:
                generation = doc["generation"]
                self.seen.append(generation)
                time.sleep(self.delay)
                self.report(generation)

    def report(self, generation: int) -> None:
        sent = self.admin.post("/admin/network/applied", json={"generation": generation, "counters": self.counters})
        assert sent.status_code == 204, sent.text

    def __enter__(self) -> FakeEnforcer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_the_document_names_every_interface_and_group_in_the_contracts_shape(lab, admin, ec2):
    doc = admin.get("/admin/network").json()
    assert set(doc) == {"generation", "applied", "interfaces", "groups"}
    owners = {(i["owner"], i["address"]) for i in doc["interfaces"]}
    services = lab["services"]
    assert owners == {("InstanceRDC", services["dc"]["host"]), ("InstanceOkta", services["radius-agent"]["host"]),
                      ("InstanceOkta", services["ad-agent"]["host"])} | {
        ("ad-connector", a) for a in services["ad-connector"]["settings"]["connect_ips"]}
    rdc = group_named(ec2, "InstanceRDC-sg")["GroupId"]
    directory = group_named(ec2, "d-9067a1b2c3_controllers")["GroupId"]
    assert doc["groups"][rdc]["name"] == "InstanceRDC-sg"
    ingress = doc["groups"][rdc]["ingress"]
    assert {"protocol": "udp", "from_port": 53, "to_port": 53, "cidr": None, "group": directory} in \
        [{k: v for k, v in r.items() if k != "id"} for r in ingress]
    assert all(r["id"].startswith("sgr-0") for r in ingress)
    egress = doc["groups"][rdc]["egress"]
    assert [{k: v for k, v in r.items() if k != "id"} for r in egress] == [
        {"protocol": "all", "from_port": None, "to_port": None, "cidr": "0.0.0.0/0", "group": None}]
    connector = [i for i in doc["interfaces"] if i["owner"] == "ad-connector"]
    assert all(i["groups"] == [directory] and i["id"].startswith("eni-0") for i in connector)


def test_a_long_poll_answers_when_the_generation_moves(admin, ec2):
    generation = admin.get("/admin/network").json()["generation"]
    answers = []
    poll = threading.Thread(target=lambda: answers.append(
        admin.get("/admin/network", params={"after": generation}, timeout=30).json()))
    poll.start()
    made = ec2.create_security_group(GroupName=f"poll-{uuid.uuid4().hex[:6]}", Description="poll")["GroupId"]
    poll.join(timeout=30)
    assert answers and answers[0]["generation"] > generation and made in answers[0]["groups"]
    ec2.delete_security_group(GroupId=made)
    # Nothing new: the poll ends at its limit with the same generation.
    current = admin.get("/admin/network").json()["generation"]
    assert admin.get("/admin/network", params={"after": current}, timeout=30).json()["generation"] == current


def test_a_mutating_call_returns_once_the_enforcer_applied_it(admin, ec2):
    rdc = group_named(ec2, "InstanceRDC-sg")["GroupId"]
    with FakeEnforcer(admin, delay=0.3) as enforcer:
        time.sleep(0.2)        # the enforcer's first poll is in
        added = ec2.authorize_security_group_ingress(GroupId=rdc, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 636, "ToPort": 636, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])
        doc = admin.get("/admin/network").json()
        assert doc["applied"] >= doc["generation"], "the call returned after the enforcer's report"
        assert enforcer.seen
        ec2.revoke_security_group_ingress(
            GroupId=rdc, SecurityGroupRuleIds=[added["SecurityGroupRules"][0]["SecurityGroupRuleId"]])
    applied = [e for e in events(admin, "ec2.rules_applied") if e.get("outcome") == "applied"]
    assert applied and all(e["milliseconds"] > 0 for e in applied), "each waited for the enforcer's report"
    assert {e["operation"] for e in applied} >= {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"}


def test_without_an_enforcer_a_call_returns_at_once(admin, ec2, lab):
    lifecycle.stop(Path(lab["state_dir"]))    # the lab's real enforcer (bring_up starts one for ec2)
    time.sleep(1.2)      # past enforcer_fresh_seconds since the last test's enforcer
    made = ec2.create_security_group(GroupName=f"alone-{uuid.uuid4().hex[:6]}", Description="alone")["GroupId"]
    ec2.delete_security_group(GroupId=made)
    last = [e for e in events(admin, "ec2.rules_applied") if e.get("operation") == "DeleteSecurityGroup"][-1]
    assert last["outcome"] == "no_enforcer" and last["milliseconds"] == 0


def test_counters_show_as_the_rules_lab_tag_and_drops_on_the_interface(admin, ec2, lab):
    rule = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [
        group_named(ec2, "InstanceOkta-sg")["GroupId"]]}])["SecurityGroupRules"]
    radius = next(r for r in rule if r.get("FromPort") == 1812)
    dc = lab["services"]["dc"]["host"]
    generation = admin.get("/admin/network").json()["generation"]
    sent = admin.post("/admin/network/applied", json={"generation": generation, "counters": {
        radius["SecurityGroupRuleId"]: {"packets": 12}, f"drop:{dc}": {"packets": 3}}})
    assert sent.status_code == 204
    shown = ec2.describe_security_group_rules(SecurityGroupRuleIds=[radius["SecurityGroupRuleId"]])
    assert {"Key": "lab:matched-packets", "Value": "12"} in shown["SecurityGroupRules"][0]["Tags"]
    eni = ec2.describe_network_interfaces(Filters=[{"Name": "private-ip-address", "Values": [dc]}])
    assert {"Key": "lab:dropped-packets", "Value": "3"} in eni["NetworkInterfaces"][0]["TagSet"]
    assert admin.get("/admin/network").json()["applied"] == generation


@pytest.mark.parametrize("body", [
    {"generation": -1}, {"generation": 10**9}, {"generation": "1"}, {"generation": True}, [],
    {"generation": 0, "counters": {"sgr-x": {"packets": -1}}}, {"generation": 0, "counters": {"x": 5}},
    {"generation": 0, "other": 1},
])
def test_bad_reports_are_refused(admin, body):
    assert admin.post("/admin/network/applied", json=body).status_code == 400


def test_the_network_admin_api_needs_the_admin_token(lab):
    svc = lab["services"]["ec2"]
    base = f"http://{svc['host']}:{svc['ports']['admin']}"
    assert httpx.get(base + "/admin/network").status_code == 401
    assert httpx.post(base + "/admin/network/applied", json={"generation": 0}).status_code == 401
    assert httpx.get(base + "/admin/network", params={"after": -1},
                     headers={"Authorization": f"Bearer {lab['credentials']['admin_token']}"}).status_code == 400
