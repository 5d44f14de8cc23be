"""The labs a dashboard shows: one (the lab it was started for), or each trainee's in a class.

A lab is named by a key in the dashboard's addresses: `lab` for the one lab, the trainee's number
in a class. Each is reached only as a client: its topology (addresses and admin credentials) read
from its state directory, its admin APIs through lab/client.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..classroom import roster as rosters
from ..client import LabClient
from ..state import load_topology

SINGLE = "lab"


@dataclass(frozen=True)
class LabRef:
    key: str
    title: str
    state_dir: Path
    subnet: str | None = None

    def topology(self) -> dict[str, Any] | None:
        try:
            return load_topology(self.state_dir)
        except (OSError, ValueError):
            return None

    def client(self) -> LabClient | None:
        topology = self.topology()
        return LabClient(topology) if topology else None


class Labs:
    def __init__(self, state_dir: Path, roster_state_dir: Path | None = None) -> None:
        self.state_dir = state_dir
        self.roster_state_dir = roster_state_dir

    @property
    def is_class(self) -> bool:
        return self.roster_state_dir is not None

    def all(self) -> list[LabRef]:
        """Read afresh each time: the roster may change while the dashboard runs."""
        if self.roster_state_dir is None:
            return [LabRef(SINGLE, "the lab", self.state_dir)]
        roster = rosters.load(self.roster_state_dir)
        if roster is None:
            return []
        return [LabRef(str(t.number), t.name, t.state_dir, t.subnet) for t in roster.trainees]

    def get(self, key: str) -> LabRef | None:
        return next((ref for ref in self.all() if ref.key == key), None)
