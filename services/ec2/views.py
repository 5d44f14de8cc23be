"""The lab's VPC as EC2's Describe calls show it: security groups, instances (in reservations) and
network interfaces, each with the fields its filters match on.

Lab values where the lab has no real counterpart: instances are Windows `t3.medium` machines,
running, in the Region's first or second Availability Zone; AD Connector's interfaces are
requester-managed (AWS Directory Service made them) and attached to an `amazon-aws` instance, as
they show in a real account.
"""
from __future__ import annotations

from typing import Any

from . import permissions
from .filters import Fields
from .network import CONNECTOR, CONTROLLERS_SUFFIX, Network

GROUP_FILTERS = frozenset({"group-id", "group-name", "vpc-id", "description", "owner-id",
                           "ip-permission.cidr", "ip-permission.group-id", "ip-permission.protocol",
                           "ip-permission.from-port", "ip-permission.to-port", "egress.ip-permission.cidr",
                           "egress.ip-permission.group-id", "egress.ip-permission.protocol", "tag-key", "tag-value"})
RULE_FILTERS = frozenset({"group-id", "security-group-rule-id", "tag-key", "tag-value"})
INSTANCE_FILTERS = frozenset({"instance-id", "private-ip-address", "instance.group-id", "instance.group-name",
                              "instance-state-name", "instance-state-code", "vpc-id", "subnet-id", "instance-type",
                              "network-interface.network-interface-id",
                              "network-interface.addresses.private-ip-address",
                              "private-dns-name", "tag-key", "tag-value"})
INTERFACE_FILTERS = frozenset({"network-interface-id", "group-id", "group-name", "description", "private-ip-address",
                               "addresses.private-ip-address", "attachment.instance-id", "vpc-id", "subnet-id",
                               "requester-managed", "status", "interface-type", "owner-id", "tag-key", "tag-value"})


def _hex(resource_id: str) -> str:
    return resource_id.split("-", 1)[1]


def _dns(address: str) -> str:
    return "ip-" + address.replace(".", "-") + ".ec2.internal"


