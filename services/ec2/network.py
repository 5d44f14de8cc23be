"""The lab's VPC: security groups, their rules, the network interfaces and the instances they belong to.

Every change goes through one method here (the API handlers and the seed call the same ones), is
written to the store and bumps the generation the enforcer follows (GET /admin/network). The
checks are EC2's: names unique per VPC, the `default` group kept, a group in use (by an interface
or another group's rule) not deleted, duplicate rules refused, AWS's quotas (60 rules per
direction, 5 groups per interface, 2500 groups per VPC).

Instances and interfaces come from the topology (settings.instances, settings.connector_interfaces):
InstanceRDC and InstanceOkta each have one interface whose private addresses are the instance's
hosts (InstanceOkta: one per agent); AD Connector's two requester-managed interfaces are the
connector addresses its traffic leaves from. Their ids are made once and kept.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from services.common.aws_errors import AwsError

from . import ids, permissions
from .settings import Ec2Settings

CONNECTOR = "ad-connector"
RULES_PER_DIRECTION = 60
GROUPS_PER_INTERFACE = 5
GROUPS_PER_VPC = 2500
NAME_MAX = 255
# EC2's characters for a VPC security group's name and description.
_VPC_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*")
CONTROLLERS_SUFFIX = "_controllers"     # AD Connector's group: `<directory-id>_controllers`


def _blank() -> dict[str, Any]:
    return {"generation": 0, "vpc": {}, "groups": {}, "rules": {}, "interfaces": {}, "instances": {}}


class Network:
    def __init__(self, store: Any, settings: Ec2Settings, *, now: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.doc: dict[str, Any] = store.load() or _blank()
        self.on_change: Callable[[int], None] = lambda _generation: None

    @property
    def generation(self) -> int:
        return int(self.doc["generation"])

    def _commit(self) -> int:
        self.doc["generation"] = self.generation + 1
        self.store.save(self.doc)
        self.on_change(self.generation)
        return self.generation

    def clear(self) -> None:
        """Everything gone (reset), the generation still counting up so the enforcer follows."""
        generation = self.generation
        self.doc = _blank()
        self.doc["generation"] = generation
        self._commit()

    # -- the VPC and its machines ------------------------------------------------------------------
    @property
    def vpc(self) -> dict[str, Any]:
        return dict(self.doc["vpc"])

    def ensure_vpc(self, vpc_id: str, subnets: list[str]) -> None:
        """The VPC, its default group, and the instances' and connector's interfaces (kept ids; the
        addresses follow the topology)."""
        vpc = self.doc["vpc"]
        if not vpc:
            vpc.update({"id": vpc_id, "cidr": self.settings.vpc_cidr, "subnets": list(subnets) or [ids.new("subnet")]})
            default = self.create_group("default", "default VPC security group", vpc_id, commit=False)
            vpc["default_group"] = default
            self._add_rule(default, {"egress": False, "protocol": "-1", "from_port": None, "to_port": None,
                                     "cidr": None, "cidr_v6": None, "ref_group": default, "description": None})
        vpc["cidr"] = self.settings.vpc_cidr
        subnets = vpc["subnets"]
        for index, (name, addresses) in enumerate(self.settings.instances.items()):
            instance = next((i for i in self.doc["instances"].values() if i["name"] == name), None)
            if instance is None:
                instance_id = ids.new("i")
                eni = self._new_interface(name, list(addresses), subnets[index % len(subnets)])
                eni["instance"] = instance_id
                instance = {"id": instance_id, "name": name, "interfaces": [eni["id"]], "launched": self.now()}
                self.doc["instances"][instance_id] = instance
            self.doc["interfaces"][instance["interfaces"][0]]["addresses"] = list(addresses)
        connector = [e for e in self.doc["interfaces"].values() if e["owner"] == CONNECTOR]
        for index, address in enumerate(self.settings.connector_interfaces):
            if index < len(connector):
                connector[index]["addresses"] = [address]
            else:
                self._new_interface(CONNECTOR, [address], subnets[index % len(subnets)])
        for extra in connector[len(self.settings.connector_interfaces):]:
            del self.doc["interfaces"][extra["id"]]
        self._commit()

    def _new_interface(self, owner: str, addresses: list[str], subnet: str) -> dict[str, Any]:
        eni = {"id": ids.new("eni"), "owner": owner, "addresses": addresses, "subnet": subnet,
               "groups": [self.doc["vpc"]["default_group"]], "instance": None}
        self.doc["interfaces"][eni["id"]] = eni
        return eni

    def instances(self) -> list[dict[str, Any]]:
        return list(self.doc["instances"].values())

    def instance(self, instance_id: str) -> dict[str, Any]:
        ids.check("i", instance_id)
        found = self.doc["instances"].get(instance_id)
        if found is None:
            raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
        return found

    def instance_named(self, name: str) -> dict[str, Any] | None:
        return next((i for i in self.doc["instances"].values() if i["name"] == name), None)

    def interfaces(self) -> list[dict[str, Any]]:
        return list(self.doc["interfaces"].values())

    def interface(self, eni_id: str) -> dict[str, Any]:
        ids.check("eni", eni_id)
        found = self.doc["interfaces"].get(eni_id)
        if found is None:
            raise AwsError("InvalidNetworkInterfaceID.NotFound", f"The networkInterface ID '{eni_id}' does not exist")
        return found

    # -- groups -------------------------------------------------------------------------------------
    def groups(self) -> list[dict[str, Any]]:
        return list(self.doc["groups"].values())

    def group(self, group_id: str) -> dict[str, Any]:
        ids.check("sg", group_id)
        found = self.doc["groups"].get(group_id)
        if found is None:
            raise AwsError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        return found

    def group_named(self, name: str, vpc_id: str | None = None) -> dict[str, Any]:
        vpc_id = vpc_id or self.doc["vpc"].get("id")
        found = next((g for g in self.doc["groups"].values() if g["name"] == name and g["vpc"] == vpc_id), None)
        if found is None:
            raise AwsError("InvalidGroup.NotFound",
                           f"The security group '{name[:255]}' does not exist in default VPC '{vpc_id}'")
        return found

    def resolve(self, group_id: str | None, group_name: str | None) -> dict[str, Any]:
        """The group a call names by GroupId or GroupName (one of them)."""
        if group_id is not None:
            return self.group(group_id)
        if group_name is not None:
            return self.group_named(group_name)
        raise AwsError("MissingParameter", "The request must contain the parameter groupName or groupId")

    def rules(self, group_id: str | None = None, egress: bool | None = None) -> list[dict[str, Any]]:
        return [r for r in self.doc["rules"].values()
                if (group_id is None or r["group"] == group_id) and (egress is None or r["egress"] == egress)]

    def rule(self, rule_id: str) -> dict[str, Any] | None:
        return self.doc["rules"].get(rule_id)

    def create_group(self, name: str, description: str, vpc_id: str | None, *, tags: list[dict[str, str]] | None = None,
                     group_id: str | None = None, commit: bool = True) -> str:
        vpc_id = vpc_id or self.doc["vpc"].get("id")
        if vpc_id is None:
            raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
        if self.doc["vpc"] and vpc_id != self.doc["vpc"]["id"]:
            ids.check("vpc", vpc_id)
            raise AwsError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
        for label, text in (("GroupName", name), ("GroupDescription", description)):
            if not text or len(text) > NAME_MAX or not _VPC_TEXT.fullmatch(text):
                raise AwsError("InvalidParameterValue", f"Value ({text[:NAME_MAX]}) for parameter {label} is "
                               f"invalid. Valid values are 1-{NAME_MAX} characters of a-z, A-Z, 0-9, spaces, "
                               "and ._-:/()#,@[]+=&;{}!$*")
        if name.lower().startswith("sg-"):
            raise AwsError("InvalidParameterValue", "Group names may not be in the format sg-*.")
        if name == "default" and self.doc["vpc"].get("default_group"):
            raise AwsError("InvalidParameterValue", "Cannot use reserved security group name: default")
        if any(g["name"] == name and g["vpc"] == vpc_id for g in self.doc["groups"].values()):
            raise AwsError("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc_id}'")
        if len(self.doc["groups"]) >= GROUPS_PER_VPC:
            raise AwsError("SecurityGroupLimitExceeded", "The maximum number of security groups has been reached.")
        group_id = group_id or ids.new("sg")
        self.doc["groups"][group_id] = {"id": group_id, "name": name, "description": description, "vpc": vpc_id,
                                        "tags": list(tags or [])}
        if name != "default":       # a new group may send anywhere, as on AWS
            self._add_rule(group_id, {"egress": True, "protocol": "-1", "from_port": None, "to_port": None,
                                      "cidr": "0.0.0.0/0", "cidr_v6": None, "ref_group": None, "description": None})
        if commit:
            self._commit()
        return group_id

    def delete_group(self, group: dict[str, Any]) -> None:
        group_id = group["id"]
        if group_id == self.doc["vpc"].get("default_group"):
            raise AwsError("CannotDelete",
                           f'the specified group: "{group_id}" name: "default" cannot be deleted by a user')
        users = [e["id"] for e in self.doc["interfaces"].values() if group_id in e["groups"]]
        referrers = sorted({r["group"] for r in self.doc["rules"].values()
                            if r.get("ref_group") == group_id and r["group"] != group_id})
        if users or referrers:
            raise AwsError("DependencyViolation", f"resource {group_id} has a dependent object")
        for rule_id in [r["id"] for r in self.rules(group_id)]:
            del self.doc["rules"][rule_id]
        del self.doc["groups"][group_id]
        self._commit()

    # -- rules --------------------------------------------------------------------------------------
    def _add_rule(self, group_id: str, spec: dict[str, Any],
                  tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        rule = {"id": ids.new("sgr"), "group": group_id, **spec, "tags": list(tags or [])}
        self.doc["rules"][rule["id"]] = rule
        return rule

    def authorize(self, group: dict[str, Any], specs: list[dict[str, Any]], *,
                  tags: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
        """Add every rule or none: a duplicate (stored, or twice in the call) refuses the call."""
        existing = {permissions.key(r) for r in self.rules(group["id"])}
        seen: set[tuple[Any, ...]] = set()
        for spec in specs:
            key = permissions.key(spec)
            if key in existing or key in seen:
                raise AwsError("InvalidPermission.Duplicate",
                               f'the specified rule "{permissions.peer_text(spec)}" already exists')
            seen.add(key)
            if spec.get("ref_group") and self.group(spec["ref_group"])["vpc"] != group["vpc"]:
                raise AwsError("InvalidGroup.NotFound", f"The security group '{spec['ref_group']}' does not exist "
                               f"in VPC '{group['vpc']}'")
        for egress in (False, True):
            count = len(self.rules(group["id"], egress)) + sum(1 for s in specs if s["egress"] == egress)
            if count > RULES_PER_DIRECTION:
                raise AwsError("RulesPerSecurityGroupLimitExceeded",
                               "The maximum number of rules per security group has been reached.")
        added = [self._add_rule(group["id"], spec, tags) for spec in specs]
        self._commit()
        return added

    def revoke(self, group: dict[str, Any],
               specs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the rules revoked, the specs that matched none); InvalidPermission.NotFound if none matched."""
        by_key = {permissions.key(r): r for r in self.rules(group["id"])}
        found = [by_key[permissions.key(s)] for s in specs if permissions.key(s) in by_key]
        unknown = [s for s in specs if permissions.key(s) not in by_key]
        if not found:
            raise AwsError("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
        return self._remove(found), unknown

    def revoke_ids(self, group: dict[str, Any], rule_ids: list[str], egress: bool) -> list[dict[str, Any]]:
        found = []
        for rule_id in dict.fromkeys(rule_ids):
            ids.check("sgr", rule_id)
            rule = self.doc["rules"].get(rule_id)
            if rule is None or rule["group"] != group["id"] or rule["egress"] != egress:
                raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                               f"The security group rule ID '{rule_id}' does not exist")
            found.append(rule)
        return self._remove(found)

    def _remove(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for rule in rules:
            self.doc["rules"].pop(rule["id"], None)
        self._commit()
        return rules

    # -- membership ---------------------------------------------------------------------------------
    def set_groups(self, eni: dict[str, Any], group_ids: list[str]) -> None:
        """The interface's groups become `group_ids` (each must exist, in the interface's VPC)."""
        wanted = list(dict.fromkeys(group_ids))
        if not wanted:
            raise AwsError("MissingParameter", "The request must contain the parameter groupId")
        if len(wanted) > GROUPS_PER_INTERFACE:
            raise AwsError("SecurityGroupsPerInterfaceLimitExceeded",
                           "The maximum number of security groups per interface has been reached.")
        for group_id in wanted:
            self.group(group_id)
        eni["groups"] = wanted
        self._commit()

    # -- what the enforcer reads --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """GET /admin/network's `interfaces` and `groups` (docs: the network contract)."""
        interfaces = []
        for eni in self.doc["interfaces"].values():
            owner = eni["owner"]
            if eni.get("instance"):
                owner = self.doc["instances"][eni["instance"]]["name"]
            interfaces += [{"id": eni["id"], "owner": owner, "address": a, "groups": list(eni["groups"])}
                           for a in eni["addresses"]]
        groups = {}
        for group in self.doc["groups"].values():
            view: dict[str, Any] = {"name": group["name"], "ingress": [], "egress": []}
            for rule in self.rules(group["id"]):
                shown = permissions.contract_rule(rule)
                if shown is not None:
                    view["egress" if rule["egress"] else "ingress"].append(shown)
            groups[group["id"]] = view
        return {"generation": self.generation, "interfaces": interfaces, "groups": groups}
