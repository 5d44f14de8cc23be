"""`lab demo --browser`: the demo's narration shown on the dashboard, paced by its Next button.

The demo (the `lab demo` process) and the dashboard share two files in `<state>/dashboard/`: the
demo appends each line it says to `narration.jsonl` ({"n", "demo" (its id), "text"}, plus {"n", "wait": true}
where it pauses), and waits until `narration-next` holds a number at least that pause's `n`,
which the dashboard's Next button writes. No socket between them: either may start first.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import process_records as records

LINES, NEXT = "narration.jsonl", "narration-next"


def _folder(state_dir: Path) -> Path:
    return records.private_dir(Path(state_dir) / "dashboard")


class Narrator:
    """The demo's side: `say` and `pause` for lab/demo.py's run_demo."""

    def __init__(self, state_dir: Path, poll: float = 0.2, gone: Callable[[], bool] = lambda: False) -> None:
        self.folder = _folder(state_dir)
        self.poll, self.gone = poll, gone
        self.count = 0
        self.id = secrets.token_hex(4)      # tells this demo's rows from the last one's
        records.write_private(self.folder / LINES, "")
        records.write_private(self.folder / NEXT, "0")

    def _append(self, row: dict[str, Any]) -> None:
        self.count += 1
        with open(self.folder / LINES, "a") as out:
            out.write(json.dumps({"n": self.count, "demo": self.id, **row}) + "\n")

    def say(self, text: str) -> None:
        self._append({"text": text})

    def pause(self) -> None:
        """Wait for the dashboard's Next button."""
        self._append({"wait": True})
        wanted = self.count
        while next_pressed(self.folder.parent) < wanted and not self.gone():
            time.sleep(self.poll)

    def end(self) -> None:
        self._append({"end": True})


def lines(state_dir: Path, after: int = 0) -> list[dict[str, Any]]:
    """The narration rows after row `after` (the dashboard's side)."""
    try:
        text = (Path(state_dir) / "dashboard" / LINES).read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and int(row.get("n", 0)) > after:
            out.append(row)
    return out


def next_pressed(state_dir: Path) -> int:
    try:
        return int((Path(state_dir) / "dashboard" / NEXT).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def press_next(state_dir: Path) -> int:
    """The Next button: release the demo's latest pause."""
    waiting = [row["n"] for row in lines(state_dir) if row.get("wait")]
    number = max(waiting, default=0)
    records.write_private(_folder(state_dir) / NEXT, str(number))
    return number
