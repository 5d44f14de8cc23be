"""`lab scenarios list|run` and `lab demo`: the scenario catalog against a lab."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import topology as topo
from ..client import LabClient
from ..demo import run_demo
from ..errors import UsageError
from ..runtime import running_runtime
from ..scenarios import junit, model, report
from ..scenarios.blank_lab import blank_lab, blank_subnet
from ..scenarios.outcome import Outcome
from ..scenarios.runner import Runner
from ..scenarios.story import story
from ..state import load_topology
from .common import EXIT_FAILED, EXIT_OK, lab_client, running_topology, say
from .lifecycle import cmd_down, cmd_up


def _run_scenarios(runner: Runner, scenarios: list[model.Scenario], outcomes: list[Outcome], total: int) -> None:
    for scenario in scenarios:
        say(f"[{len(outcomes) + 1}/{total}] {scenario.name}: {scenario.title}")
        outcome = runner.run(scenario)
        outcomes.append(outcome)
        if outcome.skipped:
            say(f"  SKIP: {outcome.skipped}")
        elif outcome.passed:
            say(f"  PASS in {outcome.seconds:.1f} s")
        else:
            say(f"  FAIL in {outcome.seconds:.1f} s")
            for line in story(outcome).splitlines()[2:]:     # title and file: said above
                say(f"  {line}")


def _subnet(args: argparse.Namespace) -> str | None:
    """`--subnet`, checked: three octets, each 0-255."""
    subnet = getattr(args, "subnet", None)
    if subnet is None:
        return None
    octets = subnet.split(".")
    if len(octets) != 3 or not all(o.isdigit() and int(o) <= 255 for o in octets):
        raise UsageError(f"--subnet {subnet}: not a subnet; give its first three octets, e.g. 127.0.10")
    return subnet


def cmd_scenarios(args: argparse.Namespace) -> int:
    try:
        if args.scen_cmd == "list":
            chosen = model.select(model.catalog(), [], args.tag)
        else:
            chosen = model.choose(args.names, args.tag)
    except model.ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.scen_cmd == "list":
        if args.json:
            say(json.dumps([{"name": s.name, "title": s.title, "tags": s.tags, "file": str(s.path)}
                            for s in chosen], indent=2))
        else:
            for s in chosen:
                say(f"{s.name:<40} {','.join(s.tags):<22} {s.title}")
        return EXIT_OK
    if not chosen:
        raise UsageError("no scenario matches")
    subnet = _subnet(args)
    running = load_topology(args.state_dir) if running_runtime(args.state_dir) else None
    if running and subnet and running["subnet"] != subnet:
        raise UsageError(f"the lab running in {args.state_dir} is on {running['subnet']}.x, not --subnet {subnet}; "
                         "give its subnet (or none), or another --state-dir")
    seeded_subnet = subnet or (running or {}).get("subnet") or topo.DEFAULT_SUBNET
    seeded = [s for s in chosen if not s.requires.get("blank")]
    blank = [s for s in chosen if s.requires.get("blank")]
    outcomes: list[Outcome] = []
    started = time.monotonic()
    topology_for_report: dict[str, Any] = {}   # the lab the report draws the events of
    if seeded:
        brought_up = False
        if running is None:
            say(f"no lab is running here: bringing one up on {seeded_subnet}.x for the run "
                "(two RADIUS agents, for every scenario)")
            up_args = argparse.Namespace(**(vars(args) | {"subnet": seeded_subnet}), runtime="process", blank=False,
                                         standard_ports=False, seed=None, timeout=60, agents=2)
            cmd_up(up_args)
            brought_up = True
        lab = LabClient(running_topology(args))
        topology_for_report = lab.topology
        runner = Runner(lab, args.state_dir, progress=say)
        try:
            _run_scenarios(runner, seeded, outcomes, len(chosen))
        finally:
            if brought_up:
                cmd_down(args)
            else:   # leave the lab as the run found it: seeded, nothing broken
                runner.isolate()
    if blank:
        with blank_lab(args.state_dir, blank_subnet(seeded_subnet), progress=say) as topology:
            topology_for_report = topology_for_report or topology
            runner = Runner(LabClient(topology), Path(topology["state_dir"]), progress=say)
            _run_scenarios(runner, blank, outcomes, len(chosen))
    skipped = sum(1 for o in outcomes if o.skipped)
    passed = sum(1 for o in outcomes if o.passed and not o.skipped)
    failed = len(outcomes) - passed - skipped
    say(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
        + f" in {time.monotonic() - started:.1f} s")
    if args.junit:
        junit.write(outcomes, Path(args.junit))
        say(f"JUnit report: {args.junit}")
    if args.report:
        say(f"HTML report: {report.write(outcomes, Path(args.report), topology_for_report)}")
    return EXIT_OK if failed == 0 else EXIT_FAILED


def cmd_demo(args: argparse.Namespace) -> int:

    try:
        chosen = model.choose([args.scenario], []) if args.scenario else \
            [s for s in model.catalog() if "demo" in s.tags]
    except model.ScenarioError as exc:
        raise UsageError(str(exc)) from None
    lab = lab_client(args)
    ok = True
    speak: Callable[[str], None] = say
    pause: Callable[[], object] | None = None
    interactive, colour = (None if not args.no_pause else False), None
    if getattr(args, "browser", False):     # the narration on the dashboard, its Next button for Enter
        from ..dashboard import lifecycle as dashboard
        from ..dashboard.narration import Narrator
        narrator = Narrator(args.state_dir)
        say(f"narrating on the dashboard at {dashboard.url(args.state_dir) or '(none runs: `lab up` starts it)'}: "
            "its Next step button moves on")

        def speak(text: str) -> None:
            say(text)
            narrator.say(text)
        pause, interactive, colour = (narrator.pause if not args.no_pause else None), not args.no_pause, False
    for scenario in chosen:
        ok &= run_demo(lab, args.state_dir, scenario, speak, interactive=interactive, colour=colour,
                       pause=pause).passed
    if getattr(args, "browser", False):
        narrator.end()
    return EXIT_OK if ok else EXIT_FAILED
