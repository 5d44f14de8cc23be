"""The NetworkPolicies say what the lab's nftables table says (lab/firewall/compiler.py) about the
same security groups, as EC2 itself seeds them; and no trainee reaches another's lab."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import docker_compose as dc
from lab import topology as topo
from lab.firewall import compiler
from lab.k8s import cluster_topology, manifests, network_policy
from services.ec2.network import Network
from services.ec2.seed import seed as seed_ec2
from services.ec2.settings import Ec2Settings
from services.ec2.store import NetworkStore

from .support import admits, pods

SEED_TEXT = topo.SEED_DEFAULT.read_text()
SEED = yaml.safe_load(SEED_TEXT)
# Ports nobody serves, to see that a closed port stays closed (an SSH, an RDP, an LDAP GC port).
UNSERVED = [("TCP", 22), ("TCP", 3389), ("TCP", 3268), ("UDP", 1813)]


def objects(number: int = 1, *, blank: bool = False) -> list[dict[str, Any]]:
    return manifests.trainee_objects(number, manifests.Options(trainees=number, blank=blank), SEED_TEXT)


def policies_of(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == "NetworkPolicy"]


def ec2_snapshot(tmp_path: Path, inside: dict[str, Any], *, blank: bool) -> dict[str, Any]:
    """The desired network EC2 itself makes from the seed (GET /admin/network's shape)."""
    settings = Ec2Settings.from_settings(inside["services"]["ec2"]["settings"])
    network = Network(NetworkStore(tmp_path / "network.sqlite3"), settings, now=lambda: 0.0)
    seed_ec2(network, SEED, {} if blank else SEED)
    return network.snapshot()


def offered(inside: dict[str, Any], name: str) -> list[tuple[str, int]]:
    out = []
    for kind, port in inside["services"][name]["ports"].items():
        if kind != "radius":
            out.append(("TCP", port))
        if kind in ("dns", "kerberos", "kpasswd", "ldap", "radius"):
            out.append(("UDP", port))
    return out + UNSERVED


@pytest.mark.parametrize("blank", [False, True], ids=["seeded", "blank"])
def test_the_policies_decide_as_the_nftables_table_does(tmp_path, blank):
    inside = dc.container_topology(blank=blank)
    desired = ec2_snapshot(tmp_path, inside, blank=blank)
    ec2 = inside["services"]["ec2"]["settings"]
    net = compiler.LabNet(dc.DEFAULT_SUBNET, topo.ADMIN_PORT, ec2["instances"], {}, machine=(f"{dc.DEFAULT_SUBNET}.1",))
    objs = objects(blank=blank)
    policies, by_pod = policies_of(objs), pods(objs)
    decisions = 0
    for dst in inside["services"]:
        for src in inside["services"]:
            if src == dst:
                continue
            for protocol, port in offered(inside, dst):
                nft = compiler.verdict(desired, [], net, inside["services"][src]["host"],
                                       inside["services"][dst]["host"], protocol.lower(), port) is None
                k8s = admits(policies, by_pod[src], by_pod[dst], protocol, port)
                assert k8s == nft, f"{src} -> {dst} {port}/{protocol}: nft {nft}, NetworkPolicy {k8s}"
                decisions += 1
    assert decisions > 400


def test_radius_reaches_the_agent_from_the_connector_only():
    one, two = objects(1), objects(2)
    policies = policies_of(one) + policies_of(two)
    ours, theirs = pods(one), pods(two)
    agent = ours["radius-agent"]
    assert admits(policies, ours["ad-connector"], agent, "UDP", 1812)
    for name, pod in ours.items():
        if name not in ("ad-connector", "radius-agent"):
            assert not admits(policies, pod, agent, "UDP", 1812), name
    assert not admits(policies, theirs["ad-connector"], agent, "UDP", 1812)
    # the AD agent reads the DC over LDAP (its group's rule); the connector DNS, Kerberos and LDAP
    assert admits(policies, ours["ad-agent"], ours["dc"], "TCP", 389)
    assert not admits(policies, ours["ad-agent"], ours["dc"], "TCP", 88)
    for protocol in ("TCP", "UDP"):
        for port in (53, 88, 389):
            assert admits(policies, ours["ad-connector"], ours["dc"], protocol, port)
    assert not admits(policies, ours["workspaces"], ours["dc"], "TCP", 389)


def test_a_blank_lab_opens_the_walkthroughs_ports_to_its_own_namespace_only():
    one, two = objects(1, blank=True), objects(2, blank=True)
    policies = policies_of(one) + policies_of(two)
    ours, theirs = pods(one), pods(two)
    assert admits(policies, ours["workspaces"], ours["radius-agent"], "UDP", 1812)
    assert admits(policies, ours["phone"], ours["dc"], "UDP", 88)
    assert not admits(policies, ours["phone"], ours["dc"], "TCP", 636)
    assert not admits(policies, theirs["ad-connector"], ours["radius-agent"], "UDP", 1812)
    assert "sg-d-9067a1b2c3-controllers" not in {p["metadata"]["name"] for p in policies}


def test_trainees_never_reach_each_others_labs():
    one, two = objects(1), objects(2)
    policies = policies_of(one) + policies_of(two)
    inside = dc.container_topology()
    for a, b in ((pods(one), pods(two)), (pods(two), pods(one))):
        for src in a.values():
            for name, dst in b.items():
                for protocol, port in offered(inside, name):
                    assert not admits(policies, src, dst, protocol, port), (src["namespace"], name, port)
    deny = next(p for p in policies_of(one) if p["metadata"]["name"] == "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            assert rule["from"] and all(set(peer) == {"podSelector"} for peer in rule["from"]), policy


def test_a_rule_a_networkpolicy_cannot_name_is_said_and_a_bad_source_refused():
    seed = yaml.safe_load(SEED_TEXT)
    seed["network"]["security_groups"][0]["ingress"].append(
        {"protocol": "icmp", "source": "vpc", "description": "ping"})
    seed["network"]["security_groups"][1]["ingress"] = [{"protocol": "tcp", "ports": "1024-65535", "source": "vpc"}]
    topology = cluster_topology.template()
    groups = network_policy.security_groups(seed, topology, blank=False)
    policies = {p["metadata"]["name"]: p for p in network_policy.policies(groups, topo.ADMIN_PORT)}
    rdc = policies["sg-instancerdc-sg"]
    assert "icmp from vpc" in rdc["metadata"]["annotations"]["okta-workspaces-lab/not-expressed"]
    assert len(rdc["spec"]["ingress"]) == 7
    okta = policies["sg-instanceokta-sg"]["spec"]["ingress"]
    assert okta[0] == {"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 1024, "endPort": 65535}]}
    assert okta[1]["ports"] == [{"protocol": "UDP", "port": 1812}]       # the walkthrough's, after the seed's own
    seed["network"]["security_groups"][1]["ingress"] = [{"protocol": "tcp", "ports": 22, "source": "nobody-sg"}]
    with pytest.raises(ValueError, match="no group 'nobody-sg'"):
        network_policy.security_groups(seed, topology, blank=False)
    seed["network"]["security_groups"][1]["ingress"] = [{"protocol": "gre", "source": "vpc"}]
    with pytest.raises(ValueError, match="protocol 'gre'"):
        network_policy.security_groups(seed, topology, blank=False)


def test_pods_carry_their_groups_as_the_topology_places_them():
    by_pod = pods(objects())
    label = "okta-workspaces-lab/sg-"
    assert {k for k in by_pod["dc"]["labels"] if k.startswith(label)} == {label + "instancerdc-sg"}
    for agent in ("radius-agent", "ad-agent"):
        assert {k for k in by_pod[agent]["labels"] if k.startswith(label)} == {label + "instanceokta-sg"}
        assert by_pod[agent]["labels"][network_policy.GUARDED_LABEL] == "true"
    assert label + "d-9067a1b2c3-controllers" in by_pod["ad-connector"]["labels"]
    assert network_policy.GUARDED_LABEL not in by_pod["ad-connector"]["labels"]      # AWS's, never guarded
    assert network_policy.GUARDED_LABEL not in by_pod["okta"]["labels"]
