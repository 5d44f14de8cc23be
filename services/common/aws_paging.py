"""Paging for the lab's AWS Describe* operations: `Limit` items at a time, `NextToken` to go on.

AWS's tokens are opaque. Ours carry the offset and a digest of the query's filter parameters, so
a token is good only for the query that produced it (reusing one with other filters fails, as on
AWS). Each service states its page size and how it refuses a bad token (AWS differs per service:
Directory Service says InvalidNextTokenException, WorkSpaces InvalidParameterValuesException).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from .aws_errors import AwsError

T = TypeVar("T")


@dataclass(frozen=True)
class Pager:
    default_limit: int          # the page size when Limit is absent or 0
    invalid_code: str           # the AwsError a bad NextToken raises
    invalid_message: str

    def page(self, items: list[T], params: dict[str, Any],
             query: tuple[str, ...] = ()) -> tuple[list[T], str | None]:
        """One page of `items` and the NextToken for the next one (None on the last page).
        `query` names the parameters a token is bound to."""
        limit = params.get("Limit") or self.default_limit
        digest = hashlib.sha256(json.dumps({f: params.get(f) for f in query}, sort_keys=True)
                                .encode()).hexdigest()[:16]
        start = 0
        if params.get("NextToken") is not None:
            try:
                token = json.loads(base64.urlsafe_b64decode(params["NextToken"].encode()))
                start = int(token["o"])
                valid = token["q"] == digest and 0 <= start <= len(items)
            except (ValueError, KeyError, TypeError, binascii.Error):
                valid = False
            if not valid:
                raise AwsError(self.invalid_code, self.invalid_message)
        end = start + limit
        token = None
        if end < len(items):
            token = base64.urlsafe_b64encode(json.dumps({"o": end, "q": digest}).encode()).decode()
        return items[start:end], token
