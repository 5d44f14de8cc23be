"""Users: create (STAGED / PROVISIONED / ACTIVE per `activate` and password), read by id, login or
login prefix, list with q / filter / search and cursor paging, and the lifecycle operations with
the statuses Okta allows them from (docs/okta.md, "Users")."""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import mailer, shapes
from .errors import OktaError, invalid, json_body, not_found, string_field
from .expressions import parse
from .ids import USER, new_id, token
from .membership import add_member, joined_org
from .org import Audit, Org, group_target, user_target
from .people import USERS

PROFILE_STRINGS = ("login", "email", "firstName", "lastName", "samAccountName", "userName",
                   "secondEmail", "mobilePhone", "employeeID", "displayName", "nickName")


def find_user(org: Org, key: str) -> dict[str, Any] | None:
    """By id, by login (case-insensitive), or by login prefix when exactly one user has it."""
    u = org.people.user(key) or org.people.by_login(key)
    if u is not None:
        return u
    wanted = key.lower()
    matches = [u for u in org.people.users() if u["profile"]["login"].lower().split("@")[0] == wanted]
    return matches[0] if len(matches) == 1 else None


def get_user(org: Org, key: str) -> dict[str, Any]:
    u = find_user(org, key)
    if u is None:
        raise not_found(key, "User")
    return u


def create_user(org: Org, profile: dict[str, Any], status: str, *,
                provider: dict[str, str] | None = None, password: str | None = None) -> dict[str, Any]:
    """Store a new user; the login must be unique (Okta's 400 E0000001 otherwise)."""
    login = profile["login"]
    if org.people.by_login(login) is not None:
        raise invalid("login", "An object with this field already exists in the current organization")
    now = org.iso()
    doc = {
        "id": new_id(USER), "status": status, "created": now, "lastUpdated": now,
        "statusChanged": now if status != "STAGED" else None,
        "activated": now if status in ("ACTIVE", "PROVISIONED") else None,
        "lastLogin": None, "passwordChanged": now if password else None,
        "profile": profile, "provider": provider or {"type": "OKTA", "name": "OKTA"},
        "password": None, "mfaFailures": 0,
    }
    if password:
        org.people.set_password(doc, password)
    saved = org.people.save(doc)
    joined_org(org, saved)
    return saved


def issue_activation_token(org: Org, u: dict[str, Any]) -> str:
    """A new one-time activation token (the `/welcome/<token>` link), valid
    `activation_token_ttl_seconds` (7 days, as Okta's emails say); the previous one stops working."""
    tok = token(20)
    u["activationToken"] = tok
    u["activationExpiresTs"] = org.now() + org.settings.activation_token_ttl_seconds
    org.people.save(u)
    return tok


def set_status(org: Org, u: dict[str, Any], status: str) -> dict[str, Any]:
    now = org.iso()
    u["status"], u["statusChanged"], u["lastUpdated"] = status, now, now
    if status in ("ACTIVE", "PROVISIONED") and not u.get("activated"):
        u["activated"] = now
    return org.people.save(u)


def _profile(data: dict[str, Any]) -> dict[str, Any]:
    prof = data.get("profile")
    if not isinstance(prof, dict):
        raise invalid("profile", "The field cannot be left blank")
    for name in PROFILE_STRINGS:
        string_field(prof, name, required=name == "login", where="profile")
    if "@" not in prof["login"]:
        raise invalid("login", "Username must be in the form of an email address")
    prof.setdefault("email", prof["login"])
    _check_addresses(prof)
    return prof


ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")


def _check_addresses(prof: dict[str, Any]) -> None:
    """Login and email are addresses mail goes to: no whitespace, let alone a CR/LF that would
    end the activation email's To: header (a 500 from the email package)."""
    for name in ("login", "email"):
        value = prof.get(name)
        if isinstance(value, str) and not ADDRESS.fullmatch(value):
            raise invalid(name, "Does not match required pattern")


def _password(data: dict[str, Any]) -> str | None:
    creds = data.get("credentials")
    if creds is None:
        return None
    if not isinstance(creds, dict):
        raise invalid("credentials", "must be an object")
    pw = creds.get("password")
    if pw is None:
        return None
    if not isinstance(pw, dict):
        raise invalid("credentials.password", "must be an object")
    return string_field(pw, "value", where="credentials.password")


