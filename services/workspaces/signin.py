"""One client sign-in, whatever the client: registration code → directory → the directory's access
property for the client's device type → `/connector/authenticate` → the user's WorkSpace.

The desktop client's `POST /client/signin` (client.py) and Web Access's pages (web_access.py) both
go through `SignIn.attempt`, so a refusal, its message and its events are the same in both.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.common.context import ServiceContext
from services.common.http1 import Http1Client, HttpError

from . import messages, models
from .store import WorkspacesStore

# AD Connector's reasons that say the directory itself cannot serve the sign-in (its domain
# controllers unreachable, or the directory not Active): the client shows "Directory Unavailable",
# not "Authentication Failed" (docs/aws.md, the client's messages).
DIRECTORY_DOWN = frozenset({"dc_unreachable", "directory_not_active"})
# Long enough for a push approved on the last RADIUS retry: AD Connector allows at most
# 50 s × 11 attempts per server; the lab's defaults are far shorter.
CONNECTOR_TIMEOUT = 600.0


@dataclass
class Outcome:
    """What the client shows: on success the WorkSpace; on failure `message` (the client's words),
    `reason` (the step that failed, for the journal) and the HTTP status the JSON client answers."""
    ok: bool
    status: int = 200
    message: str = ""
    reason: str = ""
    workspace: dict[str, Any] = field(default_factory=dict)
    directory_id: str = ""
    session: str = ""

    def body(self) -> dict[str, Any]:
        if not self.ok:
            return {"message": self.message, "reason": self.reason}
        return {"workspaceId": self.workspace["WorkspaceId"], "directoryId": self.directory_id,
                "userName": self.workspace["UserName"], "computerName": self.workspace.get("ComputerName"),
                "sessionId": self.session}


class SignIn:
    def __init__(self, ctx: ServiceContext, store: WorkspacesStore,
                 on_stopped: Callable[[dict[str, Any], str | None], bool] | None = None) -> None:
        self.ctx = ctx
        self.store = store
        self.on_stopped = on_stopped      # starts a STOPPED AutoStop WorkSpace (power.py)
        # One client for every sign-in (closed at shutdown), on services/common/http1.py rather
        # than httpx: httpx/httpcore/anyio/h11 were 40% of WorkSpaces' CPU per sign-in. Leaves from
        # WorkSpaces' own address, so the connector's journal and faults see this host. No
        # practical bound on connections: a sign-in may hold one for minutes waiting on a push.
        ctx.peer("ad-connector")        # a topology without the connector fails here, at start-up
        self.http = Http1Client(ctx.peer_url("ad-connector"), max_connections=100_000,
                                local_address=ctx.source_address)

    def directory(self, registration_code: str) -> dict[str, Any] | None:
        """The REGISTERED directory a registration code names, or None."""
        directory = self.store.directory_by_registration_code(registration_code)
        return directory if directory is not None and directory.get("State") == models.REGISTERED else None

    def _failure(self, status: int, message: str, reason: str, trace: str, username: str) -> Outcome:
        self.ctx.record("workspaces.signin", outcome="failure", trace=trace, user=username, reason=reason,
                        message=message)
        return Outcome(False, status, message, reason)

    async def attempt(self, *, registration_code: str, username: str, password: str, mfa_code: str,
                      device_type: str, trace: str) -> Outcome:
        """`device_type` is a WorkspaceAccessProperties member (`DeviceTypeWeb`, `DeviceTypeWindows`)."""
        username = username.strip()
        directory = self.directory(registration_code)
        if directory is None:
            return self._failure(404, messages.REGISTRATION_UNREACHABLE, "unknown_registration_code", trace, username)
        if models.device_access(directory, device_type) != "ALLOW":
            return self._failure(403, messages.DEVICE_DENIED, f"access_denied_{device_type}", trace, username)
        self.ctx.record("workspaces.signin_started", trace=trace, user=username, directory=directory["DirectoryId"],
                        device=device_type)
        try:
            resp = await self.http.request("POST", "/connector/authenticate", headers={"X-Lab-Trace": trace},
                                           timeout=CONNECTOR_TIMEOUT,
                                           json={"directoryId": directory["DirectoryId"], "username": username,
                                                 "password": password, "mfaCode": mfa_code})
            verdict = resp.json()
        except (HttpError, TimeoutError, ValueError) as exc:
            return self._failure(503, messages.DIRECTORY_UNAVAILABLE,
                                 f"connector_unreachable: {exc.__class__.__name__}", trace, username)
        if not isinstance(verdict, dict) or not verdict.get("authenticated"):
            reason = verdict.get("reason", "unknown") if isinstance(verdict, dict) else "unknown"
            if reason in DIRECTORY_DOWN:
                return self._failure(503, messages.DIRECTORY_UNAVAILABLE, reason, trace, username)
            return self._failure(401, messages.AUTH_FAILED, reason, trace, username)
        workspace = self.store.workspace_for(directory["DirectoryId"], username.split("@")[0].split("\\")[-1])
        if workspace is None:
            return self._failure(403, messages.NO_WORKSPACE, "no_workspace", trace, username)
        if workspace.get("State") != models.AVAILABLE:
            state = workspace.get("State", "")
            if self.on_stopped is not None and self.on_stopped(workspace, trace):
                state = "stopped_now_starting"       # AutoStop resumes on connect: try again shortly
            return self._failure(503, messages.UNHEALTHY, f"workspace_{state.lower()}", trace, username)
        workspace["ConnectionState"] = "CONNECTED"
        workspace["LastKnownUserConnectionTimestamp"] = self.ctx.clock.iso()
        self.store.put_workspace(workspace)
        self.ctx.record("workspaces.signin", outcome="success", trace=trace, user=username,
                        workspace=workspace["WorkspaceId"], device=device_type)
        return Outcome(True, workspace=workspace, directory_id=directory["DirectoryId"],
                       session=secrets.token_hex(8))
