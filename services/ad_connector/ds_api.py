"""The AWS Directory Service API of the emulated AD Connector (`DirectoryService_20150416.*`).

Operations: ConnectDirectory, DescribeDirectories, DeleteDirectory, EnableRadius, UpdateRadius,
DisableRadius, DescribeDomainControllers. The wire (SigV4, model validation, errors) is
services/common/aws_api.py; the rules the model cannot express are models.py; which applications
use a directory is registrations.py. This module holds the operations and the two asynchronous
lifecycles AWS shows through DescribeDirectories:

- ConnectDirectory first has EC2 make the directory's security group `<id>_controllers` on the
  connector's interfaces, as AWS does (ec2_client.py): EC2's refusal (an unknown VPC) is the
  call's ClientException; a lab without the ec2 service gives the directory a group id of its own
  and says so in a `ds.security_group` event.
- Stage: Requested → Creating → Active, or Failed with StageReason, decided by the real
  connectivity check against the customer's DNS and domain controllers (connectivity.py).
- RadiusStatus: Creating → Completed or Failed, decided by a real RADIUS probe (radius_probe.py).
  While it is Creating, sign-ins are refused (signin.py checks RadiusStatus).

Both run as background work (services/common/background.py), keyed per directory, so a late
result of superseded work (RADIUS updated or disabled meanwhile, directory deleted) is dropped.
Delays and timeouts come from the settings (settings.py) so tests are fast.
"""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from services.common import aws_api
from services.common.aws_api import AwsError, AwsModel, Call
from services.common.aws_paging import Pager
from services.common.background import Background
from services.common.context import ServiceContext

from . import connectivity, models, radius_probe, registrations
from .ec2_client import Ec2Client, Ec2Error, Ec2Unreachable
from .settings import ConnectorSettings
from .store import DirectoryStore, public

# DescribeDirectories: 100 a page when Limit is 0 or absent.
PAGER = Pager(100, "InvalidNextTokenException", "The NextToken value is not valid.")


def _not_found(directory_id: str) -> AwsError:
    return AwsError("EntityDoesNotExistException", f"Directory {directory_id} does not exist.")


