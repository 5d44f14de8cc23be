"""Policies (`/api/v1/policies`, Okta's Policy API) and what the org decides from them.

Stored: `policies` (by id) and `policy_rules` (id "<policyId>/<ruleId>"). Every org has a system
"Default Policy" of each type it evaluates, always last, with a "Default Rule" (spec 3.5):
- MFA_ENROLL: okta_otp, okta_push, google_otp, okta_sms, okta_call, okta_email OPTIONAL, rule `enroll.self: CHALLENGE` (enrol when
  first challenged for MFA), so an org nobody configured never forces enrolment;
- PASSWORD: lockout after 10 bad passwords, hidden behind E0000004 (`showLockoutFailures` false).

Evaluation (spec 3.5): ACTIVE policies of the type by priority (1 first); a policy applies when its
`conditions.people.groups.include` is empty or names a group of the user; within it the first ACTIVE
rule (by priority) whose people condition matches wins; a policy with no matching rule never applies.

Two shapes of MFA_ENROLL settings are accepted and kept as given: Classic
`settings: {type: FACTORS, factors: {okta_otp: {enroll: {self: REQUIRED}}, ...}}` (what the
walkthrough's console writes) and Identity Engine `settings: {type: AUTHENTICATORS,
authenticators: [{key: okta_verify, enroll: {self: REQUIRED}}]}` (what the okta SDK 3.x models);
`okta_verify` stands for Okta Verify TOTP and push together (either one satisfies it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import shapes
from .errors import OktaError, invalid, json_body, not_found, string_field
from .ids import new_id
from .org import Audit, Org

TYPES = ("MFA_ENROLL", "PASSWORD", "OKTA_SIGN_ON", "ACCESS_POLICY", "PROFILE_ENROLLMENT", "IDP_DISCOVERY")
ENROLL_VALUES = ("NOT_ALLOWED", "OPTIONAL", "REQUIRED")
WHEN_VALUES = ("LOGIN", "CHALLENGE", "NEVER")
# Policy factor keys -> the (factorType, provider) pairs that satisfy them.
FACTOR_KEYS: dict[str, list[tuple[str, str]]] = {
    "okta_push": [("push", "OKTA")],
    "okta_otp": [("token:software:totp", "OKTA")],
    "google_otp": [("token:software:totp", "GOOGLE")],
    "okta_verify": [("push", "OKTA"), ("token:software:totp", "OKTA")],
    "okta_sms": [("sms", "OKTA")],
    "okta_call": [("call", "OKTA")],
    "okta_email": [("email", "OKTA")],
    "phone_number": [("sms", "OKTA"), ("call", "OKTA")],
}
# Keys Okta knows but the lab has no factor for: accepted and stored, never offered.
OTHER_KEYS = ("okta_question", "yubikey_token", "rsa_token",
              "symantec_vip", "duo", "fido_u2f", "fido_webauthn", "okta_password",
              "security_question", "webauthn", "custom_otp", "external_idp", "onprem_mfa")


@dataclass
class Slot:
    """One requirement of an enrolment policy: a key, REQUIRED/OPTIONAL, the factors that fill it."""
    key: str
    enrollment: str
    factors: list[tuple[str, str]]


@dataclass
class Enrollment:
    """The MFA enrolment decision for one user: which policy and rule matched, when to enrol."""
    policy_id: str | None
    rule_id: str | None
    when: str                      # LOGIN | CHALLENGE | NEVER
    slots: list[Slot] = field(default_factory=list)

    def offered(self) -> list[tuple[tuple[str, str], str]]:
        """(factor, REQUIRED|OPTIONAL) for every factor the user may enrol, each once."""
        seen: dict[tuple[str, str], str] = {}
        for s in self.slots:
            for f in s.factors:
                if seen.get(f) != "REQUIRED":
                    seen[f] = s.enrollment
        return list(seen.items())

    def missing_required(self, active: set[tuple[str, str]]) -> list[Slot]:
        return [s for s in self.slots if s.enrollment == "REQUIRED" and not active & set(s.factors)]


# -- evaluation -------------------------------------------------------------------------------

def _user_groups(org: Org, user_id: str) -> set[str]:
    return set(org.people.group_ids(user_id))


def _people_match(conditions: dict[str, Any] | None, user_id: str, groups: set[str]) -> bool:
    people = (conditions or {}).get("people") or {}
    g = people.get("groups") or {}
    u = people.get("users") or {}
    if g.get("include") and not groups & set(g["include"]):
        return False
    if g.get("exclude") and groups & set(g["exclude"]):
        return False
    if u.get("include") and user_id not in u["include"]:
        return False
    if user_id in (u.get("exclude") or []):
        return False
    return True


def ordered(org: Org, ptype: str) -> list[dict[str, Any]]:
    """Policies of a type by priority, the system default last."""
    pols = [p for p in org.store.all("policies") if p["type"] == ptype]
    return sorted(pols, key=lambda p: (p.get("system", False), p["priority"]))


def rules_of(org: Org, pid: str) -> list[dict[str, Any]]:
    return sorted(org.store.all("policy_rules", f"{pid}/"), key=lambda r: (r.get("system", False), r["priority"]))


def match(org: Org, ptype: str, user: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (policy, rule) that applies to `user` for `ptype`, first match wins."""
    groups = _user_groups(org, user["id"])
    for p in ordered(org, ptype):
        if p["status"] != "ACTIVE" or not _people_match(p.get("conditions"), user["id"], groups):
            continue
        for r in rules_of(org, p["id"]):
            if r["status"] == "ACTIVE" and _people_match(r.get("conditions"), user["id"], groups):
                return p, r
    return None


