"""AD Connector's state: the directories (AD Connectors), their RADIUS settings, and which AWS
applications use each directory, in SQLite.

Each directory is kept as one JSON document in the shape DescribeDirectories returns, plus the
write-only fields (the service account password, the RADIUS shared secret) that AWS never returns.
Registrations (`registrations` table) are what applications told the connector over HTTP
(registrations.py): DeleteDirectory refuses while one exists.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.common.sqlite_store import SqliteStore

from . import models
from .settings import ConnectorSettings

WRITE_ONLY = ("ServiceAccountPassword", "SharedSecret")


class DirectoryStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS directories (id TEXT PRIMARY KEY, doc TEXT NOT NULL);\n"
                               "CREATE TABLE IF NOT EXISTS registrations (directory TEXT NOT NULL, "
                               "application TEXT NOT NULL, PRIMARY KEY (directory, application));")

    def put(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO directories (id, doc) VALUES (?, ?)",
                             (doc["DirectoryId"], json.dumps(doc)))

    def get(self, directory_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM directories WHERE id = ?", (directory_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM directories ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete(self, directory_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM directories WHERE id = ?", (directory_id,))

    def empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM directories").fetchone()[0] == 0

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM directories")
            self._db.execute("DELETE FROM registrations")

    # -- registrations: which AWS applications use a directory ------------------------------------
    def register(self, directory_id: str, application: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO registrations VALUES (?, ?)", (directory_id, application))

    def deregister(self, directory_id: str, application: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM registrations WHERE directory = ? AND application = ?",
                                   (directory_id, application))
        return cur.rowcount > 0

    def registrations(self, directory_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT application FROM registrations WHERE directory = ? ORDER BY application",
                                    (directory_id,)).fetchall()
        return [r[0] for r in rows]


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The directory as AWS shows it: write-only secrets removed, at any depth."""
    out = {k: v for k, v in doc.items() if k not in WRITE_ONLY}
    if "RadiusSettings" in out:
        out["RadiusSettings"] = {k: v for k, v in out["RadiusSettings"].items() if k not in WRITE_ONLY}
    return out


def seed_directory(seed: dict[str, Any], settings: ConnectorSettings, shared_secret: str,
                   radius_hosts: list[str], *, region: str, now: float) -> dict[str, Any]:
    """The seed's AD Connector, Active, with MFA enabled and RADIUS Completed (the walkthrough's end).

    Made by ConnectDirectory's own code (models.new_connector), then moved to where the
    walkthrough leaves it, so it has every member a directory made through the API has.
    """
    d, domain = seed["aws"]["directory"], seed["domain"]
    service_account = next(a for a in seed.get("service_accounts", []) if a["sam"] == d["service_account"])
    params = {"Name": d["name"], "ShortName": d.get("short_name", domain["netbios_name"]),
              "Password": service_account["password"], "Size": d.get("size", "Small"),
              "ConnectSettings": {"VpcId": d["vpc_id"], "SubnetIds": list(d["subnet_ids"]),
                                  "CustomerDnsIps": list(settings.customer_dns_ips),
                                  "CustomerUserName": service_account["sam"]}}
    # The directory's group as EC2's seed made it (services/ec2/seed.py), same id.
    doc = models.new_connector(params, directory_id=d["id"], region=region, connect_ips=list(settings.connect_ips),
                               now=now, security_group_id=d.get("security_group_id") or models.new_security_group_id())
    models.set_stage(doc, models.ACTIVE, now)
    radius = d["radius"]
    doc["RadiusSettings"] = models.radius_settings_for_enable({
        "RadiusServers": list(radius_hosts),
        "RadiusPort": radius["port"],
        "RadiusTimeout": radius["timeout"],
        "RadiusRetries": radius["retries"],
        "SharedSecret": shared_secret,
        "AuthenticationProtocol": radius["protocol"],
        "DisplayLabel": radius.get("display_label", "MFA"),
        "UseSameUsername": radius.get("use_same_username", True),
    })
    doc["RadiusStatus"] = models.RADIUS_COMPLETED
    return doc
