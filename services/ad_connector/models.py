"""Directory Service rules the botocore model cannot express, and the directory document's shape.

The model (checked in services/common/aws_api.py) already gives us required members, types,
ranges, enums and most patterns. What is left is what AWS decides server-side: the RADIUS settings
a directory needs before MFA can be turned on, the SharedSecret character set (a Java
`\\p{LD}|\\p{Punct}| ` class Python's `re` cannot say), which directory types and stages accept
RADIUS, and the lifecycle values (Stage, RadiusStatus) the connector moves through.
See docs/aws.md, "Directory Service: the AD Connector".
"""
from __future__ import annotations

import secrets
import string
from typing import Any

from services.common.aws_api import AwsError

# Stage values the lab uses (DirectoryStage enum).
REQUESTED, CREATING, ACTIVE, FAILED = "Requested", "Creating", "Active", "Failed"
# RadiusStatus enum.
RADIUS_CREATING, RADIUS_COMPLETED, RADIUS_FAILED = "Creating", "Completed", "Failed"

MFA_TYPES = ("ADConnector", "MicrosoftAD")
CONNECTED_DIRECTORIES_LIMIT = 10     # AWS's default quota of AD Connectors per Region

# Numeric ranges are in the model too (RadiusTimeout 1..50, RadiusRetries 0..10, PortNumber
# 1025..65535); they are repeated here only for the messages of the lab's own checks below.
SHARED_SECRET_MIN, SHARED_SECRET_MAX = 8, 512
# EnableRadius needs everything AD Connector must know to send an Access-Request.
REQUIRED_FOR_ENABLE = ("RadiusPort", "RadiusTimeout", "RadiusRetries", "SharedSecret", "AuthenticationProtocol")


def new_directory_id() -> str:
    return "d-" + secrets.token_hex(5)


def new_security_group_id() -> str:
    """`sg-` and 17 hex digits, as EC2 makes them: the id a directory gets in a lab without the ec2
    service (with it, EC2 makes the group `<directory-id>_controllers`, ec2_client.py)."""
    return "sg-0" + secrets.token_hex(8)


def check_shared_secret(secret: str) -> None:
    """AWS pattern `^(\\p{LD}|\\p{Punct}| )+$`, length 8..512; the secret itself never in a message."""
    if not SHARED_SECRET_MIN <= len(secret) <= SHARED_SECRET_MAX:
        raise AwsError("InvalidParameterException",
                       "1 validation error detected: Value at 'radiusSettings.sharedSecret' failed to satisfy "
                       f"constraint: Member must have length between {SHARED_SECRET_MIN} and {SHARED_SECRET_MAX}")
    if not all(ch.isalnum() or ch in string.punctuation or ch == " " for ch in secret):
        raise AwsError("InvalidParameterException",
                       "1 validation error detected: Value at 'radiusSettings.sharedSecret' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: ^(\\p{LD}|\\p{Punct}| )+$")


