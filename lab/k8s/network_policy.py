"""The seed's security groups as NetworkPolicies, as they stand when the manifests are written.

The same decision the lab's nftables table makes (lab/firewall/compiler.py), for pods instead of
addresses: a pod whose interface is in a guarded group (compiler.guarded: InstanceRDC's and
InstanceOkta's, not AD Connector's) takes only its groups' ingress rules; every other pod takes
anything from its own namespace (the lab's subnet); the admin port is open to the namespace;
nothing from another namespace (another trainee) gets in. Egress is not restricted, as the
seed's groups keep AWS's default allow-all egress.

Which pods are in which group comes from the topology (EC2's `instances`, `connector_interfaces`:
InstanceRDC is the DC, InstanceOkta the Okta agents, the directory's group is on AD Connector);
the groups and rules from the seed (`network.security_groups`, then `aws.security_group_rules`
in a seeded lab or `network.blank_lab_rules` in a blank one), as services/ec2/seed.py applies them.
Changes a trainee makes later through the EC2 API are not followed: no enforcer runs on a cluster.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..firewall import compiler

LABEL_DOMAIN = "okta-workspaces-lab"
SERVICE_LABEL = "app.kubernetes.io/name"
GUARDED_LABEL = f"{LABEL_DOMAIN}/guarded"
MEMBER = "member"
VPC = "vpc"
DIRECTORY = "directory"
CONTROLLERS_SUFFIX = "_controllers"     # AD Connector's group: `<directory-id>_controllers`
CONNECTOR_OWNER = "ad-connector"        # who owns AD Connector's interfaces, as EC2 says (never guarded)
PROTOCOLS = {"tcp": "TCP", "udp": "UDP"}
ALL = ("-1", "all")


@dataclass(frozen=True)
class SgRule:
    protocol: str                  # tcp | udp | all | icmp
    low: int | None                # None: every port
    high: int | None
    source: str                    # a group's name, or VPC (the lab's own block: the namespace)
    description: str = ""


@dataclass
class SecurityGroup:
    name: str
    id: str
    members: list[str]             # the services whose interfaces are in the group
    owner: str                     # the instance (InstanceRDC...) or ad-connector, as EC2 names it
    ingress: list[SgRule] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The group in Kubernetes names (label keys, object names): lower case, `-` for the rest."""
        return re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-")[:50]

    @property
    def label(self) -> str:
        return f"{LABEL_DOMAIN}/sg-{self.key}"


def _ports(spec: Any) -> tuple[int | None, int | None]:
    if spec is None:
        return None, None
    low, _, high = str(spec).partition("-")
    return int(low), int(high or low)


def _rule(spec: dict[str, Any], source: str) -> SgRule:
    protocol = str(spec["protocol"]).lower()
    protocol = "all" if protocol in ALL else protocol
    if protocol not in compiler.PROTOCOLS:
        raise ValueError(f"security group rule {spec!r}: protocol {protocol!r} is not one of tcp, udp, icmp, -1")
    low, high = _ports(spec.get("ports"))
    return SgRule(protocol, low, high, source, str(spec.get("description") or ""))


def security_groups(seed: dict[str, Any], topology: dict[str, Any], *, blank: bool) -> list[SecurityGroup]:
    """The seed's groups with their members (service names) and ingress rules."""
    ec2 = topology["services"]["ec2"]["settings"]
    section = seed.get("network") or {}
    groups: dict[str, SecurityGroup] = {}
    for spec in section.get("security_groups") or []:
        instance = spec.get("instance")
        groups[spec["name"]] = SecurityGroup(spec["name"], str(spec.get("id") or spec["name"]),
                                             list(ec2["instances"].get(instance, [])), str(instance or spec["name"]))
    aliases = {}
    directory = ((seed.get("aws") or {}).get("directory") or {}) if not blank else {}
    if directory:
        name = directory["id"] + CONTROLLERS_SUFFIX
        connector = list(ec2["connector_interfaces"])
        groups[name] = SecurityGroup(name, str(directory.get("security_group_id") or name), connector,
                                     CONNECTOR_OWNER)
        aliases[DIRECTORY] = name

    def add(group: str, spec: dict[str, Any]) -> None:
        source = aliases.get(spec["source"], spec["source"])
        if source != VPC and source not in groups:
            raise ValueError(f"security group rule {spec!r}: no group {spec['source']!r} in the seed")
        if group not in groups:
            raise ValueError(f"security group rule {spec!r}: no group {group!r} in the seed")
        groups[group].ingress.append(_rule(spec, source))

    for spec in section.get("security_groups") or []:
        for rule in spec.get("ingress") or []:
            add(spec["name"], rule)
    extra = section.get("blank_lab_rules") if blank else (seed.get("aws") or {}).get("security_group_rules")
    for rule in extra or []:
        add(rule["group"], rule)
    keys = [g.key for g in groups.values()]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two security groups have the same name in Kubernetes: {sorted(keys)}")
    return list(groups.values())


