"""Push notifications on the phone: what arrived from the org (standing in for APNs/FCM), and how
each is answered: by the account's scripted behaviour (approve or deny, after N seconds; ignore
leaves it to the person), or by the person tapping Approve or Deny on the phone's page. A push
is answerable until the org's own expiry (`expiresAt` in the notification), then it is expired.
The answer goes to the org's `answerUrl` with the device credential, as the real app does."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from services.common.context import ServiceContext

from .authenticator import Account, NoSuchAccount, Wallet


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class PushInbox:
    def __init__(self, ctx: ServiceContext, wallet: Wallet, records: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.wallet = wallet
        self.records = records            # `GET /pushes`; emptied by the phone's reset
        self.tasks: set[asyncio.Task[None]] = set()

    def receive(self, data: dict[str, Any]) -> dict[str, Any]:
        """A notification from the org; KeyError when no account on this phone is enrolled for it."""
        login = str(data.get("login", ""))
        try:
            acc: Account | None = self.wallet.find(login)
        except NoSuchAccount:
            acc = None
        if acc is None or acc.device_credential is None or acc.push_factor_id != data.get("factorId"):
            self.ctx.record("phone.push_received", peer="okta", outcome="unknown_account", user=login)
            raise KeyError(login)
        client = data.get("client") if isinstance(data.get("client"), dict) else {}
        record: dict[str, Any] = {
            "transactionId": data.get("transactionId"), "login": acc.login, "received": self.ctx.clock.iso(),
            "expiresAt": data.get("expiresAt"), "org": data.get("org"), "client": client,
            "action": acc.action, "after": acc.after, "answered": None, "result": None, "by": None,
            "_answerUrl": str(data.get("answerUrl")), "_credential": acc.device_credential}
        self.records.append(record)
        del self.records[:-200]                       # keep the last 200
        self.ctx.record("phone.push_received", peer="okta", outcome=acc.action, user=acc.login,
                        transaction=record["transactionId"], trace=data.get("trace"))
        if acc.action != "ignore":
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

    async def answer(self, record: dict[str, Any], choice: str, *, by: str) -> str:
        """Send Approve or Deny for `record`; returns its state afterwards."""
        result = "APPROVE" if choice == "approve" else "DENY"
        record["answered"] = self.ctx.clock.iso()      # taken now: no second answer races it
        record["by"] = by
        try:
            async with self.ctx.http_client(timeout=10) as client:
                resp = await client.post(record["_answerUrl"], json={"result": result},
                                         headers={"Authorization": f"OktaVerify {record['_credential']}"})
            outcome = "ok" if resp.status_code < 300 else f"http {resp.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"error: {exc.__class__.__name__}"
        record["result"] = ("approved" if result == "APPROVE" else "denied") if outcome == "ok" else "failed"
        self.ctx.record("phone.push_answered", peer="okta", outcome=outcome, user=record["login"],
                        result=result, by=by, transaction=record["transactionId"])
        return str(record["result"])

    def public(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as `GET /pushes` shows it: no answer URL, no credential."""
        return {k: v for k, v in record.items() if not k.startswith("_")} | {"state": self.state(record)}

    def of(self, person: str) -> list[dict[str, Any]]:
        """`person`'s pushes, newest first."""
        wanted = person.lower()
        return [r for r in reversed(self.records) if r["login"].lower().split("@")[0] == wanted]
