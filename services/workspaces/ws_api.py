"""The Amazon WorkSpaces API (`WorkspacesService.*`): directories, WorkSpaces, connection status.

Operations: RegisterWorkspaceDirectory, DescribeWorkspaceDirectories, DeregisterWorkspaceDirectory,
ModifyWorkspaceAccessProperties, CreateWorkspaces, DescribeWorkspaces,
DescribeWorkspacesConnectionStatus, DescribeWorkspaceBundles (the catalog is bundles.py). The wire is
services/common/aws_api.py; documents and filters are models.py; the AD Connector is asked over the
network (connector.py).

Asynchronous, as in AWS, with `stage_delay_seconds` (settings.py) between states:
REGISTERING → REGISTERED, DEREGISTERING → gone, PENDING → AVAILABLE. Where moto differs from AWS
(docs/aws.md, "Where the lab follows AWS and moto does not") this follows AWS:
RegisterWorkspaceDirectory returns DirectoryId and State, refuses a directory that is not Active,
raises ResourceAlreadyExistsException, and uses the connector's own service account; user names
compare case-insensitively.
"""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from services.common import aws_api
from services.common.aws_api import AwsError, AwsModel, Call
from services.common.background import Background
from services.common.context import ServiceContext

from . import bundles, models
from .connector import Connector, ConnectorUnavailable
from .power import Power
from .settings import WorkspacesSettings
from .store import WorkspacesStore

NOT_FOUND = "The specified directory could not be found in the specified region."


