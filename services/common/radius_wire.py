"""RADIUS wire facts shared by the Okta org (which validates an app's group return) and the RADIUS
agent (which sends it): the three attributes Okta's "Include groups in RADIUS response" offers,
by number and by the names the org's admin console and API accept (RFC 2865 §5.11, §5.25, §5.26)."""
from __future__ import annotations

from typing import Any

FILTER_ID = 11
CLASS = 25
VENDOR_SPECIFIC = 26

GROUP_ATTRIBUTES: dict[Any, int] = {
    FILTER_ID: FILTER_ID, CLASS: CLASS, VENDOR_SPECIFIC: VENDOR_SPECIFIC,
    "11": FILTER_ID, "25": CLASS, "26": VENDOR_SPECIFIC,
    "filter-id": FILTER_ID, "class": CLASS, "vendor-specific": VENDOR_SPECIFIC,
}


def group_attribute(raw: Any) -> int | None:
    """11, 25 or 26 for a number or a name in any case; None for anything else (bools included)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        return None
    return GROUP_ATTRIBUTES.get(raw.lower() if isinstance(raw, str) else raw)
