"""A service's state in one SQLite file: the plumbing the AWS services' stores share.

WAL and autocommit, one lock (the services call it from the event loop and from threads), and the
`seeded` mark: a store is seeded once, so deleting every resource and restarting does not bring
the seed back.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path


class SqliteStore:
    def __init__(self, path: Path, schema: str) -> None:
        # Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(schema + "\nCREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);")
        self._lock = threading.Lock()

    def seeded(self) -> bool:
        """Whether the seed was applied once."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is not None

    def mark_seeded(self) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('seeded', '1')")

    def empty(self) -> bool:
        """Whether the store holds no resources (each store says what counts)."""
        raise NotImplementedError

    def seed_once(self, seed: Callable[[], None]) -> None:
        """Apply `seed` the first time this state is opened, never again (even once emptied)."""
        if not self.seeded():
            if self.empty():   # a state directory from before the seeded mark keeps its resources
                seed()
            self.mark_seeded()
