"""WorkSpaces' documents and rules: registered directories, WorkSpaces, filters and paging.

Documents are kept in the shape the API returns (WorkspaceDirectory, Workspace) plus a few lab
fields the client sign-in uses (ConnectionState, LastKnownUserConnectionTimestamp); the API layer
cuts every response down to the model's members, so those never leak into Describe* output.
Defaults follow what AWS shows for a freshly registered AD Connector directory; the registration
code is `<prefix>+XXXXXX`, the prefix `WS` and the Region's airport code as AWS's own codes are
(`WSpdx+ABC12D` in us-west-2, `WSiad+...` in us-east-1; docs/aws.md), or the setting
`registration_code_prefix` when given (the seed's code is `WSlab+ABC12D`).
"""
from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from services.common.aws_api import AwsError
from services.common.aws_paging import Pager

REGISTERING, REGISTERED, DEREGISTERING = "REGISTERING", "REGISTERED", "DEREGISTERING"
PENDING, AVAILABLE, TERMINATED = "PENDING", "AVAILABLE", "TERMINATED"
# Describe* calls: 25 a page when Limit is absent (the largest Limit the model allows; docs/aws.md).
PAGER = Pager(25, "InvalidParameterValuesException", "The specified NextToken is not valid.")

DIRECTORY_TYPES = {"ADConnector": "AD_CONNECTOR", "SimpleAD": "SIMPLE_AD", "MicrosoftAD": "AD_CONNECTOR"}
# Access control options of a newly registered directory (docs/aws.md, "Web Access"): the console
# shows Web Access, Linux and WorkSpaces Thin Client off until an administrator allows them, the
# other clients allowed.
DEFAULT_ACCESS = {"DeviceTypeWindows": "ALLOW", "DeviceTypeOsx": "ALLOW", "DeviceTypeWeb": "DENY",
                  "DeviceTypeIos": "ALLOW", "DeviceTypeAndroid": "ALLOW", "DeviceTypeChromeOs": "ALLOW",
                  "DeviceTypeZeroClient": "ALLOW", "DeviceTypeLinux": "DENY",
                  "DeviceTypeWorkSpacesThinClient": "DENY"}
_CODE_ALPHABET = string.ascii_uppercase + string.digits
_ID_ALPHABET = string.ascii_lowercase + string.digits


# The airport codes AWS names its Regions' data centres by, for the Regions WorkSpaces serves.
REGION_AIRPORTS = {"us-east-1": "iad", "us-west-2": "pdx", "ca-central-1": "yul", "sa-east-1": "gru",
                   "eu-west-1": "dub", "eu-west-2": "lhr", "eu-central-1": "fra", "af-south-1": "cpt",
                   "il-central-1": "tlv", "ap-south-1": "bom", "ap-southeast-1": "sin",
                   "ap-southeast-2": "syd", "ap-northeast-1": "nrt", "ap-northeast-2": "icn",
                   "us-gov-west-1": "pdt"}


def region_prefix(region: str) -> str:
    """`WS` + the Region's airport code; a Region WorkSpaces does not serve gets `WSlab`."""
    return "WS" + REGION_AIRPORTS.get(region, "lab")


def registration_code(prefix: str, taken: set[str]) -> str:
    while True:
        code = f"{prefix}+" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if code.lower() not in taken:
            return code


def new_workspace_id(taken: Callable[[str], bool]) -> str:
    while True:
        workspace_id = "ws-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))
        if not taken(workspace_id):
            return workspace_id


def new_directory(ds: dict[str, Any], params: dict[str, Any], *, region: str, code: str,
                  account: str) -> dict[str, Any]:
    """A WorkspaceDirectory for the DS directory `ds` (a DescribeDirectories entry), REGISTERING."""
    directory_id = ds["DirectoryId"]
    connect = ds.get("ConnectSettings") or ds.get("VpcSettings") or {}
    self_service = "ENABLED" if params.get("EnableSelfService") else "DISABLED"
    return {
        "DirectoryId": directory_id,
        "Region": region,      # lab field (not in the model, never on the wire)
        "Alias": ds.get("Alias", directory_id),
        "DirectoryName": ds["Name"],
        "RegistrationCode": code,
        "SubnetIds": list(params.get("SubnetIds") or connect.get("SubnetIds") or []),
        "DnsIpAddresses": list(ds.get("DnsIpAddrs") or []),
        "CustomerUserName": connect.get("CustomerUserName", "Administrator"),
        "IamRoleId": f"arn:aws:iam::{account}:role/workspaces_DefaultRole",
        "DirectoryType": DIRECTORY_TYPES.get(ds.get("Type", ""), "AD_CONNECTOR"),
        # sg- and 17 hex digits, as EC2 makes them; AWS names the group `<directory-id>_workspacesMembers`.
        "WorkspaceSecurityGroupId": "sg-0" + secrets.token_hex(8),
        "State": REGISTERING,
        "WorkspaceCreationProperties": {"EnableInternetAccess": False, "UserEnabledAsLocalAdministrator": True,
                                        "EnableMaintenanceMode": True},
        "WorkspaceAccessProperties": dict(DEFAULT_ACCESS),
        "Tenancy": params.get("Tenancy", "SHARED"),
        "SelfservicePermissions": {"RestartWorkspace": "ENABLED", "IncreaseVolumeSize": self_service,
                                   "ChangeComputeType": self_service, "SwitchRunningMode": self_service,
                                   "RebuildWorkspace": self_service},
        "UserIdentityType": params.get("UserIdentityType", "AWS_DIRECTORY_SERVICE"),
        "WorkspaceType": params.get("WorkspaceType", "PERSONAL"),
        "Tags": params.get("Tags") or [],
    }


