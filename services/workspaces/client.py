"""The WorkSpaces client's sign-in: registration code → directory → AD Connector → WorkSpace.

One submission carries username, password and MFA code, as the client's sign-in page does when
MFA is on; there is no second round trip (AWS does not support RADIUS challenge/response).
"""
from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.context import ServiceContext

from . import messages
from .store import WorkspacesStore

# Long enough for a push approved on the last RADIUS retry: AD Connector allows at most
# 50 s × 11 attempts per server; the lab's defaults are far shorter.
CONNECTOR_TIMEOUT = 600.0


def register_routes(app: FastAPI, ctx: ServiceContext, store: WorkspacesStore) -> None:
    connector = ctx.peer_url("ad-connector")
    http = ctx.peer_client("ad-connector")      # shared by every sign-in, closed at shutdown

    def failure(status: int, message: str, reason: str, trace: str, username: str = "") -> JSONResponse:
        ctx.record("workspaces.signin", outcome="failure", trace=trace, user=username, reason=reason,
                   message=message)
        return JSONResponse({"message": message, "reason": reason}, status_code=status)

    @app.post("/client/signin")
    async def signin(request: Request) -> JSONResponse:
        trace = request.headers.get("X-Lab-Trace") or uuid.uuid4().hex[:16]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        fields = ("registrationCode", "username", "password", "mfaCode")
        if not isinstance(body, dict) or not all(isinstance(body.get(f, ""), str) for f in fields):
            return JSONResponse({"message": f"expected a JSON object with string fields {', '.join(fields)}",
                                 "reason": "bad_request"}, status_code=400)
        username = body.get("username", "").strip()
        directory = store.directory_by_registration_code(body.get("registrationCode", ""))
        if directory is None or directory.get("State") != "REGISTERED":
            return failure(404, messages.REGISTRATION_UNREACHABLE, "unknown_registration_code", trace, username)
        ctx.record("workspaces.signin_started", trace=trace, user=username,
                   directory=directory["DirectoryId"])
        try:
            resp = await http.post(f"{connector}/connector/authenticate", headers={"X-Lab-Trace": trace},
                                   timeout=CONNECTOR_TIMEOUT,
                                   json={"directoryId": directory["DirectoryId"], "username": username,
                                         "password": body.get("password", ""), "mfaCode": body.get("mfaCode", "")})
            verdict = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            return failure(503, messages.DIRECTORY_UNAVAILABLE, f"connector_unreachable: {exc.__class__.__name__}",
                           trace, username)
        if not verdict.get("authenticated"):
            return failure(401, messages.AUTH_FAILED, verdict.get("reason", "unknown"), trace, username)
        workspace = store.workspace_for(directory["DirectoryId"], username.split("@")[0].split("\\")[-1])
        if workspace is None:
            return failure(403, messages.NO_WORKSPACE, "no_workspace", trace, username)
        if workspace.get("State") != "AVAILABLE":
            return failure(503, messages.UNHEALTHY, f"workspace_{workspace.get('State', '').lower()}", trace, username)
        workspace["ConnectionState"] = "CONNECTED"
        workspace["LastKnownUserConnectionTimestamp"] = ctx.clock.iso()
        store.put_workspace(workspace)
        session = secrets.token_hex(8)
        ctx.record("workspaces.signin", outcome="success", trace=trace, user=username,
                   workspace=workspace["WorkspaceId"])
        return JSONResponse({"workspaceId": workspace["WorkspaceId"], "directoryId": directory["DirectoryId"],
                             "userName": workspace["UserName"], "computerName": workspace.get("ComputerName"),
                             "sessionId": session})
