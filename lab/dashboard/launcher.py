"""The scenario launcher: `lab scenarios run NAME --report DIR` as a subprocess, its output kept
line by line for the page's EventSource, its HTML report served when it ends.

The dashboard runs the CLI as any trainer would, so a run from the page is the same run, with
the same report, as one from a terminal. One run at a time per lab (a run resets the lab).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..scenarios import model

KEEP_RUNS = 20


class Busy(Exception):
    pass


@dataclass
class Run:
    id: str
    lab: str
    scenario: str
    report_dir: Path
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def done(self) -> bool:
        return self.exit_code is not None

    @property
    def report(self) -> Path | None:
        path = self.report_dir / "index.html"
        return path if self.done and path.exists() else None

    def verdict(self) -> str:
        if not self.done:
            return "running"
        return "passed" if self.exit_code == 0 else "failed"


def scenarios() -> list[dict[str, Any]]:
    """The catalog the launcher offers: name and title."""
    return [{"name": s.name, "title": s.title, "blank": bool(s.requires.get("blank"))} for s in model.catalog()]


class Launcher:
    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.runs: dict[str, Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def running(self, lab: str) -> Run | None:
        return next((r for r in self.runs.values() if r.lab == lab and not r.done), None)

    async def start(self, lab: str, state_dir: Path, scenario: str) -> Run:
        if scenario not in {s["name"] for s in scenarios()}:
            raise ValueError(f"no scenario called {scenario!r}")
        if (busy := self.running(lab)) is not None:
            raise Busy(f"{busy.scenario} is still running on this lab")
        self._forget_old()
        run_id = secrets.token_hex(6)
        run = Run(run_id, lab, scenario, self.runs_dir / run_id)
        self.runs[run_id] = run
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), "scenarios", "run", scenario,
            "--report", str(run.report_dir), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1"))
        task = asyncio.create_task(self._follow(run, proc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _follow(self, run: Run, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            run.lines.append(raw.decode(errors="replace").rstrip("\n"))
            run.changed.set()
        run.exit_code = await proc.wait()
        run.changed.set()

    def _forget_old(self) -> None:
        finished = [r for r in self.runs.values() if r.done]
        for old in finished[:max(0, len(finished) - KEEP_RUNS + 1)]:
            self.runs.pop(old.id, None)
            shutil.rmtree(old.report_dir, ignore_errors=True)

    async def stream(self, run: Run, gone: Callable[[], Any]) -> AsyncIterator[dict[str, Any]]:
        """Each output line as it comes ({"line"}), then {"done", "verdict", "exit_code"}."""
        sent = 0
        while True:
            run.changed.clear()
            while sent < len(run.lines):
                yield {"line": run.lines[sent]}
                sent += 1
            if run.done:
                yield {"done": True, "verdict": run.verdict(), "exit_code": run.exit_code,
                       "report": run.report is not None}
                return
            if await gone():
                return
            try:
                await asyncio.wait_for(run.changed.wait(), timeout=5)
            except TimeoutError:
                pass

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
