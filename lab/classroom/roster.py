"""The class roster: which trainee labs a class has, where each keeps its state, on which subnet.

`lab class up` writes it to `<state>/class/class.json`; `lab --trainee N ...`, `lab class status`
and the trainer's dashboard read it. A trainee's lab is an ordinary lab whose state directory is
`<state>/class/trainee-NN/`: every other command works on it unchanged.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CLASS_DIR = "class"
ROSTER_FILE = "class.json"
MAX_TRAINEES = 99


@dataclass(frozen=True)
class Trainee:
    number: int            # 1..MAX_TRAINEES, what `--trainee N` names
    state_dir: Path        # the trainee's own lab state directory
    subnet: str            # the first three octets of the lab's addresses

    @property
    def name(self) -> str:
        return trainee_name(self.number)


@dataclass
class Roster:
    runtime: str                                   # process or docker: one runtime per class
    trainees: list[Trainee] = field(default_factory=list)
    dashboard: str | None = None                   # the class dashboard's URL, once it runs

    def trainee(self, number: int) -> Trainee | None:
        return next((t for t in self.trainees if t.number == number), None)

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "dashboard": self.dashboard,
                "trainees": [{**asdict(t), "name": t.name, "state_dir": str(t.state_dir)} for t in self.trainees]}


def trainee_name(number: int) -> str:
    return f"trainee-{number:02d}"


def class_dir(state_dir: Path) -> Path:
    return Path(state_dir) / CLASS_DIR


def trainee_dir(state_dir: Path, number: int) -> Path:
    """Where trainee NUMBER's lab keeps its state: the same path whether or not the class is up."""
    if not 1 <= number <= MAX_TRAINEES:
        raise ValueError(f"trainee numbers run from 1 to {MAX_TRAINEES}, not {number}")
    return class_dir(state_dir) / trainee_name(number)


def load(state_dir: Path) -> Roster | None:
    """The roster under STATE_DIR, or None when no class was brought up there."""
    path = class_dir(state_dir) / ROSTER_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    trainees = [Trainee(number=int(t["number"]), state_dir=Path(t["state_dir"]), subnet=str(t["subnet"]))
                for t in data.get("trainees", [])]
    return Roster(runtime=data["runtime"], trainees=trainees, dashboard=data.get("dashboard"))


def save(state_dir: Path, roster: Roster) -> Path:
    """Write the roster (private to its owner: it names where each lab's credentials live)."""
    directory = class_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / ROSTER_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(roster.to_json(), out, indent=2)
    tmp.replace(path)
    return path
