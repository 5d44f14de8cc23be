"""EC2 resource ids as AWS makes them (`sg-`, `sgr-`, `eni-`, `i-`, then 17 hex digits) and the
checks EC2 makes on an id before it looks it up (the `*.Malformed` errors)."""
from __future__ import annotations

import re
import secrets

from services.common.aws_errors import AwsError

_SHAPE = {prefix: re.compile(rf"{prefix}-([0-9a-f]{{8}}|[0-9a-f]{{17}})")
          for prefix in ("sg", "sgr", "eni", "i", "vpc", "subnet")}
_MALFORMED = {"sg": "InvalidGroupId.Malformed", "sgr": "InvalidSecurityGroupRuleId.Malformed",
              "eni": "InvalidNetworkInterfaceID.Malformed", "i": "InvalidInstanceID.Malformed",
              "vpc": "InvalidVpcID.Malformed", "subnet": "InvalidSubnetID.Malformed"}


def new(prefix: str) -> str:
    return f"{prefix}-0{secrets.token_hex(8)}"


def valid(prefix: str, value: str) -> bool:
    return bool(_SHAPE[prefix].fullmatch(value))


def check(prefix: str, value: str) -> str:
    """`value` if it has the shape of a `prefix-` id, else EC2's Malformed error."""
    if not valid(prefix, value):
        shown = value[:100]
        raise AwsError(_MALFORMED[prefix], f'Invalid id: "{shown}" (expecting "{prefix}-...")')
    return value
