"""EC2's `Filter.N.Name` / `Filter.N.Value.M`: names each Describe call knows, values with `*` and
`?` wildcards, `tag:<key>` and `tag-key` on every resource. A resource matches when every filter
matches one of its values (AND across filters, OR within one), as EC2 documents."""
from __future__ import annotations

import re
from typing import Any

from services.common.aws_errors import AwsError

Fields = dict[str, list[str]]


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value), re.DOTALL)


def parse(filters: list[dict[str, Any]] | None, known: frozenset[str]) -> list[tuple[str, list[re.Pattern[str]]]]:
    """The call's filters, checked against the names this call knows (InvalidParameterValue)."""
    out = []
    for entry in filters or []:
        name = entry.get("Name")
        if not name or (name not in known and not name.startswith("tag:")):
            raise AwsError("InvalidParameterValue", f"The filter '{str(name)[:100]}' is invalid")
        values = entry.get("Values") or []
        if not values:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' has no values")
        out.append((name, [_pattern(v) for v in values]))
    return out


def matches(parsed: list[tuple[str, list[re.Pattern[str]]]], fields: Fields, tags: list[dict[str, str]]) -> bool:
    for name, patterns in parsed:
        if name.startswith("tag:"):
            values = [t.get("Value", "") for t in tags if t.get("Key") == name[4:]]
        elif name == "tag-key":
            values = [t.get("Key", "") for t in tags]
        elif name == "tag-value":
            values = [t.get("Value", "") for t in tags]
        else:
            values = fields.get(name, [])
        if not any(p.fullmatch(v) for p in patterns for v in values):
            return False
    return True
