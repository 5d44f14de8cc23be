"""A scenario's outcome told step by step, as plain text: the failure text of a pytest item, the
body of a JUnit failure and what `lab scenarios run` prints for a failed scenario."""
from __future__ import annotations

from ..timeline import timeline
from .outcome import Outcome

MARKS = {"ok": "ok  ", "FAILED": "FAIL", "not run": "--  "}


def story(outcome: Outcome, events: bool = True) -> str:
    """Title and file, each step with its result, what went wrong, and (with `events`) the event
    timeline of the scenario."""
    scenario = outcome.scenario
    lines = [f"scenario {scenario.name}: {scenario.title}", f"  file: {scenario.path}"]
    if outcome.steps:
        lines.append("  steps:")
        for index, what, result in outcome.steps:     # the first sentence of `lab demo`'s telling
            lines.append(f"    {MARKS.get(result, result)} {index}. {what.split('. ')[0].rstrip('.')}")
    if outcome.failures:
        lines.append("  what went wrong:")
        lines += [f"    - {failure}" for failure in outcome.failures]
    if events:
        lines.append("  event timeline:")
        told = timeline(outcome.events).splitlines()
        lines += [f"    {line}" for line in told] or ["    (no events)"]
    return "\n".join(lines)
