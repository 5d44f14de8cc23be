"""Groups in the Access-Accept ("Include groups in RADIUS response", docs/radius.md).

Why: VPNs and NASes authorise by group (a Filter-Id naming an ACL, a Class the accounting echoes,
a Cisco-AVPair). The app's `groupReturn` says which attribute and which groups; the agent reads the
user's groups from the org (GET /api/v1/users/{id}/groups) after a successful authentication and
adds one attribute per returned group. Names are what is returned (Okta's default "Group Name
Format"). Values longer than an attribute can hold are cut at the limit rather than dropped.
"""
from __future__ import annotations

import struct
from typing import Any

from services.common.radius_wire import VENDOR_SPECIFIC

from .model import GroupReturn

MAX_VALUE = 253                      # RFC 2865 §5: 255 octets per attribute, 2 for type and length


async def group_attributes(ctx: Any, user_id: str, spec: GroupReturn) -> tuple[list[str], list[tuple[int, bytes]]]:
    """(names returned, [(attribute number, raw value)]) for an Access-Accept."""
    groups = await ctx.org.user_groups(user_id, timeout=ctx.left(), trace=ctx.trace, timer=ctx.timer)
    names = [str((g.get("profile") or {}).get("name")) for g in groups if (g.get("profile") or {}).get("name")]
    if spec.groups:
        wanted = {g.casefold() for g in spec.groups}
        names = [n for n in names if n.casefold() in wanted]
    return names, [encode(spec, n) for n in names]


def encode(spec: GroupReturn, name: str) -> tuple[int, bytes]:
    value = name.encode("utf-8")
    if spec.attribute == VENDOR_SPECIFIC:
        value = value[:MAX_VALUE - 6]
        return VENDOR_SPECIFIC, struct.pack("!LBB", spec.vendor_id, spec.vendor_type, len(value) + 2) + value
    return spec.attribute, value[:MAX_VALUE]