def slots_of(settings: dict[str, Any] | None) -> list[Slot]:
    settings = settings or {}
    out: list[Slot] = []
    if isinstance(settings.get("factors"), dict):
        for key, conf in settings["factors"].items():
            value = ((conf or {}).get("enroll") or {}).get("self", "NOT_ALLOWED")
            if key in FACTOR_KEYS and value != "NOT_ALLOWED":
                out.append(Slot(key, value, FACTOR_KEYS[key]))
    for conf in settings.get("authenticators") or []:
        key = (conf or {}).get("key")
        value = ((conf or {}).get("enroll") or {}).get("self", "NOT_ALLOWED")
        if key in FACTOR_KEYS and value != "NOT_ALLOWED":
            out.append(Slot(key, value, FACTOR_KEYS[key]))
    return out


def enrollment(org: Org, user: dict[str, Any]) -> Enrollment:
    found = match(org, "MFA_ENROLL", user)
    if found is None:
        return Enrollment(None, None, "NEVER")
    p, r = found
    when = ((r.get("actions") or {}).get("enroll") or {}).get("self", "CHALLENGE")
    return Enrollment(p["id"], r["id"], when, slots_of(p.get("settings")))


def password_lockout(org: Org, user: dict[str, Any]) -> tuple[int, bool]:
    """(maxAttempts, showLockoutFailures) of the password policy that applies (0 = no lockout)."""
    found = match(org, "PASSWORD", user)
    lockout = ((found[0].get("settings") or {}).get("password") or {}).get("lockout") or {} if found else {}
    return int(lockout.get("maxAttempts", 10) or 0), bool(lockout.get("showLockoutFailures", False))


# -- documents --------------------------------------------------------------------------------

DEFAULT_MFA_SETTINGS = {"type": "FACTORS", "factors": {
    "okta_otp": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}},
    "okta_push": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}},
    "google_otp": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}},
    "okta_sms": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}},
    "okta_call": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}},
    "okta_email": {"enroll": {"self": "OPTIONAL"}, "consent": {"type": "NONE"}}}}
DEFAULT_PASSWORD_SETTINGS = {"password": {
    "complexity": {"minLength": 8, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1, "minSymbol": 0,
                   "excludeUsername": True},
    "age": {"maxAgeDays": 0, "expireWarnDays": 0, "minAgeMinutes": 0, "historyCount": 4},
    "lockout": {"maxAttempts": 10, "autoUnlockMinutes": 0, "showLockoutFailures": False}},
    "recovery": {"factors": {}}, "delegation": {"options": {"skipUnlock": False}}}


