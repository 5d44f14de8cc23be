"""IpPermissions ↔ security group rules.

AWS's API speaks IpPermissions (a protocol, a port range and lists of sources); since 2021 EC2 also
keeps each source as a security group rule of its own with an `sgr-` id. The lab stores rules
(one source each) and converts: `rules_from` turns a call's IpPermissions (or the legacy top-level
CidrIp/IpProtocol/FromPort/ToPort form) into rule specs after EC2's checks; `ip_permissions`
groups stored rules back into IpPermissions for DescribeSecurityGroups; `describe` gives one
rule as a SecurityGroupRule.

Protocols: tcp, udp, icmp, icmpv6 and -1 (all), by name or number, as EC2 normalises them.
Other IP protocols are refused (lab choice: the lab's hosts speak only these; docs/aws.md).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from services.common.aws_errors import AwsError

_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
              "icmpv6": "58", "58": "58", "-1": "-1", "all": "-1"}
DESCRIPTION_MAX = 255
# What the rule's identity is made of: two rules with the same key are duplicates.
KEY = ("egress", "protocol", "from_port", "to_port", "cidr", "cidr_v6", "ref_group")

Resolve = Callable[[dict[str, Any]], str]    # a UserIdGroupPair -> the referenced group's id


def protocol_of(raw: Any) -> str:
    value = str(raw if raw is not None else "").strip().lower()
    if value not in _PROTOCOLS:
        raise AwsError("InvalidParameterValue", f"Invalid value '{str(raw)[:50]}' for IP protocol. Unknown "
                       "protocol. The lab supports tcp, udp, icmp, icmpv6 and -1 (all).")
    return _PROTOCOLS[value]


def _ports(protocol: str, from_port: Any, to_port: Any) -> tuple[int | None, int | None]:
    if protocol in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise AwsError("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with "
                           "TCP/UDP.' for portRange")
        if not (0 <= from_port <= 65535 and 0 <= to_port <= 65535) or from_port > to_port:
            raise AwsError("InvalidParameterValue", f"Invalid TCP/UDP port range: from port {from_port} to "
                           f"port {to_port} (ports are 0-65535, from no greater than to).")
        return from_port, to_port
    if protocol in ("icmp", "58"):       # FromPort is the ICMP type, ToPort the code; -1 = any
        icmp_type = -1 if from_port is None else from_port
        code = -1 if to_port is None else to_port
        if not (-1 <= icmp_type <= 255 and -1 <= code <= 255):
            raise AwsError("InvalidParameterValue", f"Invalid ICMP type {icmp_type} or code {code} "
                           "(each -1 for any, or 0-255).")
        return icmp_type, code
    return None, None                    # all traffic: no ports


def _description(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if len(text) > DESCRIPTION_MAX or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise AwsError("InvalidParameterValue", "Invalid rule description. Valid descriptions are strings "
                       f"of at most {DESCRIPTION_MAX} characters without control characters.")
    return text


def _cidr(value: Any, v6: bool) -> str:
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        network = None
    if network is None or network.version != (6 if v6 else 4):
        kind = "CIDR block" if not v6 else "IPv6 CIDR block"
        raise AwsError("InvalidParameterValue", f"Value ({str(value)[:100]}) for parameter cidrIp{'v6' if v6 else ''} "
                       f"is invalid. This is not a valid {kind}.")
    return str(network)


def rules_from(params: dict[str, Any], *, egress: bool, resolve: Resolve) -> list[dict[str, Any]]:
    """Rule specs (without ids) for an Authorize or Revoke call's permissions."""
    permissions = list(params.get("IpPermissions") or [])
    legacy = {k: params.get(k) for k in ("IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName")}
    if any(v is not None for v in legacy.values()):
        if permissions:
            raise AwsError("InvalidParameterCombination", "The parameter 'ipPermissions' may not be used in "
                           "combination with 'ipProtocol', 'fromPort', 'toPort', 'cidrIp' or "
                           "'sourceSecurityGroupName'.")
        if legacy["SourceSecurityGroupName"] is not None:       # all ports of the named group, as EC2 does
            permissions = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupName": legacy["SourceSecurityGroupName"]}]}]
        else:
            permissions = [{"IpProtocol": legacy["IpProtocol"], "FromPort": legacy["FromPort"],
                            "ToPort": legacy["ToPort"], "IpRanges": [{"CidrIp": legacy["CidrIp"]}]
                            if legacy["CidrIp"] is not None else []}]
    if not permissions:
        raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions")
    specs: list[dict[str, Any]] = []
    for permission in permissions:
        protocol = protocol_of(permission.get("IpProtocol"))
        from_port, to_port = _ports(protocol, permission.get("FromPort"), permission.get("ToPort"))
        base = {"egress": egress, "protocol": protocol, "from_port": from_port, "to_port": to_port,
                "cidr": None, "cidr_v6": None, "ref_group": None}
        sources = []
        for entry in permission.get("IpRanges") or []:
            sources.append({"cidr": _cidr(entry.get("CidrIp"), False),
                            "description": _description(entry.get("Description"))})
        for entry in permission.get("Ipv6Ranges") or []:
            sources.append({"cidr_v6": _cidr(entry.get("CidrIpv6"), True),
                            "description": _description(entry.get("Description"))})
        for entry in permission.get("UserIdGroupPairs") or []:
            sources.append({"ref_group": resolve(entry), "description": _description(entry.get("Description"))})
        for entry in permission.get("PrefixListIds") or []:
            raise AwsError("InvalidPrefixListId.NotFound",
                           f"The prefix list ID '{str(entry.get('PrefixListId'))[:100]}' does not exist")
        if not sources:
            raise AwsError("InvalidParameterValue", "An IpPermission must name at least one source: IpRanges, "
                           "Ipv6Ranges or UserIdGroupPairs.")
        specs += [base | source for source in sources]
    return specs


