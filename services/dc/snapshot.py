"""What the DC keeps across restarts: every entry changed since the seed, and the Kerberos keys of
passwords set over LDAP, in `<state>/directory.json` (0600: it holds password digests and keys).

A real DC keeps its database on disk, so an admin's change (an account disabled, a password
reset, a lockout) outlives a reboot. The lab's directory is built from the seed at every start;
this file is laid over it. Entries cannot be added or deleted over LDAP, so the seed gives the
full set of entries and the snapshot only their changed attributes.

The snapshot belongs to one seed: it records a fingerprint of the seed and the settings that
shape the entries, and a start with a different seed ignores it (and says so). `POST /reset`
discards it. Writing is batched: `run()` saves at most every FLUSH_SECONDS, and `close()` saves
at a clean stop, so a kill -9 loses at most the last FLUSH_SECONDS of changes.

Saving stays off the hot path, a save costing what changed: every bind and AS exchange changes
its user's logon counters (`accounts.LOGON_ATTRIBUTES`: badPwdCount, lastLogon, logonCount...), so
those are kept in a small record of their own per account ("logons": DN and the five values),
apart from the entry's row (its other attributes, password digest and keys), which only an
admin's change or a new password makes again (`Directory.dirty`; logons: `logons_dirty`). Both
kinds are kept as JSON text and only what changed since the last save is encoded again; the file
is one JSON document, written whole in a thread and renamed into place, so a kill -9 leaves the
last complete save. Version 1 files (counters inside the rows) are still read.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from .accounts import LOGON_ATTRIBUTES
from .directory import Directory
from .krb_keys import KeyTable

FILE = "directory.json"
FLUSH_SECONDS = 1.0
VERSION = 2
READS = (1, 2)                          # 1: the logon counters were inside the entries' rows
_LOGON_KEYS = frozenset(a.lower() for a in LOGON_ATTRIBUTES)


class DirectorySnapshot:
    def __init__(self, state_dir: Path, directory: Directory, keys: KeyTable, log: logging.Logger):
        self.path = state_dir / FILE
        self.directory = directory
        self.keys = keys
        self.log = log
        self.saved_generation = 0
        self.rows: dict[str, str] = {}          # normalised DN -> its row, JSON
        self.logons: dict[str, str] = {}        # normalised DN -> its logon counters, JSON
        self._fingerprint = ""
        self.writing = asyncio.Lock()

    def fingerprint(self) -> str:
        if not self._fingerprint:       # the seed and settings are fixed for the process's life
            self._fingerprint = self._shape_digest()
        return self._fingerprint

    def _shape_digest(self) -> str:
        d = self.directory
        shape = {"seed": d.seed, "generated_users": d.settings.generated_users,
                 "generated_password": d.settings.generated_password}
        return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()

    # -- reading -----------------------------------------------------------------------------------
    def restore(self) -> int:
        """Lay the saved changes over the freshly seeded directory; the number of entries restored."""
        try:
            saved = json.loads(self.path.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            self.log.warning("directory snapshot %s unreadable (%s): starting from the seed", self.path, exc)
            return 0
        if saved.get("version") not in READS or saved.get("fingerprint") != self.fingerprint():
            self.log.warning("directory snapshot %s was made for another seed: starting from the seed", self.path)
            return 0
        d = self.directory
        restored = 0
        whole_rows = saved["version"] == 1
        for row in saved.get("entries", []):
            entry = d.get(row.get("dn", ""))
            if entry is None:
                continue
            for name in [n for n, _ in entry.items() if whole_rows or n.lower() not in _LOGON_KEYS]:
                entry.set(name, None)
            for name, values in row["attributes"]:
                entry.set(name, [_value(v) for v in values])
            account = d.accounts.get(entry.norm)
            if account is not None and "digest" in row:
                account.digest = bytes.fromhex(row["digest"])
                if row.get("keys"):
                    self.keys.restore(account, {int(e): bytes.fromhex(k) for e, k in row["keys"].items()})
            d.changed_entries.add(entry.norm)
            restored += 1
        for dn, counters in saved.get("logons", []):
            entry = d.get(dn)
            if entry is None:
                continue
            for name in LOGON_ATTRIBUTES:
                entry.set(name, counters.get(name))
            d.logon_entries.add(entry.norm)
        d.usn = max(d.usn, int(saved.get("usn", d.usn)))
        d.reindex()
        self.saved_generation = d.generation
        return restored

    # -- writing -----------------------------------------------------------------------------------
    def body(self) -> str:
        """The file's text now; rows of entries unchanged since the last call are reused."""
        d = self.directory
        dirty, d.dirty = d.dirty, set()
        logons, d.logons_dirty = d.logons_dirty, set()
        for norm in d.changed_entries:
            if norm in dirty or norm not in self.rows:
                row = self._row(norm)
                if row is not None:
                    self.rows[norm] = row
        for norm in d.logon_entries:
            if norm in logons or norm not in self.logons:
                record = self._logons(norm)
                if record is not None:
                    self.logons[norm] = record
        head = json.dumps({"version": VERSION, "fingerprint": self.fingerprint(), "usn": d.usn})
        return (head[:-1] + ', "entries": [' + ", ".join(self.rows.values()) + '], "logons": ['
                + ", ".join(self.logons.values()) + "]}")

    def _row(self, norm: str) -> str | None:
        d = self.directory
        entry = d.get(norm)
        if entry is None:
            return None
        # Values go to the encoder as they are (str or bytes): `_encode` calls `_plain` only for bytes.
        row: dict[str, Any] = {"dn": norm, "attributes": [(n, v) for n, v in entry.items()
                                                          if n.lower() not in _LOGON_KEYS]}
        account = d.accounts.get(norm)
        if account is not None:
            row["digest"] = account.digest.hex()
            keys = self.keys.saved(account)
            if keys:
                row["keys"] = {str(e): k.hex() for e, k in keys.items()}
        return _encode(row)

    def _logons(self, norm: str) -> str | None:
        """An account's logon counters: [DN, {name: values}] (an absent one: not set)."""
        entry = self.directory.get(norm)
        if entry is None:
            return None
        return json.dumps([norm, {n: entry.values(n) for n in LOGON_ATTRIBUTES if entry.has(n)}])

    def _write(self, body: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
        os.replace(tmp, self.path)

    def save(self) -> None:
        generation = self.directory.generation
        self._write(self.body())
        self.saved_generation = generation

    def save_if_changed(self) -> None:
        if self.directory.generation != self.saved_generation:
            try:
                self.save()
            except OSError as exc:
                self.log.error("directory snapshot not saved: %s", exc)

    async def _save_in_thread(self) -> None:
        """As `save_if_changed`, the file written in a thread (the text is made on the loop, which
        owns the entries)."""
        async with self.writing:
            generation = self.directory.generation
            if generation == self.saved_generation:
                return
            try:
                await asyncio.to_thread(self._write, self.body())
                self.saved_generation = generation
            except OSError as exc:
                self.log.error("directory snapshot not saved: %s", exc)

    def discard(self) -> None:
        """Back to the seed (`POST /reset`): the file goes, and the freshly loaded directory is clean."""
        self.path.unlink(missing_ok=True)
        self.rows, self.logons = {}, {}
        self.saved_generation = self.directory.generation

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self._save_in_thread()

    async def close(self) -> None:
        async with self.writing:
            self.save_if_changed()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    raise TypeError(f"{type(value).__name__} is not a directory value")


_encode = json.JSONEncoder(default=_plain).encode


def _value(value: Any) -> Any:
    return base64.b64decode(value["b64"]) if isinstance(value, dict) else value
