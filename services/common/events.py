"""The event journal: what crossed a service's boundary, as structured, redacted records.

Each service keeps its journal in memory (served by `GET /events?since=N`) and appends it to a
JSON-lines file in the state directory, so a crashed service still leaves its story behind.

Bounded whatever callers send (a 1 MB user name must not become 1 MB per event): a string keeps
MAX_FIELD_CHARS characters and a field MAX_FIELD_CHARS of JSON, with a marker saying how much was
cut; the file rotates at `max_bytes` (x.jsonl -> x.jsonl.1 -> ... -> x.jsonl.<backups>, the
oldest dropped); memory keeps at most `keep` events and `max_memory_bytes` of them. Event numbers
stay monotonic across rotations and restarts, so `since=N` readers (`lab events`, the scenario
runner) never see a number twice. Files are 0600 in a 0700 directory.

File writes are batched per event-loop iteration: an event recorded on a running loop is kept in
memory (and served by `GET /events` at once) and its line is appended, with every other line of
that iteration, in one write by a callback the loop runs next (`loop.call_soon`); `since()`,
`close()` and interpreter exit write what is pending first, and outside a loop (a thread, a
script, a test) each event is written at once, after anything pending, so the file stays in `seq`
order. A write per event cost a DC bind about a fifth of its time (a syscall, often waiting on
the disk, on the loop's thread). The price: a kill -9 loses the current iteration's lines (none
that `since()` has served, so numbers given out are never reused after a restart); a clean stop
or an exception leaves the whole story.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from .clock import Clock, iso
from .redact import REDACTED, is_secret_key, redact

log = logging.getLogger("lab.events")

MAX_FIELD_CHARS = 4096                 # of one string, and of one field's JSON
MAX_FILE_BYTES = 16 * 1024 * 1024      # a journal file rotates past this
BACKUPS = 3                            # rotated files kept: at most 64 MiB per service on disk
MAX_MEMORY_BYTES = 32 * 1024 * 1024    # of events kept for GET /events
_MAX_DEPTH = 16                        # deeper structures are kept as (cut) JSON text
MAX_PENDING_BYTES = 1 << 20            # a busier iteration writes its lines before it ends
_encode = json.JSONEncoder(default=str).encode   # made once: json.dumps(default=...) makes one per call
_PLAIN = (int, float, bool, type(None))
_journals: weakref.WeakSet[Journal] = weakref.WeakSet()   # those with a file: flushed at exit


class Journal:
    def __init__(self, service: str, clock: Clock, path: Path | None = None, keep: int = 20000, *,
                 max_bytes: int = MAX_FILE_BYTES, backups: int = BACKUPS,
                 max_memory_bytes: int = MAX_MEMORY_BYTES):
        self.service = service
        self.clock = clock
        self.path = path
        self.keep = keep
        self.max_bytes, self.backups, self.max_memory_bytes = max_bytes, max(1, backups), max_memory_bytes
        self._events: deque[tuple[dict[str, Any], int]] = deque()   # (event, its size in bytes)
        self._memory = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self._size = 0
        self._pending: list[str] = []      # lines not yet written (this loop iteration's)
        self._pending_bytes = 0
        self._flush_loop: asyncio.AbstractEventLoop | None = None   # the loop a flush is queued on
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Numbers continue across restarts (and rotations), so `GET /events?since=N` stays meaningful.
            self._seq = max(_last_seq(path), _last_seq(_backup(path, 1)))
            self._open()
            _journals.add(self)

    def _open(self) -> None:
        assert self.path is not None
        # Kept open, no open/close on the hot path; `_flush` writes each batch and flushes it.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._size = self._file.tell()

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
        """Record one event. Secret-named fields are redacted here, whatever the caller passed,
        and every field is cut to MAX_FIELD_CHARS."""
        bounded = {k: _redacted_field(k, v) for k, v in fields.items()}
        with self._lock:
            self._seq += 1
            now = self.clock.now()
            event = {
                "seq": self._seq,
                "time": iso(now),
                "ts": round(now, 6),
                "service": self.service,
                "kind": kind,
                "peer": _bound_string(peer),
                "outcome": _bound_string(outcome),
                "trace": _bound_string(trace),
                "fields": bounded,
            }
            line = _encode(event) + "\n"      # ASCII (ensure_ascii): its length is its size in bytes
            self._events.append((event, len(line)))
            self._memory += len(line)
            while self._events and (len(self._events) > self.keep or self._memory > self.max_memory_bytes):
                self._memory -= self._events.popleft()[1]
            self._write(line)
        return event

    def _write(self, line: str) -> None:
        """Called with the lock held: the line joins the batch, written now off a loop or once
        the loop's current iteration is over."""
        if self._file is None:
            return
        self._pending.append(line)
        self._pending_bytes += len(line)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._pending_bytes >= MAX_PENDING_BYTES:
            self._flush_locked()
        elif self._flush_loop is not loop:     # once per iteration (and per loop: tests run several)
            self._flush_loop = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Append the pending lines to the file (the loop's callback; also at exit)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._flush_loop = None
        lines, self._pending, self._pending_bytes = self._pending, [], 0
        if self._file is None or not lines:
            return
        try:
            chunk: list[str] = []
            size = self._size
            for line in lines:
                if size and size + len(line) > self.max_bytes:
                    self._append(chunk)
                    chunk = []
                    self._rotate()
                    size = self._size
                chunk.append(line)
                size += len(line)
            self._append(chunk)
        except OSError as exc:  # a full disk must not take the service down
            log.warning("cannot append to %s: %s", self.path, exc)

    def _append(self, lines: list[str]) -> None:
        assert self._file is not None
        if lines:
            text = "".join(lines)
            self._file.write(text)
            self._file.flush()
            self._size += len(text)

    def _rotate(self) -> None:
        """x.jsonl -> x.jsonl.1 -> ... -> x.jsonl.<backups>; the oldest is dropped."""
        assert self.path is not None and self._file is not None
        self._file.close()
        for n in range(self.backups - 1, 0, -1):
            older = _backup(self.path, n)
            if older.exists():
                older.replace(_backup(self.path, n + 1))
        self.path.replace(_backup(self.path, 1))
        self._open()

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            # What a reader is shown is on file first: a kill -9 then cannot lose a number given out.
            self._flush_locked()
            return [e for e, _ in self._events if e["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._memory = 0

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._file is not None:
                self._file.close()
                self._file = None


@atexit.register
def _flush_all() -> None:
    """At interpreter exit (a clean stop, or an exception out of the service): the last lines."""
    for journal in list(_journals):
        journal.flush()


def _backup(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def _bound_string(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[:MAX_FIELD_CHARS] + f"…[truncated: {len(value)} characters]"
    return value


def _bound(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _bound_string(value)
    if isinstance(value, (bytes, bytearray)):
        return _bound_string(bytes(value[:MAX_FIELD_CHARS + 1]).hex())
    if depth >= _MAX_DEPTH:
        return _bound_string(json.dumps(value, default=str))
    if isinstance(value, dict):
        return {_bound_string(str(k)): _bound(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bound(v, depth + 1) for v in value]
    return value


def _redacted_field(key: str, value: Any) -> Any:
    """`_bound_field(redact({key: value})[key])`, with the common flat cases done inline."""
    if is_secret_key(key) and value not in (None, ""):
        return REDACTED
    if type(value) is str:
        return value if len(value) <= MAX_FIELD_CHARS else _bound_string(value)
    if isinstance(value, _PLAIN):
        return value
    return _bound_field(redact(value))


def _bound_field(value: Any) -> Any:
    """A field of at most ~MAX_FIELD_CHARS of JSON: strings cut, and a large structure kept as
    its (cut) JSON text."""
    value = _bound(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        if len(text) > MAX_FIELD_CHARS:
            return _bound_string(text)
    return value


def _last_seq(path: Path) -> int:
    """The `seq` of the last event in a journal file (0 if none): read from its tail only."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - (1 << 20)))   # more than the longest (bounded) event
            lines = fh.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0