class WorkspacesService:
    def __init__(self, ctx: ServiceContext, store: WorkspacesStore, settings: WorkspacesSettings,
                 connector: Connector | None = None) -> None:
        self.ctx = ctx
        self.store = store
        self.settings = settings
        self.connector = connector or Connector(ctx)
        self.model = AwsModel("workspaces")
        self.work = Background(ctx.log)    # keys ("directory", id) and ("workspace", id)
        self.power = Power(self)           # Reboot/Stop/StartWorkspaces (power.py)

    def mount(self, app: FastAPI) -> None:
        aws_api.mount(app, self.ctx, model=self.model, invalid_parameter_code="InvalidParameterValuesException",
                      handlers={
                          "RegisterWorkspaceDirectory": self.register_directory,
                          "DescribeWorkspaceDirectories": self.describe_directories,
                          "DeregisterWorkspaceDirectory": self.deregister_directory,
                          "CreateWorkspaces": self.create_workspaces,
                          "DescribeWorkspaces": self.describe_workspaces,
                          "DescribeWorkspacesConnectionStatus": self.describe_connection_status,
                          "DescribeWorkspaceBundles": self.describe_bundles,
                          "ModifyWorkspaceAccessProperties": self.modify_access_properties,
                          "RebootWorkspaces": self.power.reboot,
                          "StopWorkspaces": self.power.stop,
                          "StartWorkspaces": self.power.start,
                      })

    async def resume(self) -> None:
        """After a restart, finish transitions a previous process left half-way."""
        for directory in self.store.directories():
            if directory.get("State") == models.REGISTERING:
                self.work.start(("directory", directory["DirectoryId"]),
                                self._finish_registration(directory["DirectoryId"]))
            elif directory.get("State") == models.DEREGISTERING:
                self.work.start(("directory", directory["DirectoryId"]),
                                self._finish_deregistration(directory["DirectoryId"]))
        for workspace in self.store.workspaces():
            if workspace.get("State") == models.PENDING:
                self.work.start(("workspace", workspace["WorkspaceId"]),
                                self._finish_workspace(workspace["WorkspaceId"]))
            elif workspace.get("State") in ("REBOOTING", "STOPPING", "STARTING"):
                self.work.start(("workspace", workspace["WorkspaceId"]),
                                self.power._finish(workspace["WorkspaceId"], workspace["State"]))

    def cancel_all(self) -> None:
        self.work.cancel_all()

    # Each Region has its own directories and WorkSpaces, as on AWS: the Region the call is signed
    # for. Documents from before Regions were kept are in the lab's default Region.
    def _in(self, doc: dict[str, Any] | None, region: str) -> bool:
        return doc is not None and (doc.get("Region") or self.ctx.credential("aws_region")) == region

    def _directory(self, directory_id: str, region: str) -> dict[str, Any] | None:
        doc = self.store.get_directory(directory_id)
        return doc if self._in(doc, region) else None

    # -- directories ----------------------------------------------------------------------------------
    async def register_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        directory_id = params.get("DirectoryId")
        if not directory_id:
            raise AwsError("InvalidParameterValuesException",
                           "The DirectoryId parameter is required to register an AWS Directory Service directory.")
        if self._directory(directory_id, call.region) is not None:
            raise AwsError("ResourceAlreadyExistsException",
                           f"The directory {directory_id} is already registered with Amazon WorkSpaces.")
        try:
            ds = await self.connector.describe_directory(directory_id, call.region, call.trace)
        except ConnectorUnavailable as exc:
            raise AwsError("InternalServerException", f"AWS Directory Service is unavailable ({exc}).") from None
        if ds is None:
            raise AwsError("ResourceNotFoundException", NOT_FOUND, ResourceId=directory_id)
        if ds.get("Type") not in models.DIRECTORY_TYPES:
            raise AwsError("OperationNotSupportedException",
                           f"Directories of type {ds.get('Type')} cannot be registered with Amazon WorkSpaces.")
        if ds.get("Stage") != "Active":
            raise AwsError("InvalidResourceStateException", f"The specified directory is not in a valid state "
                           f"for this operation. Directory {directory_id} is {ds.get('Stage')}; it must be Active.")
        try:   # before anything is stored: the directory is in use from REGISTERING on
            await self.connector.set_registered(directory_id, True, call.trace)
        except ConnectorUnavailable as exc:
            raise AwsError("InternalServerException", f"AWS Directory Service is unavailable ({exc}).") from None
        taken = {d.get("RegistrationCode", "").lower() for d in self.store.directories()}
        prefix = self.settings.registration_code_prefix or models.region_prefix(call.region)
        code = models.registration_code(prefix, taken)
        doc = models.new_directory(ds, params, region=call.region, code=code, account=self.settings.account_id)
        self.store.put_directory(doc)
        self.ctx.record("workspaces.directory_state", outcome=models.REGISTERING, trace=call.trace,
                        directory=directory_id, registration_code=doc["RegistrationCode"])
        self.work.start(("directory", directory_id), self._finish_registration(directory_id))
        return {"DirectoryId": directory_id, "State": models.REGISTERING}

    async def _finish_registration(self, directory_id: str) -> None:
        await asyncio.sleep(self.settings.stage_delay_seconds)
        doc = self.store.get_directory(directory_id)
        if doc is None or doc.get("State") != models.REGISTERING:
            return
        doc["State"] = models.REGISTERED
        self.store.put_directory(doc)
        self.ctx.record("workspaces.directory_state", outcome=models.REGISTERED, directory=directory_id)

    async def describe_directories(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        docs = [d for d in self.store.directories() if self._in(d, call.region) and models.directory_matches(d, params)]
        items, token = models.PAGER.page(docs, params, ("DirectoryIds", "WorkspaceDirectoryNames", "Filters"))
        # Every device type the model lists, also for a directory stored before a type existed.
        items = [{**d, "WorkspaceAccessProperties": models.access_properties(d)} for d in items]
        out: dict[str, Any] = {"Directories": items}
        if token:
            out["NextToken"] = token
        return out

    async def modify_access_properties(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        """Which clients may connect (the console's "Access Control Options"): the members sent
        replace the stored ones, the others stay; the model has checked every value."""
        directory_id = params["ResourceId"]
        doc = self._directory(directory_id, call.region)
        if doc is None:
            raise AwsError("ResourceNotFoundException", NOT_FOUND, ResourceId=directory_id)
        changes = params["WorkspaceAccessProperties"]
        if not changes:
            raise AwsError("InvalidParameterValuesException",
                           "WorkspaceAccessProperties must set at least one device type or AccessEndpointConfig.")
        if doc.get("State") == models.DEREGISTERING:
            raise AwsError("OperationNotSupportedException",
                           f"The directory {directory_id} is being deregistered; its access properties cannot change.")
        doc["WorkspaceAccessProperties"] = {**models.access_properties(doc), **changes}
        self.store.put_directory(doc)
        self.ctx.record("workspaces.access_properties", trace=call.trace, directory=directory_id,
                        **{k: v for k, v in changes.items() if k.startswith("DeviceType")})
        return {}

    async def deregister_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        directory_id = params["DirectoryId"]
        doc = self._directory(directory_id, call.region)
        if doc is None:
            raise AwsError("ResourceNotFoundException", NOT_FOUND, ResourceId=directory_id)
        if doc.get("State") != models.REGISTERED:
            raise AwsError("InvalidResourceStateException", f"The directory {directory_id} is {doc.get('State')}; "
                           "only a REGISTERED directory can be deregistered.")
        live = [w for w in self.store.workspaces_in(directory_id) if w.get("State") != models.TERMINATED]
        if live:
            raise AwsError("OperationNotSupportedException", f"The directory {directory_id} cannot be deregistered "
                           f"while it has WorkSpaces ({len(live)}). Terminate them first.")
        doc["State"] = models.DEREGISTERING
        self.store.put_directory(doc)
        self.ctx.record("workspaces.directory_state", outcome=models.DEREGISTERING, trace=call.trace,
                        directory=directory_id)
        self.work.start(("directory", directory_id), self._finish_deregistration(directory_id))
        return {}

    async def _finish_deregistration(self, directory_id: str) -> None:
        await asyncio.sleep(self.settings.stage_delay_seconds)
        doc = self.store.get_directory(directory_id)
        if doc is None or doc.get("State") != models.DEREGISTERING:
            return
        await self._release(directory_id)
        self.store.delete_directory(directory_id)
        self.ctx.record("workspaces.directory_state", outcome="DEREGISTERED", directory=directory_id)

    async def _release(self, directory_id: str) -> None:
        """Tell the connector the directory is free; retried until it hears (the directory stays
        DEREGISTERING meanwhile, so nothing is lost if the connector is down)."""
        pause = self.settings.stage_delay_seconds or 0.1
        while True:
            try:
                await self.connector.set_registered(directory_id, False)
                return
            except ConnectorUnavailable as exc:
                self.ctx.log.warning("deregistering %s: the AD Connector did not answer (%s); retrying in %.1fs",
                                     directory_id, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    # -- WorkSpaces -----------------------------------------------------------------------------------
    async def create_workspaces(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        failed: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        claimed: set[tuple[str, str]] = set()
        for request in params["Workspaces"]:
            try:
                doc = await self._create_one(request, claimed, call)
            except _Failed as failure:
                failed.append({"WorkspaceRequest": request, "ErrorCode": failure.code,
                               "ErrorMessage": failure.message})
                self.ctx.record("workspaces.create", outcome=failure.code, trace=call.trace,
                                directory=request.get("DirectoryId"), user=request.get("UserName"))
                continue
            pending.append(doc)
        return {"FailedRequests": failed, "PendingRequests": pending}

    async def _create_one(self, request: dict[str, Any], claimed: set[tuple[str, str]], call: Call) -> dict[str, Any]:
        directory_id, user_name = request["DirectoryId"], request["UserName"]
        directory = self._directory(directory_id, call.region)
        if directory is None:
            raise _Failed("ResourceNotFound.Directory", NOT_FOUND)
        if directory.get("State") != models.REGISTERED:
            raise _Failed("InvalidResourceState.Directory",
                          f"The directory {directory_id} is {directory.get('State')}, not REGISTERED.")
        try:
            user = await self.connector.lookup_user(directory_id, user_name, call.trace)
        except ConnectorUnavailable as exc:
            raise _Failed("ResourceUnavailable.Directory", f"The directory could not be reached: {exc}") from None
        if user is None:
            raise _Failed("ResourceNotFound.User",
                          f"The user {user_name} could not be found in the directory {directory_id}.")
        canonical = user.get("sAMAccountName") or user_name
        key = (directory_id, canonical.lower())
        existing = self.store.workspace_for(directory_id, canonical)
        if key in claimed or (existing is not None and existing.get("State") != models.TERMINATED):
            raise _Failed("ResourceExists.WorkSpace",
                          f"The user {canonical} already has a WorkSpace in the directory {directory_id}.")
        claimed.add(key)
        doc = models.new_workspace(request, workspace_id=models.new_workspace_id(
            lambda i: self.store.get_workspace(i) is not None), user_name=canonical, directory=directory)
        self.store.put_workspace(doc)
        self.ctx.record("workspaces.create", outcome=models.PENDING, trace=call.trace, directory=directory_id,
                        user=canonical, workspace=doc["WorkspaceId"])
        self.work.start(("workspace", doc["WorkspaceId"]), self._finish_workspace(doc["WorkspaceId"]))
        return doc

    async def _finish_workspace(self, workspace_id: str) -> None:
        await asyncio.sleep(self.settings.stage_delay_seconds)
        doc = self.store.get_workspace(workspace_id)
        if doc is None or doc.get("State") != models.PENDING:
            return
        self.store.put_workspace(models.make_available(doc))
        self.ctx.record("workspaces.workspace_state", outcome=models.AVAILABLE, workspace=workspace_id)

    async def describe_workspaces(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        models.check_describe_workspaces(params)
        docs = [w for w in self.store.workspaces() if self._in(w, call.region) and models.workspace_matches(w, params)]
        items, token = models.PAGER.page(docs, params, ("WorkspaceIds", "DirectoryId", "UserName", "BundleId",
                                                        "WorkspaceName"))
        out: dict[str, Any] = {"Workspaces": items}
        if token:
            out["NextToken"] = token
        return out

    async def describe_connection_status(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        ids = params.get("WorkspaceIds")
        docs = [w for w in self.store.workspaces()
                if self._in(w, call.region) and (ids is None or w["WorkspaceId"] in ids)]
        items, token = models.PAGER.page(docs, params, ("WorkspaceIds",))
        now = self.ctx.clock.now()
        out: dict[str, Any] = {"WorkspacesConnectionStatus": [{
            "WorkspaceId": w["WorkspaceId"],
            "ConnectionState": w.get("ConnectionState") or "UNKNOWN",
            "ConnectionStateCheckTimestamp": now,
            "LastKnownUserConnectionTimestamp": w.get("LastKnownUserConnectionTimestamp"),
        } for w in items]}
        if token:
            out["NextToken"] = token
        return out


    async def describe_bundles(self, params: dict[str, Any], _call: Call) -> dict[str, Any]:
        docs = bundles.select(params, self.settings.account_id)
        items, token = models.PAGER.page(docs, params, ("BundleIds", "Owner"))
        out: dict[str, Any] = {"Bundles": items}
        if token:
            out["NextToken"] = token
        return out


class _Failed(Exception):
    """One WorkspaceRequest's failure: CreateWorkspaces reports it in FailedRequests, not as an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
