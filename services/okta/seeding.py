"""The org's first start: users, groups, the Amazon WorkSpaces RADIUS app and its assignments,
from the lab's seed fixture. Factors are not seeded: the lab enrols Okta Verify through the API
with the phone, as a user would (enrol, scan, activate)."""
from __future__ import annotations

from typing import Any

from .apps import assign, create_radius_app
from .groups import create_group
from .membership import add_member
from .org import Org, user_target
from .policies import create_policy, create_rule, ensure_defaults
from .users import create_user

ADMIN_ROLES = "admin_roles"     # user id -> {"type": "SUPER_ADMIN"}: who may use the admin console

STATUSES = ("STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED",
            "SUSPENDED", "DEPROVISIONED")


def seed(org: Org, data: dict[str, Any]) -> dict[str, int]:
    domain = data.get("domain", {}).get("dns_name", "example.com")
    groups = {g["name"]: create_group(org, g["name"], g.get("description"))
              for g in data.get("groups", [])}
    users: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for entry in data.get("users", []):
        okta = entry.get("okta")
        if not okta:           # not imported into Okta (e.g. the domain Administrator)
            continue
        sam = entry["sam"]
        upn = f"{sam}@{domain}"
        status = str(okta.get("status", "ACTIVE")).upper()
        if status not in STATUSES:
            raise ValueError(f"seed: user {sam}: unknown Okta status {status}")
        profile = {"login": upn, "email": upn, "firstName": entry.get("given_name") or sam,
                   "lastName": entry.get("surname") or sam, "samAccountName": sam, "userName": upn,
                   "displayName": " ".join(x for x in (entry.get("given_name"), entry.get("surname")) if x) or sam}
        u = create_user(org, profile, status, provider={"type": "ACTIVE_DIRECTORY", "name": domain})
        org.syslog("user.lifecycle.create", targets=[user_target(u)], message="Create okta user (seed)")
        for gname in entry.get("groups", []):
            if gname in groups:
                add_member(org, groups[gname], u["id"])
        users.append((u, okta))
    okta_cfg = data.get("okta", {})
    apps = 0
    for spec in okta_cfg.get("apps", []):
        app = create_radius_app(
            org, name=spec.get("name", "radius_app"), label=spec.get("label", spec.get("name", "RADIUS")),
            port=int(spec.get("port", 1812)), secret=org.ctx.credential(spec["secret"]),
            username_format=spec.get("username_format", "okta_username"),
            primary_auth=bool(spec.get("primary_auth", False)),
            require_ma=bool(spec.get("require_message_authenticator", False)),
            inline_enrollment=bool(spec.get("inline_enrollment", True)))
        apps += 1
        for u, okta in users:
            if okta.get("assigned"):
                assign(org, app, u)
                org.syslog("application.user_membership.add", targets=[user_target(u)],
                           message="Add user to application membership (seed)")
    everyone = {g["profile"]["name"]: g for g in org.store.all("groups") if g.get("type") == "BUILT_IN"}
    pols = seed_policies(org, okta_cfg.get("policies", []), everyone | groups)   # a policy may target Everyone
    return {"users": len(users), "groups": len(groups), "apps": apps, "policies": pols}


def seed_policies(org: Org, specs: list[dict[str, Any]], groups: dict[str, dict[str, Any]]) -> int:
    """MFA enrolment policies from the seed, e.g. the walkthrough's:

        policies:
          - {type: MFA_ENROLL, name: Full time employees, groups: [Full time employees],
             factors: {okta_otp: REQUIRED, okta_push: REQUIRED},
             rules: [{name: Must enroll MFA at first sign in, enroll: LOGIN}]}
    """
    ensure_defaults(org)
    for spec in specs:
        ptype = str(spec.get("type", "MFA_ENROLL"))
        missing = [g for g in spec.get("groups", []) if g not in groups]
        if missing:
            raise ValueError(f"seed: policy {spec.get('name')}: unknown group(s) {', '.join(missing)}")
        settings = {"type": "FACTORS", "factors": {k: {"enroll": {"self": str(v).upper()}, "consent": {"type": "NONE"}}
                                                   for k, v in (spec.get("factors") or {}).items()}}
        p = create_policy(org, ptype=ptype, name=str(spec["name"]), description=spec.get("description"),
                          conditions={"people": {"groups": {"include": [groups[g]["id"]
                                                                        for g in spec.get("groups", [])]}}},
                          settings=settings if ptype == "MFA_ENROLL" else spec.get("settings", {}))
        for rule in spec.get("rules", []):
            create_rule(org, p, name=str(rule["name"]),
                        conditions={"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                        actions={"enroll": {"self": str(rule.get("enroll", "LOGIN")).upper()}})
    return len(specs)


def ensure_admin(org: Org, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The org's first administrator (seed `okta.admin`): an Okta-mastered ACTIVE user with a
    password and the SUPER_ADMIN role. Every org has one, blank or seeded, as a new Okta org
    starts with the person who signed up for it."""
    if not spec:
        return None
    login = str(spec["login"])
    u = org.people.by_login(login)
    if u is None:
        first, last = str(spec.get("first_name") or "Okta"), str(spec.get("last_name") or "Administrator")
        profile = {"login": login, "email": login, "firstName": first, "lastName": last,
                   "displayName": f"{first} {last}"}
        u = create_user(org, profile, "ACTIVE", password=str(spec["password"]))
        org.syslog("user.lifecycle.create", targets=[user_target(u)], message="Create okta user (first admin)")
    org.store.put(ADMIN_ROLES, u["id"], {"userId": u["id"], "type": "SUPER_ADMIN", "label": "Super Administrator"})
    return u


def is_admin(org: Org, user_id: str) -> bool:
    return org.store.get(ADMIN_ROLES, user_id) is not None