class Views:
    def __init__(self, network: Network, *, account: str, region: str) -> None:
        self.net, self.account, self.region = network, account, region

    def _az(self, subnet: str) -> str:
        subnets = self.net.vpc.get("subnets") or [subnet]
        return self.region + ("a" if subnet == subnets[0] else "b")

    def _group_refs(self, group_ids: list[str]) -> list[dict[str, str]]:
        return [{"GroupId": g, "GroupName": self.net.doc["groups"][g]["name"]} for g in group_ids
                if g in self.net.doc["groups"]]

    # -- security groups ----------------------------------------------------------------------------
    def group(self, group: dict[str, Any]) -> dict[str, Any]:
        ingress, egress = self.net.rules(group["id"], False), self.net.rules(group["id"], True)
        return {"GroupId": group["id"], "GroupName": group["name"], "Description": group["description"],
                "VpcId": group["vpc"], "OwnerId": self.account, "Tags": group["tags"],
                "SecurityGroupArn": f"arn:aws:ec2:{self.region}:{self.account}:security-group/{group['id']}",
                "IpPermissions": permissions.ip_permissions(ingress, self.account),
                "IpPermissionsEgress": permissions.ip_permissions(egress, self.account)}

    def group_fields(self, group: dict[str, Any]) -> Fields:
        fields: Fields = {"group-id": [group["id"]], "group-name": [group["name"]], "vpc-id": [group["vpc"]],
                          "description": [group["description"]], "owner-id": [self.account]}
        for rule in self.net.rules(group["id"]):
            prefix = "egress.ip-permission" if rule["egress"] else "ip-permission"
            fields.setdefault(f"{prefix}.protocol", []).append(rule["protocol"])
            if rule.get("cidr"):
                fields.setdefault(f"{prefix}.cidr", []).append(rule["cidr"])
            if rule.get("ref_group"):
                fields.setdefault(f"{prefix}.group-id", []).append(rule["ref_group"])
            if not rule["egress"] and rule.get("from_port") is not None:
                fields.setdefault("ip-permission.from-port", []).append(str(rule["from_port"]))
                fields.setdefault("ip-permission.to-port", []).append(str(rule["to_port"]))
        return fields

    # -- instances ----------------------------------------------------------------------------------
    def instance(self, instance: dict[str, Any]) -> dict[str, Any]:
        enis = [self.net.doc["interfaces"][e] for e in instance["interfaces"]]
        primary = enis[0]
        return {
            "InstanceId": instance["id"], "ImageId": "ami-" + _hex(instance["id"]), "InstanceType": "t3.medium",
            "State": {"Code": 16, "Name": "running"}, "Platform": "windows", "PlatformDetails": "Windows",
            "Architecture": "x86_64", "LaunchTime": instance["launched"], "Hypervisor": "xen",
            "PrivateIpAddress": primary["addresses"][0], "PrivateDnsName": _dns(primary["addresses"][0]),
            "SubnetId": primary["subnet"], "VpcId": self.net.vpc.get("id"),
            "Placement": {"AvailabilityZone": self._az(primary["subnet"]), "Tenancy": "default"},
            "SecurityGroups": self._group_refs(primary["groups"]),
            "NetworkInterfaces": [self._instance_interface(e, index) for index, e in enumerate(enis)],
            "Tags": [{"Key": "Name", "Value": instance["name"]}],
        }

    def _addresses(self, eni: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"PrivateIpAddress": a, "PrivateDnsName": _dns(a), "Primary": i == 0}
                for i, a in enumerate(eni["addresses"])]

    def _instance_interface(self, eni: dict[str, Any], index: int) -> dict[str, Any]:
        return {"NetworkInterfaceId": eni["id"], "Status": "in-use", "OwnerId": self.account,
                "SubnetId": eni["subnet"], "VpcId": self.net.vpc.get("id"), "InterfaceType": "interface",
                "PrivateIpAddress": eni["addresses"][0], "PrivateDnsName": _dns(eni["addresses"][0]),
                "PrivateIpAddresses": self._addresses(eni), "Groups": self._group_refs(eni["groups"]),
                "SourceDestCheck": True,
                "Attachment": {"AttachmentId": "eni-attach-" + _hex(eni["id"]), "DeviceIndex": index,
                               "Status": "attached", "DeleteOnTermination": True}}

    def reservation(self, instance: dict[str, Any]) -> dict[str, Any]:
        return {"ReservationId": "r-" + _hex(instance["id"]), "OwnerId": self.account,
                "Instances": [self.instance(instance)]}

    def instance_fields(self, instance: dict[str, Any]) -> Fields:
        enis = [self.net.doc["interfaces"][e] for e in instance["interfaces"]]
        groups = enis[0]["groups"]
        addresses = [a for e in enis for a in e["addresses"]]
        return {"instance-id": [instance["id"]], "private-ip-address": [enis[0]["addresses"][0]],
                "instance.group-id": list(groups),
                "instance.group-name": [g["GroupName"] for g in self._group_refs(groups)],
                "instance-state-name": ["running"], "instance-state-code": ["16"],
                "vpc-id": [self.net.vpc.get("id", "")], "subnet-id": [enis[0]["subnet"]],
                "instance-type": ["t3.medium"], "network-interface.network-interface-id": [e["id"] for e in enis],
                "network-interface.addresses.private-ip-address": addresses,
                "private-dns-name": [_dns(enis[0]["addresses"][0])]}

    # -- network interfaces -------------------------------------------------------------------------
    def directory_of(self, eni: dict[str, Any]) -> str | None:
        """The directory whose `<id>_controllers` group the connector interface is in."""
        for group in self._group_refs(eni["groups"]):
            if group["GroupName"].endswith(CONTROLLERS_SUFFIX):
                return group["GroupName"][: -len(CONTROLLERS_SUFFIX)]
        return None

    def interface(self, eni: dict[str, Any], tags: list[dict[str, str]]) -> dict[str, Any]:
        out = {"NetworkInterfaceId": eni["id"], "InterfaceType": "interface", "OwnerId": self.account,
               "Status": "in-use", "SubnetId": eni["subnet"], "VpcId": self.net.vpc.get("id"),
               "AvailabilityZone": self._az(eni["subnet"]), "PrivateIpAddress": eni["addresses"][0],
               "PrivateDnsName": _dns(eni["addresses"][0]), "PrivateIpAddresses": self._addresses(eni),
               "Groups": self._group_refs(eni["groups"]), "SourceDestCheck": True, "TagSet": tags,
               "MacAddress": "02:" + ":".join(_hex(eni["id"])[i:i + 2] for i in range(1, 11, 2))}
        if eni["owner"] == CONNECTOR:
            directory = self.directory_of(eni)
            out |= {"RequesterManaged": True, "RequesterId": "AIDAIS3QZ4UPTVEXAMPLE",
                    "Description": f"AWS created network interface for directory {directory}" if directory
                    else "AWS created network interface for AWS Directory Service",
                    "Attachment": {"AttachmentId": "ela-attach-" + _hex(eni["id"]), "InstanceOwnerId": "amazon-aws",
                                   "DeviceIndex": 1, "Status": "attached", "DeleteOnTermination": False}}
        else:
            instance = self.net.doc["instances"][eni["instance"]]
            out |= {"RequesterManaged": False, "Description": f"Primary network interface of {instance['name']}",
                    "Attachment": {"AttachmentId": "eni-attach-" + _hex(eni["id"]), "InstanceId": instance["id"],
                                   "InstanceOwnerId": self.account, "DeviceIndex": 0, "Status": "attached",
                                   "DeleteOnTermination": True}}
        return out

    def interface_fields(self, eni: dict[str, Any]) -> Fields:
        shown = self.interface(eni, [])
        return {"network-interface-id": [eni["id"]], "group-id": list(eni["groups"]),
                "group-name": [g["GroupName"] for g in shown["Groups"]], "description": [shown["Description"]],
                "private-ip-address": list(eni["addresses"]), "addresses.private-ip-address": list(eni["addresses"]),
                "attachment.instance-id": [eni["instance"]] if eni.get("instance") else [],
                "vpc-id": [shown["VpcId"] or ""], "subnet-id": [eni["subnet"]],
                "requester-managed": ["true" if shown["RequesterManaged"] else "false"], "status": ["in-use"],
                "interface-type": ["interface"], "owner-id": [self.account]}
