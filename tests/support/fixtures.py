"""Fixtures every test may use (tests/conftest.py loads this module as a pytest plugin)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .services import running_services


@pytest.fixture(scope="module")
def start_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., dict[str, Any]]]:
    """`start_services(names, subnet, **options)` starts services for the module (options as for
    `running_services`) and returns their topology; everything is stopped when the module ends."""
    with contextlib.ExitStack() as stack:
        def start(names: list[str], subnet: str, **options: Any) -> dict[str, Any]:
            state_dir = tmp_path_factory.mktemp(f"services-{subnet}")
            return stack.enter_context(running_services(names, state_dir, subnet, **options))

        yield start
