"""Policies (Okta's Policy API) and what the org decides from them: which MFA enrolment policy
and rule apply to a user, and the password policy's lockout (docs/okta.md, "Policies"). The wire
is policy_api.py.

Stored: `policies` (by id) and `policy_rules` (id "<policyId>/<ruleId>"). Every org has a system
"Default Policy" of each type it evaluates, always last, with a "Default Rule":
- MFA_ENROLL: okta_otp, okta_push, google_otp, okta_sms, okta_call, okta_email OPTIONAL, rule
  `enroll.self: CHALLENGE` (enrol when first challenged for MFA), so an org nobody configured never
  forces enrolment;
- PASSWORD: lockout after 10 bad passwords, hidden behind E0000004 (`showLockoutFailures` false).

Evaluation: ACTIVE policies of the type by priority (1 first); a policy applies when its
`conditions.people.groups.include` is empty or names a group of the user; within it the first ACTIVE
rule (by priority) whose people condition matches wins; a policy with no matching rule never applies.

Two shapes of MFA_ENROLL settings are accepted and kept as given: Classic
`settings: {type: FACTORS, factors: {okta_otp: {enroll: {self: REQUIRED}}, ...}}` (what the
walkthrough's console writes) and Identity Engine `settings: {type: AUTHENTICATORS,
authenticators: [{key: okta_verify, enroll: {self: REQUIRED}}]}` (what the okta SDK 3.x models);
`okta_verify` stands for Okta Verify TOTP and push together (either one satisfies it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import org_factors
from .ids import new_id
from .org import Org

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
    return user_id not in (u.get("exclude") or [])


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
    off = org_factors.inactive(org)       # factor types the admin deactivated are never offered
    slots = [Slot(s.key, s.enrollment, [f for f in s.factors if f not in off]) for s in slots_of(p.get("settings"))]
    return Enrollment(p["id"], r["id"], when, [s for s in slots if s.factors])


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
    p: dict[str, Any] = {"id": new_id("00p"), "type": ptype, "name": name, "description": description, "status": status,
                         "system": system, "priority": 0, "conditions": conditions, "settings": settings or {},
                         "created": now, "lastUpdated": now}
    org.store.put("policies", p["id"], p)
    place(org, [x for x in ordered(org, ptype) if x["id"] != p["id"]], p, priority, "policies", policy_key)
    return org.store.get("policies", p["id"])  # type: ignore[return-value]  # just put


def create_rule(org: Org, policy: dict[str, Any], *, name: str, priority: int | None = None,
                status: str = "ACTIVE", system: bool = False, conditions: dict[str, Any] | None = None,
                actions: dict[str, Any] | None = None) -> dict[str, Any]:
    now = org.iso()
    r = {"id": new_id("0pr"), "policyId": policy["id"], "type": policy["type"], "name": name, "status": status,
         "system": system, "priority": 0, "conditions": conditions, "actions": actions or {},
         "created": now, "lastUpdated": now}
    org.store.put("policy_rules", rule_key(r), r)
    place(org, [x for x in rules_of(org, policy["id"]) if x["id"] != r["id"]], r, priority, "policy_rules", rule_key)
    return org.store.get("policy_rules", rule_key(r))  # type: ignore[return-value]  # just put


def policy_key(p: dict[str, Any]) -> str:
    return str(p["id"])


def rule_key(r: dict[str, Any]) -> str:
    """Rules are stored under "<policyId>/<ruleId>", so one prefix lists a policy's rules."""
    return f"{r['policyId']}/{r['id']}"


def place(org: Org, others: list[dict[str, Any]], doc: dict[str, Any], priority: int | None,
          kind: str, key: Callable[[dict[str, Any]], str]) -> None:
    """Put `doc` at `priority` (1-based; None or too big = last before the system default) and
    renumber the rest 1..n, the system default always last, as Okta does."""
    normal = [o for o in others if not o.get("system")]
    system = [o for o in others if o.get("system")]
    if doc.get("system"):
        seq = [*normal, doc, *system]
    else:
        at = len(normal) if priority is None else max(0, min(int(priority) - 1, len(normal)))
        seq = [*normal[:at], doc, *normal[at:], *system]
    for i, o in enumerate(seq, 1):
        if o.get("priority") != i or o is doc:
            o["priority"] = i
            org.store.put(kind, key(o), o)


def ensure_defaults(org: Org) -> None:
    """The system default policies every org has (made once; they survive restarts), assigned to
    the Everyone group as Okta's are."""
    have = {p["type"] for p in org.store.all("policies") if p.get("system")}
    everyone = [org.people.everyone_id] if org.people.everyone_id else []
    if "MFA_ENROLL" not in have:
        p = create_policy(org, ptype="MFA_ENROLL", name="Default Policy", system=True,
                          description="The default policy applies in all situations if no other policy applies.",
                          conditions={"people": {"groups": {"include": everyone}}}, settings=DEFAULT_MFA_SETTINGS)
        create_rule(org, p, name="Default Rule", system=True,
                    conditions={"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                    actions={"enroll": {"self": "CHALLENGE"}})
    if "PASSWORD" not in have:
        p = create_policy(org, ptype="PASSWORD", name="Default Policy", system=True,
                          description="The default policy applies in all situations if no other policy applies.",
                          conditions={"people": {"groups": {"include": everyone}},
                                      "authProvider": {"provider": "OKTA"}}, settings=DEFAULT_PASSWORD_SETTINGS)
        create_rule(org, p, name="Default Rule", system=True,
                    conditions={"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}},
                    actions={"passwordChange": {"access": "ALLOW"}, "selfServicePasswordReset": {"access": "ALLOW"},
                             "selfServiceUnlock": {"access": "DENY"}})
