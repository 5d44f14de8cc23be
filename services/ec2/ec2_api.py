"""The EC2 API (Query protocol, version 2016-11-15) of the lab's VPC.

Operations: DescribeSecurityGroups, CreateSecurityGroup, DeleteSecurityGroup,
Authorize/RevokeSecurityGroupIngress and Egress, DescribeSecurityGroupRules, DescribeInstances,
DescribeNetworkInterfaces, ModifyInstanceAttribute (its groups) and ModifyNetworkInterfaceAttribute
(its groups). The wire (SigV4, reading the form, XML) is services/common/aws_query.py; the VPC and
its checks are network.py; rule conversions permissions.py; the Describe shapes views.py. A change
returns once the enforcer has it in force (enforcer.py).

The VPC is in the lab's Region; a call signed for another Region sees an account with nothing in
it there (empty Describe answers, NotFound for any id, no default VPC to create a group in).
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.common import aws_query
from services.common.aws_api import Call
from services.common.aws_errors import AwsError
from services.common.aws_paging import Pager
from services.common.context import ServiceContext

from . import filters, ids, permissions
from .enforcer import EnforcerLink
from .network import Network
from .settings import Ec2Settings
from .views import GROUP_FILTERS, INSTANCE_FILTERS, INTERFACE_FILTERS, RULE_FILTERS, Views

PAGER = Pager(1_000_000, "InvalidPaginationToken", "The pagination token is not valid.")
MATCHED_TAG = "lab:matched-packets"
DROPPED_TAG = "lab:dropped-packets"
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256


def _page(items: list[Any], params: dict[str, Any], ids_member: str, ids_wire: str) -> tuple[list[Any], str | None]:
    limit = params.get("MaxResults")
    if limit is not None:
        if params.get(ids_member):
            raise AwsError("InvalidParameterCombination",
                           f"The parameter {ids_wire} cannot be used with the parameter maxResults")
        if not 5 <= limit <= 1000:
            raise AwsError("InvalidParameterValue", f"Value ( {limit} ) for parameter maxResults is invalid. "
                           "Parameter must be between 5 and 1000.")
    return PAGER.page(items, {"Limit": limit, "NextToken": params.get("NextToken")} | params,
                      query=("Filters", ids_member))


def _tags(params: dict[str, Any], resource_type: str) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") != resource_type:
            raise AwsError("InvalidParameterValue", f"'{str(spec.get('ResourceType'))[:50]}' is not a valid taggable "
                           f"resource type for this operation (expected {resource_type}).")
        for tag in spec.get("Tags") or []:
            key, value = tag.get("Key") or "", tag.get("Value") or ""
            if not 1 <= len(key) <= TAG_KEY_MAX or len(value) > TAG_VALUE_MAX:
                raise AwsError("InvalidParameterValue", f"Tag keys are 1-{TAG_KEY_MAX} characters and values at "
                               f"most {TAG_VALUE_MAX}.")
            if key.lower().startswith("aws:"):
                raise AwsError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
            tags = [t for t in tags if t["Key"] != key] + [{"Key": key, "Value": value}]
    return tags


class Ec2Api:
    def __init__(self, ctx: ServiceContext, network: Network, link: EnforcerLink, settings: Ec2Settings) -> None:
        self.ctx, self.net, self.link, self.settings = ctx, network, link, settings
        self.region = ctx.credential("aws_region")
        self.views = Views(network, account=settings.account_id, region=self.region)
        self.model = aws_query.QueryModel("ec2")

    def mount(self, app: FastAPI) -> None:
        handlers = {
            "DescribeSecurityGroups": self.describe_security_groups,
            "CreateSecurityGroup": self.create_security_group,
            "DeleteSecurityGroup": self.delete_security_group,
            "AuthorizeSecurityGroupIngress": self.authorize_ingress,
            "AuthorizeSecurityGroupEgress": self.authorize_egress,
            "RevokeSecurityGroupIngress": self.revoke_ingress,
            "RevokeSecurityGroupEgress": self.revoke_egress,
            "DescribeSecurityGroupRules": self.describe_security_group_rules,
            "DescribeInstances": self.describe_instances,
            "DescribeNetworkInterfaces": self.describe_network_interfaces,
            "ModifyInstanceAttribute": self.modify_instance_attribute,
            "ModifyNetworkInterfaceAttribute": self.modify_network_interface_attribute,
        }
        aws_query.mount(app, self.ctx, model=self.model,
                        handlers={name: self._in_region(handler) for name, handler in handlers.items()})

    def _in_region(self, handler: aws_query.Handler) -> aws_query.Handler:
        async def call(params: dict[str, Any], call: Call) -> dict[str, Any] | None:
            if call.region != self.region:
                return _elsewhere(call.operation, params)
            return await handler(params, call)
        return call

    async def _applied(self, call: Call) -> None:
        await self.link.wait_applied(call.operation, call.trace)

    # -- security groups ----------------------------------------------------------------------------
    async def describe_security_groups(self, params: dict[str, Any], _call: Call) -> dict[str, Any]:
        parsed = filters.parse(params.get("Filters"), GROUP_FILTERS)
        chosen = [self.net.group(ids.check("sg", g)) for g in dict.fromkeys(params.get("GroupIds") or [])]
        chosen += [self.net.group_named(n) for n in dict.fromkeys(params.get("GroupNames") or [])]
        groups = list({g["id"]: g for g in chosen}.values()) if chosen else self.net.groups()
        groups = [g for g in groups if filters.matches(parsed, self.views.group_fields(g), g["tags"])]
        page, token = _page(groups, params, "GroupIds", "groupIds")
        return {"SecurityGroups": [self.views.group(g) for g in page], "NextToken": token}

    async def create_security_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        tags = _tags(params, "security-group")
        group_id = self.net.create_group(params["GroupName"], params["Description"], params.get("VpcId"), tags=tags)
        await self._applied(call)
        return {"GroupId": group_id, "Tags": tags,
                "SecurityGroupArn": f"arn:aws:ec2:{self.region}:{self.settings.account_id}:security-group/{group_id}"}

    async def delete_security_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        group = self.net.resolve(params.get("GroupId"), params.get("GroupName"))
        self.net.delete_group(group)
        await self._applied(call)
        return {"Return": True, "GroupId": group["id"]}

    # -- rules --------------------------------------------------------------------------------------
    def _source(self, pair: dict[str, Any]) -> str:
        if pair.get("GroupId"):
            return str(self.net.group(pair["GroupId"])["id"])
        if pair.get("GroupName"):
            return str(self.net.group_named(pair["GroupName"])["id"])
        raise AwsError("MissingParameter", "The request must contain the parameter groupId or groupName in "
                       "UserIdGroupPairs")

    async def _authorize(self, params: dict[str, Any], call: Call, egress: bool) -> dict[str, Any]:
        group = self.net.resolve(params.get("GroupId"), None if egress else params.get("GroupName"))
        specs = permissions.rules_from(params, egress=egress, resolve=self._source)
        added = self.net.authorize(group, specs, tags=_tags(params, "security-group-rule"))
        await self._applied(call)
        return {"Return": True, "SecurityGroupRules": [self._rule_view(r) for r in added]}

    async def _revoke(self, params: dict[str, Any], call: Call, egress: bool) -> dict[str, Any]:
        group = self.net.resolve(params.get("GroupId"), None if egress else params.get("GroupName"))
        unknown: list[dict[str, Any]] = []
        if params.get("SecurityGroupRuleIds"):
            if params.get("IpPermissions") or params.get("IpProtocol") or params.get("CidrIp"):
                raise AwsError("InvalidParameterCombination", "The parameter 'securityGroupRuleIds' may not be "
                               "used in combination with 'ipPermissions'.")
            revoked = self.net.revoke_ids(group, params["SecurityGroupRuleIds"], egress)
        else:
            specs = permissions.rules_from(params, egress=egress, resolve=self._source)
            revoked, unknown = self.net.revoke(group, specs)
        await self._applied(call)
        account = self.settings.account_id
        out: dict[str, Any] = {"Return": True, "RevokedSecurityGroupRules": [permissions.revoked(r) for r in revoked]}
        if unknown:
            out["UnknownIpPermissions"] = [permissions.as_permission(s, account) for s in unknown]
        return out

    async def authorize_ingress(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return await self._authorize(params, call, egress=False)

    async def authorize_egress(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return await self._authorize(params, call, egress=True)

    async def revoke_ingress(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return await self._revoke(params, call, egress=False)

    async def revoke_egress(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return await self._revoke(params, call, egress=True)

    def _rule_view(self, rule: dict[str, Any]) -> dict[str, Any]:
        tags = list(rule.get("tags") or [])
        if rule["id"] in self.link.counters:
            tags.append({"Key": MATCHED_TAG, "Value": str(self.link.counters[rule["id"]])})
        return permissions.describe(rule, account=self.settings.account_id, region=self.region, tags=tags)

    async def describe_security_group_rules(self, params: dict[str, Any], _call: Call) -> dict[str, Any]:
        parsed = filters.parse(params.get("Filters"), RULE_FILTERS)
        wanted = params.get("SecurityGroupRuleIds")
        if wanted:
            rules = []
            for rule_id in dict.fromkeys(wanted):
                rule = self.net.rule(ids.check("sgr", rule_id))
                if rule is None:
                    raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                                   f"The security group rule ID '{rule_id}' does not exist")
                rules.append(rule)
        else:
            rules = self.net.rules()
        views = [self._rule_view(r) for r in rules]
        views = [v for v in views if filters.matches(parsed, {"group-id": [v["GroupId"]],
                                                              "security-group-rule-id": [v["SecurityGroupRuleId"]]},
                                                     v["Tags"])]
        page, token = _page(views, params, "SecurityGroupRuleIds", "securityGroupRuleIds")
        return {"SecurityGroupRules": page, "NextToken": token}

    # -- instances and interfaces -------------------------------------------------------------------
    async def describe_instances(self, params: dict[str, Any], _call: Call) -> dict[str, Any]:
        parsed = filters.parse(params.get("Filters"), INSTANCE_FILTERS)
        wanted = params.get("InstanceIds")
        instances = [self.net.instance(i) for i in dict.fromkeys(wanted)] if wanted else self.net.instances()
        instances = [i for i in instances
                     if filters.matches(parsed, self.views.instance_fields(i), [{"Key": "Name", "Value": i["name"]}])]
        page, token = _page(instances, params, "InstanceIds", "instanceIds")
        return {"Reservations": [self.views.reservation(i) for i in page], "NextToken": token}

    def _eni_tags(self, eni: dict[str, Any]) -> list[dict[str, str]]:
        dropped = sum(self.link.counters.get(f"drop:{a}", 0) for a in eni["addresses"])
        return [{"Key": DROPPED_TAG, "Value": str(dropped)}] if any(
            f"drop:{a}" in self.link.counters for a in eni["addresses"]) else []

    async def describe_network_interfaces(self, params: dict[str, Any], _call: Call) -> dict[str, Any]:
        parsed = filters.parse(params.get("Filters"), INTERFACE_FILTERS)
        wanted = params.get("NetworkInterfaceIds")
        enis = [self.net.interface(e) for e in dict.fromkeys(wanted)] if wanted else self.net.interfaces()
        enis = [e for e in enis if filters.matches(parsed, self.views.interface_fields(e), self._eni_tags(e))]
        page, token = _page(enis, params, "NetworkInterfaceIds", "networkInterfaceIds")
        return {"NetworkInterfaces": [self.views.interface(e, self._eni_tags(e)) for e in page], "NextToken": token}

    async def modify_instance_attribute(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        instance = self.net.instance(params["InstanceId"])
        others = set(params) - {"InstanceId", "Groups", "DryRun"}
        if not params.get("Groups") or others:
            raise AwsError("UnsupportedOperation", "The lab changes only an instance's security groups "
                           "(GroupId.N); other attributes are not emulated.")
        groups = [ids.check("sg", g) for g in params["Groups"]]
        if len(instance["interfaces"]) > 1:
            raise AwsError("InvalidInstanceID", f"There are multiple interfaces attached to instance "
                           f"'{instance['id']}'. Please specify an interface ID for the operation instead.")
        self.net.set_groups(self.net.doc["interfaces"][instance["interfaces"][0]], groups)
        await self._applied(call)
        return {}

    async def modify_network_interface_attribute(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        eni = self.net.interface(params["NetworkInterfaceId"])
        others = set(params) - {"NetworkInterfaceId", "Groups", "DryRun"}
        if not params.get("Groups") or others:
            raise AwsError("UnsupportedOperation", "The lab changes only an interface's security groups "
                           "(SecurityGroupId.N); other attributes are not emulated.")
        self.net.set_groups(eni, [ids.check("sg", g) for g in params["Groups"]])
        await self._applied(call)
        return {}


# Each Describe's list member, for a Region with nothing in it.
_EMPTY = {"DescribeSecurityGroups": "SecurityGroups", "DescribeSecurityGroupRules": "SecurityGroupRules",
          "DescribeInstances": "Reservations", "DescribeNetworkInterfaces": "NetworkInterfaces"}


def _elsewhere(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Another Region: the account has no VPC and no resources there."""
    if operation in _EMPTY:
        for member, prefix in (("GroupIds", "sg"), ("InstanceIds", "i"), ("NetworkInterfaceIds", "eni")):
            for value in params.get(member) or []:
                ids.check(prefix, value)
                raise {"sg": AwsError("InvalidGroup.NotFound", f"The security group '{value}' does not exist"),
                       "i": AwsError("InvalidInstanceID.NotFound", f"The instance ID '{value}' does not exist"),
                       "eni": AwsError("InvalidNetworkInterfaceID.NotFound",
                                       f"The networkInterface ID '{value}' does not exist")}[prefix]
        return {_EMPTY[operation]: []}
    if operation == "CreateSecurityGroup":
        raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
    if params.get("InstanceId"):
        raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{params['InstanceId']}' does not exist")
    if params.get("NetworkInterfaceId"):
        raise AwsError("InvalidNetworkInterfaceID.NotFound",
                       f"The networkInterface ID '{params['NetworkInterfaceId']}' does not exist")
    name = params.get("GroupId") or params.get("GroupName") or ""
    raise AwsError("InvalidGroup.NotFound", f"The security group '{name}' does not exist")