def create_policy(org: Org, *, ptype: str, name: str, description: str | None = None,
                  priority: int | None = None, status: str = "ACTIVE", system: bool = False,
                  conditions: dict[str, Any] | None = None,
                  settings: dict[str, Any] | None = None) -> dict[str, Any]:
    now = org.iso()
    p = {"id": new_id("00p"), "type": ptype, "name": name, "description": description, "status": status,
         "system": system, "priority": 0, "conditions": conditions, "settings": settings or {},
         "created": now, "lastUpdated": now}
    org.store.put("policies", p["id"], p)
    _place(org, [x for x in ordered(org, ptype) if x["id"] != p["id"]], p, priority, "policies",
           lambda x: x["id"])
    return org.store.get("policies", p["id"])  # type: ignore[return-value]


def create_rule(org: Org, policy: dict[str, Any], *, name: str, priority: int | None = None,
                status: str = "ACTIVE", system: bool = False, conditions: dict[str, Any] | None = None,
                actions: dict[str, Any] | None = None) -> dict[str, Any]:
    now = org.iso()
    r = {"id": new_id("0pr"), "policyId": policy["id"], "type": policy["type"], "name": name, "status": status,
         "system": system, "priority": 0, "conditions": conditions, "actions": actions or {},
         "created": now, "lastUpdated": now}
    key = lambda x: f"{x['policyId']}/{x['id']}"  # noqa: E731
    org.store.put("policy_rules", key(r), r)
    _place(org, [x for x in rules_of(org, policy["id"]) if x["id"] != r["id"]], r, priority, "policy_rules", key)
    return org.store.get("policy_rules", key(r))  # type: ignore[return-value]


def _place(org: Org, others: list[dict[str, Any]], doc: dict[str, Any], priority: int | None,
           kind: str, key: Any) -> None:
    """Put `doc` at `priority` (1-based; None or too big = last before the system default) and
    renumber the rest 1..n, the system default always last, as Okta does."""
    normal = [o for o in others if not o.get("system")]
    system = [o for o in others if o.get("system")]
    if doc.get("system"):
        seq = normal + [doc] + system
    else:
        at = len(normal) if priority is None else max(0, min(int(priority) - 1, len(normal)))
        seq = normal[:at] + [doc] + normal[at:] + system
    for i, o in enumerate(seq, 1):
        if o.get("priority") != i or o is doc:
            o["priority"] = i
            org.store.put(kind, key(o), o)


