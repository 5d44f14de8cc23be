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

import asyncio
from typing import Any

import ldap3
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from services.common.context import ServiceContext
from services.common.ldap_client import close_quietly

from .discovery import DiscoveryError, find_domain_controller
from .store import DirectoryStore

ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "givenName", "sn", "mail", "displayName"]


class LookupFailed(Exception):
    pass


def _search(host: str, port: int, base_dn: str, bind_user: str, bind_password: str,
            username: str, source: str | None) -> dict[str, Any] | None:
    server = ldap3.Server(host, port=port, get_info=ldap3.NONE, connect_timeout=3)
    conn = ldap3.Connection(server, user=bind_user, password=bind_password, raise_exceptions=False,
                            receive_timeout=5, source_address=source)
    try:
        if not conn.bind():
            raise LookupFailed(f"service account bind failed: {conn.result.get('description')}")
        name = escape_filter_chars(username)
        conn.search(base_dn, f"(&(objectClass=user)(|(sAMAccountName={name})(userPrincipalName={name})))",
                    attributes=ATTRIBUTES, size_limit=1)
        if not conn.entries:
            return None
        entry = conn.entries[0]
        return {a: (str(entry[a].value) if entry[a].value is not None else None)
                for a in ATTRIBUTES if a in entry}
    except LDAPException as exc:
        raise LookupFailed(f"LDAP error: {exc.__class__.__name__}") from None
    finally:
        close_quietly(conn)


async def find_user(ctx: ServiceContext, directory: dict[str, Any], username: str) -> dict[str, Any] | None:
    """The user's directory entry, or None when the directory has no such user."""
    domain = directory["Name"]
    # Lookups leave from a connector address (ENI), like the sign-in's DNS and LDAP traffic.
    source = (directory["ConnectSettings"].get("ConnectIps") or [None])[0]
    try:
        dc = await find_domain_controller(domain, directory.get("DnsIpAddrs") or [], int(ctx.settings["dns_port"]),
                                          source=source)
    except DiscoveryError as exc:
        raise LookupFailed(str(exc)) from None
    base_dn = ",".join(f"DC={part}" for part in domain.split("."))
    service_user = f"{directory['ConnectSettings']['CustomerUserName']}@{domain}"
    return await asyncio.to_thread(_search, dc.address, dc.ldap_port, base_dn, service_user,
                                   directory.get("ServiceAccountPassword", ""), username, source)


def register_routes(app: FastAPI, ctx: ServiceContext, store: DirectoryStore) -> None:
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
            user = await find_user(ctx, directory, body["username"])
        except LookupFailed as exc:
            ctx.record("connector.user_lookup", outcome="error", trace=trace, user=body["username"],
                       directory=directory["DirectoryId"], reason=str(exc))
            return JSONResponse({"error": str(exc)}, status_code=503)
        ctx.record("connector.user_lookup", outcome="found" if user else "not_found", trace=trace,
                   user=body["username"], directory=directory["DirectoryId"])
        return JSONResponse({"found": True, "user": user} if user else {"found": False})
