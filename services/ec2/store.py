"""EC2's state in SQLite: the whole VPC (groups, rules, interfaces, instances, the generation) as
one JSON document, written through on every change. It is small (a few groups and interfaces)
and every change must reach the enforcer as one consistent generation, so one document is
simpler and safer than a table per resource."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.common.sqlite_store import SqliteStore


class NetworkStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS network (id INTEGER PRIMARY KEY CHECK (id = 1), "
                               "doc TEXT NOT NULL);")

    def load(self) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM network WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def save(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO network (id, doc) VALUES (1, ?)", (json.dumps(doc),))

    def empty(self) -> bool:
        return self.load() is None
