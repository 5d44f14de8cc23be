"""Application username formats: the RADIUS app's dropdown value, its built-in
`credentials.userNameTemplate` expression (docs/okta.md, "Apps and the RADIUS app"), and the
evaluation that gives each app user its `credentials.userName` (what the RADIUS agent matches
User-Name against)."""
from __future__ import annotations

import re
from typing import Any

# The seed's username_format -> Okta's built-in template.
FORMATS: dict[str, str] = {
    "okta_username": "${source.login}",
    "okta_username_prefix": '${fn:substringBefore(source.login, "@")}',
    "email": "${source.email}",
    "email_lowercase": "${fn:toLowerCase(source.email)}",
    "email_prefix": '${fn:substringBefore(source.email, "@")}',
    "ad_sam_account_name": "${source.samAccountName}",
    "ad_sam_account_name_lowercase": "${fn:toLowerCase(source.samAccountName)}",
    "ad_user_principal_name": "${source.userName}",
    "ad_upn": "${source.userName}",
    "ad_user_principal_name_prefix": '${fn:substringBefore(source.userName, "@")}',
    "ad_upn_prefix": '${fn:substringBefore(source.userName, "@")}',
    "ad_employee_id": "${source.employeeID}",
    "custom": "${source.userName}${instance.userSuffix}",
}

_PIECE = re.compile(r"\$\{(.*?)\}")
_CALL = re.compile(r'^fn:(\w+)\(\s*(.*?)\s*(?:,\s*"(.*)")?\s*\)$')


def template_for(fmt: str) -> str:
    """The template for a format name; an unknown name is taken as a template already."""
    return FORMATS.get(fmt, fmt)


def _value(expr: str, profile: dict[str, Any], instance: dict[str, Any]) -> str:
    expr = expr.strip()
    call = _CALL.match(expr)
    if call:
        fn, inner, arg = call.groups()
        value = _value(inner, profile, instance)
        if fn == "substringBefore":
            return value.split(arg or "", 1)[0] if arg and arg in value else value
        if fn == "substringAfter":
            return value.split(arg or "", 1)[1] if arg and arg in value else ""
        if fn == "toLowerCase":
            return value.lower()
        if fn == "toUpperCase":
            return value.upper()
        return value
    scope, _, attr = expr.partition(".")
    source = profile if scope == "source" else instance if scope == "instance" else {}
    for key, val in source.items():
        if key.lower() == attr.lower():
            return "" if val is None else str(val)
    return ""


def evaluate(template: str, profile: dict[str, Any], instance: dict[str, Any] | None = None) -> str:
    """`${source.samAccountName}` with profile {samAccountName: alice} -> "alice"."""
    return _PIECE.sub(lambda m: _value(m.group(1), profile, instance or {}), template)
