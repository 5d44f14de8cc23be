"""User lookups through the connector: the AWS-internal call WorkSpaces makes for CreateWorkspaces.

AWS: "This user name must exist in the Directory Service directory for the WorkSpace". Only the
connector holds the service account's password and knows the domain controllers, so WorkSpaces asks
it (`POST /connector/users/lookup {"directoryId", "username"}`), as it asks it to authenticate.
The connector finds a DC through the SRV records and searches with the service account, as AD
Connector does ("LDAP is only used for user and group object lookups"). AD compares names without
regard to case, so `ALICE` finds `alice`; the answer carries the directory's spelling.

Answers: 200 `{"found": true, "user": {...}}` / `{"found": false}`; 404 unknown directory;
409 directory not Active; 503 `{"error": ...}` when the DC cannot be reached or the bind fails.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.context import ServiceContext
from services.common.ldap_client import escape_filter_chars

from .discovery import DiscoveryError, find_domain_controller
from .service_account import LookupFailed, ServiceAccount, find_entry, value
from .settings import ConnectorSettings
from .store import DirectoryStore

ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "givenName", "sn", "mail", "displayName"]


async def _search(host: str, port: int, account: ServiceAccount, username: str,
                  source: str | None) -> dict[str, Any] | None:
    name = escape_filter_chars(username)
    entry = await find_entry(host, port, account,
                       f"(&(objectClass=user)(|(sAMAccountName={name})(userPrincipalName={name})))",
                       ATTRIBUTES, source)
    if entry is None:
        return None
    return {a: (str(v) if (v := value(entry, a)) is not None else None)
            for a in ATTRIBUTES if entry.get(a) is not None}


async def find_user(settings: ConnectorSettings, directory: dict[str, Any], username: str) -> dict[str, Any] | None:
    """The user's directory entry, or None when the directory has no such user."""
    domain = directory["Name"]
    # Lookups leave from a connector address (ENI), like the sign-in's DNS and LDAP traffic.
    source = (directory["ConnectSettings"].get("ConnectIps") or [None])[0]
    try:
        dc = await find_domain_controller(domain, directory.get("DnsIpAddrs") or [], settings.dns_port,
                                          source=source)
    except DiscoveryError as exc:
        raise LookupFailed(str(exc)) from None
    return await _search(dc.address, dc.ldap_port, ServiceAccount.of(directory), username, source)


def register_routes(app: FastAPI, ctx: ServiceContext, store: DirectoryStore, settings: ConnectorSettings) -> None:
    @app.post("/connector/users/lookup")
    async def lookup(request: Request) -> JSONResponse:
        trace = request.headers.get("X-Lab-Trace")
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in ("directoryId", "username")):
            return JSONResponse({"error": "body must be a JSON object with string fields directoryId, username"},
                                status_code=400)
        directory = store.get(body["directoryId"])
        if directory is None:
            return JSONResponse({"error": f"Directory {body['directoryId']} does not exist"}, status_code=404)
        if directory.get("Stage") != "Active":
            return JSONResponse({"error": f"Directory Stage is {directory.get('Stage')}"}, status_code=409)
        try:
            user = await find_user(settings, directory, body["username"])
        except LookupFailed as exc:
            ctx.record("connector.user_lookup", outcome="error", trace=trace, user=body["username"],
                       directory=directory["DirectoryId"], reason=str(exc))
            return JSONResponse({"error": str(exc)}, status_code=503)
        ctx.record("connector.user_lookup", outcome="found" if user else "not_found", trace=trace,
                   user=body["username"], directory=directory["DirectoryId"])
        return JSONResponse({"found": True, "user": user} if user else {"found": False})
