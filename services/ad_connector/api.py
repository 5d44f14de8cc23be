"""AD Connector's HTTP face: the internal authenticate call WorkSpaces makes.

The AWS Directory Service API (ds_api.py) and the user lookup (users.py) are mounted on the same
app by __main__.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.context import ServiceContext

from .settings import ConnectorSettings
from .signin import SignIn
from .store import DirectoryStore


def make_app(ctx: ServiceContext, store: DirectoryStore, settings: ConnectorSettings) -> FastAPI:
    app = FastAPI(title="AD Connector (lab)", docs_url=None, redoc_url=None)
    signin = SignIn(ctx, settings)

    @app.post("/connector/authenticate")
    async def authenticate(request: Request) -> JSONResponse:
        trace = request.headers.get("X-Lab-Trace")
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        fields = ("directoryId", "username", "password", "mfaCode")
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
            return JSONResponse({"authenticated": False, "reason": "bad_request",
                                 "detail": f"body must be a JSON object with string fields {', '.join(fields)}"},
                                status_code=400)
        directory = store.get(body["directoryId"])
        if directory is None:
            return JSONResponse({"authenticated": False, "reason": "directory_not_found",
                                 "detail": f"Directory {body['directoryId']} does not exist"}, status_code=404)
        peer = request.client.host if request.client else None
        ctx.record("connector.authenticate", peer=peer, trace=trace, user=body["username"],
                   directory=directory["DirectoryId"])
        result = await signin.run(directory, body["username"], body["password"], body["mfaCode"], trace)
        ctx.record("connector.signin", peer=peer,
                   outcome="success" if result.authenticated else result.reason, trace=trace,
                   user=body["username"], directory=directory["DirectoryId"])
        return JSONResponse(result.body())

    return app
