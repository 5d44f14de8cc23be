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
from .scenarios.runner import Outcome, Runner
from .timeline import format_event


def narrate(step: dict[str, Any]) -> str:
    action = next(k for k in step if k != "expect")
    arg = step[action]
    if action == "say":
        return str(arg)
    if action == "login":
        mfa = str(arg.get("mfa", "code"))
        what = "the word push" if mfa.lower() == "push" else \
            "the code Okta Verify shows" if mfa == "code" else f"{mfa} in the MFA field"
        password = "a wrong password" if "password" in arg else "their AD password"
        return (f"{arg['user']} opens the WorkSpaces client and signs in with {password} and {what}. "
                "The client sends all three at once to WorkSpaces, which asks AD Connector to authenticate.")
    if action == "phone":
        after = f" after {arg['after']} s" if arg.get("after") else ""
        return f"On {arg['user']}'s phone, Okta Verify will {arg.get('respond', 'approve')} the next push{after}."
    if action == "fault":
        return (f"Something breaks: {arg.get('action')} {arg.get('protocol') or 'all'} traffic at "
                f"{arg['service']}" + (f" from {arg['peer']}" if arg.get("peer") else "") + ".")
    if action == "clock":
        return f"{arg['service']}'s clock moves {arg['offset']} s away from the others."
    if action == "restart":
        return f"{arg} restarts."
    if action == "wait_for":
        return f"We wait until {arg.get('service', 'a service')} records {arg['kind']}."
    return action


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
        say(wrap(narrate(step)))
        if not seen:
            seen.update(runner.marks)

    def after(index: int, step: dict[str, Any], outcome: Outcome) -> None:
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
