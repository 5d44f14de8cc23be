"""Okta's error body and codes, so callers (the RADIUS agent, the okta SDK) see what the real org
sends: `{errorCode, errorSummary, errorLink, errorId, errorCauses}`, never a traceback."""
from __future__ import annotations

import json
from typing import Any, Literal, overload

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .ids import new_id

# code -> (HTTP status, summary). Summaries follow Okta's error-codes catalogue.
CODES: dict[str, tuple[int, str]] = {
    "E0000001": (400, "Api validation failed: {0}"),
    "E0000003": (400, "The request body was not well-formed."),
    "E0000004": (401, "Authentication failed"),
    "E0000006": (403, "You do not have permission to perform the requested action"),
    "E0000007": (404, "Not found: {0}"),
    "E0000011": (401, "Invalid token provided"),
    "E0000014": (403, "Update of credentials failed"),
    "E0000016": (403, "Activation failed because the user is already active"),
    "E0000022": (405, "The endpoint does not support the provided HTTP method"),
    "E0000038": (403, "This operation is not allowed in the user's current status."),
    "E0000047": (429, "API call exceeded rate limit due to too many requests."),
    "E0000068": (403, "Invalid Passcode/Answer"),
    "E0000069": (403, "User Locked"),
    "E0000079": (403, "This operation is not allowed in the current authentication state."),
    "E0000080": (403, "The password does not meet the complexity requirements of the current password policy."),
    "E0000082": (403, "Each code can only be used once. Please wait for a new code and try again."),
    "E0000083": (403, "PassCode is valid but exceeded time window."),
    "E0000109": (429, "An SMS message was recently sent. Please wait 30 seconds before trying again."),
    "E0000133": (429, "A phone call was recently made. Please wait 30 seconds before initiating another call."),
}


class OktaError(Exception):
    """Raised anywhere in a handler; rendered as Okta's error body by the installed handler."""

    def __init__(self, code: str, detail: str = "", causes: list[str] | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None) -> None:
        default_status, summary = CODES[code]
        self.code = code
        self.status = status or default_status
        self.summary = summary.replace("{0}", detail) if "{0}" in summary else summary
        self.causes = causes or []
        self.headers = headers or {}
        super().__init__(f"{code} {self.summary}")


def error_response(err: OktaError) -> JSONResponse:
    body = {
        "errorCode": err.code,
        "errorSummary": err.summary,
        "errorLink": err.code,
        "errorId": "oae" + new_id("", 19),
        "errorCauses": [{"errorSummary": c} for c in err.causes],
    }
    return JSONResponse(body, status_code=err.status, headers=err.headers,
                        media_type="application/json;charset=UTF-8")


def not_found(what: str, kind: str) -> OktaError:
    return OktaError("E0000007", f"Resource not found: {what} ({kind})")


def invalid(field: str, message: str) -> OktaError:
    return OktaError("E0000001", field, [f"{field}: {message}"])


async def json_body(request: Request, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; malformed or non-object JSON is Okta's 400 E0000001."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise OktaError("E0000001", "The request body was not well-formed.")
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise OktaError("E0000001", "The request body was not well-formed.") from None
    if not isinstance(data, dict):
        raise OktaError("E0000001", "The request body was not well-formed.")
    return data


@overload
def string_field(data: dict[str, Any], name: str, *, required: Literal[True], where: str = "") -> str: ...


@overload
def string_field(data: dict[str, Any], name: str, *, required: bool = False, where: str = "") -> str | None: ...


def string_field(data: dict[str, Any], name: str, *, required: bool = False,
                 where: str = "") -> str | None:
    """A string field or None; a wrong type is 400 E0000001, as Okta's schema validation does."""
    value = data.get(name)
    label = f"{where}.{name}" if where else name
    if value is None:
        if required:
            raise invalid(label, "The field cannot be left blank")
        return None
    if not isinstance(value, str):
        raise invalid(label, "The field must be a string")
    if required and not value.strip():
        raise invalid(label, "The field cannot be left blank")
    return value


def install(app: FastAPI) -> None:
    """Map every failure to Okta's body: our errors, FastAPI's 404/405, validation, the rest."""

    @app.exception_handler(OktaError)
    async def _okta(_: Request, exc: OktaError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        causes = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return error_response(OktaError("E0000001", "invalid request", causes))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return error_response(OktaError("E0000022"))
        if exc.status_code == 404:
            return error_response(OktaError("E0000007", f"Resource not found: {request.url.path}"))
        return error_response(OktaError("E0000001", str(exc.detail), status=exc.status_code))

    @app.exception_handler(Exception)
    async def _any(request: Request, _exc: Exception) -> JSONResponse:  # pragma: no cover
        import logging
        logging.getLogger("lab.okta").exception("unhandled error on %s", request.url.path)
        body = {"errorCode": "E0000009", "errorSummary": "Internal Server Error",
                "errorLink": "E0000009", "errorId": "oae" + new_id("", 19), "errorCauses": []}
        return JSONResponse(body, status_code=500)
