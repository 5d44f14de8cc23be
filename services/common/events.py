"""The event journal: what crossed a service's boundary, as structured, redacted records.

Each service keeps its journal in memory (served by `GET /events`) and appends it to a JSON-lines
file in the state directory, so a crashed service still leaves its story behind.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from .clock import Clock
from .redact import redact

log = logging.getLogger("lab.events")


class Journal:
    def __init__(self, service: str, clock: Clock, path: Path | None = None, keep: int = 20000):
        self.service = service
        self.clock = clock
        self.path = path
        self.keep = keep
        self._events: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Numbers continue across restarts, so `GET /events?since=N` stays meaningful.
            self._seq = _last_seq(path)
            # Kept open, line-buffered: one write per event, no open/close on the hot path.
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def record(
        self,
        kind: str,
        /,
        *,
        peer: str | None = None,
        outcome: str | None = None,
        trace: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record one event. Secret-named fields are redacted here, whatever the caller passed."""
        with self._lock:
            self._seq += 1
            event = {
                "seq": self._seq,
                "time": self.clock.iso(),
                "ts": round(self.clock.now(), 6),
                "service": self.service,
                "kind": kind,
                "peer": peer,
                "outcome": outcome,
                "trace": trace,
                "fields": redact(fields),
            }
            self._events.append(event)
            if len(self._events) > self.keep:
                del self._events[: len(self._events) - self.keep]
            if self._file is not None:
                try:
                    self._file.write(json.dumps(event, default=str) + "\n")
                except OSError as exc:  # a full disk must not take the service down
                    log.warning("cannot append to %s: %s", self.path, exc)
        return event

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


def _last_seq(path: Path) -> int:
    """The `seq` of the last event in a journal file (0 if none): read from its tail only."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            lines = fh.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0
