"""The agent's calls to the org: the public Management API for users and groups (SSWS, as the
real agent's registration gives it a token), and the emulator-private agent channel
(`/api/v1/agents/ad/...`, see services/okta/agents.py) for registration, work and results.

Over `Http1Client` (services/common/http1.py), not httpx: an import makes a call per user, and
httpx cost the agent ~2.5 ms of CPU a call, as much as the org spent answering it (bench/README.md)."""
from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import urlsplit

from services.common.http1 import Http1Client, HttpError, Response
from services.common.tls import describe_error

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class OrgError(Exception):
    def __init__(self, what: str, resp: Response | None = None, detail: str = ""):
        code = ""
        if resp is not None:
            try:
                body = resp.json()
                code = f" {body.get('errorCode')} {body.get('errorSummary')}"
            except ValueError:
                code = f" HTTP {resp.status_code}"
        super().__init__(f"{what}:{code}{detail}")
        self.status = resp.status_code if resp is not None else None


class OrgClient:
    TIMEOUT = 60.0      # seconds for a call's whole exchange (the long poll gives its own)

    def __init__(self, http: Http1Client, base: str, api_token: str) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.headers = {"Authorization": f"SSWS {api_token}", "Accept": "application/json",
                        "User-Agent": "Okta AD Agent/3.16.0 (lab)"}

    async def call(self, method: str, path: str, what: str, *, ok: tuple[int, ...] = (200, 201, 202, 204),
                   params: dict[str, Any] | None = None, json: Any = None, timeout: float = TIMEOUT) -> Response:
        if path.startswith("http"):         # a Link header's URL: the org's own origin
            url = urlsplit(path)
            path = f"{url.path}?{url.query}" if url.query else url.path
        for attempt in range(4):
            try:
                resp = await self.http.request(method, path, params=params, json=json, headers=self.headers,
                                               timeout=timeout)
            except (HttpError, OSError, TimeoutError) as exc:
                raise OrgError(what, detail=f" {describe_error(exc) or f'{exc.__class__.__name__}: {exc}'}") from None
            if resp.status_code != 429 or attempt == 3:
                break
            # Rate limited (E0000047): wait for the bucket's reset, as Okta's clients do.
            try:
                wait = float(resp.headers.get("x-rate-limit-reset", "0")) - time.time()
            except ValueError:
                wait = 1.0
            await asyncio.sleep(min(max(wait, 0.5), 60.0))
        if resp.status_code not in ok:
            raise OrgError(what, resp)
        return resp

    async def all_pages(self, path: str, what: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Follow `Link: rel="next"` as the SDKs do."""
        out: list[dict[str, Any]] = []
        resp = await self.call("GET", path, what, params=params)
        while True:
            out += resp.json()
            m = _NEXT.search(resp.headers.get("link", ""))
            if not m:
                return out
            resp = await self.call("GET", m.group(1), what)

    # -- the agent channel --------------------------------------------------------------------------
    async def register(self, domain: str, netbios: str, host: str) -> dict[str, Any]:
        return (await self.call("POST", "/api/v1/agents/ad/register", "registering with the org",
                                json={"domain": domain, "netbiosName": netbios, "host": host,
                                      "version": "3.16.0"})).json()

    async def tasks(self, agent_id: str, wait: float) -> list[dict[str, Any]]:
        return (await self.call("GET", f"/api/v1/agents/ad/{agent_id}/tasks", "polling for work",
                                params={"wait": wait}, timeout=wait + 15)).json()

    async def result(self, agent_id: str, task_id: str, body: dict[str, Any]) -> None:
        await self.call("POST", f"/api/v1/agents/ad/{agent_id}/tasks/{task_id}", "reporting a result", json=body)

    async def request_import(self, directory_id: str, full: bool, trigger: str) -> dict[str, Any]:
        return (await self.call("POST", f"/api/v1/directories/{directory_id}/import", "requesting an import",
                                json={"full": full, "trigger": trigger})).json()

    # -- users and groups -------------------------------------------------------------------------
    async def users(self) -> list[dict[str, Any]]:
        """Every user, deactivated ones too (Okta's plain list leaves DEPROVISIONED users out)."""
        listed = await self.all_pages("/api/v1/users", "listing users", {"limit": 200})
        return listed + await self.all_pages("/api/v1/users", "listing deactivated users",
                                             {"limit": 200, "filter": 'status eq "DEPROVISIONED"'})

    async def lifecycle(self, uid: str, operation: str) -> None:
        """deactivate, suspend, unsuspend, or activate (without the email: AD users sign in with
        their AD password)."""
        params = {"sendEmail": "false"} if operation == "activate" else None
        await self.call("POST", f"/api/v1/users/{uid}/lifecycle/{operation}", f"{operation} a user", params=params)

    async def groups(self) -> list[dict[str, Any]]:
        return await self.all_pages("/api/v1/groups", "listing groups")

    async def group_members(self, gid: str) -> list[dict[str, Any]]:
        return await self.all_pages(f"/api/v1/groups/{gid}/users", "listing group members", {"limit": 1000})

    async def create_user(self, profile: dict[str, Any], domain: str,
                          group_ids: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"profile": profile,
                                "credentials": {"provider": {"type": "ACTIVE_DIRECTORY", "name": domain}}}
        if group_ids:
            body["groupIds"] = group_ids
        return (await self.call("POST", "/api/v1/users", f"creating {profile['login']}", params={"activate": "false"},
                                json=body)).json()

    async def update_user(self, uid: str, profile: dict[str, Any]) -> dict[str, Any]:
        return (await self.call("POST", f"/api/v1/users/{uid}", "updating a user", json={"profile": profile})).json()

    async def create_group(self, name: str, description: str | None) -> dict[str, Any]:
        return (await self.call("POST", "/api/v1/groups", f"creating group {name}",
                                json={"profile": {"name": name, "description": description}})).json()

    async def add_member(self, gid: str, uid: str) -> None:
        await self.call("PUT", f"/api/v1/groups/{gid}/users/{uid}", "adding a group member")

    async def remove_member(self, gid: str, uid: str) -> None:
        await self.call("DELETE", f"/api/v1/groups/{gid}/users/{uid}", "removing a group member")
