"""What running a scenario gave: its outcome, and the failure that ends a scenario early."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Scenario


class StepFailed(Exception):
    """A step did not go as the scenario expects; the scenario fails with this message."""


@dataclass
class Outcome:
    scenario: Scenario
    passed: bool
    seconds: float
    failures: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    logins: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    topology: dict[str, Any] | None = None   # the lab it ran in (for drawing its events)
    # Step by step: (number, what it does as `lab demo` tells it, "ok" | "FAILED" | "not run").
    steps: list[tuple[int, str, str]] = field(default_factory=list)
