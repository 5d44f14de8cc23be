"""Demo mode: a scenario narrated for a class. Before each step it says what the admin or user does
in the walkthrough; after it, what crossed the wire and what the real client would show. In a
terminal it pauses between steps so the trainer can talk, and uses colour (not when the output is
not a terminal, or NO_COLOR is set: https://no-color.org)."""
from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import LabClient
from .scenarios.model import Scenario
from .scenarios.outcome import Outcome
from .scenarios.runner import Runner
from .scenarios.steps import action_of, tell
from .timeline import format_event

# The Okta AD agent's background work: its long polls and, after the lab is reset before each
# scenario, its registering again. Part of no sign-in: shown only by the steps that drive the agent.
AGENT_CHATTER = {"agent.poll", "agent.register", "okta.agent.register"}
AGENT_STEPS = {"ad_import", "ad_account"}

# ANSI SGR codes: bold, and the colours of good and bad outcomes.
BOLD, DIM, GREEN, RED, CYAN = "1", "2", "32", "31", "36"
GOOD = {"ok", "success", "accept", "SUCCESS", "approve", "registered", "delivered", "found", "NOERROR", "COMPLETED"}
BAD = {"failure", "failed", "reject", "FAILED", "deny", "timeout", "TIMEOUT", "error", "refused"}


def use_colour(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything but empty."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def painter(colour: bool) -> Callable[[str, str], str]:
    return (lambda text, code: f"\x1b[{code}m{text}\x1b[0m") if colour else (lambda text, _code: text)


def _event_line(e: dict[str, Any], paint: Callable[[str, str], str]) -> str:
    line = format_event(e)
    outcome = e.get("outcome")
    code = GREEN if outcome in GOOD else RED if outcome in BAD else ""
    return paint(line, code) if code else line


def run_demo(client: LabClient, state_dir: Path, scenario: Scenario, say: Callable[[str], None],
             interactive: bool | None = None, colour: bool | None = None,
             pause: Callable[[], object] | None = None) -> Outcome:
    """`pause` waits between steps when interactive (default: Enter on the terminal; `lab demo
    --browser`: the dashboard's Next step button)."""
    interactive = sys.stdin.isatty() if interactive is None else interactive
    paint = painter(use_colour() if colour is None else colour)
    wrap = lambda text: textwrap.fill(text, width=96, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    say(paint(f"== {scenario.title}", BOLD))
    if scenario.description:
        say(wrap(scenario.description))
    seen: dict[str, int] = {}

    def before(index: int, step: dict[str, Any]) -> None:
        say("")
        say(paint(f"Step {index}:", BOLD + ";" + CYAN))
        say(wrap(tell(step)))
        if not seen:
            seen.update(runner.marks)

    def after(_index: int, step: dict[str, Any], outcome: Outcome) -> None:
        new = client.events(since=seen)
        for e in new:
            seen[e["service"]] = max(seen.get(e["service"], 0), e["seq"])
        if action_of(step) not in AGENT_STEPS:
            new = [e for e in new if e["kind"] not in AGENT_CHATTER]
        if new:
            say(paint("  On the wire:", DIM))
            for e in new:
                say("    " + _event_line(e, paint))
        if "login" in step and outcome.logins:
            result = outcome.logins[-1]
            shown = (f"connected to WorkSpace {result['workspaceId']}" if result["success"]
                     else f"\"{result.get('message')}\"")
            say("  The WorkSpaces client shows: " + paint(shown, GREEN if result["success"] else RED))
        if interactive:
            (pause or (lambda: input("  [Enter] for the next step ")))()

    # The runner's own progress would repeat what `before` tells (a `say` step's text): the
    # narration is before's and after's alone.
    runner = Runner(client, state_dir, progress=lambda _message: None, before_step=before, after_step=after)
    outcome = runner.run(scenario)
    say("")
    say(paint("The scenario went as expected.", GREEN) if outcome.passed else
        paint("The scenario did not go as expected: " + "; ".join(outcome.failures), RED))
    return outcome
