"""What `/api/v1/authn` answers look like for each state of a transaction (docs/okta.md,
"Authentication API"): `_embedded.factors` (a list) in MFA_REQUIRED and MFA_ENROLL,
`_embedded.factor` (one object) in MFA_CHALLENGE and MFA_ENROLL_ACTIVATE, `_links.next` named
authenticate / verify / poll / activate / changePassword / resetPassword, plus cancel, prev,
skip and resend where the state allows them. Pure: reads the store, never writes it."""
from __future__ import annotations

from typing import Any

from . import codes, policies, shapes
from .factors import enrolment_view, user_factors
from .org import Org

# What PASSWORD_EXPIRED and PASSWORD_RESET show of the password policy (the system default's).
PASSWORD_POLICY = {"expiration": {"passwordExpireDays": 0},
                   "complexity": {"minLength": 8, "minLowerCase": 1, "minUpperCase": 1,
                                  "minNumber": 1, "minSymbol": 0, "excludeUsername": True},
                   "age": {"minAgeMinutes": 0, "historyCount": 4}}


def embedded_user(u: dict[str, Any]) -> dict[str, Any]:
    p = u["profile"]
    return {"id": u["id"], "passwordChanged": u.get("passwordChanged"),
            "profile": {"login": p["login"], "firstName": p.get("firstName"), "lastName": p.get("lastName"),
                        "locale": "en", "timeZone": "America/Los_Angeles"}}


def factor_view(org: Org, f: dict[str, Any]) -> dict[str, Any]:
    """A factor as unauthenticated authn responses show it (Okta Verify push has `profile: {}`;
    sms / call / email show the phone number or address masked)."""
    if codes.is_code_factor(f):
        key = "email" if f["factorType"] == "email" else "phoneNumber"
        profile: dict[str, Any] = {key: codes.masked(f)}
    elif f["factorType"] == "push":
        profile = {}
    else:
        profile = {"credentialId": f.get("profile", {}).get("credentialId")}
    return {"id": f["id"], "factorType": f["factorType"], "provider": f["provider"],
            "vendorName": f["provider"], "profile": profile,
            "_links": {"verify": shapes.post_link(org.href(f"/api/v1/authn/factors/{f['id']}/verify"))}}


def active_factors(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in user_factors(org, user) if f["status"] == "ACTIVE"]


def active_kinds(org: Org, user: dict[str, Any]) -> set[tuple[str, str]]:
    """(factorType, provider) of the user's active factors."""
    return {(f["factorType"], f["provider"]) for f in active_factors(org, user)}


def can_skip(org: Org, user: dict[str, Any]) -> bool:
    """MFA_ENROLL may be skipped once no REQUIRED factor is missing."""
    return not policies.enrollment(org, user).missing_required(active_kinds(org, user))


def enroll_list(org: Org, user: dict[str, Any]) -> list[dict[str, Any]]:
    mine = {(f["factorType"], f["provider"]): f for f in user_factors(org, user)}
    out = []
    for (ftype, provider), enrollment in policies.enrollment(org, user).offered():
        f = mine.get((ftype, provider))
        out.append({"factorType": ftype, "provider": provider, "vendorName": provider,
                    "status": "ACTIVE" if f and f["status"] == "ACTIVE" else "NOT_SETUP",
                    "enrollment": enrollment,
                    "_links": {"enroll": shapes.post_link(org.href("/api/v1/authn/factors"))}})
    return out


def _enroll_activate(org: Org, user: dict[str, Any], f: dict[str, Any], extra: dict[str, Any],
                     embedded: dict[str, Any], links: dict[str, Any]) -> None:
    fv = enrolment_view(org, user, f)
    fv["_links"] = {}
    embedded["factor"] = {k: fv[k] for k in ("id", "factorType", "provider", "vendorName", "profile")
                          if k in fv} | {"_embedded": fv.get("_embedded", {})}
    base = org.href(f"/api/v1/authn/factors/{f['id']}/lifecycle/activate")
    if f["factorType"] == "push":
        act = embedded["factor"]["_embedded"].get("activation") or {}
        if act.get("_links", {}).get("send"):
            act["_links"]["send"] = [{"name": "email", **shapes.post_link(base + "/email")}]
        name = "activate" if extra.get("factorResult") == "TIMEOUT" else "poll"
        links["next"] = {"name": name, **shapes.post_link(base if name == "activate" else base + "/poll")}
    else:
        links["next"] = {"name": "activate", **shapes.post_link(base)}
        if codes.is_code_factor(f):
            links["resend"] = [{"name": f["factorType"], **shapes.post_link(
                org.href(f"/api/v1/authn/factors/{f['id']}/lifecycle/resend"))}]


