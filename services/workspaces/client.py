"""The desktop client's sign-in, `POST /client/signin`: one JSON submission carries registration
code, username, password and MFA code, as the client's sign-in page does when MFA is on; there is
no second round trip (AWS does not support RADIUS challenge/response). The steps are signin.py's,
shared with Web Access; the desktop client counts as a Windows device (`DeviceTypeWindows`).
"""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .signin import SignIn

FIELDS = ("registrationCode", "username", "password", "mfaCode")


def register_routes(app: FastAPI, signin: SignIn) -> None:
    @app.post("/client/signin")
    async def client_signin(request: Request) -> JSONResponse:
        trace = request.headers.get("X-Lab-Trace") or uuid.uuid4().hex[:16]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(f, ""), str) for f in FIELDS):
            return JSONResponse({"message": f"expected a JSON object with string fields {', '.join(FIELDS)}",
                                 "reason": "bad_request"}, status_code=400)
        outcome = await signin.attempt(registration_code=body.get("registrationCode", ""),
                                       username=body.get("username", ""), password=body.get("password", ""),
                                       mfa_code=body.get("mfaCode", ""), device_type="DeviceTypeWindows",
                                       trace=trace)
        return JSONResponse(outcome.body(), status_code=outcome.status)
