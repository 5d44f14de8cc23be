"""The AWS Query wire in EC2's dialect (protocol `ec2`), the XML counterpart of aws_api.py.

A request is form-encoded (`Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1=sg-…`),
in the body of a POST or the query string of a GET, and SigV4-signed (aws_sigv4.py). Parameters
are read back into the operation's input shape by inverting botocore's own EC2 serializer: a
member's wire name is its `queryName`, else its `locationName` capitalised, else its own name;
list items are `Name.1`, `Name.2`, … whatever the list's member is called; structures nest with
dots (`IpPermissions.1.IpRanges.1.CidrIp`, `Filter.1.Value.1`). Answers are XML in EC2's shape:
`<{Action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with `requestId` first, each
member under its `locationName`, lists as `<item>` elements; errors are
`<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.

Why botocore's model: it is what boto3 and the AWS CLI serialise from, so a request they can make
is one this module can read, and the XML they parse is the XML written here. EC2 answers every
client error with HTTP 400 (401/403 for credentials and signatures), the error code carrying the
meaning (docs/aws.md, "EC2").
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import aws_models
from .aws_api import Call, verifier_for
from .aws_errors import AwsError

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape

CONTENT_TYPE = "text/xml;charset=UTF-8"
MAX_PARAMETERS = 2000          # more form fields than any real call has: refused before parsing
MAX_DEPTH = 12                 # recursive shapes end here
BODY_LIMIT = 1024 * 1024       # as the lab's other AWS endpoints (services/common/http_guard.py)
_INDEX = re.compile(r"[0-9]{1,6}")
# Characters XML 1.0 cannot carry: replaced, so a stored value never breaks the client's parser.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

Handler = Callable[[dict[str, Any], Call], Awaitable[dict[str, Any] | None]]

# SigV4's refusals (aws_sigv4.py speaks the JSON services' codes) in EC2's codes and statuses.
_SIGV4_CODES = {
    "MissingAuthenticationTokenException": ("MissingAuthenticationToken", 401),
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "UnrecognizedClientException": ("AuthFailure", 401),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
}
_AUTH_FAILURE = "AWS was not able to validate the provided access credentials"


def _wire_name(shape: Shape, default: str) -> str:
    """The input name botocore's EC2Serializer gives a member."""
    if "queryName" in shape.serialization:
        return str(shape.serialization["queryName"])
    name = shape.serialization.get("name")
    return name[0].upper() + name[1:] if name else default


