"""Okta Verify push transactions: created WAITING by a verify call, delivered to the enrolled
device's push endpoint over HTTP in the background (standing in for APNs/FCM), answered by that
device only (its credential), and TIMEOUT once `push_ttl_seconds` have passed on the service clock.
Transactions live in SQLite, so a poll after a restart still gets its answer.

Number challenge (Okta Verify's "Number Challenge" setting: never / high-risk only / all push
challenges; docs/okta.md): the transaction draws three two-digit numbers, one of them the answer.
The sign-in page shows the answer (`_embedded.challenge.correctAnswer`), the phone gets the three
choices only, and an approval with another number is REJECTED."""
from __future__ import annotations

import asyncio
import secrets
from typing import Any

from .ids import new_id
from .org import Audit, Org, factor_target, user_actor, user_target

FINAL = ("SUCCESS", "REJECTED", "TIMEOUT", "CANCELLED")
# What the RADIUS agent's HTTP client calls itself: the org tells its pushes apart by it.
RADIUS_AGENT_USER_AGENT = "okta-radius-agent"


def wants_number(org: Org, audit: Audit) -> bool:
    """Whether a push of a sign-in (the Authentication API) carries a number challenge: the org's
    Okta Verify setting. `high_risk`: the lab has no risk engine, so no sign-in is high risk (lab
    choice). A RADIUS sign-in (the agent's User-Agent) gets one only with
    `number_challenge_radius: send`, what a migrated org without Okta's "Disable number matching
    challenge for RADIUS" does. The Factors API asks for one per call instead (factors.py)."""
    if org.settings.okta_verify_number_challenge != "all":
        return False
    if (audit.user_agent or "").lower().startswith(RADIUS_AGENT_USER_AGENT):
        return org.settings.number_challenge_radius == "send"
    return True


def _numbers() -> tuple[int, list[int]]:
    """Three different two-digit numbers in the order the phone shows them, and the right one."""
    choices = secrets.SystemRandom().sample(range(10, 100), 3)
    return secrets.choice(choices), choices


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
    if tx["status"] == "WAITING" and tx.get("correctAnswer") is not None:
        body["_embedded"] = {"challenge": {"correctAnswer": tx["correctAnswer"]}}
    links = tx_links(org, tx)
    if links:
        body["_links"] = links
    return body


def create(org: Org, audit: Audit, user: dict[str, Any], factor: dict[str, Any],
           number: bool | None = None) -> dict[str, Any]:
    """A new WAITING transaction; `number`: with a number challenge or not (None: the org's
    setting decides, as for a sign-in)."""
    now = org.now()
    ttl = org.settings.push_ttl_seconds
    tx = {"id": "v2mst." + new_id("", 22), "factorId": factor["id"], "userId": user["id"],
          "login": user["profile"]["login"], "status": "WAITING", "created": org.iso(now),
          "expiresTs": now + ttl, "expiresAt": org.iso(now + ttl),
          "trace": audit.trace,
          "client": {"ipAddress": audit.forwarded_for or audit.ip, "userAgent": audit.user_agent}}
    if number is None:
        number = wants_number(org, audit)
    if number:
        tx["correctAnswer"], tx["choices"] = _numbers()
    org.store.put("push_tx", tx["id"], tx)
    org.syslog("system.push.send_factor_verify_push", audit=audit, actor=user_actor(user),
               targets=[user_target(user), factor_target(factor)],
               message="A push notification was sent to the user's Okta Verify device")
    org.record("okta.push.send", audit, outcome="WAITING", user=tx["login"], factor=factor["id"],
               transaction=tx["id"], expiresAt=tx["expiresAt"], numberChallenge="choices" in tx,
               device=factor.get("device", {}).get("name"))
    task = asyncio.create_task(deliver(org, tx, factor))
    org.tasks.add(task)
    task.add_done_callback(org.tasks.discard)
    return tx


async def deliver(org: Org, tx: dict[str, Any], factor: dict[str, Any]) -> None:
    """POST the notification to the device; a failure leaves the transaction to time out, as a
    lost APNs message would. Faults on protocol "push" (drop, delay) apply here."""
    import httpx  # here: the org holds it only once it sends (~3 MB of RSS)
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
    if tx.get("choices"):
        body["challenge"] = {"choices": tx["choices"]}      # never which one is right
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


def answer(org: Org, audit: Audit, tx: dict[str, Any], result: str, number: int | None = None) -> dict[str, Any]:
    """APPROVE or DENY from the device; with a number challenge, APPROVE counts only with the
    right `number` (another one is REJECTED, as Okta Verify denies the sign-in)."""
    wrong = result == "APPROVE" and tx.get("correctAnswer") is not None and number != tx["correctAnswer"]
    tx["status"] = "SUCCESS" if result == "APPROVE" and not wrong else "REJECTED"
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
            # lab wording for the wrong number: Okta logs the denial, its reason text is not public
            reason = "User chose the wrong number in the Okta Verify number challenge" if wrong \
                else "User rejected Okta push verify"
            org.syslog("user.mfa.okta_verify.deny_push", audit=audit, actor=user_actor(user),
                       targets=targets, result="FAILURE", reason=reason,
                       message="User rejected Okta push verify")
    org.record("okta.push.answer", audit, outcome=tx["status"], trace=tx["trace"],
               transaction=tx["id"], user=tx["login"], **({"reason": "wrong_number"} if wrong else {}))
    return tx
