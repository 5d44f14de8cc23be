"""Waiting for something asynchronous to happen, with a deadline."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(read: Callable[[], Any], done: Callable[[Any], bool] = bool, timeout: float = 15.0,
               interval: float = 0.1) -> Any:
    """Poll like Terraform's waiters: return the first value `done` accepts, or fail at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value!r}")
        time.sleep(interval)
