"""Push notifications on the phone: what arrived from the org (standing in for APNs/FCM), and how
each is answered: by the account's scripted behaviour (approve or deny, after N seconds; ignore
leaves it to the person), or by the person tapping Approve or Deny on the phone's page. A push
is answerable until the org's own expiry (`expiresAt` in the notification), then it is expired.
The answer goes to the org's `answerUrl` with the device credential, as the real app does.

A push reaches the device enrolled for its factor (several devices per person: each its own
factor). With a number challenge the push carries three numbers: the person taps the one the
sign-in page shows; a script cannot see that page, so a scripted "approve" leaves such a push to
the person (a scripted "deny" still denies)."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from services.common.context import ServiceContext
from services.common.tls import lab_trust

from .authenticator import Account, Wallet
from .scanning import why


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _factor_result(resp: httpx.Response) -> str | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data.get("factorResult") if isinstance(data, dict) else None


class PushInbox:
    def __init__(self, ctx: ServiceContext, wallet: Wallet, records: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.wallet = wallet
        self.records = records            # `GET /pushes`; emptied by the phone's reset
        self.tasks: set[asyncio.Task[None]] = set()

    def receive(self, data: dict[str, Any]) -> dict[str, Any]:
        """A notification from the org; KeyError when no account on this phone is enrolled for it."""
        login = str(data.get("login", ""))
        acc: Account | None = self.wallet.by_factor(data.get("factorId"))
        if acc is None or acc.device_credential is None or acc.login.lower() != login.lower():
            self.ctx.record("phone.push_received", peer="okta", outcome="unknown_account", user=login)
            raise KeyError(login)
        client = data.get("client") if isinstance(data.get("client"), dict) else {}
        challenge = data.get("challenge")
        choices = challenge.get("choices") if isinstance(challenge, dict) else None
        if not (isinstance(choices, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in choices)):
            choices = None
        record: dict[str, Any] = {
            "transactionId": data.get("transactionId"), "login": acc.login, "device": acc.device,
            "received": self.ctx.clock.iso(), "expiresAt": data.get("expiresAt"), "org": data.get("org"),
            "client": client, "choices": choices,
            "action": acc.action, "after": acc.after, "answered": None, "result": None, "by": None, "number": None,
            "_answerUrl": str(data.get("answerUrl")), "_credential": acc.device_credential}
        self.records.append(record)
        del self.records[:-200]                       # keep the last 200
        needs_number = bool(choices) and acc.action == "approve"     # only the person sees the number
        scripted = acc.action != "ignore" and not needs_number
        self.ctx.record("phone.push_received", peer="okta", outcome="needs_number" if needs_number else acc.action,
                        user=acc.login, device=acc.device,
                        transaction=record["transactionId"], trace=data.get("trace"), numberChallenge=bool(choices))
        if scripted:
            self._spawn(self._scripted(record))
        return record

    async def _scripted(self, record: dict[str, Any]) -> None:
        if record["after"]:
            await asyncio.sleep(record["after"])
        if self.state(record) == "waiting":       # the person may have answered first
            await self.answer(record, "approve" if record["action"] == "approve" else "deny", by="script")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def state(self, record: dict[str, Any]) -> str:
        """waiting, approved, denied, expired, or failed (the org did not take the answer)."""
        if record["answered"]:
            return record["result"]
        expires = _epoch(record.get("expiresAt"))
        if expires is not None and self.ctx.clock.now() >= expires:
            return "expired"
        return "waiting"

    def seconds_left(self, record: dict[str, Any]) -> int | None:
        expires = _epoch(record.get("expiresAt"))
        return None if expires is None else max(0, int(expires - self.ctx.clock.now()))

    def find(self, transaction_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r["transactionId"] == transaction_id), None)

    async def answer(self, record: dict[str, Any], choice: str, *, by: str, number: int | None = None) -> str:
        """Send Approve or Deny for `record` (with the number tapped, for a number challenge);
        returns its state afterwards. ValueError when a number challenge gets no number of its three."""
        result = "APPROVE" if choice == "approve" else "DENY"
        body: dict[str, Any] = {"result": result}
        if result == "APPROVE" and record.get("choices"):
            if number not in record["choices"]:
                raise ValueError("tap one of the numbers shown: "
                                 + ", ".join(str(n) for n in record["choices"]))
            body["number"] = number
        record["answered"] = self.ctx.clock.iso()      # taken now: no second answer races it
        record["by"] = by
        record["number"] = body.get("number")
        try:
            async with self.ctx.http_client(timeout=10, verify=lab_trust(self.ctx)) as client:
                resp = await client.post(record["_answerUrl"], json=body,
                                         headers={"Authorization": f"OktaVerify {record['_credential']}"})
            outcome = "ok" if resp.status_code < 300 else f"http {resp.status_code}"
            verdict = _factor_result(resp) if outcome == "ok" else None
        except httpx.HTTPError as exc:
            outcome, verdict = f"error: {why(exc)}", None
        # what the org made of it: a wrong number is denied, whatever the tap said
        record["result"] = "failed" if outcome != "ok" else \
            "approved" if verdict == "SUCCESS" or (verdict is None and result == "APPROVE") else "denied"
        self.ctx.record("phone.push_answered", peer="okta", outcome=outcome, user=record["login"],
                        result=result, by=by, transaction=record["transactionId"], device=record.get("device"),
                        number=record["number"])
        return str(record["result"])

    def public(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as `GET /pushes` shows it: no answer URL, no credential."""
        return {k: v for k, v in record.items() if not k.startswith("_")} | {"state": self.state(record)}

    def of(self, person: str) -> list[dict[str, Any]]:
        """`person`'s pushes, newest first."""
        wanted = person.lower()
        return [r for r in reversed(self.records) if r["login"].lower().split("@")[0] == wanted]
