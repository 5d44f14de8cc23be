"""Requests for the lab's AWS Query APIs (EC2's dialect) drawn from botocore's service shapes,
form-encoded by botocore's own EC2 serializer and signed with the lab's keys.

Valid-shaped requests come from aws_fuzzing.Generator (the same shapes, required members, enums,
known-good ids), serialised as boto3 would send them. Mutated requests bend the form itself, the
way a broken client or a hand-written `curl` would: a field dropped, a value replaced by garbage
(wrong type, huge, control characters, non-UTF-8), an unknown field, an index that is not a number
or is huge, a deep dotted name, the Action or Version bent, the body not form-encoded at all.
Seeded (random.Random), so a failure repeats.
"""
from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from tests.support.aws_fuzzing import Generator
from tests.support.http_fuzzing import Finding, Report

GARBAGE = ["", "x", "-1", "99999999999999999999999", "true", "1.5", "sg-", "\u00e9\u4e2d\U0001f600", "a" * 70_000,
           "\x01\x02", "%00", "<xml/>", "*", "0.0.0.0/0", "::/0", "i-0123456789abcdef0"]


class QueryClient:
    """POSTs form bodies signed with the lab's keys, as botocore signs them."""

    def __init__(self, endpoint: str, credentials: dict[str, str], service: str = "ec2") -> None:
        self.endpoint, self.service = endpoint, service
        self.creds = Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
        self.region = credentials["aws_region"]
        self.session = requests.Session()

    def post(self, body: bytes) -> requests.Response:
        request = AWSRequest(method="POST", url=self.endpoint + "/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(self.creds, self.service, self.region).add_auth(request)
        return self.session.post(self.endpoint + "/", data=body, headers=dict(request.headers.items()), timeout=30)


def form(generator: Generator, operation: str) -> dict[str, str]:
    """A valid-shaped request of `operation` as boto3 would encode it (botocore's serializer)."""
    model = generator.operation(operation)
    params = generator.valid(model)
    serializer = create_serializer("ec2", include_validation=False)
    try:
        body = serializer.serialize_to_request(params, model)["body"]
    except (TypeError, ValueError, AttributeError, KeyError):
        body = {"Action": operation, "Version": generator.model.api_version}
    return {str(k): str(v) for k, v in body.items()}


def mutated(fields: dict[str, str], rnd: random.Random) -> bytes:
    fields = dict(fields)
    names = list(fields)
    kind = rnd.randrange(9)
    if kind == 0 and names:
        del fields[rnd.choice(names)]
    elif kind == 1 and names:
        fields[rnd.choice(names)] = rnd.choice(GARBAGE)
    elif kind == 2:
        fields["Unknown" + str(rnd.randrange(100))] = rnd.choice(GARBAGE)
    elif kind == 3 and names:
        base = rnd.choice(names).rsplit(".", 1)[0]
        fields[f"{base}.{rnd.choice(['x', '-1', '0', '99999999', '1e3', ''])}"] = rnd.choice(GARBAGE)
    elif kind == 4:
        fields[".".join(["Filter", "1"] * rnd.randint(5, 200))] = "x"
    elif kind == 5:
        fields[rnd.choice(["Action", "Version"])] = rnd.choice(GARBAGE + ["DescribeVpcs", "RunInstances"])
    elif kind == 6:
        return rnd.choice([b"\xff\xfe\xfd", b"=&=&", b"Action", b"%zz=%zz", b"a=" + b"%" * 100,
                           "&".join(f"f{i}={i}" for i in range(5000)).encode()])
    elif kind == 7:
        for name in names[:3]:
            fields[name + ".1"] = rnd.choice(GARBAGE)
    else:
        fields[rnd.choice(names) if names else "GroupId.1"] = "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(50))
    return urlencode(fields).encode()


def _ec2_error(resp: requests.Response) -> bool:
    try:
        root = ET.fromstring(resp.content)
    except ET.ParseError:
        return False
    return root.tag == "Response" and root.find("Errors/Error/Code") is not None and \
        root.find("RequestID") is not None


def fuzz_query(client: QueryClient, generator: Generator, operations: list[str], cases: int, rnd: random.Random,
               ) -> Report:
    """`cases` valid-shaped and `cases` mutated calls of each operation; a finding is a 5xx, a
    dropped connection, an error not in EC2's XML shape, or a success that is not XML."""
    report = Report()
    for operation in operations:
        bodies: list[Any] = []
        for _ in range(cases):
            valid = form(generator, operation)
            bodies += [urlencode(valid).encode(), mutated(valid, rnd)]
        for body in bodies:
            report.sent += 1
            try:
                resp = client.post(body)
            except requests.RequestException as exc:
                report.statuses[exc.__class__.__name__] += 1
                report.findings.append(Finding(operation, exc.__class__.__name__, repr(body)[:300], str(exc)[:300]))
                continue
            report.statuses[resp.status_code] += 1
            report.by_operation.setdefault(operation, type(report.statuses)())[resp.status_code] += 1
            if resp.status_code >= 400:
                shaped = _ec2_error(resp)
            else:
                try:
                    shaped = ET.fromstring(resp.content).tag.endswith("Response")
                except ET.ParseError:
                    shaped = False
            if resp.status_code >= 500 or not shaped:
                report.findings.append(Finding(operation, resp.status_code, repr(body)[:300], resp.text[:300]))
    return report
