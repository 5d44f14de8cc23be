"""Requests for the lab's AWS JSON 1.1 APIs drawn from botocore's service shapes, signed with the
lab's keys by botocore's own SigV4 signer (an unsigned request only tests the signature check).

`Generator.valid(operation)` makes a request body that honours the shape: required members, types,
enums, lengths and ranges, and known-good values for members whose pattern a random string would
miss (`known`: e.g. DirectoryId -> the seed's directory). `Generator.mutated(operation)` bends one
such body the way a broken client would: a member of the wrong type, a required member missing, a
huge string, a value outside its enum or range, an unknown member, null, or a body that is not an
object. Seeded (random.Random), so a failure repeats.
"""
from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape

from tests.support.http_fuzzing import Finding, Report

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@ é\u00ff\u4e2d\U0001f600"
WRONG = [0, -1, 2**63, 1.5, True, "text", "", [], {}, ["x"], {"a": 1}, None]


@dataclass
class Generator:
    service: str
    rnd: random.Random
    known: dict[str, list[Any]] = field(default_factory=dict)     # member name -> good values

    def __post_init__(self) -> None:
        self.model = botocore.session.get_session().get_service_model(self.service)

    def operation(self, name: str) -> OperationModel:
        return self.model.operation_model(name)

    # -- valid-shaped -------------------------------------------------------------------------------
    def valid(self, operation: OperationModel) -> dict[str, Any]:
        shape = operation.input_shape
        return self.value(shape, "", depth=0) if shape is not None else {}

    def value(self, shape: Shape, name: str, depth: int) -> Any:
        if name in self.known and self.rnd.random() < 0.8:
            return copy.deepcopy(self.rnd.choice(self.known[name]))   # mutations must not reach the table
        kind, meta = shape.type_name, shape.metadata
        if depth > 8 and kind in ("structure", "list", "map"):         # recursive shapes end here
            return [] if kind == "list" else {}
        if kind == "structure":
            out = {}
            for member, sub in shape.members.items():
                if member in shape.required_members or (depth < 4 and self.rnd.random() < 0.5):
                    out[member] = self.value(sub, member, depth + 1)
            return out
        if kind == "list":
            low, high = meta.get("min", 0), min(meta.get("max", 3), 3)
            return [self.value(shape.member, name, depth + 1) for _ in range(self.rnd.randint(low, max(low, high)))]
        if kind == "map":
            return {self.value(shape.key, name, depth + 1): self.value(shape.value, name, depth + 1)
                    for _ in range(self.rnd.randint(0, 2))}
        if kind == "string":
            if meta.get("enum"):
                return self.rnd.choice(meta["enum"])
            low, high = meta.get("min", 0), min(meta.get("max", 24), 24)
            return "".join(self.rnd.choice(ALPHABET) for _ in range(self.rnd.randint(low, max(low, high))))
        if kind in ("integer", "long"):
            return self.rnd.randint(int(meta.get("min", -5)), int(meta.get("max", 1000)))
        if kind in ("float", "double"):
            return self.rnd.uniform(meta.get("min", -5.0), meta.get("max", 1000.0))
        if kind == "boolean":
            return self.rnd.random() < 0.5
        if kind == "timestamp":
            return self.rnd.choice([1_700_000_000, 1_700_000_000.5, "2026-01-01T00:00:00Z"])
        return None

    # -- mutated ------------------------------------------------------------------------------------
    def mutated(self, operation: OperationModel) -> Any:
        body = self.valid(operation)
        kind = self.rnd.randrange(8)
        if kind == 0:
            return self.rnd.choice([[], "text", 42, None, True, [body]])
        paths = list(_paths(body))
        if not paths:
            return {"Unknown": self.rnd.choice(WRONG)}
        parent, key = self.rnd.choice(paths)
        if kind == 1:                                           # a wrong type
            parent[key] = self.rnd.choice(WRONG)
        elif kind == 2 and isinstance(parent, dict):            # a member missing
            del parent[key]
        elif kind == 3:                                         # a huge string
            parent[key] = self.rnd.choice(ALPHABET) * self.rnd.choice([256, 4096, 70_000])
        elif kind == 4:                                         # out of its enum or range
            parent[key] = self.rnd.choice(["NOT_A_VALUE", "small", -2**31 - 1, 2**31, 10**30, -1, 0, 1e308])
        elif kind == 5 and isinstance(parent, dict):            # an unknown member
            parent["Unknown" + str(key)] = self.rnd.choice(WRONG)
        elif kind == 6:                                         # null
            parent[key] = None
        else:                                                   # a value of another member
            other_parent, other_key = self.rnd.choice(paths)
            parent[key] = copy.deepcopy(other_parent[other_key])
        return body


