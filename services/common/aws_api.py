"""The AWS JSON 1.1 wire, shared by the lab's emulated AWS services (Directory Service, WorkSpaces).

Plumbing only, no domain logic: SigV4 verification against the lab's one access key
(aws_sigv4.py), the `X-Amz-Target` dispatch, request validation and response shaping driven by
botocore's own service models, and AWS's error body (`{"__type", "message"}` plus the error shape's
members, with `x-amzn-RequestId`). A service supplies one async handler per operation and raises
`AwsError` (aws_errors.py); Describe* handlers page with aws_paging.py.

Why botocore's models: they are what boto3 itself uses, so the members, types, ranges, patterns
and enums we check are exactly AWS's, and a new SDK member needs no code here. botocore checks only
`required`, types and `min` on the client side (docs/aws.md, "The AWS wire"); everything else —
max, enum, pattern — has to be checked by the server, which is this module.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import aws_models
from .aws_errors import AwsError
from .aws_sigv4 import SigV4Verifier
from .http_guard import ErrorShape, default_errors

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape

CONTENT_TYPE = "application/x-amz-json-1.1"


# -- the service model -----------------------------------------------------------------------------

_PUNCT = re.escape(string.punctuation)
# Java-only regex classes that appear in AWS models, in Python `re` terms.
_JAVA_CLASSES = {r"\p{LD}": r"[^\W_]", r"\p{Punct}": f"[{_PUNCT}]", r"\p{L}": r"[^\W\d_]",
                 r"\p{N}": r"\d", r"\p{Z}": r"\s", r"\p{S}": f"[{_PUNCT}]", r"\p{P}": f"[{_PUNCT}]"}


def _compile(pattern: str) -> re.Pattern[str] | None:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    try:
        return re.compile(pattern)
    except re.error:
        return None   # a pattern Python cannot express is not checked rather than wrongly checked


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


class AwsModel(aws_models.ServedModel):
    """One botocore service model (narrowed to the served operations by `mount`, aws_models.py):
    operation lookup, request validation, response shaping."""

    def __init__(self, service_name: str) -> None:
        super().__init__(service_name)
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    @property
    def target_prefix(self) -> str:
        return str(self.service.metadata["targetPrefix"])

    # validation ----------------------------------------------------------------------------------
    def validate(self, operation: OperationModel, params: Any) -> list[str]:
        """Coral-style violations ("Value 'x' at 'a.b' failed to satisfy constraint: ...").

        Raises AwsError(SerializationException) when a value has the wrong JSON type, as AWS does
        before it looks at constraints.
        """
        errors: list[str] = []
        if operation.input_shape is not None:
            self._check(operation.input_shape, params, "", errors)
        return errors

    def _check(self, shape: Shape, value: Any, path: str, errors: list[str]) -> None:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                raise AwsError("SerializationException", f"Expected an object at '{path or 'body'}'", 400)
            for name in shape.required_members:
                if value.get(name) is None:
                    errors.append(f"Value null at '{self._join(path, name)}' failed to satisfy constraint: "
                                  "Member must not be null")
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    self._check(member, value[name], self._join(path, name), errors)
            return
        if kind == "list":
            if not isinstance(value, list):
                raise AwsError("SerializationException", f"Expected a list at '{path}'", 400)
            self._range(shape, len(value), value, path, errors, "length")
            for index, item in enumerate(value, 1):
                if item is None:    # the models' lists are not sparse: handlers may rely on members
                    errors.append(f"Value null at '{path}.{index}.member' failed to satisfy constraint: "
                                  "Member must not be null")
                else:
                    self._check(shape.member, item, f"{path}.{index}.member", errors)
            return
        if kind == "map":
            if not isinstance(value, dict):
                raise AwsError("SerializationException", f"Expected an object at '{path}'", 400)
            self._range(shape, len(value), value, path, errors, "length")
            for key, item in value.items():
                self._check(shape.key, key, f"{path}.key", errors)
                if item is not None:
                    self._check(shape.value, item, f"{path}.value", errors)
            return
        if kind == "string":
            if not isinstance(value, str):
                raise AwsError("SerializationException", f"Expected a string at '{path}'", 400)
            shown = None if shape.metadata.get("sensitive") else value
            self._range(shape, len(value), shown, path, errors, "length")
            enum = shape.metadata.get("enum")
            if enum and value not in enum:
                errors.append(self._violation(shown, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
            pattern = shape.metadata.get("pattern")
            if pattern:
                compiled = self._patterns.setdefault(pattern, _compile(pattern))
                if compiled is not None and not compiled.search(value):
                    errors.append(self._violation(shown, path,
                                                  f"Member must satisfy regular expression pattern: {pattern}"))
            return
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise AwsError("SerializationException", f"Expected an integer at '{path}'", 400)
            self._range(shape, value, value, path, errors, "value")
            return
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AwsError("SerializationException", f"Expected a number at '{path}'", 400)
            self._range(shape, value, value, path, errors, "value")
            return
        if kind == "boolean" and not isinstance(value, bool):
            raise AwsError("SerializationException", f"Expected a boolean at '{path}'", 400)
        if kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            raise AwsError("SerializationException", f"Expected a timestamp at '{path}'", 400)

    def _range(self, shape: Shape, measure: float, shown: Any, path: str, errors: list[str], what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and measure < low:
            errors.append(self._violation(shown, path, f"Member must have {what} greater than or equal to {low}"))
        if high is not None and measure > high:
            errors.append(self._violation(shown, path, f"Member must have {what} less than or equal to {high}"))

    @staticmethod
    def _violation(shown: Any, path: str, constraint: str) -> str:
        value = "Value" if shown is None else f"Value '{_show(shown)}'"
        return f"{value} at '{path}' failed to satisfy constraint: {constraint}"

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)

    # output --------------------------------------------------------------------------------------
    def shape_output(self, operation: OperationModel, data: dict[str, Any]) -> dict[str, Any]:
        """Only the output shape's members, recursively: internal fields never leak to the wire."""
        if operation.output_shape is None:
            return {}
        return self._shape(operation.output_shape, data)

    def _shape(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                return None
            out = {}
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    shaped = self._shape(member, value[name])
                    if shaped is not None:
                        out[name] = shaped
            return out
        if kind == "list":
            return [self._shape(shape.member, v) for v in value] if isinstance(value, list) else None
        if kind == "map":
            return {k: self._shape(shape.value, v) for k, v in value.items()} if isinstance(value, dict) else None
        if kind == "timestamp":
            return to_epoch(value)
        return value

    # errors --------------------------------------------------------------------------------------
    def error_body(self, error: AwsError, request_id: str) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body for `error`, with the members its model shape declares."""
        shape = next((s for s in self.service.error_shapes if s.name == error.code), None)
        status = error.status
        if status is None:
            status = 400
            if shape is not None:
                status = shape.metadata.get("error", {}).get("httpStatusCode") or \
                    (500 if shape.metadata.get("fault") else 400)
        body: dict[str, Any] = {"__type": error.code, "message": error.message}
        if shape is not None:
            if "Message" in shape.members:
                body["Message"] = error.message
            if "RequestId" in shape.members:
                body["RequestId"] = request_id
            for name, value in error.members.items():
                if name in shape.members:
                    body[name] = value
        return status, body


def to_epoch(value: Any) -> float | None:
    """A JSON-protocol timestamp (epoch seconds) from epoch numbers or ISO-8601 strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def body_errors(other: ErrorShape = default_errors) -> ErrorShape:
    """http_guard's refusals (a body too large or nested too deep) in AWS's JSON 1.1 shape on the
    API (`POST /`): a SerializationException, as AWS answers a body it cannot deserialize; the
    app's other routes keep their own shape (`other`)."""
    def shape(status: int, message: str, scope: Any) -> tuple[dict[str, Any], dict[str, str]]:
        if scope.get("path") != "/":
            return other(status, message, scope)
        return ({"__type": "SerializationException", "message": message},
                {"content-type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())})
    return shape


# -- the endpoint ----------------------------------------------------------------------------------

@dataclass
class Call:
    """What a handler knows about the call besides its parameters."""
    operation: str
    request_id: str
    trace: str | None
    peer: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    region: str = ""     # the Region the request is signed for: each Region has its own resources


Handler = Callable[[dict[str, Any], Call], Awaitable[dict[str, Any] | None]]


def verifier_for(ctx: Any, model: aws_models.ServedModel, handlers: dict[str, Any]) -> SigV4Verifier:
    """The SigV4 check of a lab AWS API (its keys, any Region botocore knows for the service),
    after narrowing the model to the handlers' operations, which makes sure each is an operation
    of the service (ValueError before anything serves). Shared by the JSON APIs (here) and the
    Query ones (aws_query.py)."""
    model.serve(handlers)
    return SigV4Verifier(ctx.credential("aws_access_key_id"), ctx.credential("aws_secret_access_key"),
                         ctx.credential("aws_region"), model.signing_name, now=ctx.clock.now,
                         regions=aws_models.regions(model.service.endpoint_prefix))


def mount(app: FastAPI, ctx: Any, *, model: AwsModel, handlers: dict[str, Handler],
          invalid_parameter_code: str) -> None:
    """Serve `POST /` as the AWS JSON 1.1 API of `model`'s service with `handlers` per operation.

    `invalid_parameter_code` is the exception a model-constraint violation becomes (for DS
    `InvalidParameterException`, for WorkSpaces `InvalidParameterValuesException`); the message is
    the coral "N validation error(s) detected: ..." text.
    """
    verifier = verifier_for(ctx, model, handlers)

    @app.post("/")
    async def aws_json(request: Request) -> JSONResponse:
        request_id = str(uuid.uuid4())
        trace = request.headers.get("X-Lab-Trace")
        peer = request.client.host if request.client else None
        target = request.headers.get("x-amz-target", "")
        operation_name = target.split(".", 1)[1] if target.startswith(model.target_prefix + ".") else None
        body = await request.body()
        params: Any = None
        try:
            region = verifier.verify(request.method, request.url.path, request.url.query, request.headers, body)
            if not operation_name or not model.known(operation_name):
                raise AwsError("UnknownOperationException", None, 400)
            operation = model.operation(operation_name) if operation_name in handlers else None
            if operation is None:   # real AWS operation the lab does not emulate: a 400,
                # not moto's 500, so botocore does not retry it for seconds
                raise AwsError("UnknownOperationException", f"The lab does not implement {target}.", 400)
            try:
                params = json.loads(body) if body.strip() else {}
            except ValueError:
                raise AwsError("SerializationException", "The request body is not valid JSON.", 400) from None
            violations = model.validate(operation, params)
            if violations:
                count = len(violations)
                raise AwsError(invalid_parameter_code, f"{count} validation error{'s' if count > 1 else ''} "
                               f"detected: " + "; ".join(violations))
            call = Call(operation_name, request_id, trace, peer, region=region)
            result = await handlers[operation_name](params, call) or {}
            shaped = model.shape_output(operation, result)
        except AwsError as error:
            status, err_body = model.error_body(error, request_id)
            ctx.record("aws.call", peer=peer, outcome=error.code, trace=trace, operation=operation_name,
                       request_id=request_id, status=status, message=error.message,
                       params=params if isinstance(params, dict) else None)
            ctx.log.info("%s → %s %s", operation_name or target or "?", status, error.code)
            return JSONResponse(err_body, status_code=status, media_type=CONTENT_TYPE,
                                headers={"x-amzn-RequestId": request_id})
        except Exception as exc:  # a bug must look like AWS's InternalFailure, never a traceback
            ctx.log.exception("%s failed", operation_name)
            ctx.record("aws.call", peer=peer, outcome="InternalFailure", trace=trace,
                       operation=operation_name, request_id=request_id, error=exc.__class__.__name__)
            return JSONResponse({"__type": "InternalFailure", "message": None}, status_code=500,
                                media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})
        ctx.record("aws.call", peer=peer, outcome="ok", trace=trace, operation=operation_name,
                   request_id=request_id, params=params)
        return JSONResponse(shaped, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})
