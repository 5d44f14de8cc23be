"""The Authentication API (`/api/v1/authn`), the part a RADIUS agent with "Okta performs primary
authentication" checked uses: password → SUCCESS or MFA_REQUIRED, then factor verify (TOTP
passCode, or push with polling through the same verify link), cancel.

Passwords: a user with an Okta password is checked against its hash; an AD-sourced user's
password is delegated to the domain controller with an LDAP simple bind as the user's UPN (the
lab's stand-in for delegated authentication through the Okta AD agent; spec addendum). Any failure
is 401 E0000004 "Authentication failed", as Okta hides the reason. A WorkSpaces MFA code sent as
the password therefore fails here, which is failure F7. Public apps may call without a token."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request

from . import otp, push, shapes
from .errors import OktaError, json_body, string_field
from .ids import token
from .org import Org, user_actor, user_target
from .users import find_user

STATE_TTL = 300          # seconds a stateToken lives (sliding)
SIGN_IN_STATUSES = ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY")


def _embedded_user(u: dict[str, Any]) -> dict[str, Any]:
    p = u["profile"]
    return {"id": u["id"], "passwordChanged": u.get("passwordChanged"),
            "profile": {"login": p["login"], "firstName": p.get("firstName"), "lastName": p.get("lastName"),
                        "locale": "en", "timeZone": "America/Los_Angeles"}}


def _factor(org: Org, f: dict[str, Any]) -> dict[str, Any]:
    return {"id": f["id"], "factorType": f["factorType"], "provider": f["provider"],
            "vendorName": f["provider"], "profile": {"credentialId": f.get("profile", {}).get("credentialId")}
            if f["factorType"] != "push" else {},
            "_links": {"verify": shapes.post_link(org.href(f"/api/v1/authn/factors/{f['id']}/verify"))}}


async def _password_ok(org: Org, u: dict[str, Any], password: str) -> bool:
    if not password:
        return False
    stored = u.get("password")
    if stored:
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(stored["salt"]), 10000)
        return hmac.compare_digest(digest.hex(), stored["hash"])
    if u.get("provider", {}).get("type") == "ACTIVE_DIRECTORY":
        return await _ldap_bind(org, u["profile"].get("userName") or u["profile"]["login"], password)
    return False


async def _ldap_bind(org: Org, upn: str, password: str) -> bool:
    mode = org.setting("delegated_auth", "ldap")
    if mode in ("accept", "reject"):          # lab switches for tests without a DC
        return mode == "accept"
    if "dc" not in org.ctx.topology.get("services", {}):
        return False
    host, port = org.ctx.peer_address("dc", "ldap")

    def bind() -> bool:
        import ldap3
        server = ldap3.Server(host, port=port, connect_timeout=3)
        conn = ldap3.Connection(server, user=upn, password=password, receive_timeout=5)
        try:
            return bool(conn.bind())
        except ldap3.core.exceptions.LDAPException:
            return False
        finally:
            try:
                conn.unbind()
            except Exception:
                pass
    return await asyncio.to_thread(bind)


def router(org: Org) -> APIRouter:
    r = APIRouter()

    def save(state: dict[str, Any]) -> dict[str, Any]:
        state["expiresTs"] = org.now() + STATE_TTL
        return org.store.put("authn", state["id"], state)

    def load(data: dict[str, Any]) -> dict[str, Any]:
        tok = string_field(data, "stateToken", required=True)
        state = org.store.get("authn", tok)
        if state is None or org.now() >= state["expiresTs"] or state["status"] == "SUCCESS":
            raise OktaError("E0000011")
        return state

    def view(state: dict[str, Any], user: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"stateToken": state["id"], "expiresAt": org.iso(state["expiresTs"]),
                                "status": state["status"], **extra}
        embedded: dict[str, Any] = {"user": _embedded_user(user)}
        if state["status"] == "MFA_REQUIRED":
            factors = [f for f in org.store.all("factors") if f["userId"] == user["id"] and f["status"] == "ACTIVE"]
            embedded["factors"] = [_factor(org, f) for f in factors]
        elif state.get("factorId"):
            f = org.store.get("factors", state["factorId"])
            if f:
                embedded["factor"] = _factor(org, f)
        body["_embedded"] = embedded
        links: dict[str, Any] = {"cancel": shapes.post_link(org.href("/api/v1/authn/cancel"))}
        if state["status"] == "MFA_CHALLENGE" and state.get("factorId"):
            verify = org.href(f"/api/v1/authn/factors/{state['factorId']}/verify")
            name = "poll" if extra.get("factorResult") == "WAITING" else "verify"
            links["next"] = {"name": name, **shapes.post_link(verify)}
            links["prev"] = shapes.post_link(org.href("/api/v1/authn/previous"))
        body["_links"] = links
        return body

    def success(request: Request, state: dict[str, Any], user: dict[str, Any], how: str):
        state["status"] = "SUCCESS"
        org.store.put("authn", state["id"], state)
        user["lastLogin"] = org.iso()
        org.store.put("users", user["id"], user)
        org.syslog("user.session.start", request=request, actor=user_actor(user), targets=[user_target(user)],
                   message="User login to Okta")
        org.record("okta.authn", request, outcome="SUCCESS", user=user["profile"]["login"], via=how)
        return shapes.respond({"expiresAt": org.iso(org.now() + 300), "status": "SUCCESS",
                               "sessionToken": token(40), "_embedded": {"user": _embedded_user(user)}})

    @r.post("/api/v1/authn")
    async def authn(request: Request):
        data = await json_body(request)
        if "stateToken" in data and "username" not in data:
            state = load(data)
            user = org.store.get("users", state["userId"])
            return shapes.respond(view(save(state), user))
        username = string_field(data, "username", required=True)
        password = string_field(data, "password") or ""
        user = find_user(org, username)
        ok = user is not None and user["status"] in SIGN_IN_STATUSES and await _password_ok(org, user, password)
        if not ok:
            if user is not None:
                org.syslog("user.session.start", request=request, actor=user_actor(user),
                           targets=[user_target(user)], result="FAILURE", reason="INVALID_CREDENTIALS")
            org.record("okta.authn", request, outcome="E0000004", user=username)
            raise OktaError("E0000004")
        state = {"id": "00" + token(40), "userId": user["id"], "status": "MFA_REQUIRED"}
        factors = [f for f in org.store.all("factors") if f["userId"] == user["id"] and f["status"] == "ACTIVE"]
        if not factors:
            return success(request, state, user, "password")
        org.record("okta.authn", request, outcome="MFA_REQUIRED", user=user["profile"]["login"])
        return shapes.respond(view(save(state), user))

    @r.post("/api/v1/authn/factors/{fid}/verify")
    async def verify(fid: str, request: Request):
        data = await json_body(request)
        state = load(data)
        user = org.store.get("users", state["userId"])
        f = org.store.get("factors", fid)
        if user is None or f is None or f["userId"] != user["id"] or f["status"] != "ACTIVE":
            raise OktaError("E0000079")
        if f["factorType"] == "push":
            tx = org.store.get("push_tx", state["pushTx"]) \
                if state.get("factorId") == fid and state.get("pushTx") else None
            if tx is None:
                otp.check_user_can_verify(org, user)
                tx = push.create(org, request, user, f)
                state.update(pushTx=tx["id"], factorId=fid, status="MFA_CHALLENGE")
                return shapes.respond(view(save(state), user, factorResult="WAITING"))
            tx = push.current(org, tx)
            if tx["status"] == "SUCCESS":
                return success(request, state, user, "push")
            if tx["status"] != "WAITING":
                state.pop("pushTx", None)    # the next verify starts a new push
            return shapes.respond(view(save(state), user, factorResult=tx["status"]))
        code = string_field(data, "passCode", required=True)
        otp.verify(org, request, user, f, code)
        return success(request, state, user, "otp")

    @r.post("/api/v1/authn/cancel")
    async def cancel(request: Request):
        data = await json_body(request)
        state = load(data)
        org.store.delete("authn", state["id"])
        org.record("okta.authn", request, outcome="cancelled")
        return shapes.respond({})

    return r