def ensure_defaults(org: Org) -> None:
    """The system default policies every org has (made once; they survive restarts)."""
    have = {p["type"] for p in org.store.all("policies") if p.get("system")}
    if "MFA_ENROLL" not in have:
        p = create_policy(org, ptype="MFA_ENROLL", name="Default Policy", system=True,
                          description="The default policy applies in all situations if no other policy applies.",
                          conditions={"people": {"groups": {"include": []}}}, settings=DEFAULT_MFA_SETTINGS)
        create_rule(org, p, name="Default Rule", system=True,
                    conditions={"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                    actions={"enroll": {"self": "CHALLENGE"}})
    if "PASSWORD" not in have:
        p = create_policy(org, ptype="PASSWORD", name="Default Policy", system=True,
                          description="The default policy applies in all situations if no other policy applies.",
                          conditions={"people": {"groups": {"include": []}},
                                      "authProvider": {"provider": "OKTA"}}, settings=DEFAULT_PASSWORD_SETTINGS)
        create_rule(org, p, name="Default Rule", system=True,
                    conditions={"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                    actions={"passwordChange": {"access": "ALLOW"}, "selfServicePasswordReset": {"access": "ALLOW"},
                             "selfServiceUnlock": {"access": "DENY"}})


def policy_view(org: Org, p: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/policies/{p['id']}")
    links: dict[str, Any] = {"self": shapes.link(base, hints={"allow": ["GET", "PUT", "DELETE"]}),
                             "rules": shapes.link(f"{base}/rules", hints={"allow": ["GET", "POST"]})}
    op = "deactivate" if p["status"] == "ACTIVE" else "activate"
    links[op] = shapes.post_link(f"{base}/lifecycle/{op}")
    body = {k: p[k] for k in ("id", "status", "name", "description", "priority", "system", "conditions",
                              "created", "lastUpdated", "settings", "type")}
    body["_links"] = links
    return body


def rule_view(org: Org, r: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/policies/{r['policyId']}/rules/{r['id']}")
    op = "deactivate" if r["status"] == "ACTIVE" else "activate"
    body = {k: r[k] for k in ("id", "status", "name", "priority", "created", "lastUpdated", "system", "type",
                              "conditions", "actions")}
    body["_links"] = {"self": shapes.link(base, hints={"allow": ["GET", "PUT", "DELETE"]}),
                      op: shapes.post_link(f"{base}/lifecycle/{op}")}
    return body


# -- validation -------------------------------------------------------------------------------

def _check_mfa_settings(settings: Any) -> None:
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise invalid("settings", "must be an object")
    factors = settings.get("factors")
    if factors is not None:
        if not isinstance(factors, dict):
            raise invalid("settings.factors", "must be an object")
        for key, conf in factors.items():
            if key not in FACTOR_KEYS and key not in OTHER_KEYS:
                raise invalid(f"settings.factors.{key}", "unknown factor")
            value = ((conf or {}).get("enroll") or {}).get("self") if isinstance(conf, dict) else None
            if value not in ENROLL_VALUES:
                raise invalid(f"settings.factors.{key}.enroll.self", f"must be one of {', '.join(ENROLL_VALUES)}")
    auths = settings.get("authenticators")
    if auths is not None:
        if not isinstance(auths, list):
            raise invalid("settings.authenticators", "must be a list")
        for i, conf in enumerate(auths):
            value = ((conf or {}).get("enroll") or {}).get("self") if isinstance(conf, dict) else None
            if not isinstance(conf, dict) or not isinstance(conf.get("key"), str):
                raise invalid(f"settings.authenticators[{i}].key", "The field cannot be left blank")
            if value not in ENROLL_VALUES:
                raise invalid(f"settings.authenticators[{i}].enroll.self", f"must be one of {', '.join(ENROLL_VALUES)}")


def _check_groups(org: Org, conditions: Any) -> None:
    if conditions is None:
        return
    if not isinstance(conditions, dict):
        raise invalid("conditions", "must be an object")
    groups = ((conditions.get("people") or {}).get("groups") or {})
    for part in ("include", "exclude"):
        for gid in groups.get(part) or []:
            if not isinstance(gid, str) or org.store.get("groups", gid) is None:
                raise invalid(f"conditions.people.groups.{part}", f"Invalid group id {gid}")


def _priority(data: dict[str, Any]) -> int | None:
    p = data.get("priority")
    if p is None:
        return None
    if not isinstance(p, int) or isinstance(p, bool) or p < 1:
        raise invalid("priority", "must be a positive integer")
    return p


def _status_param(request: Request, data: dict[str, Any]) -> str:
    activate = request.query_params.get("activate", "true").lower() != "false"
    status = data.get("status") or ("ACTIVE" if activate else "INACTIVE")
    if status not in ("ACTIVE", "INACTIVE"):
        raise invalid("status", "must be ACTIVE or INACTIVE")
    return status


# -- the wire ---------------------------------------------------------------------------------

def router(org: Org) -> APIRouter:
    r = APIRouter()

    def get_policy(pid: str) -> dict[str, Any]:
        return org.require("policies", pid, "Policy")

    def get_rule(p: dict[str, Any], rid: str) -> dict[str, Any]:
        return org.require("policy_rules", f"{p['id']}/{rid}", "PolicyRule", rid)

    def logged(request: Request, event: str, p: dict[str, Any], what: str = "Policy") -> None:
        """The System Log event and the lab event of a change to a policy or rule."""
        audit = Audit.of(request)
        org.syslog(event, audit=audit, targets=[{"id": p["id"], "type": what, "alternateId": "unknown",
                                                     "displayName": p["name"], "detailEntry": {"policyType": p["type"]}}])
        org.record("okta.policy", audit, outcome=event.rsplit(".", 1)[-1], policy=p["name"], type=p["type"],
                   object=what)

    def parse_policy(data: dict[str, Any], ptype: str) -> dict[str, Any]:
        name = string_field(data, "name", required=True)
        description = string_field(data, "description")
        if ptype == "MFA_ENROLL":
            _check_mfa_settings(data.get("settings"))
        _check_groups(org, data.get("conditions"))
        return {"name": name, "description": description, "conditions": data.get("conditions"),
                "settings": data.get("settings") or {}}

    @r.get("/api/v1/policies")
    async def list_policies(request: Request):
        ptype = request.query_params.get("type")
        if not ptype:
            raise invalid("type", "The field cannot be left blank")
        if ptype not in TYPES:
            raise invalid("type", f"Invalid policy type {ptype}")
        pols = ordered(org, ptype)
        status = request.query_params.get("status")
        if status:
            pols = [p for p in pols if p["status"] == status]
        q = request.query_params.get("q")
        if q:
            pols = [p for p in pols if p["name"].lower().startswith(q.lower())]
        chunk, headers = shapes.page(request, pols, default_limit=200, max_limit=200)
        return shapes.respond([policy_view(org, p) for p in chunk], headers=headers)

    @r.post("/api/v1/policies")
    async def create(request: Request):
        data = await json_body(request)
        ptype = string_field(data, "type", required=True)
        if ptype not in TYPES:
            raise invalid("type", f"Invalid policy type {ptype}")
        fields = parse_policy(data, ptype)
        p = create_policy(org, ptype=ptype, priority=_priority(data), status=_status_param(request, data), **fields)
        logged(request, "policy.lifecycle.create", p)
        return shapes.respond(policy_view(org, p))

    @r.get("/api/v1/policies/{pid}")
    async def read(pid: str):
        return shapes.respond(policy_view(org, get_policy(pid)))

    @r.put("/api/v1/policies/{pid}")
    async def replace(pid: str, request: Request):
        p = get_policy(pid)
        data = await json_body(request)
        ptype = data.get("type") or p["type"]
        if ptype != p["type"]:
            raise invalid("type", "The type of a policy cannot change")
        fields = parse_policy(data, ptype)
        if p.get("system"):
            fields["name"] = p["name"]         # the default policy keeps its name and place
            fields["conditions"] = p["conditions"]
        p.update(fields, lastUpdated=org.iso())
        if data.get("status") in ("ACTIVE", "INACTIVE") and not p.get("system"):
            p["status"] = data["status"]
        org.store.put("policies", p["id"], p)
        if not p.get("system") and _priority(data) is not None:
            _place(org, [x for x in ordered(org, p["type"]) if x["id"] != p["id"]], p, _priority(data),
                   "policies", lambda x: x["id"])
        logged(request, "policy.lifecycle.update", p)
        return shapes.respond(policy_view(org, get_policy(pid)))

    @r.delete("/api/v1/policies/{pid}")
    async def delete(pid: str, request: Request):
        p = get_policy(pid)
        if p.get("system"):
            raise OktaError("E0000001", "Cannot delete the default policy",
                            ["policy: The default policy cannot be deleted"])
        org.store.delete_prefix("policy_rules", f"{pid}/")
        org.store.delete("policies", pid)
        logged(request, "policy.lifecycle.delete", p)
        return Response(status_code=204)

    @r.post("/api/v1/policies/{pid}/lifecycle/{op}")
    async def lifecycle(pid: str, op: str, request: Request):
        p = get_policy(pid)
        if op not in ("activate", "deactivate"):
            raise not_found(f"lifecycle/{op}", "Operation")
        if p.get("system") and op == "deactivate":
            raise OktaError("E0000001", "Cannot deactivate the default policy",
                            ["policy: The default policy cannot be deactivated"])
        p.update(status="ACTIVE" if op == "activate" else "INACTIVE", lastUpdated=org.iso())
        org.store.put("policies", p["id"], p)
        logged(request, f"policy.lifecycle.{op}", p)
        return Response(status_code=204)

    # -- rules ------------------------------------------------------------------------------
    def parse_rule(p: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        name = string_field(data, "name", required=True)
        actions = data.get("actions") or {}
        if not isinstance(actions, dict):
            raise invalid("actions", "must be an object")
        if p["type"] == "MFA_ENROLL":
            when = ((actions.get("enroll") or {}).get("self")) if isinstance(actions.get("enroll"), dict) else None
            if when not in WHEN_VALUES:
                raise invalid("actions.enroll.self", f"must be one of {', '.join(WHEN_VALUES)}")
        conditions = data.get("conditions")
        if conditions is not None and not isinstance(conditions, dict):
            raise invalid("conditions", "must be an object")
        return {"name": name, "actions": actions, "conditions": conditions}

    @r.get("/api/v1/policies/{pid}/rules")
    async def list_rules(pid: str):
        return shapes.respond([rule_view(org, x) for x in rules_of(org, get_policy(pid)["id"])])

    @r.post("/api/v1/policies/{pid}/rules")
    async def create_rule_route(pid: str, request: Request):
        p = get_policy(pid)
        data = await json_body(request)
        fields = parse_rule(p, data)
        rule = create_rule(org, p, priority=_priority(data), status=_status_param(request, data), **fields)
        logged(request, "policy.rule.add", {**rule, "type": p["type"]}, "PolicyRule")
        return shapes.respond(rule_view(org, rule))

    @r.get("/api/v1/policies/{pid}/rules/{rid}")
    async def read_rule(pid: str, rid: str):
        return shapes.respond(rule_view(org, get_rule(get_policy(pid), rid)))

    @r.put("/api/v1/policies/{pid}/rules/{rid}")
    async def replace_rule(pid: str, rid: str, request: Request):
        p = get_policy(pid)
        rule = get_rule(p, rid)
        data = await json_body(request)
        fields = parse_rule(p, data)
        if rule.get("system"):
            fields["name"] = rule["name"]
        rule.update(fields, lastUpdated=org.iso())
        org.store.put("policy_rules", f"{pid}/{rid}", rule)
        if not rule.get("system") and _priority(data) is not None:
            _place(org, [x for x in rules_of(org, pid) if x["id"] != rid], rule, _priority(data), "policy_rules",
                   lambda x: f"{x['policyId']}/{x['id']}")
        logged(request, "policy.rule.update", {**rule, "type": p["type"]}, "PolicyRule")
        return shapes.respond(rule_view(org, get_rule(p, rid)))

    @r.delete("/api/v1/policies/{pid}/rules/{rid}")
    async def delete_rule(pid: str, rid: str, request: Request):
        p = get_policy(pid)
        rule = get_rule(p, rid)
        if rule.get("system"):
            raise OktaError("E0000001", "Cannot delete the default rule", ["rule: The default rule cannot be deleted"])
        org.store.delete("policy_rules", f"{pid}/{rid}")
        logged(request, "policy.rule.delete", {**rule, "type": p["type"]}, "PolicyRule")
        return Response(status_code=204)

    @r.post("/api/v1/policies/{pid}/rules/{rid}/lifecycle/{op}")
    async def rule_lifecycle(pid: str, rid: str, op: str, request: Request):
        p = get_policy(pid)
        rule = get_rule(p, rid)
        if op not in ("activate", "deactivate"):
            raise not_found(f"lifecycle/{op}", "Operation")
        rule.update(status="ACTIVE" if op == "activate" else "INACTIVE", lastUpdated=org.iso())
        org.store.put("policy_rules", f"{pid}/{rid}", rule)
        logged(request, f"policy.rule.{op}", {**rule, "type": p["type"]}, "PolicyRule")
        return Response(status_code=204)

    return r
