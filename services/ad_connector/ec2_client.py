"""AD Connector's calls to EC2: the directory's security group and its two network interfaces.

On AWS, Directory Service makes these in the customer's account through EC2's public API (its
service-linked role): a group named `<directory-id>_controllers` on the connector's interfaces,
deleted with the directory. The lab does the same through the `ec2` service's real API (Query
protocol, SigV4 with the lab's key; botocore serialises, signs and parses), not a private admin
route: the calls show in EC2's `aws.call` events like anyone's, and EC2's checks apply to them.
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from services.common import aws_models
from services.common.context import ServiceContext

TIMEOUT = 30.0     # above EC2's wait for its enforcer (10 s): a slow apply is not "no EC2"


# The EC2 operations AD Connector calls (below).
OPERATIONS = ("CreateSecurityGroup", "DeleteSecurityGroup", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
              "ModifyNetworkInterfaceAttribute")


class Ec2Error(Exception):
    """EC2 answered with an error (`code`, `message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class Ec2Unreachable(Exception):
    """No EC2 service answers (a lab started without it)."""


class Ec2Client:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.credentials = Credentials(ctx.credential("aws_access_key_id"), ctx.credential("aws_secret_access_key"))

    # EC2's whole service model is 24 MB of Python objects and only ConnectDirectory and
    # DeleteDirectory call EC2 (the directory's security group): loaded on the first call, not at
    # start, narrowed to the operations called here (services/common/aws_models.py).
    @functools.cached_property
    def model(self) -> Any:
        return aws_models.load("ec2", OPERATIONS)[0]

    @functools.cached_property
    def serializer(self) -> Any:
        return create_serializer("ec2", include_validation=True)

    @functools.cached_property
    def parser(self) -> Any:
        return create_parser("ec2")

    def available(self) -> bool:
        return "ec2" in self.ctx.topology.get("services", {})

    async def call(self, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        if not self.available():
            raise Ec2Unreachable("the lab has no ec2 service")
        import httpx  # here: a connector that never calls EC2 never holds it (~3 MB)
        if "parser" not in self.__dict__:       # the first call: load the model off the event loop
            await asyncio.to_thread(lambda: (self.model, self.serializer, self.parser))
        op = self.model.operation_model(operation)
        request = self.serializer.serialize_to_request(params, op)
        url = self.ctx.peer_url("ec2") + "/"
        aws = AWSRequest(method="POST", url=url, data=request["body"], headers=request["headers"])
        SigV4Auth(self.credentials, "ec2", region).add_auth(aws)
        try:
            response = await self.ctx.peer_client("ec2").post(url, content=aws.body,
                                                               headers=dict(aws.headers.items()), timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise Ec2Unreachable(f"{exc.__class__.__name__}: {exc}") from None
        parsed = self.parser.parse({"body": response.content, "headers": dict(response.headers),
                                    "status_code": response.status_code}, op.output_shape)
        if response.status_code >= 300:
            error = parsed.get("Error", {})
            raise Ec2Error(str(error.get("Code", response.status_code)), str(error.get("Message", "")))
        return dict(parsed)

    # -- the directory's group ----------------------------------------------------------------------
    async def create_directory_group(self, directory_id: str, vpc_id: str, connect_ips: list[str],
                                     region: str) -> str:
        """`<directory-id>_controllers` in the directory's VPC, on the connector's interfaces."""
        made = await self.call("CreateSecurityGroup", {
            "GroupName": f"{directory_id}_controllers", "VpcId": vpc_id,
            "Description": f"AWS created security group for {directory_id} directory controllers"}, region)
        group_id = str(made["GroupId"])
        enis = await self.call("DescribeNetworkInterfaces", {"Filters": [
            {"Name": "addresses.private-ip-address", "Values": list(connect_ips)}]}, region)
        default = await self._default_group(vpc_id, region)
        for eni in enis.get("NetworkInterfaces", []):
            groups = [g["GroupId"] for g in eni.get("Groups", []) if g["GroupId"] != default]
            await self.call("ModifyNetworkInterfaceAttribute", {
                "NetworkInterfaceId": eni["NetworkInterfaceId"], "Groups": groups + [group_id]}, region)
        return group_id

    async def delete_directory_group(self, group_id: str, vpc_id: str, region: str) -> None:
        """Off the interfaces (the VPC's default group if none is left), then deleted."""
        enis = await self.call("DescribeNetworkInterfaces",
                               {"Filters": [{"Name": "group-id", "Values": [group_id]}]}, region)
        default = await self._default_group(vpc_id, region)
        for eni in enis.get("NetworkInterfaces", []):
            groups = [g["GroupId"] for g in eni.get("Groups", []) if g["GroupId"] != group_id]
            groups = groups or ([default] if default else [])
            if not groups:
                continue
            await self.call("ModifyNetworkInterfaceAttribute", {
                "NetworkInterfaceId": eni["NetworkInterfaceId"], "Groups": groups}, region)
        await self.call("DeleteSecurityGroup", {"GroupId": group_id}, region)

    async def _default_group(self, vpc_id: str, region: str) -> str | None:
        found = await self.call("DescribeSecurityGroups", {"Filters": [
            {"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [vpc_id]}]}, region)
        groups = found.get("SecurityGroups", [])
        return str(groups[0]["GroupId"]) if groups else None
