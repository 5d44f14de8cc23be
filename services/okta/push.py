"""Okta Verify push transactions: created WAITING by a verify call, delivered to the enrolled
device's push endpoint over HTTP in the background (standing in for APNs/FCM), answered by that
device only (its credential), and TIMEOUT once `push_ttl_seconds` have passed on the service clock.
Transactions live in SQLite, so a poll after a restart still gets its answer."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .ids import new_id
from .org import Audit, Org, factor_target, user_actor, user_target

FINAL = ("SUCCESS", "REJECTED", "TIMEOUT", "CANCELLED")


def tx_links(org: Org, tx: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/users/{tx['userId']}/factors/{tx['factorId']}")
    poll = f"{base}/transactions/{tx['id']}"
    if tx["status"] == "WAITING":
        return {"poll": {"href": poll, "hints": {"allow": ["GET"]}},
                "cancel": {"href": poll, "hints": {"allow": ["DELETE"]}}}
    if tx["status"] == "SUCCESS":
        return {}
    return {"verify": {"href": f"{base}/verify", "hints": {"allow": ["POST"]}},
            "factor": {"href": base, "hints": {"allow": ["GET", "DELETE"]}}}


def view(org: Org, tx: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"factorResult": tx["status"]}
    if tx["status"] == "WAITING":
        body["expiresAt"] = tx["expiresAt"]
    body["profile"] = {"credentialId": tx.get("login")}
    links = tx_links(org, tx)
    if links:
        body["_links"] = links
    return body


def create(org: Org, audit: Audit, user: dict[str, Any], factor: dict[str, Any]) -> dict[str, Any]:
    now = org.now()
    ttl = org.settings.push_ttl_seconds
    tx = {"id": "v2mst." + new_id("", 22), "factorId": factor["id"], "userId": user["id"],
          "login": user["profile"]["login"], "status": "WAITING", "created": org.iso(now),
          "expiresTs": now + ttl, "expiresAt": org.iso(now + ttl),
          "trace": audit.trace,
          "client": {"ipAddress": audit.forwarded_for or audit.ip, "userAgent": audit.user_agent}}
    org.store.put("push_tx", tx["id"], tx)
    org.syslog("system.push.send_factor_verify_push", audit=audit, actor=user_actor(user),
               targets=[user_target(user), factor_target(factor)],
               message="A push notification was sent to the user's Okta Verify device")
    org.record("okta.push.send", audit, outcome="WAITING", user=tx["login"], factor=factor["id"],
               transaction=tx["id"], expiresAt=tx["expiresAt"])
    task = asyncio.create_task(deliver(org, tx, factor))
    org.tasks.add(task)
    task.add_done_callback(org.tasks.discard)
    return tx


async def deliver(org: Org, tx: dict[str, Any], factor: dict[str, Any]) -> None:
    """POST the notification to the device; a failure leaves the transaction to time out, as a
    lost APNs message would. Faults on protocol "push" (drop, delay) apply here."""
    endpoint = factor.get("device", {}).get("pushEndpoint")
    if not endpoint:
        org.record("okta.push.deliver", outcome="no_device", transaction=tx["id"], trace=tx["trace"])
        return
    host = httpx.URL(endpoint).host
    gate = org.ctx.faults.gate("push", peer=host)
    if gate.drop:
        org.record("okta.push.deliver", outcome="dropped_by_fault", transaction=tx["id"], trace=tx["trace"])
        return
    if gate.delay:
        await asyncio.sleep(gate.delay)
    body = {"transactionId": tx["id"], "factorId": factor["id"], "login": tx["login"],
            "expiresAt": tx["expiresAt"], "answerUrl": org.href(f"/idp/push/{tx['id']}/answer"),
            "client": tx["client"], "org": org.url, "trace": tx["trace"]}
    headers = {"X-Lab-Trace": tx["trace"]} if tx["trace"] else {}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(endpoint, json=body, headers=headers)
        outcome = "delivered" if resp.status_code < 300 else f"http {resp.status_code}"
    except httpx.HTTPError as exc:
        outcome = f"error: {exc.__class__.__name__}"
    org.ctx.record("okta.push.deliver", peer=host, outcome=outcome, trace=tx["trace"],
                   transaction=tx["id"], user=tx["login"], endpoint=endpoint)


def current(org: Org, tx: dict[str, Any]) -> dict[str, Any]:
    """The transaction with TIMEOUT applied when its time is up on the service clock."""
    if tx["status"] == "WAITING" and org.now() >= tx["expiresTs"]:
        tx["status"] = "TIMEOUT"
        tx["finished"] = org.iso()
        org.store.put("push_tx", tx["id"], tx)
        user = org.people.user(tx["userId"])
        factor = org.people.factor(tx["factorId"])
        if user and factor:
            org.syslog("user.authentication.auth_via_mfa", result="FAILURE", reason="TIMEOUT",
                       actor=user_actor(user), targets=[user_target(user), factor_target(factor)],
                       credential_type="OTP", message="Okta Verify push timed out")
        org.ctx.record("okta.push.timeout", outcome="TIMEOUT", trace=tx["trace"], transaction=tx["id"],
                       user=tx["login"])
    return tx


def answer(org: Org, audit: Audit, tx: dict[str, Any], result: str) -> dict[str, Any]:
    tx["status"] = "SUCCESS" if result == "APPROVE" else "REJECTED"
    tx["finished"] = org.iso()
    org.store.put("push_tx", tx["id"], tx)
    user = org.people.user(tx["userId"])
    factor = org.people.factor(tx["factorId"])
    if user and factor:
        targets = [user_target(user), factor_target(factor)]
        if tx["status"] == "SUCCESS":
            user["lastLogin"] = org.iso()
            org.people.save(user)
            org.syslog("user.mfa.okta_verify", audit=audit, actor=user_actor(user), targets=targets,
                       message="Verify user with Okta Verify push")
            org.syslog("user.authentication.auth_via_mfa", audit=audit, actor=user_actor(user),
                       targets=targets, message="Authentication of user via MFA")
        else:
            org.syslog("user.mfa.okta_verify.deny_push", audit=audit, actor=user_actor(user),
                       targets=targets, result="FAILURE", reason="User rejected Okta push verify",
                       message="User rejected Okta push verify")
    org.record("okta.push.answer", audit, outcome=tx["status"], trace=tx["trace"],
               transaction=tx["id"], user=tx["login"])
    return tx