def key(rule: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(rule.get(k) for k in KEY)


def peer_text(rule: dict[str, Any]) -> str:
    """EC2's words for a rule in InvalidPermission.Duplicate: `peer: sg-…, TCP, from port: 53, …`."""
    peer = rule.get("cidr") or rule.get("cidr_v6") or rule.get("ref_group")
    protocol = rule["protocol"]
    if protocol == "-1":
        what = "ALL"
    elif protocol in ("icmp", "58"):
        what = f"{'ICMP' if protocol == 'icmp' else 'ICMPV6'}, type: {rule['from_port']}, code: {rule['to_port']}"
    else:
        what = f"{protocol.upper()}, from port: {rule['from_port']}, to port: {rule['to_port']}"
    return f"peer: {peer}, {what}, ALLOW"


def _range_of(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"IpProtocol": rule["protocol"]}
    if rule["protocol"] != "-1" and rule.get("from_port") is not None:
        out["FromPort"], out["ToPort"] = rule["from_port"], rule["to_port"]
    return out


def ip_permissions(rules: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    """Rules (in creation order) grouped into IpPermissions by protocol and port range."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rule in rules:
        permission = grouped.setdefault((rule["protocol"], rule.get("from_port"), rule.get("to_port")),
                                        _range_of(rule) | {"IpRanges": [], "Ipv6Ranges": [],
                                                           "UserIdGroupPairs": [], "PrefixListIds": []})
        described = {"Description": rule["description"]} if rule.get("description") else {}
        if rule.get("cidr"):
            permission["IpRanges"].append({"CidrIp": rule["cidr"]} | described)
        elif rule.get("cidr_v6"):
            permission["Ipv6Ranges"].append({"CidrIpv6": rule["cidr_v6"]} | described)
        elif rule.get("ref_group"):
            permission["UserIdGroupPairs"].append({"GroupId": rule["ref_group"], "UserId": account} | described)
    return list(grouped.values())


def as_permission(rule: dict[str, Any], account: str) -> dict[str, Any]:
    return ip_permissions([rule], account)[0]


def describe(rule: dict[str, Any], *, account: str, region: str, tags: list[dict[str, str]]) -> dict[str, Any]:
    """One rule as DescribeSecurityGroupRules and Authorize* return it."""
    out: dict[str, Any] = {
        "SecurityGroupRuleId": rule["id"], "GroupId": rule["group"], "GroupOwnerId": account,
        "IsEgress": rule["egress"], "IpProtocol": rule["protocol"],
        "FromPort": -1 if rule.get("from_port") is None else rule["from_port"],
        "ToPort": -1 if rule.get("to_port") is None else rule["to_port"],
        "SecurityGroupRuleArn": f"arn:aws:ec2:{region}:{account}:security-group-rule/{rule['id']}",
        "Tags": tags,
    }
    if rule.get("cidr"):
        out["CidrIpv4"] = rule["cidr"]
    if rule.get("cidr_v6"):
        out["CidrIpv6"] = rule["cidr_v6"]
    if rule.get("ref_group"):
        out["ReferencedGroupInfo"] = {"GroupId": rule["ref_group"], "UserId": account}
    if rule.get("description"):
        out["Description"] = rule["description"]
    return out


def revoked(rule: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in describe(rule, account="", region="", tags=[]).items()
           if k in ("SecurityGroupRuleId", "GroupId", "IsEgress", "IpProtocol", "FromPort", "ToPort",
                    "CidrIpv4", "CidrIpv6", "Description")}
    if rule.get("ref_group"):
        out["ReferencedGroupId"] = rule["ref_group"]
    return out


def contract_rule(rule: dict[str, Any]) -> dict[str, Any] | None:
    """The rule as the enforcer reads it (GET /admin/network), or None for a rule that can never
    match the lab's IPv4 traffic (IPv6 sources, ICMPv6)."""
    if rule.get("cidr_v6") or rule["protocol"] == "58":
        return None
    protocol = "all" if rule["protocol"] == "-1" else rule["protocol"]
    ports = (None, None) if protocol == "all" else \
        tuple(None if p == -1 else p for p in (rule.get("from_port"), rule.get("to_port")))   # ICMP -1: any
    return {"id": rule["id"], "protocol": protocol, "from_port": ports[0], "to_port": ports[1],
            "cidr": rule.get("cidr"), "group": rule.get("ref_group")}
