"""The Okta Verify device channel (no SSWS; stands in for the app's private API):
the phone enrols a push factor with the activation token from the oktaverify:// QR code and
gets a device credential; later it answers pushes with that credential, and only the device
enrolled for the transaction's factor may answer (403 E0000006 otherwise). Each device enrolled is
its own push factor (`okta_verify_max_devices`); a push goes to its factor's device only. An
answer to a number challenge carries the number picked (`{"result": "APPROVE", "number": 42}`).
The org keeps only a digest of the credential."""
from __future__ import annotations

import hmac
from urllib.parse import urlparse

from fastapi import APIRouter, Request

from . import push, shapes
from .errors import OktaError, invalid, json_body, string_field
from .ids import digest, token
from .org import Audit, Org, factor_target, user_actor, user_target


def router(org: Org) -> APIRouter:
    r = APIRouter()

    @r.post("/idp/authenticators/okta-verify/enroll")
    async def enroll(request: Request):
        audit = Audit.of(request)
        data = await json_body(request)
        activation = string_field(data, "activationToken", required=True)
        endpoint = string_field(data, "pushEndpoint", required=True)
        name = string_field(data, "deviceName") or "Okta Verify device"
        if urlparse(endpoint).scheme not in ("http", "https") or not urlparse(endpoint).netloc:
            raise invalid("pushEndpoint", "must be an http(s) URL")
        factor = next((f for f in org.people.all_factors()
                       if f["factorType"] == "push" and f.get("activationToken")
                       and hmac.compare_digest(f["activationToken"].encode(),     # bytes: non-ASCII str is a TypeError
                                               activation.encode(errors="surrogatepass"))), None)
        if factor is None or factor["status"] != "PENDING_ACTIVATION" or org.now() >= factor["activationExpiresTs"]:
            org.record("okta.device.enroll", audit, outcome="invalid_token")
            raise OktaError("E0000011")
        user = org.people.user(factor["userId"])
        if user is None:
            raise OktaError("E0000011")
        credential = token(40)
        factor.update(status="ACTIVE", lastUpdated=org.iso(),
                      profile={"credentialId": user["profile"]["login"], "deviceType": "SmartPhone_IPhone",
                               "keys": [], "name": name, "platform": "IOS", "version": "17.0"},
                      device={"pushEndpoint": endpoint, "credentialDigest": digest(credential), "name": name})
        factor.pop("activationToken", None)
        factor.pop("qrToken", None)
        org.people.save_factor(factor)
        # The user activates Okta Verify on her phone, whoever started the enrolment.
        org.syslog("user.mfa.factor.activate", audit=audit, actor=user_actor(user),
                   targets=[user_target(user), factor_target(factor)], message="Activate factor for user")
        org.record("okta.device.enroll", audit, outcome="ACTIVE", user=user["profile"]["login"],
                   factor=factor["id"], device=name, pushEndpoint=endpoint)
        return shapes.respond({"factorId": factor["id"], "userId": user["id"],
                               "login": user["profile"]["login"], "deviceCredential": credential})

    @r.post("/idp/push/{txid}/answer")
    async def answer(txid: str, request: Request):
        audit = Audit.of(request)
        tx = org.require("push_tx", txid, "Transaction")
        factor = org.people.factor(tx["factorId"]) or {}
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        expected = factor.get("device", {}).get("credentialDigest")
        if scheme != "OktaVerify" or not credential or expected is None \
                or not hmac.compare_digest(digest(credential.strip()), expected):
            org.record("okta.push.answer", audit, outcome="forbidden", transaction=txid,
                       trace=tx.get("trace"), user=tx["login"])
            raise OktaError("E0000006")
        data = await json_body(request)
        result = string_field(data, "result", required=True)
        if result not in ("APPROVE", "DENY"):
            raise invalid("result", "must be APPROVE or DENY")
        number = data.get("number")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise invalid("number", "must be the number picked, a whole number")
        if result == "APPROVE" and tx.get("correctAnswer") is not None and number is None:
            raise invalid("number", "this push has a number challenge: answer with the number picked")
        tx = push.current(org, tx)
        if tx["status"] != "WAITING":
            org.record("okta.push.answer", audit, outcome=f"too_late_{tx['status']}", transaction=txid,
                       trace=tx.get("trace"), user=tx["login"])
            raise OktaError("E0000079")
        tx = push.answer(org, audit, tx, result, number)
        return shapes.respond({"transactionId": tx["id"], "factorResult": tx["status"]})

    return r
