"""The console's AWS calls: boto3 clients for `ds`, `workspaces` and `ec2`, SigV4-signed with the lab's
access keys, run in a worker thread so a slow API never blocks the pages.

Client-side parameter validation is off (`parameter_validation=False`): the AWS console lets the
service judge a request, so a bad field comes back as the API's own error code and message
(`ApiError`), which the page shows on the form.

boto3 and each service's client are loaded on the first call that needs them, as a browser tab
of the real console loads a service's pages when it is opened: a client holds its service's model
(EC2's alone is tens of MB), and a console nobody opens should not cost that (bench/README.md).
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from .settings import ConsoleSettings

# A page must answer even when an API hangs: short timeouts, no retries behind the person's back.
CLIENT_OPTIONS: dict[str, Any] = {"parameter_validation": False, "connect_timeout": 5, "read_timeout": 20,
                                  "retries": {"max_attempts": 1, "mode": "standard"}}


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
    """The clients of one console (one set of keys: the lab's), made on first use; a service
    without an endpoint (EC2's is optional) has none."""
    endpoints: dict[str, str | None]
    region: str
    key_id: str
    secret: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def connect(cls, settings: ConsoleSettings, *, region: str, key_id: str, secret: str) -> Aws:
        return cls(endpoints={"ds": settings.ds_endpoint, "workspaces": settings.workspaces_endpoint,
                              "ec2": settings.ec2_endpoint or None},
                   region=region, key_id=key_id, secret=secret)

    def client(self, service: str) -> Any:
        """The service's boto3 client (made once, in the calling worker thread)."""
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config
                self._clients[service] = boto3.session.Session().client(
                    service, endpoint_url=self.endpoints[service], region_name=self.region,
                    aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                    config=Config(**CLIENT_OPTIONS))
            return self._clients[service]

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """`await aws.call("ds", "describe_directories")`; AWS errors raise ApiError."""
        if not self.endpoints.get(service):
            raise ApiError(NOT_AVAILABLE, f"{service.upper()} is not available in this lab (no {service} endpoint).")
        from botocore.exceptions import BotoCoreError, ClientError

        def send() -> dict[str, Any]:
            return getattr(self.client(service), operation)(**params)
        try:
            response = await asyncio.to_thread(send)
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
