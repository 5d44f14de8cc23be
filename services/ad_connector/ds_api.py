"""The AWS Directory Service API of the emulated AD Connector (`DirectoryService_20150416.*`).

Operations: ConnectDirectory, DescribeDirectories, DeleteDirectory, EnableRadius, UpdateRadius,
DisableRadius. The wire (SigV4, model validation, errors) is services/common/aws_api.py; the rules
the model cannot express are models.py; this module holds the operations and the two asynchronous
lifecycles AWS shows through DescribeDirectories:

- Stage: Requested → Creating → Active, or Failed with StageReason, decided by the real
  connectivity check against the customer's DNS and domain controllers (connectivity.py).
- RadiusStatus: Creating → Completed or Failed, decided by a real RADIUS probe (radius_probe.py).
  While it is Creating, sign-ins are refused (signin.py checks RadiusStatus).

Both run as asyncio tasks in the service's loop. A generation number per directory makes a late
result of a superseded task (RADIUS updated or disabled meanwhile, directory deleted) a no-op.
Delays come from settings so tests are fast: `stage_delay_seconds` (default 1.0),
`radius_probe_timeout_seconds` (2.0), `radius_probe_retries` (0), `connect_check_timeout_seconds`
(2.0).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from fastapi import FastAPI

from services.common import aws_api
from services.common.aws_api import AwsError, AwsModel, Call
from services.common.context import ServiceContext

from . import connectivity, models, radius_probe
from .store import DirectoryStore, public

DESCRIBE_MAX = 100    # DescribeDirectories page size when Limit is 0 or absent


def _not_found(directory_id: str) -> AwsError:
    return AwsError("EntityDoesNotExistException", f"Directory {directory_id} does not exist.")


class DirectoryService:
    def __init__(self, ctx: ServiceContext, store: DirectoryStore) -> None:
        self.ctx = ctx
        self.store = store
        self.model = AwsModel("ds")
        self._stage_tasks: dict[str, asyncio.Task[None]] = {}
        self._radius_tasks: dict[str, asyncio.Task[None]] = {}
        self._radius_generation: dict[str, int] = {}

    # -- wiring -------------------------------------------------------------------------------------
    def mount(self, app: FastAPI) -> None:
        aws_api.mount(app, self.ctx, model=self.model, invalid_parameter_code="InvalidParameterException",
                      handlers={
                          "ConnectDirectory": self.connect_directory,
                          "DescribeDirectories": self.describe_directories,
                          "DeleteDirectory": self.delete_directory,
                          "EnableRadius": self.enable_radius,
                          "UpdateRadius": self.update_radius,
                          "DisableRadius": self.disable_radius,
                      })

    def _setting(self, name: str, default: float) -> float:
        return float(self.ctx.settings.get(name, default))

    @property
    def _delay(self) -> float:
        return self._setting("stage_delay_seconds", 1.0)

    async def resume(self) -> None:
        """After a restart, pick up lifecycles a previous process left half-way."""
        for doc in self.store.all():
            if doc.get("Stage") in (models.REQUESTED, models.CREATING):
                self._start_stage(doc["DirectoryId"])
            if doc.get("RadiusSettings") and doc.get("RadiusStatus") == models.RADIUS_CREATING:
                self._start_radius(doc["DirectoryId"])

    def cancel_all(self) -> None:
        for task in [*self._stage_tasks.values(), *self._radius_tasks.values()]:
            task.cancel()
        self._stage_tasks.clear()
        self._radius_tasks.clear()
        self._radius_generation.clear()

    def _directory(self, directory_id: str) -> dict[str, Any]:
        doc = self.store.get(directory_id)
        if doc is None:
            raise _not_found(directory_id)
        return doc

    # -- operations ---------------------------------------------------------------------------------
    async def connect_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        models.check_connect_request(params, self.store.all())
        directory_id = models.new_directory_id()
        while self.store.get(directory_id) is not None:
            directory_id = models.new_directory_id()
        doc = models.new_connector(params, directory_id=directory_id, region=self.ctx.credential("aws_region"),
                                   connect_ips=self.ctx.settings["connect_ips"], now=self.ctx.clock.now())
        self.store.put(doc)
        self.ctx.record("ds.directory_stage", outcome=models.REQUESTED, trace=call.trace,
                        directory=directory_id, name=doc["Name"])
        self._start_stage(directory_id)
        return {"DirectoryId": directory_id}

    async def describe_directories(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        ids = params.get("DirectoryIds")
        if ids is not None:
            if not ids:
                raise AwsError("InvalidParameterException", "DirectoryIds must contain at least one directory "
                               "ID; omit it to describe every directory.")
            docs = [self._directory(i) for i in dict.fromkeys(ids)]
        else:
            docs = sorted(self.store.all(), key=lambda d: (d.get("LaunchTime") or 0, d["DirectoryId"]))
        limit = params.get("Limit") or DESCRIBE_MAX
        start = _decode_token(params.get("NextToken"), len(docs))
        page = docs[start:start + limit]
        out: dict[str, Any] = {"DirectoryDescriptions": [public(d) for d in page]}
        if start + limit < len(docs):
            out["NextToken"] = _encode_token(start + limit)
        return out

    async def delete_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        directory_id = params["DirectoryId"]
        self._directory(directory_id)
        for tasks in (self._stage_tasks, self._radius_tasks):
            task = tasks.pop(directory_id, None)
            if task is not None:
                task.cancel()
        self._radius_generation.pop(directory_id, None)
        self.store.delete(directory_id)
        self.ctx.record("ds.directory_stage", outcome="Deleted", trace=call.trace, directory=directory_id)
        return {"DirectoryId": directory_id}

    async def enable_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"])
        models.check_mfa_allowed(doc)
        if doc.get("RadiusSettings"):
            raise AwsError("EntityAlreadyExistsException", f"RADIUS is already enabled for directory "
                           f"{doc['DirectoryId']}. Use UpdateRadius to change its settings.")
        doc["RadiusSettings"] = models.radius_settings_for_enable(params["RadiusSettings"])
        return self._radius_changed(doc, call, "EnableRadius")

    async def update_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"])
        models.check_mfa_allowed(doc)
        if not doc.get("RadiusSettings"):
            raise AwsError("EntityDoesNotExistException", f"RADIUS is not enabled for directory "
                           f"{doc['DirectoryId']}. Use EnableRadius first.")
        doc["RadiusSettings"] = models.radius_settings_for_update(doc["RadiusSettings"], params["RadiusSettings"])
        return self._radius_changed(doc, call, "UpdateRadius")

    async def disable_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"])
        directory_id = doc["DirectoryId"]
        self._radius_generation[directory_id] = self._radius_generation.get(directory_id, 0) + 1
        task = self._radius_tasks.pop(directory_id, None)
        if task is not None:
            task.cancel()
        if doc.pop("RadiusSettings", None) is not None:
            doc.pop("RadiusStatus", None)
            self.store.put(doc)
            self.ctx.record("ds.radius_status", outcome="Disabled", trace=call.trace, directory=directory_id)
        return {}

    def _radius_changed(self, doc: dict[str, Any], call: Call, operation: str) -> dict[str, Any]:
        doc["RadiusStatus"] = models.RADIUS_CREATING
        self.store.put(doc)
        settings = doc["RadiusSettings"]
        self.ctx.record("ds.radius_status", outcome=models.RADIUS_CREATING, trace=call.trace,
                        directory=doc["DirectoryId"], operation=operation, servers=settings.get("RadiusServers"),
                        port=settings.get("RadiusPort"), protocol=settings.get("AuthenticationProtocol"))
        self._start_radius(doc["DirectoryId"])
        return {}

    # -- Stage lifecycle ----------------------------------------------------------------------------
    def _start_stage(self, directory_id: str) -> None:
        old = self._stage_tasks.pop(directory_id, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._bring_up(directory_id))
        self._stage_tasks[directory_id] = task
        task.add_done_callback(lambda t, d=directory_id: self._forget(self._stage_tasks, d, t))

    async def _bring_up(self, directory_id: str) -> None:
        await asyncio.sleep(self._delay)
        doc = self.store.get(directory_id)
        if doc is None:
            return
        self.store.put(models.set_stage(doc, models.CREATING, self.ctx.clock.now()))
        self.ctx.record("ds.directory_stage", outcome=models.CREATING, directory=directory_id)
        await asyncio.sleep(self._delay)
        try:
            result = await connectivity.check_directory(
                domain=doc["Name"], dns_ips=doc.get("DnsIpAddrs") or [],
                dns_port=int(self.ctx.settings["dns_port"]), user=doc["ConnectSettings"]["CustomerUserName"],
                password=doc.get("ServiceAccountPassword", ""),
                timeout=self._setting("connect_check_timeout_seconds", 2.0),
                source=(doc["ConnectSettings"].get("ConnectIps") or [None])[0])
        except Exception as exc:
            self.ctx.log.exception("connectivity check of %s failed", directory_id)
            result = connectivity.CheckResult(False, "An internal error occurred while checking connectivity.",
                                              [exc.__class__.__name__])
        doc = self.store.get(directory_id)
        if doc is None or doc.get("Stage") != models.CREATING:
            return
        stage = models.ACTIVE if result.ok else models.FAILED
        self.store.put(models.set_stage(doc, stage, self.ctx.clock.now(), result.reason))
        self.ctx.record("ds.directory_stage", outcome=stage, directory=directory_id, dc=result.dc,
                        reason=result.reason, notes=result.notes)
        self.ctx.log.info("directory %s is %s%s", directory_id, stage, f": {result.reason}" if result.reason else "")

    # -- RadiusStatus lifecycle ---------------------------------------------------------------------
    def _start_radius(self, directory_id: str) -> None:
        generation = self._radius_generation.get(directory_id, 0) + 1
        self._radius_generation[directory_id] = generation
        old = self._radius_tasks.pop(directory_id, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._probe_radius(directory_id, generation))
        self._radius_tasks[directory_id] = task
        task.add_done_callback(lambda t, d=directory_id: self._forget(self._radius_tasks, d, t))

    async def _probe_radius(self, directory_id: str, generation: int) -> None:
        await asyncio.sleep(self._delay)
        doc = self.store.get(directory_id)
        if doc is None or not doc.get("RadiusSettings") or self._radius_generation.get(directory_id) != generation:
            return
        result = await radius_probe.probe(
            doc["RadiusSettings"], doc["ConnectSettings"]["ConnectIps"],
            timeout=self._setting("radius_probe_timeout_seconds", 2.0),
            retries=int(self._setting("radius_probe_retries", 0)), nas_identifier=directory_id)
        doc = self.store.get(directory_id)
        if doc is None or not doc.get("RadiusSettings") or self._radius_generation.get(directory_id) != generation:
            return
        status = models.RADIUS_COMPLETED if result.ok else models.RADIUS_FAILED
        doc["RadiusStatus"] = status
        self.store.put(doc)
        self.ctx.record("ds.radius_status", outcome=status, directory=directory_id, probes=result.outcomes)
        self.ctx.log.info("directory %s RadiusStatus %s", directory_id, status)

    def _forget(self, tasks: dict[str, asyncio.Task[None]], directory_id: str, task: asyncio.Task[None]) -> None:
        if tasks.get(directory_id) is task:
            del tasks[directory_id]
        if not task.cancelled() and task.exception() is not None:
            self.ctx.log.error("lifecycle task of %s failed: %r", directory_id, task.exception())


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None, total: int) -> int:
    if token is None:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise AwsError("InvalidNextTokenException", "The NextToken value is not valid.") from None
    if not 0 <= offset <= total:
        raise AwsError("InvalidNextTokenException", "The NextToken value is not valid.")
    return offset
