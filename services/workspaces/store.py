"""WorkSpaces' state: registered directories and WorkSpaces, in SQLite (survives restarts)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.common.sqlite_store import SqliteStore

from . import models


class WorkspacesStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS directories (id TEXT PRIMARY KEY, doc TEXT NOT NULL);\n"
                               "CREATE TABLE IF NOT EXISTS workspaces (id TEXT PRIMARY KEY, directory TEXT, "
                               "username TEXT COLLATE NOCASE, doc TEXT NOT NULL);")

    # -- directories ---------------------------------------------------------------------------
    def put_directory(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO directories VALUES (?, ?)", (doc["DirectoryId"], json.dumps(doc)))

    def directories(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM directories ORDER BY id")]

    def get_directory(self, directory_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM directories WHERE id = ?", (directory_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_directory(self, directory_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM directories WHERE id = ?", (directory_id,))

    def directory_by_registration_code(self, code: str) -> dict[str, Any] | None:
        # Registration codes are typed by people; the client accepts them in any case.
        wanted = code.strip().lower()
        return next((d for d in self.directories() if d.get("RegistrationCode", "").lower() == wanted), None)

    # -- workspaces ----------------------------------------------------------------------------
    def put_workspace(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO workspaces VALUES (?, ?, ?, ?)",
                             (doc["WorkspaceId"], doc["DirectoryId"], doc["UserName"], json.dumps(doc)))

    def workspace_for(self, directory_id: str, username: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM workspaces WHERE directory = ? AND username = ?",
                                   (directory_id, username)).fetchone()
        return json.loads(row[0]) if row else None

    def get_workspace(self, workspace_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM workspaces WHERE id = ?", (workspace_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def workspaces_in(self, directory_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM workspaces WHERE directory = ? ORDER BY id", (directory_id,))
            return [json.loads(r[0]) for r in rows]

    def workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute("SELECT doc FROM workspaces ORDER BY id")]

    def empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM directories").fetchone()[0] == 0

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM directories")
            self._db.execute("DELETE FROM workspaces")


def seed(store: WorkspacesStore, data: dict[str, Any]) -> None:
    """The seed's registered directory and a WorkSpace for every user marked `workspace: true`."""
    aws = data["aws"]
    directory_id = aws["directory"]["id"]
    ds_view = {"DirectoryId": directory_id, "Alias": directory_id, "Name": aws["directory"]["name"],
               "Type": "ADConnector", "ConnectSettings": {"CustomerUserName": aws["directory"]["service_account"],
                                                         "SubnetIds": ["subnet-0lab00000000000a1",
                                                                       "subnet-0lab00000000000b2"]}}
    directory = models.new_directory(ds_view, {}, code=aws["workspaces"]["registration_code"],
                                     account="123456789012")
    directory["State"] = models.REGISTERED
    store.put_directory(directory)
    for index, user in enumerate(u for u in data.get("users", []) if u.get("workspace")):
        store.put_workspace({
            "WorkspaceId": f"ws-lab{index:06d}",
            "DirectoryId": directory_id,
            "UserName": user["sam"],
            "BundleId": aws["workspaces"]["bundle_id"],
            "State": "AVAILABLE",
            "ComputerName": f"WSAMZN-{user['sam'].upper()[:8]}",
            "ConnectionState": "DISCONNECTED",
        })