def desired_state(groups: list[SecurityGroup], address_of: dict[str, str], vpc_cidr: str) -> dict[str, Any]:
    """The groups in the contract's shape the firewall compiler reads (GET /admin/network): one
    interface per member service at `address_of[service]`."""
    by_member: dict[str, dict[str, Any]] = {}
    for group in groups:
        for member in group.members:
            iface = by_member.setdefault(member, {"id": f"eni-{member}", "owner": group.owner,
                                                  "address": address_of[member], "groups": []})
            iface["groups"].append(group.id)
    ids = {g.name: g.id for g in groups}
    out_groups = {}
    for group in groups:
        rules = [{"id": f"{group.id}-{i}", "protocol": r.protocol, "from_port": r.low, "to_port": r.high,
                  "cidr": vpc_cidr if r.source == VPC else None, "group": None if r.source == VPC else ids[r.source]}
                 for i, r in enumerate(group.ingress)]
        out_groups[group.id] = {"name": group.name, "ingress": rules, "egress": []}
    return {"generation": 1, "interfaces": list(by_member.values()), "groups": out_groups}


def guarded_services(groups: list[SecurityGroup]) -> set[str]:
    """The services default-denied by their groups, by the compiler's own rule."""
    desired = desired_state(groups, {m: m for g in groups for m in g.members}, "0.0.0.0/0")
    return set(compiler.guarded(desired))


def pod_labels(groups: list[SecurityGroup], service: str) -> dict[str, str]:
    """What a service's pods carry for the policies to select them."""
    labels = {g.label: MEMBER for g in groups if service in g.members}
    if service in guarded_services(groups):
        labels[GUARDED_LABEL] = "true"
    return labels


def _peer(rule: SgRule, groups: dict[str, SecurityGroup]) -> dict[str, Any]:
    if rule.source == VPC:
        return {"podSelector": {}}
    return {"podSelector": {"matchLabels": {groups[rule.source].label: MEMBER}}}


def _ingress(rule: SgRule, groups: dict[str, SecurityGroup]) -> dict[str, Any] | None:
    """One NetworkPolicy ingress rule; None for ICMP, which a NetworkPolicy cannot name."""
    if rule.protocol == "icmp":
        return None
    entry: dict[str, Any] = {"from": [_peer(rule, groups)]}
    if rule.protocol == "all":
        return entry
    port: dict[str, Any] = {"protocol": PROTOCOLS[rule.protocol]}
    if rule.low is not None and rule.high is not None and rule.low >= 0:
        port["port"] = rule.low
        if rule.high != rule.low:
            port["endPort"] = rule.high
    entry["ports"] = [port]
    return entry


def _policy(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": LABEL_DOMAIN}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata,
            "spec": spec | {"policyTypes": ["Ingress"]}}


def policies(groups: list[SecurityGroup], admin_port: int) -> list[dict[str, Any]]:
    """Every NetworkPolicy of one trainee's namespace (without the namespace: the caller sets it)."""
    everyone: dict[str, Any] = {"podSelector": {}}
    out = [
        _policy("default-deny-ingress", {"podSelector": {}},
                {f"{LABEL_DOMAIN}/why": "nothing from another namespace (another trainee) gets in"}),
        _policy("lab-admin-port", {"podSelector": {}, "ingress": [
            {"from": [everyone], "ports": [{"protocol": "TCP", "port": admin_port}]}]},
            {f"{LABEL_DOMAIN}/why": "the admin API is never filtered (health, events, reset)"}),
        _policy("lab-unguarded", {
            "podSelector": {"matchExpressions": [{"key": GUARDED_LABEL, "operator": "DoesNotExist"}]},
            "ingress": [{"from": [everyone]}]},
            {f"{LABEL_DOMAIN}/why": "a service in no guarded security group takes anything from its lab"}),
    ]
    by_name = {g.name: g for g in groups}
    for group in groups:
        rules = [(r, _ingress(r, by_name)) for r in group.ingress]
        annotations = {f"{LABEL_DOMAIN}/security-group": f"{group.name} ({group.id})",
                       f"{LABEL_DOMAIN}/rules": "; ".join(_rule_text(r) for r in group.ingress) or "none"}
        skipped = [r for r, entry in rules if entry is None]
        if skipped:
            annotations[f"{LABEL_DOMAIN}/not-expressed"] = "; ".join(
                f"{r.protocol} from {r.source} (a NetworkPolicy names TCP, UDP and SCTP only)" for r in skipped)
        out.append(_policy(f"sg-{group.key}", {"podSelector": {"matchLabels": {group.label: MEMBER}},
                                               "ingress": [e for _, e in rules if e is not None]}, annotations))
    return out


def _rule_text(rule: SgRule) -> str:
    text = f"{rule.protocol} {_port_text(rule)} from {rule.source}"
    return text + (f": {rule.description}" if rule.description else "")


def _port_text(rule: SgRule) -> str:
    if rule.low is None:
        return "all ports"
    return str(rule.low) if rule.low == rule.high else f"{rule.low}-{rule.high}"
