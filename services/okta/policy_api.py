"""The Policy API's wire (`/api/v1/policies` and their rules): list by type, create, read,
replace, delete, activate / deactivate, with Okta's validation of what an admin may send; the
policies themselves and their evaluation are policies.py."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import shapes
from .errors import OktaError, invalid, json_body, not_found, string_field
from .org import Audit, Org
from .policies import (
    ENROLL_VALUES,
    FACTOR_KEYS,
    OTHER_KEYS,
    TYPES,
    WHEN_VALUES,
    create_policy,
    create_rule,
    ordered,
    place,
    policy_key,
    rule_key,
    rules_of,
)


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
        target = {"id": p["id"], "type": what, "alternateId": "unknown", "displayName": p["name"],
                  "detailEntry": {"policyType": p["type"]}}
        org.syslog(event, audit=audit, targets=[target])
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
            place(org, [x for x in ordered(org, p["type"]) if x["id"] != p["id"]], p, _priority(data),
                   "policies", policy_key)
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
            place(org, [x for x in rules_of(org, pid) if x["id"] != rid], rule, _priority(data), "policy_rules",
                   rule_key)
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
