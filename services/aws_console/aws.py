"""The console's AWS calls: boto3 clients for `ds`, `workspaces` and `ec2`, SigV4-signed with the lab's
access keys, run in a worker thread so a slow API never blocks the pages.

Client-side parameter validation is off (`parameter_validation=False`): the AWS console lets the
service judge a request, so a bad field comes back as the API's own error code and message
(`ApiError`), which the page shows on the form.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .settings import ConsoleSettings

# A page must answer even when an API hangs: short timeouts, no retries behind the person's back.
CLIENT_CONFIG = Config(parameter_validation=False, connect_timeout=5, read_timeout=20,
                       retries={"max_attempts": 1, "mode": "standard"})


NETWORK_ERROR = "NetworkError"
NOT_AVAILABLE = "ServiceUnavailable"       # the console's own: the lab has no such API (no endpoint)
NOT_FOUND_CODES = {"EntityDoesNotExistException", "ResourceNotFoundException", "DirectoryDoesNotExistException",
                   "InvalidGroup.NotFound"}


class ApiError(Exception):
    """An AWS error as the console shows it: the code and the service's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    @property
    def summary(self) -> str:      # what lab_macros.errors() shows
        return f"{self.code}: {self.message}"

    causes: tuple[str, ...] = ()

    @property
    def status(self) -> int:
        """The page's HTTP status: 404 for a resource AWS does not know, 502 when AWS could not be
        reached, 400 for the rest (the request was refused)."""
        if self.code in NOT_FOUND_CODES:
            return 404
        if self.code == NOT_AVAILABLE:
            return 503
        return 502 if self.code == NETWORK_ERROR else 400


@dataclass
class Aws:
    """The clients of one console (one set of keys: the lab's); `ec2` is None without an endpoint."""
    ds: Any
    workspaces: Any
    ec2: Any = None

    @classmethod
    def connect(cls, settings: ConsoleSettings, *, region: str, key_id: str, secret: str) -> Aws:
        def client(service: str, endpoint: str) -> Any:
            return boto3.session.Session().client(
                service, endpoint_url=endpoint, region_name=region, aws_access_key_id=key_id,
                aws_secret_access_key=secret, config=CLIENT_CONFIG)
        return cls(ds=client("ds", settings.ds_endpoint),
                   workspaces=client("workspaces", settings.workspaces_endpoint),
                   ec2=client("ec2", settings.ec2_endpoint) if settings.ec2_endpoint else None)

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """`await aws.call("ds", "describe_directories")`; AWS errors raise ApiError."""
        client = getattr(self, service)
        if client is None:
            raise ApiError(NOT_AVAILABLE, f"{service.upper()} is not available in this lab (no {service} endpoint).")
        method = getattr(client, operation)
        try:
            response = await asyncio.to_thread(method, **params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ApiError(err.get("Code") or "ServiceException", err.get("Message") or str(exc)) from None
        except BotoCoreError as exc:       # unreachable endpoint, timeout: the console's own words
            raise ApiError(NETWORK_ERROR, f"The request could not be sent: {exc}") from None
        response.pop("ResponseMetadata", None)
        return response

    async def all_pages(self, service: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged Describe* (NextToken), as the console's lists show them."""
        items: list[dict[str, Any]] = []
        while True:
            page = await self.call(service, operation, **params)
            items += page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return items
            params["NextToken"] = token