class QueryModel(aws_models.ServedModel):
    """One botocore service model of protocol `ec2` (narrowed to the served operations by `mount`,
    aws_models.py): reading requests, writing XML answers."""

    @property
    def version(self) -> str:
        return str(self.service.api_version)

    @property
    def namespace(self) -> str:
        return f"http://ec2.amazonaws.com/doc/{self.version}/"

    # -- reading a request --------------------------------------------------------------------------
    def parse(self, operation: OperationModel, form: dict[str, str]) -> dict[str, Any]:
        """The operation's parameters from the form's fields; AwsError for what EC2 refuses:
        an unknown field (UnknownParameter), a value of the wrong type or outside its enum
        (InvalidParameterValue), a required member missing (MissingParameter)."""
        fields = {k: v for k, v in form.items() if k not in ("Action", "Version")}
        used: set[str] = set()
        params: dict[str, Any] = {}
        if operation.input_shape is not None:
            params = self._read_structure(operation.input_shape, "", fields, used, 0) or {}
            self._required(operation.input_shape, params, "")
        unknown = sorted(set(fields) - used)
        if unknown:
            raise AwsError("UnknownParameter", f"The parameter {unknown[0]} is not recognized")
        return params

    def _read(self, shape: Shape, key: str, fields: dict[str, str], used: set[str], depth: int) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self._read_structure(shape, key, fields, used, depth + 1)
        if kind == "list":
            if depth > MAX_DEPTH:
                return None
            indices = sorted({int(rest.split(".", 1)[0]) for name in fields if name.startswith(key + ".")
                              for rest in [name[len(key) + 1:]] if _INDEX.fullmatch(rest.split(".", 1)[0])})
            items = [self._read(shape.member, f"{key}.{i}", fields, used, depth + 1) for i in indices]
            return [item for item in items if item is not None] or None
        if key not in fields:
            return None
        used.add(key)
        return self._scalar(shape, key, fields[key])

    def _read_structure(self, shape: Shape, prefix: str, fields: dict[str, str], used: set[str],
                        depth: int) -> dict[str, Any] | None:
        if depth > MAX_DEPTH:
            return None
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = _wire_name(member, name)
            value = self._read(member, f"{prefix}.{wire}" if prefix else wire, fields, used, depth)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None

    @staticmethod
    def _scalar(shape: Shape, key: str, raw: str) -> Any:
        kind = shape.type_name
        bad = AwsError("InvalidParameterValue", f"Value ({raw[:200]}) for parameter {key} is invalid.")
        if kind in ("integer", "long"):
            if not re.fullmatch(r"-?[0-9]{1,19}", raw.strip()):
                raise bad
            number = int(raw)
            if not -(2**63) <= number < 2**63:
                raise bad
            return number
        if kind in ("float", "double"):
            try:
                return float(raw)
            except ValueError:
                raise bad from None
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise bad
            return raw.lower() == "true"
        if kind == "timestamp":
            try:
                parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise bad from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if kind == "blob":
            try:
                return base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise bad from None
        enum = shape.metadata.get("enum")
        if enum and raw not in enum:
            raise AwsError("InvalidParameterValue", f"Value ({raw[:200]}) for parameter {key} is invalid. "
                           f"Expected one of: {', '.join(enum[:20])}{', …' if len(enum) > 20 else ''}.")
        return raw

    def _required(self, shape: Shape, value: dict[str, Any], prefix: str) -> None:
        for name in shape.required_members:
            if value.get(name) is None:
                wire = _wire_name(shape.members[name], name)
                raise AwsError("MissingParameter",
                               f"The request must contain the parameter {prefix + '.' if prefix else ''}{wire}")
        for name, member in shape.members.items():
            item = value.get(name)
            if member.type_name == "structure" and isinstance(item, dict):
                self._required(member, item, _wire_name(member, name))
            elif member.type_name == "list" and member.member.type_name == "structure" and isinstance(item, list):
                for index, entry in enumerate(item, 1):
                    self._required(member.member, entry, f"{_wire_name(member, name)}.{index}")

    # -- writing an answer --------------------------------------------------------------------------
    def xml(self, operation: OperationModel, data: dict[str, Any], request_id: str) -> bytes:
        """`data` (members by their model names) as EC2's XML answer; members the output shape does
        not declare never reach the wire."""
        root = ET.Element(f"{operation.name}Response", xmlns=self.namespace)
        ET.SubElement(root, "requestId").text = request_id
        if operation.output_shape is not None:
            self._write_members(root, operation.output_shape, data)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")

    def _write_members(self, parent: ET.Element, shape: Shape, data: dict[str, Any]) -> None:
        for name, member in shape.members.items():
            value = data.get(name)
            if value is not None:
                self._write(parent, member, member.serialization.get("name", name), value)

    def _write(self, parent: ET.Element, shape: Shape, tag: str, value: Any) -> None:
        kind = shape.type_name
        if kind == "structure":
            if isinstance(value, dict):
                self._write_members(ET.SubElement(parent, tag), shape, value)
            return
        if kind == "list":
            if isinstance(value, list):
                element = ET.SubElement(parent, tag)
                for item in value:
                    if item is not None:
                        self._write(element, shape.member, shape.member.serialization.get("name", "member"), item)
            return
        element = ET.SubElement(parent, tag)
        if kind == "boolean":
            element.text = "true" if value else "false"
        elif kind == "timestamp":
            element.text = _iso(value)
        elif kind == "blob":
            element.text = base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
        else:
            element.text = _NOT_XML.sub("\ufffd", str(value))

    @staticmethod
    def error_xml(code: str, message: str | None, request_id: str) -> bytes:
        root = ET.Element("Response")
        error = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
        ET.SubElement(error, "Code").text = code
        ET.SubElement(error, "Message").text = _NOT_XML.sub("\ufffd", message or "")
        ET.SubElement(root, "RequestID").text = request_id
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _iso(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def _sigv4_error(error: AwsError) -> AwsError:
    code, status = _SIGV4_CODES.get(error.code, (error.code, error.status or 400))
    message = error.message
    if code == "AuthFailure":
        message = _AUTH_FAILURE
    elif code == "SignatureDoesNotMatch" and message and message.startswith("Signature "):
        code, status = "RequestExpired", 400       # EC2's code for a request outside the 15 minutes
    return AwsError(code, message, status)


def form_of(body: bytes, query: str) -> dict[str, str]:
    """The request's fields: the query string's, then the form body's (a POST's)."""
    fields: dict[str, str] = {}
    for source in (query, body):
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        if not text:
            continue
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
        fields.update(pairs)
    return fields


async def _body(request: Request) -> bytes:
    """The request body, refused past BODY_LIMIT (a 413 in EC2's error shape) without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise AwsError("RequestEntityTooLarge", f"The request body exceeds {BODY_LIMIT} bytes.", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise AwsError("RequestEntityTooLarge", f"The request body exceeds {BODY_LIMIT} bytes.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def mount(app: FastAPI, ctx: Any, *, model: QueryModel, handlers: dict[str, Handler]) -> None:
    """Serve `POST /` and `GET /` as `model`'s Query API with `handlers` per Action."""
    verifier = verifier_for(ctx, model, handlers)

    async def serve(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        trace = request.headers.get("X-Lab-Trace")
        peer = request.client.host if request.client else None
        action: str | None = None
        params: dict[str, Any] | None = None
        try:
            body = await _body(request)
            try:
                region = verifier.verify(request.method, request.url.path, request.url.query, request.headers, body)
            except AwsError as error:
                raise _sigv4_error(error) from None
            try:
                form = form_of(body, request.url.query)
            except (UnicodeDecodeError, ValueError):
                raise AwsError("InvalidParameterValue", "The request's parameters are not valid "
                               "form-encoded UTF-8 (or there are too many of them).") from None
            action = form.get("Action")
            if not action:
                raise AwsError("MissingAction", "The request must contain the parameter Action")
            if not model.known(action):
                raise AwsError("InvalidAction", f"The action {action[:100]} is not valid for this web service.")
            operation = model.operation(action) if action in handlers else None
            if operation is None:           # AWS's but not the lab's: a 400, so clients do not retry
                raise AwsError("UnsupportedOperation", f"The lab does not implement {action}.")
            params = model.parse(operation, form)
            if params.get("DryRun"):
                raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.",
                               412)
            call = Call(action, request_id, trace, peer, region=region)
            result = await handlers[action](params, call) or {}
            answer = model.xml(operation, result, request_id)
        except AwsError as error:
            status = error.status or 400
            ctx.record("aws.call", peer=peer, outcome=error.code, trace=trace, operation=action,
                       request_id=request_id, status=status, message=error.message, params=params)
            ctx.log.info("%s → %s %s", action or "?", status, error.code)
            return Response(model.error_xml(error.code, error.message, request_id), status_code=status,
                            media_type=CONTENT_TYPE)
        except Exception as exc:  # a bug must look like AWS's InternalError, never a traceback
            ctx.log.exception("%s failed", action)
            ctx.record("aws.call", peer=peer, outcome="InternalError", trace=trace, operation=action,
                       request_id=request_id, error=exc.__class__.__name__)
            return Response(model.error_xml("InternalError", "An internal error has occurred", request_id),
                            status_code=500, media_type=CONTENT_TYPE)
        ctx.record("aws.call", peer=peer, outcome="ok", trace=trace, operation=action,
                   request_id=request_id, params=params)
        return Response(answer, media_type=CONTENT_TYPE)

    app.add_api_route("/", serve, methods=["POST", "GET"])