def _paths(value: Any):
    """(container, key) for every member and list item in `value`, depth first."""
    if isinstance(value, dict):
        for key, item in list(value.items()):
            yield value, key
            yield from _paths(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _paths(item)


class SignedClient:
    """POSTs JSON 1.1 calls signed with the lab's keys, as botocore signs them."""

    def __init__(self, endpoint: str, service_model: Any, credentials: dict[str, str]) -> None:
        self.endpoint = endpoint
        self.prefix = service_model.metadata["targetPrefix"]
        self.signing_name = service_model.signing_name
        self.creds = Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
        self.region = credentials["aws_region"]
        self.session = requests.Session()

    def call(self, operation: str, body: Any, mangle: Any = None) -> requests.Response:
        """POST `body` (JSON, or bytes as they are); `mangle(headers)` may bend the signed headers."""
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        request = AWSRequest(method="POST", url=self.endpoint + "/", data=data, headers={
            "X-Amz-Target": f"{self.prefix}.{operation}", "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(self.creds, self.signing_name, self.region).add_auth(request)
        headers = dict(request.headers.items())
        return self.session.post(self.endpoint + "/", data=data, headers=mangle(headers) if mangle else headers,
                                 timeout=20)


def fuzz_aws(client: SignedClient, generator: Generator, operations: list[str], cases: int) -> Report:
    """`cases` valid-shaped and `cases` mutated calls of each operation, and a few malformed bodies;
    a finding is a 5xx, a dropped connection, or an error without AWS's `__type`."""
    report = Report()
    for operation in operations:
        model = generator.operation(operation)
        bodies: list[Any] = [generator.valid(model) for _ in range(cases)]
        bodies += [generator.mutated(model) for _ in range(cases)]
        bodies += [b"{", b"\xff\xfe", b'{"a":', b"[]"]
        for body in bodies:
            report.sent += 1
            try:
                resp = client.call(operation, body)
            except requests.RequestException as exc:
                report.statuses[exc.__class__.__name__] += 1
                report.findings.append(Finding(operation, exc.__class__.__name__, repr(body)[:300], str(exc)[:300]))
                continue
            report.statuses[resp.status_code] += 1
            report.by_operation.setdefault(operation, type(report.statuses)())[resp.status_code] += 1
            shaped = resp.status_code < 400 or _aws_error(resp)
            if resp.status_code >= 500 or not shaped:
                report.findings.append(Finding(operation, resp.status_code, repr(body)[:300], resp.text[:300]))
    return report


def _aws_error(resp: requests.Response) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("__type"), str) and "message" in body


CONTROL = bytes(b for b in range(32) if b != 9) + b"\x7f"
SIGNATURE_HEADERS = ["Authorization", "X-Amz-Date", "X-Amz-Target", "Content-Type"]


def fuzz_signature(client: SignedClient, operation: str, body: Any, cases: int, rnd: random.Random) -> Report:
    """A valid signed call with one of its headers mutated byte-wise (tests.support.fuzzing.mutate): the
    SigV4 parser's input. A finding is a 5xx, a dropped connection, or an error not in AWS's shape."""
    from tests.support.fuzzing import mutate

    report = Report()
    for _ in range(cases):
        name = rnd.choice(SIGNATURE_HEADERS)

        def bend(headers: dict[str, str], name: str = name) -> dict[str, str]:
            raw = mutate(headers[name].encode("latin-1"), rnd)
            # control bytes HTTP forbids in a header value only test the HTTP server's parser (h11
            # answers them with its own 400 before the service sees the request)
            headers[name] = raw.translate(None, CONTROL).decode("latin-1").strip() or "x"
            return headers

        report.sent += 1
        try:
            resp = client.call(operation, body, mangle=bend)
        except requests.RequestException as exc:
            report.statuses[exc.__class__.__name__] += 1
            report.findings.append(Finding(f"{operation} ({name})", exc.__class__.__name__, "", str(exc)[:300]))
            continue
        report.statuses[resp.status_code] += 1
        if resp.status_code >= 500 or (resp.status_code >= 400 and not _aws_error(resp)):
            report.findings.append(Finding(f"{operation} ({name})", resp.status_code,
                                           repr(resp.request.headers.get(name))[:300], resp.text[:300]))
    return report
