"""The lab's VPC from the seed, made through the calls the API makes (Network.create_group,
permissions.rules_from + Network.authorize, Network.set_groups).

Two parts (docs/aws.md, "EC2"):
- `network` (the customer's VPC, there before the walkthrough, so also in a blank lab): the VPC,
  the instances' interfaces, a security group per instance, and the rule the directory needed
  before AWS came (the Okta AD agent on InstanceOkta reads the DC over LDAP).
- `aws` (the walkthrough's AWS side; absent in a blank lab): the directory's own group
  `<directory-id>_controllers` on AD Connector's interfaces, as ConnectDirectory made it, and the
  walkthrough's first step, the rules that let the AD Connector's group in.
"""
from __future__ import annotations

from typing import Any

from . import ids, permissions
from .network import CONNECTOR, CONTROLLERS_SUFFIX, Network


def directory_group_description(directory_id: str) -> str:
    """What AD Connector names its group's description (the name is `<directory-id>_controllers`)."""
    return f"AWS created security group for {directory_id} directory controllers"


def _permission(rule: dict[str, Any], source: str) -> dict[str, Any]:
    ports = rule.get("ports")
    permission: dict[str, Any] = {"IpProtocol": str(rule["protocol"])}
    if "/" in source:               # an address block (the VPC's own: `source: vpc`)
        permission["IpRanges"] = [{"CidrIp": source, "Description": rule.get("description")}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": source, "Description": rule.get("description")}]
    if ports is not None and str(ports).strip() in ("-1", "all"):
        permission |= {"FromPort": -1, "ToPort": -1}       # EC2's "all ports"
    elif ports is not None:
        low, _, high = str(ports).partition("-")
        permission |= {"FromPort": int(low), "ToPort": int(high or low)}
    return permission


def _authorize(network: Network, group_id: str, rules: list[dict[str, Any]], names: dict[str, str]) -> None:
    for rule in rules:
        source = names[rule["source"]]
        specs = permissions.rules_from({"IpPermissions": [_permission(rule, source)]},
                                       egress=bool(rule.get("egress")), resolve=lambda pair: str(pair["GroupId"]))
        network.authorize(network.group(group_id), specs)


def seed(network: Network, customer: dict[str, Any], cloud: dict[str, Any]) -> None:
    """`customer` is the whole seed (its `network` section); `cloud` the seed as the cloud side
    reads it (empty in a blank lab)."""
    section = customer.get("network") or {}
    network.ensure_vpc(section.get("vpc_id") or ids.new("vpc"), list(section.get("subnet_ids") or []))
    names: dict[str, str] = {"vpc": network.settings.vpc_cidr}
    for spec in section.get("security_groups") or []:
        group_id = network.create_group(spec["name"], spec["description"], None, group_id=spec.get("id"))
        names[spec["name"]] = group_id
        instance = network.instance_named(spec["instance"])
        if instance is not None:
            network.set_groups(network.doc["interfaces"][instance["interfaces"][0]], [group_id])
    for spec in section.get("security_groups") or []:
        _authorize(network, names[spec["name"]], spec.get("ingress") or [], names)
    aws = cloud.get("aws") or {}
    directory = aws.get("directory")
    if not directory:
        # A blank lab: the lab has no EC2 pages yet for a person to open the ports by clicking, so
        # its VPC lets its own address block in on the walkthrough's ports (`blank_lab_rules`);
        # the seeded lab has the walkthrough's group-to-group rules instead, which scenarios break.
        for rule in section.get("blank_lab_rules") or []:
            _authorize(network, names[rule["group"]], [rule], names)
        return
    directory_group = network.create_group(directory["id"] + CONTROLLERS_SUFFIX,
                                           directory_group_description(directory["id"]), None,
                                           group_id=directory.get("security_group_id"))
    names["directory"] = directory_group
    for eni in network.interfaces():
        if eni["owner"] == CONNECTOR:
            network.set_groups(eni, [directory_group])
    for rule in aws.get("security_group_rules") or []:
        _authorize(network, names[rule["group"]], [rule], names)
