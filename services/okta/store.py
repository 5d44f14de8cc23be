"""The org's state in one SQLite file (`<state>/okta/org.sqlite3`), so a restart loses nothing.

Objects are JSON documents keyed by (kind, id); list filters run in Python over a kind's
documents, and insertion order (rowid) is the listing order Okta's cursors page through. What
every sign-in or import asks is indexed: a user's factors and memberships (`of_user`, an index on
the documents' `userId`), an app's users (a key range), a page of users (`after`, read from the
cursor on), and a login (People keeps a login index). The System Log and used TOTP steps have
tables of their own because they are queried by time and by (factor, step).

Kinds: users, groups, group_members (id "<gid>/<uid>"), apps, app_users (id "<appId>/<userId>"),
factors, push_tx, api_tokens, meta.

Commits (WAL, synchronous=NORMAL: a commit reaches the OS when it is made, so a process killed
with -9 loses nothing committed; a power cut may lose the last commits, which the lab does not
promise to survive). A write made on the event loop opens a transaction that is committed at the
end of that loop iteration, and the gate holds every answer of the org's app until then
(`committed()`): everything a client was told about is committed, and the requests that ran in
one iteration (an import has 8 in flight) share a commit instead of paying one a statement (a
request of an import: ~200 us of CPU with autocommit, ~70 us in batches of 8; bench/README.md).
Writes from another thread, or with no loop running (tests, tools), commit at once.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS used_codes (
    factor_id TEXT NOT NULL, step INTEGER NOT NULL, used_at REAL NOT NULL,
    PRIMARY KEY (factor_id, step)
);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, event_type TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts);
-- a user's factors and memberships without decoding every factor and membership of the org
CREATE INDEX IF NOT EXISTS docs_user ON docs (kind, json_extract(data, '$.userId'));
"""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._closed = False
        self._waiters: list[asyncio.Future[None]] = []    # answers waiting for the commit
        # writes per kind since the store was opened or wiped, for caches of a kind (the gate's tokens)
        self._changes: dict[str, int] = {}
        self._epoch = 0

    def close(self) -> None:
        with self._lock:
            self.commit()
            self._closed = True
            self._db.close()

    # -- commits ------------------------------------------------------------------------------
    def _begin(self, kind: str | None) -> None:
        """Before a write (under the lock): join the open transaction, or open one committed at
        the end of this loop iteration; off the loop, autocommit."""
        if kind is not None:
            self._changes[kind] = self._changes.get(kind, 0) + 1
        if self._db.in_transaction:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._db.execute("BEGIN")
        loop.call_soon(self.commit)

    def commit(self) -> None:
        """Commit the open transaction, if any (cheap when there is none)."""
        try:
            with self._lock:
                if not self._closed and self._db.in_transaction:
                    self._db.execute("COMMIT")
        finally:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def committed(self) -> None:
        """Return once what was written so far is committed: at the end of this loop iteration,
        with the writes of every request that ran in it (a group commit: 8 imports in flight
        share one instead of making one each)."""
        if not self._db.in_transaction:
            return
        loop = asyncio.get_running_loop()
        if not self._waiters:      # the transaction may have begun on another loop (tests' clients)
            loop.call_soon(self.commit)
        waiter = loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def version(self, kind: str) -> tuple[int, int]:
        """Changes when any document of `kind` is written, deleted or wiped."""
        return self._epoch, self._changes.get(kind, 0)

    # -- documents --------------------------------------------------------------------------
    def get(self, kind: str, id_: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM docs WHERE kind=? AND id=?", (kind, id_)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, id_: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace; an update keeps the document's place in listings."""
        with self._lock:
            self._begin(kind)
            self._db.execute(
                "INSERT INTO docs (kind, id, data) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET data=excluded.data",
                (kind, id_, json.dumps(doc)),
            )
        return doc

    def delete(self, kind: str, id_: str) -> bool:
        with self._lock:
            self._begin(kind)
            cur = self._db.execute("DELETE FROM docs WHERE kind=? AND id=?", (kind, id_))
        return cur.rowcount > 0

    def all(self, kind: str, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every document of a kind in insertion order, optionally those whose id starts with prefix."""
        with self._lock:
            if prefix is None:
                rows = self._db.execute("SELECT data FROM docs WHERE kind=? ORDER BY rowid", (kind,))
            else:   # a range of the primary key, not a scan of the kind
                rows = self._db.execute(
                    "SELECT data FROM docs WHERE kind=? AND id >= ? AND id < ? ORDER BY rowid",
                    (kind, prefix, prefix + "\U0010ffff"))
            return [json.loads(r[0]) for r in rows.fetchall()]

    def of_user(self, kind: str, user_id: str) -> list[dict[str, Any]]:
        """The documents of a kind whose `userId` is `user_id`, in insertion order (indexed)."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM docs WHERE kind=? AND json_extract(data, '$.userId')=? "
                                    "ORDER BY rowid", (kind, user_id)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def after(self, kind: str, id_: str | None, batch: int = 256) -> Iterator[dict[str, Any]]:
        """The documents of a kind after the one with id `id_` (all with None), in insertion order,
        read `batch` at a time: a page of a big listing decodes what it shows, not the whole kind.
        KeyError when `id_` is not a document of that kind."""
        with self._lock:
            if id_ is None:
                rowid = 0
            else:
                row = self._db.execute("SELECT rowid FROM docs WHERE kind=? AND id=?", (kind, id_)).fetchone()
                if row is None:
                    raise KeyError(id_)
                rowid = row[0]
        while True:
            with self._lock:
                rows = self._db.execute("SELECT rowid, data FROM docs WHERE kind=? AND rowid>? ORDER BY rowid LIMIT ?",
                                        (kind, rowid, batch)).fetchall()
            for _, data in rows:
                yield json.loads(data)
            if len(rows) < batch:
                return
            rowid = rows[-1][0]

    def count(self, kind: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM docs WHERE kind=?", (kind,)).fetchone()[0]

    def delete_prefix(self, kind: str, prefix: str) -> int:
        with self._lock:
            self._begin(kind)
            cur = self._db.execute("DELETE FROM docs WHERE kind=? AND substr(id, 1, ?)=?",
                                   (kind, len(prefix), prefix))
        return cur.rowcount

    def is_empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM docs WHERE kind != 'api_tokens'").fetchone()[0] == 0

    def wipe(self) -> None:
        """Forget everything: the org as if it had never started (for the admin reset)."""
        with self._lock:
            self._begin(None)
            self._epoch += 1
            self._changes.clear()
            for table in ("docs", "used_codes", "logs"):
                self._db.execute(f"DELETE FROM {table}")

    # -- TOTP steps already used (replay protection survives restarts) ------------------------
    def mark_used(self, factor_id: str, step: int, at: float) -> bool:
        """Record a used step; False when it was already used (a replay)."""
        with self._lock:
            self._begin(None)
            try:
                self._db.execute("INSERT INTO used_codes VALUES (?, ?, ?)", (factor_id, step, at))
            except sqlite3.IntegrityError:
                return False
            # Steps more than a few periods old can never verify again: forget them.
            self._db.execute("DELETE FROM used_codes WHERE factor_id=? AND step < ?", (factor_id, step - 10))
        return True

    def forget_codes(self, factor_id: str | None = None) -> None:
        with self._lock:
            self._begin(None)
            if factor_id is None:
                self._db.execute("DELETE FROM used_codes")
            else:
                self._db.execute("DELETE FROM used_codes WHERE factor_id=?", (factor_id,))

    # -- System Log ---------------------------------------------------------------------------
    def append_log(self, ts: float, event: dict[str, Any]) -> int:
        with self._lock:
            self._begin(None)
            cur = self._db.execute("INSERT INTO logs (ts, event_type, data) VALUES (?, ?, ?)",
                                   (ts, event["eventType"], json.dumps(event)))
        return int(cur.lastrowid or 0)

    def logs(self, since: float, until: float | None, after: int | None,
             descending: bool) -> Iterator[tuple[int, dict[str, Any]]]:
        sql = "SELECT seq, data FROM logs WHERE ts >= ?"
        args: list[Any] = [since]
        if until is not None:
            sql += " AND ts < ?"
            args.append(until)
        if after is not None:
            sql += " AND seq < ?" if descending else " AND seq > ?"
            args.append(after)
        sql += " ORDER BY seq " + ("DESC" if descending else "ASC")
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for seq, data in rows:
            yield seq, json.loads(data)
