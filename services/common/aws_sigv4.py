"""SigV4 verification for the lab's AWS endpoints: a request must be signed with the lab's one access
key, for this service and region, within AWS's 15 minutes of clock skew. botocore's own signer
recomputes the signature, told exactly which headers the client signed. AWS's wording for each
refusal is kept (see docs/aws.md, "The AWS wire")."""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .aws_errors import AwsError

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60

# AWS's wording (smithy `aws.auth#InvalidSignatureException` is httpError 403; the others are the
# coral framework's 400s as seen from DynamoDB/Kinesis-style JSON services).
MSG_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                     "Check your AWS Secret Access Key and signing method. Consult the service "
                     "documentation for details.")
MSG_BAD_KEY = "The security token included in the request is invalid."
MSG_MISSING_AUTH = "Request is missing Authentication Token"


class _ExactHeadersSigner(SigV4Auth):
    """botocore's SigV4 signer, told exactly which headers were signed (no blacklist, no defaults)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: HTTPHeaders):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:  # noqa: ARG002
        return self._signed


_AUTH_PARAM = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")


@dataclass
class SigV4Verifier:
    """Recomputes a request's SigV4 signature with botocore's signer and the lab's secret key."""

    access_key: str
    secret_key: str
    region: str
    service: str
    now: Callable[[], float] = time.time
    # Every Region a client may sign for (each has its own resources, as on AWS); `region` alone if empty.
    regions: frozenset[str] = frozenset()

    def verify(self, method: str, path: str, query: str, headers: Mapping[str, str] | Any,
               body: bytes) -> str:
        """The Region the request is signed for; `AwsError` unless it is signed with the lab's key,
        for this service and a Region it is offered in."""
        authz = headers.get("authorization")
        if not authz:
            raise AwsError("MissingAuthenticationTokenException", MSG_MISSING_AUTH, 400)
        if not authz.startswith("AWS4-HMAC-SHA256 "):
            raise AwsError("IncompleteSignatureException",
                           "Authorization header requires 'AWS4-HMAC-SHA256' algorithm.", 400)
        params = dict(_AUTH_PARAM.findall(authz))
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if p not in params]
        if missing:
            raise AwsError("IncompleteSignatureException", " ".join(
                f"Authorization header requires '{p}' parameter." for p in missing)
                + f" Authorization={authz.split(' ')[0]}", 400)
        scope = params["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AwsError("IncompleteSignatureException", "Authorization header requires a 'Credential' "
                           "parameter of the form <key>/<date>/<region>/<service>/aws4_request.", 400)
        key_id, date, region, service, _ = scope
        if key_id != self.access_key:
            raise AwsError("UnrecognizedClientException", MSG_BAD_KEY, 400)
        if region != self.region and region not in self.regions:
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{region}'. ", 403)
        if service != self.service:
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: '{self.service}'. ", 403)
        amz_date = headers.get("x-amz-date") or _from_http_date(headers.get("date"))
        if not amz_date:
            raise AwsError("IncompleteSignatureException", "Authorization header requires existence of "
                           "either a 'X-Amz-Date' or a 'Date' header.", 400)
        self._check_skew(amz_date)
        if amz_date[:8] != date:
            raise AwsError("InvalidSignatureException", f"Date in Credential scope does not match "
                           f"YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != "
                           f"'{amz_date[:8]}', from '{amz_date}'.", 403)
        names = [n for n in params["SignedHeaders"].lower().split(";") if n]
        if "host" not in names:
            raise AwsError("InvalidSignatureException", "'Host' or ':authority' must be a "
                           "'SignedHeader' in the AWS Authorization.", 403)
        signed = HTTPHeaders()
        for name in names:
            for value in _all_values(headers, name):
                signed[name] = value
        content_sha = headers.get("x-amz-content-sha256")
        if content_sha and content_sha != "UNSIGNED-PAYLOAD" and content_sha != hashlib.sha256(body).hexdigest():
            raise AwsError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header "
                           "does not match what was computed.", 403)
        url = f"http://{headers.get('host', 'localhost')}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(signed.items()))
        request.context["timestamp"] = amz_date
        signer = _ExactHeadersSigner(Credentials(self.access_key, self.secret_key), service, region, signed)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):   # str: ASCII only
            raise AwsError("InvalidSignatureException", MSG_BAD_SIGNATURE, 403)
        return region

    def _check_skew(self, amz_date: str) -> None:
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, SIGV4_TIMESTAMP))
        except ValueError:
            raise AwsError("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. "
                           f"Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601", 400) from None
        now = self.now()
        fmt = lambda t: time.strftime(SIGV4_TIMESTAMP, time.gmtime(t))  # noqa: E731
        if signed_at < now - MAX_SKEW_SECONDS:
            raise AwsError("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier "
                           f"than {fmt(now - MAX_SKEW_SECONDS)} ({fmt(now)} - 15 min.)", 403)
        if signed_at > now + MAX_SKEW_SECONDS:
            raise AwsError("InvalidSignatureException", f"Signature not yet current: {amz_date} is still "
                           f"later than {fmt(now + MAX_SKEW_SECONDS)} ({fmt(now)} + 15 min.)", 403)


def _all_values(headers: Any, name: str) -> list[str]:
    if hasattr(headers, "getlist"):
        return list(headers.getlist(name))
    value = headers.get(name)
    return [] if value is None else [value]


def _from_http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        from email.utils import parsedate_to_datetime
        return parsedate_to_datetime(value).astimezone(dt.UTC).strftime(SIGV4_TIMESTAMP)
    except (TypeError, ValueError):
        return None
