"""Rebooting, stopping and starting WorkSpaces: RebootWorkspaces, StopWorkspaces, StartWorkspaces.

AWS's rules (WorkSpaces API Reference, the three operations): a WorkSpace can be rebooted when it is
AVAILABLE, UNHEALTHY or REBOOTING; stopped when its running mode is AutoStop or Manual and it is
AVAILABLE, IMPAIRED, UNHEALTHY or ERROR; started when its running mode is AutoStop or Manual and it
is STOPPED. Each call answers only `FailedRequests` (one entry per refused WorkSpace, the others
change state in the background): REBOOTING → AVAILABLE after `reboot_seconds`, STOPPING → STOPPED
and STARTING → AVAILABLE after `stage_delay_seconds`.

While a WorkSpace is not AVAILABLE its user's sign-in shows "WorkSpace Status: Unhealthy ... try
again in a few minutes" (signin.py). A sign-in to a STOPPED AutoStop WorkSpace starts it, as AWS
resumes AutoStop WorkSpaces when their user connects; the client's message while it starts is
that same one (a lab choice: AWS publishes no other wording for this case).
The FailedRequests' ErrorCode and ErrorMessage wording is the lab's (AWS documents none).
"""
from __future__ import annotations

import asyncio
from typing import Any

from . import models

REBOOTING, STOPPING, STOPPED, STARTING = "REBOOTING", "STOPPING", "STOPPED", "STARTING"
IMPAIRED, UNHEALTHY, ERROR = "IMPAIRED", "UNHEALTHY", "ERROR"
CAN_REBOOT = {models.AVAILABLE, UNHEALTHY, REBOOTING}
CAN_STOP = {models.AVAILABLE, IMPAIRED, UNHEALTHY, ERROR}
CAN_START = {STOPPED}
STOPPABLE_MODES = {"AUTO_STOP", "MANUAL"}


class Power:
    """The three operations, on the WorkSpaces service's store and background work."""

    def __init__(self, service: Any) -> None:
        self.service = service

    async def reboot(self, params: dict[str, Any], call: Any) -> dict[str, Any]:
        return self._each(params["RebootWorkspaceRequests"], call, "reboot", CAN_REBOOT, REBOOTING)

    async def stop(self, params: dict[str, Any], call: Any) -> dict[str, Any]:
        return self._each(params["StopWorkspaceRequests"], call, "stop", CAN_STOP, STOPPING)

    async def start(self, params: dict[str, Any], call: Any) -> dict[str, Any]:
        return self._each(params["StartWorkspaceRequests"], call, "start", CAN_START, STARTING)

    def start_on_signin(self, workspace: dict[str, Any], trace: str | None) -> bool:
        """A sign-in to a STOPPED AutoStop WorkSpace starts it; True when it did."""
        mode = (workspace.get("WorkspaceProperties") or {}).get("RunningMode")
        if workspace.get("State") != STOPPED or mode != "AUTO_STOP":
            return False
        self._begin(workspace, STARTING, trace)
        return True

    # -- plumbing ------------------------------------------------------------------------------
    def _each(self, requests: list[dict[str, Any]], call: Any, verb: str, allowed: set[str],
              during: str) -> dict[str, Any]:
        failed = []
        for request in requests:
            workspace_id = request.get("WorkspaceId", "")
            doc = self.service.store.get_workspace(workspace_id)
            refusal = self._refusal(doc, call.region, verb, allowed)
            if refusal is not None:
                failed.append({"WorkspaceId": workspace_id, "ErrorCode": refusal[0], "ErrorMessage": refusal[1]})
                self.service.ctx.record("workspaces.workspace_state", outcome=f"{verb}_refused", trace=call.trace,
                                        workspace=workspace_id, reason=refusal[0])
                continue
            assert doc is not None
            self._begin(doc, during, call.trace)
        return {"FailedRequests": failed}

    def _refusal(self, doc: dict[str, Any] | None, region: str, verb: str,
                 allowed: set[str]) -> tuple[str, str] | None:
        if doc is None or not self.service._in(doc, region) or doc.get("State") == models.TERMINATED:
            return "ResourceNotFound.Workspace", "The specified WorkSpace could not be found in the specified region."
        mode = (doc.get("WorkspaceProperties") or {}).get("RunningMode")
        if verb != "reboot" and mode not in STOPPABLE_MODES:
            return ("OperationNotSupported.RunningMode",
                    f"The WorkSpace {doc['WorkspaceId']} has running mode {mode}; only AutoStop and Manual "
                    f"WorkSpaces can be {'stopped' if verb == 'stop' else 'started'}.")
        if doc.get("State") not in allowed:
            return ("InvalidResourceState.Workspace",
                    f"The WorkSpace {doc['WorkspaceId']} is {doc.get('State')}; it can be {verb}"
                    f"{'p' if verb == 'stop' else ''}ed only when {', '.join(sorted(allowed))}.")
        return None

    def _begin(self, doc: dict[str, Any], during: str, trace: str | None) -> None:
        doc["State"] = during
        self.service.store.put_workspace(doc)
        self.service.ctx.record("workspaces.workspace_state", outcome=during, trace=trace,
                                workspace=doc["WorkspaceId"])
        self.service.work.start(("workspace", doc["WorkspaceId"]), self._finish(doc["WorkspaceId"], during))

    async def _finish(self, workspace_id: str, during: str) -> None:
        settings = self.service.settings
        await asyncio.sleep(settings.reboot_seconds if during == REBOOTING else settings.stage_delay_seconds)
        doc = self.service.store.get_workspace(workspace_id)
        if doc is None or doc.get("State") != during:
            return
        if during == STOPPING:
            doc["State"] = STOPPED
            doc["ConnectionState"] = "DISCONNECTED"
            self.service.store.put_workspace(doc)
        else:
            self.service.store.put_workspace(models.make_available(doc))
        self.service.ctx.record("workspaces.workspace_state", outcome=doc["State"], workspace=workspace_id)
