"""The KDC's own principals: krbtgt, kadmin/changepw and the DC's machine account with its SPNs.

A real DC's service tickets for `ldap/instancerdc.corp.example.com` (and `host/...`, and
`INSTANCERDC$` itself) are encrypted in the key of the DC's computer account, whose password the
DC sets itself (120 random characters, changed every 30 days). The lab's choice: at its first start
the DC makes a random machine password (64 hex characters) and derives its keys as AD does for a
computer, string2key with the salt `<REALM>host<hostname>.<domain>` (MS-KILE "Cryptographic Material"); krbtgt gets
a random AES256 key. `kadmin/changepw` is, as in AD, an SPN of the krbtgt account: its tickets are
in krbtgt's key. Both are kept in `<state>/kdc-keys.json` (0600) so tickets
stay valid across a restart of the DC, as on a real DC; `POST /reset` keeps them (a reset
restores the directory's seed, not the domain's secrets).
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import krb_crypto
from .entry import Domain

FILE = "kdc-keys.json"
MACHINE_KVNO = 2                 # AD's first kvno for a computer that has set its password once
KRBTGT_KVNO = 2
# The SPNs AD registers on a DC's computer account that clients of the lab ask tickets for.
SPN_SERVICES = ("ldap", "host", "gc", "cifs", "dns", "restrictedkrbhost")


@dataclass
class ServiceKeys:
    name: str                    # "krbtgt", "kadmin" or "machine"
    kvno: int
    keys: dict[int, krb_crypto.Key]

    def key(self, enctype: int | None = None) -> krb_crypto.Key:
        return self.keys[enctype if enctype in self.keys else krb_crypto.AES256]


class Principals:
    def __init__(self, state_dir: Path, domain: Domain, realm: str):
        self.domain = domain
        self.realm = realm
        self.path = state_dir / FILE
        saved = self._load()
        self.machine_password: str = saved["machine_password"]
        salt = f"{realm}host{domain.dc_hostname.lower()}.{domain.dns_name.lower()}"
        self.machine = ServiceKeys("machine", MACHINE_KVNO, {
            e: krb_crypto.string_to_key(e, self.machine_password, salt) for e in krb_crypto.SUPPORTED})
        self.machine_salt = salt
        self.krbtgt = ServiceKeys("krbtgt", KRBTGT_KVNO, {
            krb_crypto.AES256: krb_crypto.Key(krb_crypto.AES256, bytes.fromhex(saved["krbtgt"]))})
        self.kadmin = ServiceKeys("kadmin", KRBTGT_KVNO, self.krbtgt.keys)

    @property
    def machine_sam(self) -> str:
        return f"{self.domain.dc_hostname.upper()}$"

    def _load(self) -> dict[str, str]:
        try:
            saved = json.loads(self.path.read_text())
            if all(isinstance(saved.get(k), str) for k in ("machine_password", "krbtgt")):
                return saved
        except (OSError, ValueError):
            pass
        fresh = {"machine_password": secrets.token_hex(32),
                 "krbtgt": os.urandom(32).hex()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(fresh, f)
        return fresh

    def service(self, parts: list[str]) -> ServiceKeys | None:
        """The keys a ticket for this server name is encrypted in, or None for an unknown name.

        Names compare case-insensitively, as AD's SPN lookup does: `krbtgt/REALM`,
        `kadmin/changepw`, `<svc>/<host>` and `<svc>/<host>/<domain>` for the DC's SPNs (host as
        the FQDN or the short name), and the machine account's own name `INSTANCERDC$`."""
        low = [p.lower() for p in parts]
        if low == ["krbtgt", self.realm.lower()]:
            return self.krbtgt
        if low == ["kadmin", "changepw"]:
            return self.kadmin
        if low in ([self.machine_sam.lower()], [self.domain.dc_hostname.lower()]):
            return self.machine
        hosts = {self.domain.dc_fqdn, self.domain.dc_hostname.lower()}
        domains = (self.domain.dns_name.lower(), self.domain.netbios.lower())
        if len(low) in (2, 3) and low[0] in SPN_SERVICES and low[1] in hosts \
                and (len(low) == 2 or low[2] in domains):
            return self.machine
        return None
