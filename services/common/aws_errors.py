"""The one exception every part of the lab's AWS wire raises (SigV4, validation, the operations)."""
from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An AWS exception: its code (`__type`), message, HTTP status and extra error members."""

    def __init__(self, code: str, message: str | None = "", status: int | None = None, **members: Any):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.members = members