def radius_settings_for_enable(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings EnableRadius stores, after the checks the model leaves to the server."""
    missing = [name for name in REQUIRED_FOR_ENABLE if settings.get(name) is None]
    if not settings.get("RadiusServers") and not settings.get("RadiusServersIpv6"):
        missing.insert(0, "RadiusServers")
    if missing:
        raise AwsError("InvalidParameterException", "Invalid RADIUS settings: " + ", ".join(
            f"RadiusSettings.{name}" for name in missing) + (" is" if len(missing) == 1 else " are") + " required.")
    check_shared_secret(settings["SharedSecret"])
    return _normalised(settings)


def radius_settings_for_update(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """UpdateRadius: members given replace the stored ones; the rest keep their values.

    Terraform sends the whole object; a partial update keeping the stored shared secret is the
    lab's lenient reading (AWS does not document it).
    """
    merged = dict(current)
    merged.update({k: v for k, v in update.items() if v is not None})
    if update.get("SharedSecret") is not None:
        check_shared_secret(update["SharedSecret"])
    return radius_settings_for_enable(merged)


def _normalised(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    out.setdefault("UseSameUsername", False)
    return out


def check_mfa_allowed(directory: dict[str, Any]) -> None:
    """MFA is for AD Connector and AWS Managed Microsoft AD, on a directory that is up."""
    if directory.get("Type") not in MFA_TYPES:
        raise AwsError("ClientException", "Multi-factor authentication is not available for "
                       f"{directory.get('Type')} directories.")
    if directory.get("Stage") != ACTIVE:
        raise AwsError("ClientException", f"Directory {directory['DirectoryId']} is in the "
                       f"{directory.get('Stage')} state; RADIUS settings can be changed only when it is Active.")


def check_connect_request(params: dict[str, Any], existing: list[dict[str, Any]]) -> None:
    """ConnectDirectory checks beyond the model: two subnets, a DNS server, the directory quota."""
    connect = params["ConnectSettings"]
    subnets = connect.get("SubnetIds") or []
    if len(subnets) != 2 or len(set(subnets)) != 2:
        raise AwsError("InvalidParameterException", "Invalid subnet ID(s). They must correspond to two "
                       "subnets in different Availability Zones.")
    if not connect.get("CustomerDnsIps") and not connect.get("CustomerDnsIpsV6"):
        raise AwsError("InvalidParameterException", "Invalid DNS IP address(es). Provide at least one "
                       "address in CustomerDnsIps or CustomerDnsIpsV6.")
    if sum(1 for d in existing if d.get("Type") == "ADConnector") >= CONNECTED_DIRECTORIES_LIMIT:
        raise AwsError("DirectoryLimitExceededException", "The maximum number of connected directories "
                       f"for this account has been reached ({CONNECTED_DIRECTORIES_LIMIT}).")


def new_connector(params: dict[str, Any], *, directory_id: str, region: str, connect_ips: list[str],
                  now: float, security_group_id: str | None = None) -> dict[str, Any]:
    """A fresh AD Connector document, Stage Requested, as DescribeDirectories will show it.

    `ServiceAccountPassword` is write-only (store.public drops it); `ConnectIps` are the lab's
    connector addresses, the source of the connector's RADIUS and LDAP traffic. `SecurityGroupId`
    comes once EC2 has made the directory's group (the Stage lifecycle, ds_api.py), as on AWS.
    """
    connect = params["ConnectSettings"]
    name = params["Name"]
    doc: dict[str, Any] = {
        "DirectoryId": directory_id,
        "Name": name,
        "ShortName": params.get("ShortName") or name.split(".")[0].upper(),
        "Size": params["Size"],
        "Alias": directory_id,
        "AccessUrl": f"{directory_id}.awsapps.com",
        "DnsIpAddrs": list(connect.get("CustomerDnsIps") or []),
        "Stage": REQUESTED,
        "LaunchTime": now,
        "StageLastUpdatedDateTime": now,
        "Type": "ADConnector",
        "Region": region,      # lab field (not in the model, never on the wire): the directory's Region
        "ConnectSettings": {
            "VpcId": connect["VpcId"],
            "SubnetIds": list(connect["SubnetIds"]),
            "CustomerUserName": connect["CustomerUserName"],
            "AvailabilityZones": [f"{region}a", f"{region}b"],
            "ConnectIps": list(connect_ips),
        },
        "ServiceAccountPassword": params["Password"],
        "SsoEnabled": False,
        "DesiredNumberOfDomainControllers": 0,
    }
    if security_group_id:
        doc["ConnectSettings"]["SecurityGroupId"] = security_group_id
    if params.get("Description"):
        doc["Description"] = params["Description"]
    if connect.get("CustomerDnsIpsV6"):
        doc["DnsIpv6Addrs"] = list(connect["CustomerDnsIpsV6"])
    if params.get("NetworkType"):
        doc["NetworkType"] = params["NetworkType"]
    if params.get("Tags"):
        doc["Tags"] = params["Tags"]
    return doc


def set_stage(doc: dict[str, Any], stage: str, now: float, reason: str | None = None) -> dict[str, Any]:
    doc["Stage"] = stage
    doc["StageLastUpdatedDateTime"] = now
    if reason:
        doc["StageReason"] = reason
    else:
        doc.pop("StageReason", None)
    return doc
