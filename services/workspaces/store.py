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


def seed(store: WorkspacesStore, data: dict[str, Any], *, dns_ips: list[str], account: str) -> None:
    """The seed's registered directory and an AVAILABLE WorkSpace for every user marked `workspace: true`.

    Made by the API's own code (models.new_directory, models.new_workspace), from the DS view
    DescribeDirectories gives of the seed's directory: `dns_ips` are the connector's
    CustomerDnsIps (the topology's), as DescribeDirectories' DnsIpAddrs would carry them.
    """
    aws = data["aws"]
    d = aws["directory"]
    ds_view = {"DirectoryId": d["id"], "Alias": d["id"], "Name": d["name"], "Type": "ADConnector",
               "DnsIpAddrs": list(dns_ips),
               "ConnectSettings": {"CustomerUserName": d["service_account"], "VpcId": d["vpc_id"],
                                   "SubnetIds": list(d["subnet_ids"])}}
    directory = models.new_directory(ds_view, {}, region=aws["region"], code=aws["workspaces"]["registration_code"],
                                     account=account)
    directory["State"] = models.REGISTERED
    store.put_directory(directory)
    for user in (u for u in data.get("users", []) if u.get("workspace")):
        request = {"DirectoryId": d["id"], "UserName": user["sam"], "BundleId": aws["workspaces"]["bundle_id"]}
        workspace_id = models.new_workspace_id(lambda i: store.get_workspace(i) is not None)
        store.put_workspace(models.make_available(models.new_workspace(
            request, workspace_id=workspace_id, user_name=user["sam"], directory=directory)))
