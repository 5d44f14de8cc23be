"""Demo mode: a scenario narrated for a class. Before each step it says what the admin or user does
in the walkthrough; after it, what crossed the wire and what the real client would show. In a
terminal it pauses between steps so the trainer can talk."""
from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import LabClient
from .scenarios.model import Scenario
from .scenarios.outcome import Outcome
from .scenarios.runner import Runner
from .scenarios.steps import tell
from .timeline import format_event


def run_demo(client: LabClient, state_dir: Path, scenario: Scenario, say: Callable[[str], None],
             interactive: bool | None = None) -> Outcome:
    interactive = sys.stdin.isatty() if interactive is None else interactive
    wrap = lambda text: textwrap.fill(text, width=96, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    say(f"== {scenario.title}")
    if scenario.description:
        say(wrap(scenario.description))
    seen: dict[str, int] = {}

    def before(index: int, step: dict[str, Any]) -> None:
        say("")
        say(f"Step {index}:")
        say(wrap(tell(step)))
        if not seen:
            seen.update(runner.marks)

    def after(_index: int, step: dict[str, Any], outcome: Outcome) -> None:
        new = client.events(since=seen)
        for e in new:
            seen[e["service"]] = max(seen.get(e["service"], 0), e["seq"])
        if new:
            say("  On the wire:")
            for e in new:
                say("    " + format_event(e))
        if "login" in step and outcome.logins:
            result = outcome.logins[-1]
            shown = (f"connected to WorkSpace {result['workspaceId']}" if result["success"]
                     else f"\"{result.get('message')}\"")
            say(f"  The WorkSpaces client shows: {shown}")
        if interactive:
            input("  [Enter] for the next step ")

    runner = Runner(client, state_dir, progress=say, before_step=before, after_step=after)
    outcome = runner.run(scenario)
    say("")
    say("The scenario " + ("went as expected." if outcome.passed else
                            "did not go as expected: " + "; ".join(outcome.failures)))
    return outcome
