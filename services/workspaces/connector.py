"""What WorkSpaces asks the AD Connector, over the network (services never import each other).

- The directory itself: the Directory Service API's DescribeDirectories, SigV4-signed with the lab's
  keys by botocore's own signer, exactly as another AWS service (or a user's boto3) would call it.
- Whether a user exists: the connector's internal `POST /connector/users/lookup`, the counterpart
  of `/connector/authenticate` (only the connector holds the service account's password).
- That WorkSpaces uses the directory: `PUT` / `DELETE /connector/registrations/<id>/workspaces` on
  registering and once deregistered, so DeleteDirectory refuses a directory in use, as on AWS.

Both leave from WorkSpaces' own address on the one client WorkSpaces keeps for the connector
(ctx.peer_client), so the connector's journal and faults see the WorkSpaces host.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from services.common.context import ServiceContext

if TYPE_CHECKING:    # httpx is imported where a request is made (~3 MB of RSS a service that makes none)
    import httpx

DS_TARGET = "DirectoryService_20150416"


class ConnectorUnavailable(Exception):
    """The connector (or the DC behind it) could not answer; the caller maps it to an AWS error."""


class Connector:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.url = ctx.peer_url("ad-connector")       # a topology without the connector fails the start here

    @property
    def http(self) -> httpx.AsyncClient:
        """The one client for the connector, made at the first call (ctx.peer_client keeps it):
        a WorkSpaces never asked about a directory holds no pool and no TLS context (~2.7 MB and
        ~35 ms of its start, bench/README.md)."""
        return self.ctx.peer_client("ad-connector")

    def _signed(self, operation: str, params: dict[str, Any], region: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(params).encode()
        request = AWSRequest(method="POST", url=f"{self.url}/", data=body, headers={
            "X-Amz-Target": f"{DS_TARGET}.{operation}", "Content-Type": "application/x-amz-json-1.1"})
        credentials = Credentials(self.ctx.credential("aws_access_key_id"),
                                  self.ctx.credential("aws_secret_access_key"))
        SigV4Auth(credentials, "ds", region).add_auth(request)
        return body, dict(request.headers.items())

    async def describe_directory(self, directory_id: str, region: str,
                                 trace: str | None = None) -> dict[str, Any] | None:
        """The DS DirectoryDescription of `directory_id` in `region`, or None when DS does not know it there."""
        import httpx
        body, headers = self._signed("DescribeDirectories", {"DirectoryIds": [directory_id]}, region)
        if trace:
            headers["X-Lab-Trace"] = trace
        try:
            resp = await self.http.post(f"{self.url}/", content=body, headers=headers, timeout=10.0)
            answer = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConnectorUnavailable(exc.__class__.__name__) from None
        if resp.status_code == 200:
            found = answer.get("DirectoryDescriptions") or []
            return found[0] if found else None
        code = str(answer.get("__type", resp.status_code)).rsplit("#", 1)[-1]
        if code == "EntityDoesNotExistException":
            return None
        raise ConnectorUnavailable(code)

    async def lookup_user(self, directory_id: str, username: str, trace: str | None = None) -> dict[str, Any] | None:
        """The user's directory entry (the directory's spelling of the name), or None."""
        import httpx
        headers = {"X-Lab-Trace": trace} if trace else {}
        try:
            resp = await self.http.post(f"{self.url}/connector/users/lookup", headers=headers, timeout=15.0,
                                        json={"directoryId": directory_id, "username": username})
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConnectorUnavailable(exc.__class__.__name__) from None
        if resp.status_code == 200:
            return body.get("user") if body.get("found") else None
        if resp.status_code == 404:
            return None
        raise ConnectorUnavailable(body.get("error", f"HTTP {resp.status_code}"))

    async def set_registered(self, directory_id: str, registered: bool, trace: str | None = None) -> None:
        """Tell the connector WorkSpaces uses (or no longer uses) the directory."""
        import httpx
        headers = {"X-Lab-Trace": trace} if trace else {}
        url = f"{self.url}/connector/registrations/{directory_id}/workspaces"
        try:
            resp = await self.http.request("PUT" if registered else "DELETE", url, headers=headers, timeout=10.0)
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConnectorUnavailable(exc.__class__.__name__) from None
        if resp.status_code != 200:
            raise ConnectorUnavailable(body.get("error", f"HTTP {resp.status_code}"))
