"""The Okta AD agent's channel to the org, and the directory integration the admin sees.

Okta does not publish the AD agent's protocol; what is known is its shape: the agent runs inside
the customer's network, makes only outbound HTTPS connections and long-polls Okta for work (import
jobs, delegated-authentication requests), then posts the results back. The lab keeps that shape
with emulator-private endpoints (SSWS-authenticated, like the RADIUS agent's):

- `POST /api/v1/agents/ad/register {"domain", "netbiosName", "host", "version"}` → the directory
  (the Active Directory app instance, `0oa…`) and the agent id. Registering again is idempotent.
- `GET  /api/v1/agents/ad/{agentId}/tasks?wait=<s>` long-poll → `[{"id","type":"import",...} |
  {"id","type":"authenticate","username","password"}]` (the password crosses this channel only,
  as it must reach AD; it is never stored or recorded).
- `POST /api/v1/agents/ad/{agentId}/tasks/{taskId}` → the result: `{"outcome"}` for an
  authentication, `{"status": "COMPLETED"|"FAILED", "counts", "error"}` for an import.

What the admin uses (Directory > Directory Integrations > Active Directory > Import):
- `GET /api/v1/directories`, `GET /api/v1/directories/{dirId}`
- `POST /api/v1/directories/{dirId}/import [{"full": true}]` → 202 with the import job (PENDING);
  the agent picks it up at its next poll.
- `GET /api/v1/directories/{dirId}/imports[/{jobId}]` → PENDING, RUNNING, COMPLETED, FAILED with
  counts (`users.created`, `users.updated`, `groups.created`, `memberships.added`, ...).

Import jobs are stored (they survive restarts); authentication requests live in memory."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from . import shapes
from .errors import invalid, json_body, not_found, string_field
from .ids import APP, new_id, token
from .org import Audit, Org

CONNECTED_SECONDS = 30.0     # an agent that polled this recently counts as connected
MAX_WAIT = 30.0


def _agents(org: Org) -> list[dict[str, Any]]:
    return org.store.all("ad_agents")


def agent_state(org: Org, a: dict[str, Any]) -> str:
    """ACTIVE when it polled within CONNECTED_SECONDS, then DISRUPTED, and INACTIVE once it has
    been silent for `agent_inactive_days` (7, as the Agents dashboard shows a revoked agent)."""
    silent = org.now() - a.get("lastSeenTs", 0)
    if silent <= CONNECTED_SECONDS:
        return "ACTIVE"
    return "INACTIVE" if silent > org.settings.agent_inactive_days * 86400 else "DISRUPTED"


def connected(org: Org, directory_id: str | None = None) -> bool:
    now = org.now()
    return any(now - a.get("lastSeenTs", 0) <= CONNECTED_SECONDS
               for a in _agents(org) if directory_id is None or a["directoryId"] == directory_id)


def _agent_for(org: Org, domain: str | None) -> dict[str, Any] | None:
    now = org.now()
    live = [a for a in _agents(org) if now - a.get("lastSeenTs", 0) <= CONNECTED_SECONDS]
    for a in live:
        d = org.store.get("directories", a["directoryId"]) or {}
        if domain and d.get("domain", "").lower() == domain.lower():
            return a
    return live[0] if live else None


async def delegate_auth(org: Org, user: dict[str, Any], upn: str, password: str) -> str:
    """Ask the user's directory's agent to check the password; "unavailable" if nobody answers."""
    return await _ask_agent(org, user, {"type": "authenticate", "username": upn, "password": password})


async def delegate_password_change(org: Org, user: dict[str, Any], upn: str, old: str, new: str) -> str:
    """Ask the agent to change the password in AD: ok, bad_old_password, policy, no_user, unavailable."""
    return await _ask_agent(org, user, {"type": "change_password", "username": upn, "oldPassword": old,
                                        "newPassword": new})


async def _ask_agent(org: Org, user: dict[str, Any], task: dict[str, Any]) -> str:
    """Queue a task for the user's directory's agent and wait for its outcome."""
    agent = _agent_for(org, (user.get("provider") or {}).get("name"))
    if agent is None:
        return "unavailable"
    h = org.hub
    tid = "tsk" + token(17)
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    h.pending_auth[tid] = fut
    h.push(agent["id"], {"id": tid, **task})
    try:
        return await asyncio.wait_for(fut, org.settings.delegated_auth_timeout_seconds)
    except TimeoutError:
        return "unavailable"
    finally:
        h.pending_auth.pop(tid, None)
        q = h.queues.get(agent["id"], [])
        h.queues[agent["id"]] = [t for t in q if t["id"] != tid]


def directory_view(org: Org, d: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/directories/{d['id']}")
    agents = [{"id": a["id"], "host": a.get("host"), "version": a.get("version"),
               "status": agent_state(org, a),
               "lastConnection": org.iso(a["lastSeenTs"]) if a.get("lastSeenTs") else None}
              for a in _agents(org) if a["directoryId"] == d["id"]]
    return {"id": d["id"], "name": "active_directory", "label": d["domain"], "domain": d["domain"],
            "netbiosName": d.get("netbiosName"), "status": "ACTIVE", "created": d["created"],
            "lastImport": d.get("lastImport"), "agents": agents,
            "_links": {"self": shapes.link(base), "imports": shapes.link(f"{base}/imports"),
                       "import": shapes.post_link(f"{base}/import")}}


def job_view(org: Org, j: dict[str, Any]) -> dict[str, Any]:
    base = org.href(f"/api/v1/directories/{j['directoryId']}/imports/{j['id']}")
    return {k: j.get(k) for k in ("id", "directoryId", "status", "full", "trigger", "created", "started",
                                  "finished", "counts", "error")} | {"_links": {"self": shapes.link(base)}}


def queue_import(org: Org, d: dict[str, Any], *, full: bool, trigger: str) -> dict[str, Any]:
    job = {"id": "imp" + token(17), "directoryId": d["id"], "status": "PENDING", "full": full,
           "trigger": trigger, "created": org.iso(), "started": None, "finished": None, "counts": None,
           "error": None}
    org.store.put("imports", job["id"], job)
    for a in _agents(org):
        if a["directoryId"] == d["id"]:
            org.hub.wake(a["id"])
    return job


def router(org: Org) -> APIRouter:
    r = APIRouter()

    def agent_of(agent_id: str) -> dict[str, Any]:
        return org.require("ad_agents", agent_id, "Agent")

    def directory(dir_id: str) -> dict[str, Any]:
        return org.require("directories", dir_id, "Directory")

    @r.post("/api/v1/agents/ad/register")
    async def register(request: Request):
        audit = Audit.of(request)
        data = await json_body(request)
        domain = string_field(data, "domain", required=True).lower()
        host = string_field(data, "host") or (request.client.host if request.client else None)
        d = next((x for x in org.store.all("directories") if x["domain"] == domain), None)
        if d is None:
            d = {"id": new_id(APP), "domain": domain, "netbiosName": string_field(data, "netbiosName"),
                 "created": org.iso(), "lastImport": None}
            org.store.put("directories", d["id"], d)
            org.syslog("system.agent.ad.create", audit=audit, message="Active Directory integration created",
                       targets=[{"id": d["id"], "type": "AppInstance", "alternateId": domain,
                                 "displayName": "Active Directory", "detailEntry": None}])
        a = next((x for x in _agents(org) if x["directoryId"] == d["id"] and x.get("host") == host), None)
        if a is None:
            a = {"id": "a53" + token(17), "directoryId": d["id"], "host": host, "created": org.iso()}
        a.update(version=string_field(data, "version") or "3.x", lastSeenTs=org.now())
        org.store.put("ad_agents", a["id"], a)
        org.record("okta.agent.register", audit, outcome="registered", agent=a["id"], directory=d["id"],
                   domain=domain)
        return shapes.respond({"agentId": a["id"], "directoryId": d["id"], "domain": domain})

    @r.get("/api/v1/agents/ad/{agent_id}/tasks")
    async def tasks(agent_id: str, request: Request):
        a = agent_of(agent_id)
        try:
            wait = min(max(float(request.query_params.get("wait", 0)), 0.0), MAX_WAIT)
        except ValueError:
            raise invalid("wait", "must be a number of seconds") from None
        h = org.hub
        event = h.wakeups.setdefault(agent_id, asyncio.Event())
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            a = agent_of(agent_id)      # re-read: an admin reset may have forgotten the agent
            if org.store.get("directories", a["directoryId"]) is None:
                raise not_found(a["directoryId"], "Directory")
            a["lastSeenTs"] = org.now()
            org.store.put("ad_agents", a["id"], a)
            out = list(h.queues.pop(agent_id, []))
            for job in org.store.all("imports"):
                if job["directoryId"] == a["directoryId"] and job["status"] == "PENDING":
                    job.update(status="RUNNING", started=org.iso(), agent=agent_id)
                    org.store.put("imports", job["id"], job)
                    out.append({"id": job["id"], "type": "import", "full": job["full"]})
            remaining = deadline - asyncio.get_running_loop().time()
            if out or remaining <= 0:
                return shapes.respond(out)
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 5.0))
            except TimeoutError:
                pass

    @r.post("/api/v1/agents/ad/{agent_id}/tasks/{task_id}")
    async def result(agent_id: str, task_id: str, request: Request):
        audit = Audit.of(request)
        a = agent_of(agent_id)
        data = await json_body(request)
        if task_id.startswith("tsk"):
            fut = org.hub.pending_auth.get(task_id)
            outcome = string_field(data, "outcome", required=True)
            if fut is not None and not fut.done():
                fut.set_result(outcome)
            return shapes.respond({"id": task_id, "accepted": fut is not None})
        job = org.store.get("imports", task_id)
        if job is None or job["directoryId"] != a["directoryId"]:
            raise not_found(task_id, "ImportJob")
        status = string_field(data, "status", required=True)
        if status not in ("RUNNING", "COMPLETED", "FAILED"):
            raise invalid("status", "must be RUNNING, COMPLETED or FAILED")
        job.update(status=status, counts=data.get("counts"), error=string_field(data, "error"))
        if status != "RUNNING":
            job["finished"] = org.iso()
            d = org.store.get("directories", a["directoryId"])
            if d is not None:
                d["lastImport"] = job["finished"]
                org.store.put("directories", d["id"], d)
            counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
            org.syslog("system.import.complete" if status == "COMPLETED" else "system.import.failure",
                       audit=audit, result="SUCCESS" if status == "COMPLETED" else "FAILURE",
                       message=f"Import from Active Directory {status.lower()}",
                       targets=[{"id": a["directoryId"], "type": "AppInstance", "alternateId": "active_directory",
                                 "displayName": "Active Directory", "detailEntry": counts}])
            shown: dict[str, Any] = {k: v for k, v in (counts or {}).items() if isinstance(v, (int, str))}
            org.record("okta.import", audit, outcome=status, job=job["id"], **shown)
        org.store.put("imports", job["id"], job)
        return shapes.respond(job_view(org, job))

    # -- the admin's side -----------------------------------------------------------------------
    @r.get("/api/v1/directories")
    async def directories():
        return shapes.respond([directory_view(org, d) for d in org.store.all("directories")])

    @r.get("/api/v1/directories/{dir_id}")
    async def read_directory(dir_id: str):
        return shapes.respond(directory_view(org, directory(dir_id)))

    @r.post("/api/v1/directories/{dir_id}/import")
    async def start_import(dir_id: str, request: Request):
        audit = Audit.of(request)
        d = directory(dir_id)
        data = await json_body(request, required=False)
        full = data.get("full", True)
        if not isinstance(full, bool):
            raise invalid("full", "must be a boolean")
        trigger = data.get("trigger", "admin")
        if trigger not in ("admin", "schedule"):
            raise invalid("trigger", "must be admin or schedule")
        if not connected(org, d["id"]):
            org.record("okta.import", audit, outcome="no_agent", directory=d["id"])
        job = queue_import(org, d, full=full, trigger=trigger)
        org.syslog("system.import.start", audit=audit, message="Import from Active Directory requested",
                   targets=[{"id": d["id"], "type": "AppInstance", "alternateId": "active_directory",
                             "displayName": "Active Directory", "detailEntry": None}])
        org.record("okta.import", audit, outcome="PENDING", job=job["id"], directory=d["id"], full=full)
        return shapes.respond(job_view(org, job), status=202)

    @r.get("/api/v1/directories/{dir_id}/imports")
    async def list_imports(dir_id: str):
        d = directory(dir_id)
        return shapes.respond([job_view(org, j) for j in org.store.all("imports") if j["directoryId"] == d["id"]])

    @r.get("/api/v1/directories/{dir_id}/imports/{job_id}")
    async def read_import(dir_id: str, job_id: str):
        d = directory(dir_id)
        j = org.store.get("imports", job_id)
        if j is None or j["directoryId"] != d["id"]:
            raise not_found(job_id, "ImportJob")
        return shapes.respond(job_view(org, j))

    return r