def _challenge(org: Org, f: dict[str, Any], extra: dict[str, Any], embedded: dict[str, Any],
               links: dict[str, Any]) -> None:
    embedded["factor"] = factor_view(org, f)
    verify = org.href(f"/api/v1/authn/factors/{f['id']}/verify")
    name = "poll" if extra.get("factorResult") == "WAITING" else "verify"
    links["next"] = {"name": name, **shapes.post_link(verify)}
    if f["factorType"] == "push" or codes.is_code_factor(f):
        links["resend"] = [{"name": f["factorType"], **shapes.post_link(verify + "/resend")}]


def _number_challenge(org: Org, state: dict[str, Any], f: dict[str, Any], extra: dict[str, Any],
                      embedded: dict[str, Any]) -> None:
    """A waiting push with a number challenge: the number the page shows, as Okta's
    `_embedded.factor._embedded.challenge.correctAnswer`."""
    if f["factorType"] != "push" or extra.get("factorResult") != "WAITING" or not state.get("pushTx"):
        return
    tx = org.store.get("push_tx", state["pushTx"])
    if tx and tx.get("correctAnswer") is not None:
        embedded["factor"]["_embedded"] = {"challenge": {"correctAnswer": tx["correctAnswer"]}}


def transaction(org: Org, state: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The body for a transaction that is still going (every state but SUCCESS)."""
    status = state["status"]
    body: dict[str, Any] = {"stateToken": state["id"], "expiresAt": org.iso(state["expiresTs"]),
                            "status": status, **extra}
    embedded: dict[str, Any] = {}
    if user is not None:
        embedded["user"] = embedded_user(user)
    links: dict[str, Any] = {"cancel": shapes.post_link(org.href("/api/v1/authn/cancel"))}
    prev = shapes.post_link(org.href("/api/v1/authn/previous"))
    if status == "UNAUTHENTICATED":
        if state.get("target"):
            embedded["target"] = state["target"]
        links["next"] = {"name": "authenticate", **shapes.post_link(org.href("/api/v1/authn"))}
    elif status == "MFA_REQUIRED" and user is not None:
        embedded["factors"] = [factor_view(org, f) for f in active_factors(org, user)]
    elif status == "MFA_ENROLL" and user is not None:
        embedded["factors"] = enroll_list(org, user)
        if can_skip(org, user):
            links["skip"] = shapes.post_link(org.href("/api/v1/authn/skip"))
    elif status == "MFA_ENROLL_ACTIVATE" and user is not None:
        f = org.people.factor(state.get("factorId") or "")
        if f is not None:
            _enroll_activate(org, user, f, extra, embedded, links)
            links["prev"] = prev
    elif status == "MFA_CHALLENGE" and user is not None:
        f = org.people.factor(state.get("factorId") or "")
        if f is not None:
            _challenge(org, f, extra, embedded, links)
            _number_challenge(org, state, f, extra, embedded)
        links["prev"] = prev
    elif status in ("PASSWORD_EXPIRED", "PASSWORD_RESET"):
        embedded["policy"] = PASSWORD_POLICY
        name = "changePassword" if status == "PASSWORD_EXPIRED" else "resetPassword"
        path = "change_password" if status == "PASSWORD_EXPIRED" else "reset_password"
        links["next"] = {"name": name, **shapes.post_link(org.href(f"/api/v1/authn/credentials/{path}"))}
    body["_embedded"] = embedded
    body["_links"] = links
    return body


def success(org: Org, user: dict[str, Any], session_token: str) -> dict[str, Any]:
    return {"expiresAt": org.iso(org.now() + 300), "status": "SUCCESS", "sessionToken": session_token,
            "_embedded": {"user": embedded_user(user)},
            "_links": {"cancel": shapes.post_link(org.href("/api/v1/authn/cancel"))}}


def locked_out(org: Org) -> dict[str, Any]:
    return {"status": "LOCKED_OUT", "_links": {
        "next": {"name": "unlock", **shapes.post_link(org.href("/api/v1/authn/recovery/unlock"))}}}
