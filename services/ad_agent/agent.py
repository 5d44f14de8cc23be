"""The agent's life: register with the org, then long-poll it for work (import jobs, password
checks) while a timer asks for an incremental import every `import_interval_seconds`.

The agent only makes outbound connections (to the org over HTTP, to the DC over LDAP), from its
own address, like the real agent on `InstanceOkta`. What it remembers across restarts is in
`<state>/ad-agent/agent.json`: its registration and the last import (time and counts), so a restart
does not import again before the interval is up.

Settings: settings.py (read once, at start-up)."""
from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from services.common.context import ServiceContext
from services.common.http1 import Http1Client
from services.common.tls import peer_https

from . import directory
from .importer import run_import
from .okta import OrgClient, OrgError
from .settings import AgentSettings


class Agent:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.settings = AgentSettings.from_settings(ctx.settings)    # a bad value is a bad config (exit 4)
        seed = ctx.seed()                     # the directory side of the seed: always there
        dom = seed.get("domain", {})
        self.domain = str(dom.get("dns_name", "corp.example.com")).lower()
        self.netbios = str(dom.get("netbios_name", "CORP"))
        self.base_dn = str(dom.get("base_dn") or ",".join(f"DC={p}" for p in self.domain.split(".")))
        account = self.settings.service_account
        entry = next((a for a in seed.get("service_accounts", []) if a["sam"].lower() == account.lower()), None)
        if entry is None:
            raise ValueError(f"the seed has no service account {account} for the Okta AD agent")
        self.bind_user = f"{self.netbios}\\{entry['sam']}"
        self._bind_password = str(entry["password"])
        self.path: Path = ctx.state_dir / "agent.json"
        self.state: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.registered = False
        self.org_answered = False      # the org refused us (e.g. a revoked token): up, but DISRUPTED
        self.last_error: str | None = None
        self.importing = asyncio.Lock()
        self.org_url = ctx.peer_url("okta")
        self._work: set[asyncio.Task[None]] = set()    # running jobs, kept so they are not collected

    # -- state -----------------------------------------------------------------------------------
    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        os.replace(tmp, self.path)

    def org(self, http: Http1Client) -> OrgClient:
        return OrgClient(http, self.org_url, self.ctx.credential("okta_api_token"))

    # -- the loops -------------------------------------------------------------------------------
    async def run(self) -> None:
        # https://<org> verified against the lab CA, leaving from InstanceOkta's address.
        self.org_url, verify = peer_https(self.ctx, "okta")
        http = Http1Client(self.org_url, local_address=self.ctx.source_address, ssl_context=verify)
        try:
            org = self.org(http)
            await self.register(org)
            timer = asyncio.create_task(self.schedule(org))
            try:
                await self.work(org)
            finally:
                timer.cancel()
        finally:
            await http.aclose()

    async def register(self, org: OrgClient) -> None:
        attempt = 0
        while True:
            try:
                reg = await org.register(self.domain, self.netbios, self.ctx.source_address)
                if reg["directoryId"] != self.state.get("directoryId"):
                    self.state.pop("fullImportDone", None)     # a new integration starts with a full import
                self.state.update(agentId=reg["agentId"], directoryId=reg["directoryId"])
                self.save()
                self.registered, self.last_error = True, None
                self.ctx.record("agent.register", peer="okta", outcome="registered", agent=reg["agentId"],
                                directory=reg["directoryId"], domain=self.domain)
                return
            except OrgError as exc:
                self.last_error = str(exc)
                self.org_answered = self.org_answered or exc.status is not None
                self.ctx.record("agent.register", peer="okta", outcome="failed", reason=str(exc)[:200])
                # The org may still be starting (the lab starts everything at once): retry within a
                # second while it has never answered, then back off to the retry interval.
                attempt += 1
                starting = not self.org_answered and attempt <= 10
                await asyncio.sleep(min(self.settings.retry_seconds, 1.0 if starting else 0.2 * 2 ** attempt))

    async def schedule(self, org: OrgClient) -> None:
        """Ask the org for an import when the interval is up (it is then run like any other job,
        so the admin sees scheduled imports in the same list)."""
        interval = self.settings.import_interval_seconds
        if self.settings.import_on_start and not self.state.get("lastImportTs"):
            await self.request(org, full=True, trigger="schedule")
        while True:
            due = float(self.state.get("lastImportTs") or time.time()) + interval
            await asyncio.sleep(max(0.5, min(due - time.time(), 60.0)))
            if time.time() >= due:
                self.state["lastImportTs"] = time.time()    # not again before the next interval
                self.save()
                # Incremental imports read what changed since a full one; until a full import has
                # completed (the one on start may have failed: the DC still starting), ask for full.
                await self.request(org, full=not self.state.get("fullImportDone"), trigger="schedule")

    async def request(self, org: OrgClient, *, full: bool, trigger: str) -> None:
        try:
            await org.request_import(self.state["directoryId"], full, trigger)
        except OrgError as exc:
            self.ctx.record("agent.import", peer="okta", outcome="request_failed", reason=str(exc)[:200])

    async def work(self, org: OrgClient) -> None:
        wait = self.settings.poll_wait_seconds
        while True:
            try:
                tasks = await org.tasks(self.state["agentId"], wait)
                self.last_error = None
            except OrgError as exc:
                self.last_error = str(exc)
                self.ctx.record("agent.poll", peer="okta", outcome="failed", reason=str(exc)[:200])
                if exc.status == 404:          # the org forgot us (reset): register again
                    await self.register(org)
                await asyncio.sleep(self.settings.retry_seconds)
                continue
            for task in tasks:
                if task.get("type") == "authenticate":
                    self._spawn(self.authenticate(org, task))
                elif task.get("type") == "change_password":
                    self._spawn(self.change_password(org, task))
                elif task.get("type") == "import":
                    self._spawn(self.import_job(org, task))

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        running = asyncio.create_task(job)
        self._work.add(running)
        running.add_done_callback(self._work.discard)

    # -- the work --------------------------------------------------------------------------------
    async def authenticate(self, org: OrgClient, task: dict[str, Any]) -> None:
        host, port = self.ctx.peer_address("dc", "ldap")
        outcome = await asyncio.to_thread(directory.check_password, host, port, str(task.get("username", "")),
                                          str(task.get("password", "")), source=self.ctx.source_address)
        self.ctx.record("agent.auth", peer=host, outcome=outcome, user=task.get("username"))
        try:
            await org.result(self.state["agentId"], task["id"], {"outcome": outcome})
        except OrgError as exc:
            self.ctx.record("agent.auth", peer="okta", outcome="report_failed", reason=str(exc)[:200])

    async def change_password(self, org: OrgClient, task: dict[str, Any]) -> None:
        """A password change the org asks for (the user's old and new passwords; neither logged)."""
        host, port = self.ctx.peer_address("dc", "ldap")
        outcome = await asyncio.to_thread(
            directory.change_password, host, port, self.bind_user, self._bind_password, self.base_dn,
            str(task.get("username", "")), str(task.get("oldPassword", "")), str(task.get("newPassword", "")),
            source=self.ctx.source_address)
        self.ctx.record("agent.password_change", peer=host, outcome=outcome, user=task.get("username"))
        try:
            await org.result(self.state["agentId"], task["id"], {"outcome": outcome})
        except OrgError as exc:
            self.ctx.record("agent.password_change", peer="okta", outcome="report_failed", reason=str(exc)[:200])

    async def import_job(self, org: OrgClient, task: dict[str, Any]) -> None:
        async with self.importing:              # one import at a time, as the real agent
            started = time.monotonic()
            host, port = self.ctx.peer_address("dc", "ldap")
            try:
                users, groups = await asyncio.to_thread(
                    directory.read, host, port, self.bind_user, self._bind_password, self.base_dn,
                    list(self.settings.user_ous), list(self.settings.group_ous),
                    source=self.ctx.source_address, page=self.settings.page_size)
                self.ctx.record("agent.ldap", peer=host, outcome="read", users=len(users), groups=len(groups),
                                bind=self.bind_user)
                counts = await run_import(org, self.domain, users, groups,
                                          list(self.settings.exclude_users),
                                          full=bool(task.get("full", True)), lifecycle=self.settings.lifecycle)
                body: dict[str, Any] = {"status": "COMPLETED", "counts": counts}
            except (directory.DirectoryError, OrgError) as exc:
                counts, body = {}, {"status": "FAILED", "error": str(exc)[:300]}
            seconds = round(time.monotonic() - started, 3)
            self.state.update(lastImportTs=time.time(), lastImport={"job": task["id"], "status": body["status"],
                                                                    "counts": counts, "seconds": seconds})
            if body["status"] == "COMPLETED" and task.get("full", True):
                self.state["fullImportDone"] = True
            self.save()
            self.ctx.record("agent.import", peer="okta", outcome=body["status"], job=task["id"], full=task.get("full"),
                            seconds=seconds, error=body.get("error"), **counts)
            try:
                await org.result(self.state["agentId"], task["id"], body)
            except OrgError as exc:
                self.ctx.record("agent.import", peer="okta", outcome="report_failed", reason=str(exc)[:200])