class DirectoryService:
    def __init__(self, ctx: ServiceContext, store: DirectoryStore, settings: ConnectorSettings) -> None:
        self.ctx = ctx
        self.store = store
        self.settings = settings
        self.model = AwsModel("ds")
        self.work = Background(ctx.log)    # keys ("stage", id), ("radius", id) and ("group", id)
        self.ec2 = Ec2Client(ctx)

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
                          "DescribeDomainControllers": self.describe_domain_controllers,
                      })

    async def resume(self) -> None:
        """After a restart, pick up lifecycles a previous process left half-way."""
        for doc in self.store.all():
            if doc.get("Stage") in (models.REQUESTED, models.CREATING):
                self._start_stage(doc["DirectoryId"])
            if doc.get("RadiusSettings") and doc.get("RadiusStatus") == models.RADIUS_CREATING:
                self._start_radius(doc["DirectoryId"])

    def cancel_all(self) -> None:
        self.work.cancel_all()

    def _region_of(self, doc: dict[str, Any]) -> str:
        # Directories from before Regions were kept are in the lab's default Region.
        return str(doc.get("Region") or self.ctx.credential("aws_region"))

    def _in_region(self, region: str) -> list[dict[str, Any]]:
        """Each Region has its own directories, as on AWS (the Region the call is signed for)."""
        return [d for d in self.store.all() if self._region_of(d) == region]

    def _directory(self, directory_id: str, region: str) -> dict[str, Any]:
        doc = self.store.get(directory_id)
        if doc is None or self._region_of(doc) != region:
            raise _not_found(directory_id)
        return doc

    # -- operations ---------------------------------------------------------------------------------
    async def connect_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        models.check_connect_request(params, self._in_region(call.region))
        directory_id = models.new_directory_id()
        while self.store.get(directory_id) is not None:
            directory_id = models.new_directory_id()
        group = await self._make_group(directory_id, params["ConnectSettings"]["VpcId"], call)
        doc = models.new_connector(params, directory_id=directory_id, region=call.region,
                                   connect_ips=list(self.settings.connect_ips), now=self.ctx.clock.now(),
                                   security_group_id=group)
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
            docs = [self._directory(i, call.region) for i in dict.fromkeys(ids)]
        else:
            docs = sorted(self._in_region(call.region), key=lambda d: (d.get("LaunchTime") or 0, d["DirectoryId"]))
        page, token = PAGER.page(docs, params)
        out: dict[str, Any] = {"DirectoryDescriptions": [public(d) for d in page]}
        if token:
            out["NextToken"] = token
        return out

    async def delete_directory(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        directory_id = params["DirectoryId"]
        self._directory(directory_id, call.region)
        registrations.check_deletable(self.store, directory_id)   # e.g. still registered with WorkSpaces
        self.work.cancel(("stage", directory_id))
        self.work.cancel(("radius", directory_id))
        doc = self.store.get(directory_id) or {}
        self.store.delete(directory_id)
        self.ctx.record("ds.directory_stage", outcome="Deleted", trace=call.trace, directory=directory_id)
        group = doc.get("ConnectSettings", {}).get("SecurityGroupId")
        if group:
            self.work.start(("group", directory_id),
                            self._delete_group(directory_id, group, doc["ConnectSettings"]["VpcId"], call.region))
        return {"DirectoryId": directory_id}

    async def describe_domain_controllers(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        """AWS manages domain controllers only for AWS Managed Microsoft AD; an AD Connector has none
        of its own (its DCs are the customer's), so the declared UnsupportedOperationException
        (lab choice, docs/aws.md)."""
        doc = self._directory(params["DirectoryId"], call.region)
        raise AwsError("UnsupportedOperationException", "DescribeDomainControllers is supported only for AWS "
                       f"Managed Microsoft AD directories; directory {doc['DirectoryId']} is {doc.get('Type')}.")

    async def enable_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"], call.region)
        models.check_mfa_allowed(doc)
        if doc.get("RadiusSettings"):
            raise AwsError("EntityAlreadyExistsException", f"RADIUS is already enabled for directory "
                           f"{doc['DirectoryId']}. Use UpdateRadius to change its settings.")
        doc["RadiusSettings"] = models.radius_settings_for_enable(params["RadiusSettings"])
        return self._radius_changed(doc, call, "EnableRadius")

    async def update_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"], call.region)
        models.check_mfa_allowed(doc)
        if not doc.get("RadiusSettings"):
            raise AwsError("EntityDoesNotExistException", f"RADIUS is not enabled for directory "
                           f"{doc['DirectoryId']}. Use EnableRadius first.")
        doc["RadiusSettings"] = models.radius_settings_for_update(doc["RadiusSettings"], params["RadiusSettings"])
        return self._radius_changed(doc, call, "UpdateRadius")

    async def disable_radius(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        doc = self._directory(params["DirectoryId"], call.region)
        directory_id = doc["DirectoryId"]
        self.work.cancel(("radius", directory_id))
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
        self.work.start(("stage", directory_id), self._bring_up(directory_id))

    async def _bring_up(self, directory_id: str) -> None:
        delay = self.settings.stage_delay_seconds
        await asyncio.sleep(delay)
        doc = self.store.get(directory_id)
        if doc is None:
            return
        self.store.put(models.set_stage(doc, models.CREATING, self.ctx.clock.now()))
        self.ctx.record("ds.directory_stage", outcome=models.CREATING, directory=directory_id)
        await asyncio.sleep(delay)
        try:
            result = await connectivity.check_directory(
                domain=doc["Name"], dns_ips=doc.get("DnsIpAddrs") or [],
                dns_port=self.settings.dns_port, user=doc["ConnectSettings"]["CustomerUserName"],
                password=doc.get("ServiceAccountPassword", ""),
                timeout=self.settings.connect_check_timeout_seconds,
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

    async def _make_group(self, directory_id: str, vpc_id: str, call: Call) -> str:
        """The directory's security group, made by EC2 in the directory's VPC (its id)."""
        try:
            group = await self.ec2.create_directory_group(directory_id, vpc_id, list(self.settings.connect_ips),
                                                          call.region)
            outcome = "created"
        except Ec2Error as exc:
            self.ctx.record("ds.security_group", outcome="refused", trace=call.trace, directory=directory_id,
                            code=exc.code, message=exc.message)
            raise AwsError("ClientException", f"Cannot create the directory's security group in {vpc_id}: "
                           f"{exc.code}: {exc.message}") from None
        except Ec2Unreachable as exc:
            group, outcome = models.new_security_group_id(), "no_ec2"
            self.ctx.log.warning("directory %s: no EC2 service (%s); its group id is the lab's own", directory_id, exc)
        self.ctx.record("ds.security_group", outcome=outcome, trace=call.trace, directory=directory_id, group=group)
        return group

    async def _delete_group(self, directory_id: str, group: str, vpc_id: str, region: str) -> None:
        """With the directory goes its group, as on AWS; a group another still refers to stays."""
        try:
            await self.ec2.delete_directory_group(group, vpc_id, region)
            outcome, detail = "deleted", None
        except Ec2Error as exc:
            outcome, detail = "kept", f"{exc.code}: {exc.message}"
        except Ec2Unreachable:
            outcome, detail = "no_ec2", None
        self.ctx.record("ds.security_group", outcome=outcome, directory=directory_id, group=group, detail=detail)

    # -- RadiusStatus lifecycle ---------------------------------------------------------------------
    def _start_radius(self, directory_id: str) -> None:
        self.work.start(("radius", directory_id), self._probe_radius(directory_id))

    async def _probe_radius(self, directory_id: str) -> None:
        key = ("radius", directory_id)
        await asyncio.sleep(self.settings.stage_delay_seconds)
        doc = self.store.get(directory_id)
        if doc is None or not doc.get("RadiusSettings") or not self.work.current(key):
            return
        result = await radius_probe.probe(
            doc["RadiusSettings"], doc["ConnectSettings"]["ConnectIps"],
            timeout=self.settings.radius_probe_timeout_seconds,
            retries=self.settings.radius_probe_retries, nas_identifier=directory_id)
        doc = self.store.get(directory_id)
        if doc is None or not doc.get("RadiusSettings") or not self.work.current(key):
            return
        status = models.RADIUS_COMPLETED if result.ok else models.RADIUS_FAILED
        doc["RadiusStatus"] = status
        self.store.put(doc)
        self.ctx.record("ds.radius_status", outcome=status, directory=directory_id, probes=result.outcomes)
        self.ctx.log.info("directory %s RadiusStatus %s", directory_id, status)
