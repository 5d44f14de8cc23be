"""Which AWS applications use a directory: what they tell the connector, and DeleteDirectory's refusal.

On AWS, a directory registered with Amazon WorkSpaces cannot be deleted until it is deregistered
(docs/aws.md, "DeleteDirectory"). The connector cannot see WorkSpaces' state (no service reads
another's), so WorkSpaces tells it over HTTP, as it asks it to authenticate:

- `PUT /connector/registrations/{directoryId}/{application}` when it starts registering the
  directory: 200 `{"registered": true}`; 404 unknown directory; 400 unknown application.
- `DELETE /connector/registrations/{directoryId}/{application}` once the directory is
  deregistered: 200 `{"registered": false}` (also when there was nothing to remove, so a retry is
  harmless).

The registrations live in the connector's store; `check_deletable` is DeleteDirectory's check.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.aws_api import AwsError
from services.common.context import ServiceContext

from .store import DirectoryStore

# The applications that register directories, and the name AWS's messages give each.
APPLICATIONS = {"workspaces": "Amazon WorkSpaces"}


def check_deletable(store: DirectoryStore, directory_id: str) -> None:
    """ClientException while an application uses the directory (wording: lab choice, docs/aws.md)."""
    using = store.registrations(directory_id)
    if using:
        names = ", ".join(APPLICATIONS.get(a, a) for a in using)
        raise AwsError("ClientException", f"Cannot delete the directory {directory_id} because it is in use by "
                       f"the following AWS applications: {names}. Deregister the directory from them first.")


def register_routes(app: FastAPI, ctx: ServiceContext, store: DirectoryStore) -> None:
    def refused(status: int, error: str) -> JSONResponse:
        return JSONResponse({"error": error}, status_code=status)

    @app.put("/connector/registrations/{directory_id}/{application}")
    async def register(directory_id: str, application: str, request: Request) -> JSONResponse:
        if application not in APPLICATIONS:
            return refused(400, f"unknown application {application!r}; known: {', '.join(APPLICATIONS)}")
        if store.get(directory_id) is None:
            return refused(404, f"Directory {directory_id} does not exist")
        store.register(directory_id, application)
        ctx.record("connector.registration", outcome="registered", trace=request.headers.get("X-Lab-Trace"),
                   directory=directory_id, application=application)
        return JSONResponse({"registered": True})

    @app.delete("/connector/registrations/{directory_id}/{application}")
    async def deregister(directory_id: str, application: str, request: Request) -> JSONResponse:
        if application not in APPLICATIONS:
            return refused(400, f"unknown application {application!r}; known: {', '.join(APPLICATIONS)}")
        if store.deregister(directory_id, application):
            ctx.record("connector.registration", outcome="deregistered",
                       trace=request.headers.get("X-Lab-Trace"), directory=directory_id, application=application)
        return JSONResponse({"registered": False})