def _provider(data: dict[str, Any]) -> dict[str, str] | None:
    """`credentials.provider {type, name}`: how the AD agent creates AD-sourced users, whose
    password lives in AD (so activation needs no Okta password)."""
    creds = data.get("credentials")
    if not isinstance(creds, dict) or creds.get("provider") is None:
        return None
    prov = creds["provider"]
    if not isinstance(prov, dict):
        raise invalid("credentials.provider", "must be an object")
    ptype = string_field(prov, "type", required=True, where="credentials.provider")
    if ptype not in ("OKTA", "ACTIVE_DIRECTORY", "LDAP", "FEDERATION", "SOCIAL", "IMPORT"):
        raise invalid("credentials.provider.type", "unknown provider type")
    return {"type": ptype, "name": string_field(prov, "name", where="credentials.provider") or ptype}


def _bool_param(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return raw.lower() == "true"


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.post("/api/v1/users")
    async def create(request: Request):
        audit = Audit.of(request)
        data = await json_body(request)
        profile = _profile(data)
        password = _password(data)
        provider = _provider(data)
        activate = _bool_param(request, "activate", True)
        external = provider is not None and provider["type"] != "OKTA"
        status = "STAGED" if not activate else "ACTIVE" if password or external else "PROVISIONED"
        group_ids = data.get("groupIds") or []
        if not isinstance(group_ids, list) or not all(isinstance(g, str) for g in group_ids):
            raise invalid("groupIds", "must be a list of group ids")
        u = create_user(org, profile, status, password=password, provider=provider)
        joined = []
        for gid in group_ids:
            g = org.store.get("groups", gid)
            if g is not None:
                add_member(org, g, u["id"])
                if g.get("type") != "BUILT_IN":      # Everyone's membership is implicit
                    joined.append(g)
        org.syslog("user.lifecycle.create", audit=audit, targets=[user_target(u)],
                   message="Create okta user")
        for g in joined:        # Okta logs a membership made at creation as any other
            org.syslog("group.user_membership.add", audit=audit, targets=[user_target(u), group_target(g)],
                       message="Add user to group membership")
        if activate:
            org.syslog("user.lifecycle.activate", audit=audit, targets=[user_target(u)],
                       message="Activate Okta user")
            if not password:      # Okta emails the activation link (PROVISIONED or AD-sourced)
                tok = issue_activation_token(org, u)
                mailer.send_activation(org, u, tok, audit.trace)
        org.record("okta.user.lifecycle", audit, outcome="created", user=profile["login"], status=status)
        return shapes.respond(shapes.user(org, u))

    @r.get("/api/v1/users")
    async def list_users(request: Request):
        q = (request.query_params.get("q") or "").lower()
        if not request.query_params.get("search") and not request.query_params.get("filter"):
            # The plain list (and q=): read page by page from the store, DEPROVISIONED users left
            # out as Okta's plain list does; a page costs its own size however big the org.
            def wanted(u: dict[str, Any]) -> bool:
                return u["status"] != "DEPROVISIONED" and (not q or any(
                    str(u["profile"].get(k) or "").lower().startswith(q)
                    for k in ("login", "email", "firstName", "lastName")))
            chunk, headers = shapes.page_stream(
                request, lambda after: (u for u in org.store.after(USERS, after) if wanted(u)))
            return shapes.respond([shapes.user(org, u) for u in chunk], headers=headers)
        users = org.people.users()
        if q:
            users = [u for u in users if any(str(u["profile"].get(k) or "").lower().startswith(q)
                                             for k in ("login", "email", "firstName", "lastName"))]
        for param in ("filter", "search"):
            expr = request.query_params.get(param)
            if expr:
                pred = parse(expr)
                users = [u for u in users if pred(shapes.user(org, u))]
        chunk, headers = shapes.page(request, users)
        return shapes.respond([shapes.user(org, u) for u in chunk], headers=headers)

    @r.get("/api/v1/users/{key}")
    async def read(key: str):
        return shapes.respond(shapes.user(org, get_user(org, key)))

    @r.post("/api/v1/users/{key}")
    async def update(key: str, request: Request):
        """Partial profile update (Okta's POST semantics; PUT replaces)."""
        audit = Audit.of(request)
        u = get_user(org, key)
        data = await json_body(request)
        prof = data.get("profile", {})
        if not isinstance(prof, dict):
            raise invalid("profile", "must be an object")
        for name in PROFILE_STRINGS:
            string_field(prof, name, where="profile")
        if "login" in prof:           # the login stays a unique email-form string, as at creation
            login = string_field(prof, "login", required=True, where="profile")
            if "@" not in login:
                raise invalid("login", "Username must be in the form of an email address")
            other = org.people.by_login(login)
            if other is not None and other["id"] != u["id"]:
                raise invalid("login", "An object with this field already exists in the current organization")
        _check_addresses(prof)
        u["profile"].update(prof)
        u["lastUpdated"] = org.iso()
        org.people.save(u)
        org.syslog("user.account.update_profile", audit=audit, targets=[user_target(u)])
        return shapes.respond(shapes.user(org, u))

    @r.delete("/api/v1/users/{key}")
    async def delete(key: str, request: Request):
        audit = Audit.of(request)
        u = get_user(org, key)
        if u["status"] != "DEPROVISIONED":
            set_status(org, u, "DEPROVISIONED")
            org.syslog("user.lifecycle.deactivate", audit=audit, targets=[user_target(u)])
        else:
            org.people.delete_user(u["id"])
            org.syslog("user.lifecycle.delete.completed", audit=audit, targets=[user_target(u)])
        org.record("okta.user.lifecycle", audit, outcome="deleted", user=u["profile"]["login"])
        return Response(status_code=204)

    @r.post("/api/v1/users/{key}/lifecycle/{operation}")
    async def lifecycle(key: str, operation: str, request: Request):
        audit = Audit.of(request)
        u = get_user(org, key)
        status = u["status"]
        body: dict[str, Any] = {}
        code = 200
        if operation in ("activate", "reactivate"):
            allowed = ("STAGED", "DEPROVISIONED") if operation == "activate" else ("PROVISIONED", "RECOVERY")
            if status not in allowed:
                if status in ("ACTIVE", "PROVISIONED") and operation == "activate":
                    raise OktaError("E0000016")
                raise OktaError("E0000038")
            send_email = _bool_param(request, "sendEmail", True)
            # AD-sourced users sign in with their AD password, so activation completes at once;
            # users with an Okta password too. Others wait in PROVISIONED for the email's link.
            target = "ACTIVE" if u.get("password") or u.get("provider", {}).get("type", "OKTA") != "OKTA" \
                else "PROVISIONED"
            set_status(org, u, target)
            tok = issue_activation_token(org, u)
            if not send_email:
                body = {"activationUrl": org.href(f"/welcome/{tok}"), "activationToken": tok}
            else:
                mailer.send_activation(org, u, tok, audit.trace)
            org.syslog("user.lifecycle.activate" if operation == "activate" else "user.lifecycle.reactivate",
                       audit=audit, targets=[user_target(u)], message="Activate Okta user")
        elif operation == "deactivate":
            if status == "DEPROVISIONED":
                raise OktaError("E0000038")
            set_status(org, u, "DEPROVISIONED")
            org.syslog("user.lifecycle.deactivate", audit=audit, targets=[user_target(u)])
            code = 204
        elif operation == "suspend":
            if status != "ACTIVE":
                raise OktaError("E0000001", "Cannot suspend a user that is not active",
                                ["Cannot suspend a user that is not active"])
            set_status(org, u, "SUSPENDED")
            org.syslog("user.lifecycle.suspend", audit=audit, targets=[user_target(u)])
        elif operation == "unsuspend":
            if status != "SUSPENDED":
                raise OktaError("E0000001", "Cannot unsuspend a user that is not suspended",
                                ["Cannot unsuspend a user that is not suspended"])
            set_status(org, u, "ACTIVE")
            org.syslog("user.lifecycle.unsuspend", audit=audit, targets=[user_target(u)])
        elif operation == "unlock":
            if status != "LOCKED_OUT":
                raise OktaError("E0000038")
            u["mfaFailures"] = 0
            set_status(org, u, "ACTIVE")
            org.syslog("user.account.unlock_by_admin", audit=audit, targets=[user_target(u)])
        elif operation == "reset_factors":
            for f in org.people.factors_of(u["id"]):
                org.people.delete_factor(f["id"])
                org.store.forget_codes(f["id"])
            org.syslog("user.mfa.factor.reset_all", audit=audit, targets=[user_target(u)])
        elif operation in ("expire_password", "reset_password"):
            if status not in ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY"):
                raise OktaError("E0000038")
            new = "PASSWORD_EXPIRED" if operation == "expire_password" else "RECOVERY"
            set_status(org, u, new)
            if operation == "reset_password":
                body = {"resetPasswordUrl": org.href(f"/reset_password/{token(20)}")}
            else:
                body = shapes.user(org, u)
        else:
            raise not_found(f"lifecycle/{operation}", "Operation")
        org.record("okta.user.lifecycle", audit, outcome=operation, user=u["profile"]["login"],
                   status=u["status"])
        if code == 204:
            return Response(status_code=204)
        return shapes.respond(body)

    return r