def device_access(directory: dict[str, Any], device_type: str) -> str:
    """ALLOW or DENY for a client of `device_type`; a member a directory stored before it existed
    takes the default."""
    return (directory.get("WorkspaceAccessProperties") or {}).get(device_type, DEFAULT_ACCESS.get(device_type, "DENY"))


def access_properties(directory: dict[str, Any]) -> dict[str, Any]:
    """The directory's WorkspaceAccessProperties, every device type present."""
    return {**DEFAULT_ACCESS, **(directory.get("WorkspaceAccessProperties") or {})}


def new_workspace(request: dict[str, Any], *, workspace_id: str, user_name: str,
                  directory: dict[str, Any]) -> dict[str, Any]:
    """A PENDING WorkSpace for `request` (a WorkspaceRequest), named with the directory's spelling."""
    properties = {"RunningMode": "AUTO_STOP", "RunningModeAutoStopTimeoutInMinutes": 60,
                  "RootVolumeSizeGib": 80, "UserVolumeSizeGib": 50, "ComputeTypeName": "STANDARD"}
    properties.update(request.get("WorkspaceProperties") or {})
    doc = {
        "WorkspaceId": workspace_id,
        "DirectoryId": request["DirectoryId"],
        "UserName": user_name,
        "BundleId": request["BundleId"],
        "State": PENDING,
        "SubnetId": (directory.get("SubnetIds") or [None])[0],
        "UserVolumeEncryptionEnabled": bool(request.get("UserVolumeEncryptionEnabled", False)),
        "RootVolumeEncryptionEnabled": bool(request.get("RootVolumeEncryptionEnabled", False)),
        "WorkspaceProperties": properties,
        "ConnectionState": "UNKNOWN",
        "Region": directory.get("Region"),      # lab field: the directory's Region
    }
    for optional in ("VolumeEncryptionKey", "WorkspaceName", "Tags"):
        if request.get(optional):
            doc[optional] = request[optional]
    return doc


def make_available(doc: dict[str, Any]) -> dict[str, Any]:
    doc["State"] = AVAILABLE
    doc["ComputerName"] = doc.get("ComputerName") or f"WSAMZN-{doc['WorkspaceId'][3:11].upper()}"
    doc["ConnectionState"] = doc.get("ConnectionState") if doc.get("ConnectionState") != "UNKNOWN" else "DISCONNECTED"
    return doc


def check_describe_workspaces(params: dict[str, Any]) -> None:
    """WorkspaceIds, DirectoryId and BundleId exclude each other; UserName needs DirectoryId."""
    given = [name for name in ("WorkspaceIds", "DirectoryId", "BundleId") if params.get(name) is not None]
    if len(given) > 1:
        raise AwsError("InvalidParameterValuesException", "An invalid number of parameters provided with "
                       "DescribeWorkspaces. Only one of the following are allowed: WorkspaceIds, DirectoryId, "
                       "BundleId.")
    if params.get("UserName") is not None and params.get("DirectoryId") is None:
        raise AwsError("InvalidParameterValuesException",
                       "The DirectoryId parameter is required when UserName is used.")


def workspace_matches(doc: dict[str, Any], params: dict[str, Any]) -> bool:
    if params.get("WorkspaceIds") is not None and doc["WorkspaceId"] not in params["WorkspaceIds"]:
        return False
    if params.get("DirectoryId") is not None and doc["DirectoryId"] != params["DirectoryId"]:
        return False
    # AWS: "username is not case-sensitive".
    if params.get("UserName") is not None and doc["UserName"].lower() != params["UserName"].lower():
        return False
    if params.get("BundleId") is not None and doc.get("BundleId") != params["BundleId"]:
        return False
    return params.get("WorkspaceName") is None or doc.get("WorkspaceName") == params["WorkspaceName"]


def directory_matches(doc: dict[str, Any], params: dict[str, Any]) -> bool:
    if params.get("DirectoryIds") is not None and doc["DirectoryId"] not in params["DirectoryIds"]:
        return False
    names = params.get("WorkspaceDirectoryNames")
    if names is not None and doc.get("WorkspaceDirectoryName", doc.get("DirectoryName")) not in names:
        return False
    for flt in params.get("Filters") or []:
        field = {"USER_IDENTITY_TYPE": "UserIdentityType", "WORKSPACE_TYPE": "WorkspaceType"}[flt["Name"]]
        if doc.get(field) not in flt["Values"]:
            return False
    return True
