"""The WorkSpace bundles the lab offers (DescribeWorkspaceBundles), all owned by `AMAZON`.

AWS's public bundles are a catalog per Region: a compute type (VALUE ... GRAPHICS_G4DN) with an
operating system image, root and user volumes. The lab's catalog is built the same way from the
lists below; ids are the lab's (AWS's differ per Region): the Standard Windows bundle is
`wsb-0123456789`, the id the seed and the walkthrough create WorkSpaces with, the others a stable
digest of their name. The account owns no bundles of its own (CreateWorkspaceBundle is not
emulated). Filters and paging follow the model (docs/aws.md, "DescribeWorkspaceBundles").
"""
from __future__ import annotations

import hashlib
from typing import Any

from services.common.aws_api import AwsError

AMAZON = "AMAZON"
STANDARD_WINDOWS = "wsb-0123456789"
CATALOG_TIME = 1704067200.0          # 2024-01-01T00:00:00Z: when the lab's catalog was "published"

# (compute type Name, label, root GiB, user GiB); AWS's smallest volumes per compute type.
_COMPUTE = [("VALUE", "Value", 80, 10), ("STANDARD", "Standard", 80, 50), ("PERFORMANCE", "Performance", 80, 100),
            ("POWER", "Power", 175, 100), ("POWERPRO", "PowerPro", 175, 100),
            ("GENERALPURPOSE_4XLARGE", "GeneralPurpose.4xlarge", 175, 100),
            ("GRAPHICS_G4DN", "Graphics.g4dn", 100, 100)]
_SYSTEMS = [("Windows 10 (Server 2019 based)", "Windows 10 experience provided by Windows Server 2019"),
            ("Windows 11 (Server 2022 based)", "Windows 11 experience provided by Windows Server 2022"),
            ("Amazon Linux 2", "Amazon Linux 2 with MATE desktop"),
            ("Ubuntu 22.04", "Ubuntu 22.04 LTS")]


def _id(prefix: str, name: str) -> str:
    return prefix + hashlib.sha256(name.encode()).hexdigest()[:10]


def _catalog() -> list[dict[str, Any]]:
    bundles = []
    for system, description in _SYSTEMS:
        for compute, label, root, user in _COMPUTE:
            name = f"{label} with {system}"
            bundle_id = STANDARD_WINDOWS if (compute, system) == ("STANDARD", _SYSTEMS[0][0]) else _id("wsb-", name)
            bundles.append({
                "BundleId": bundle_id, "Name": name, "Owner": AMAZON,
                "Description": f"{label} bundle: {description}",
                "ImageId": _id("wsi-", system), "RootStorage": {"Capacity": str(root)},
                "UserStorage": {"Capacity": str(user)}, "ComputeType": {"Name": compute},
                "State": "AVAILABLE", "BundleType": "REGULAR",
                "CreationTime": CATALOG_TIME, "LastUpdatedTime": CATALOG_TIME,
            })
    return bundles


BUNDLES = _catalog()


def get(bundle_id: str) -> dict[str, Any] | None:
    return next((b for b in BUNDLES if b["BundleId"] == bundle_id), None)


def select(params: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    """The bundles a DescribeWorkspaceBundles request asks for (before paging).

    `BundleIds` and `Owner` exclude each other; `Owner=AMAZON` is the public catalog, no filter
    (or the account's own id) the account's own bundles, of which the lab has none.
    """
    ids, owner = params.get("BundleIds"), params.get("Owner")
    if ids is not None and owner is not None:
        raise AwsError("InvalidParameterValuesException", "An invalid number of parameters provided with "
                       "DescribeWorkspaceBundles. Only one of the following are allowed: BundleIds, Owner.")
    if ids is not None:
        wanted = set(ids)
        return [b for b in BUNDLES if b["BundleId"] in wanted]
    if owner == AMAZON:
        return list(BUNDLES)
    if owner is not None and owner != account_id:
        raise AwsError("InvalidParameterValuesException",
                       f"The Owner value {owner} is not valid. Specify AMAZON, or omit Owner for your own bundles.")
    return []
