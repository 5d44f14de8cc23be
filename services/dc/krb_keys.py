"""Long-term Kerberos keys of the directory's accounts, derived from their passwords on demand.

The directory (`directory.py`) keeps only a digest of each password, which is enough for LDAP
binds but not for Kerberos: the KDC must hold the same keys the client derives from the password
(string2key with the AD salt `<REALM><sAMAccountName>`; rc4-hmac = NT hash). This table derives
them lazily, because AES string2key is a 4096-round PBKDF2 and a directory may have thousands of
generated users of whom a test uses three.

A key set is cached under (sAMAccountName, password digest): when the password changes (an LDAP
`unicodePwd` modify, which `watch()` observes) or a reset restores the seed's, the digest changes
and the stale keys are simply never looked up again. The table never keeps a plaintext password:
seed passwords stay in the seed where the directory already holds them, and a password set over
LDAP is turned into keys the moment it is set (the directory tells `remember`).
"""
from __future__ import annotations

from typing import Any

from . import krb_crypto
from .directory import Directory
from .entry import Account, password_digest


class KeyTable:
    def __init__(self, directory: Directory, realm: str):
        self.directory = directory
        self.realm = realm
        self._keys: dict[tuple[str, bytes], dict[int, krb_crypto.Key]] = {}
        self._seeded: dict[str, str] | None = None

    def salt(self, account: Account) -> str:
        """AD's salt for a user: the realm in upper case, then sAMAccountName as stored."""
        return f"{self.realm}{account.sam}"

    def key(self, account: Account, enctype: int) -> krb_crypto.Key | None:
        """The account's key of `enctype`, or None when the KDC cannot know the password (it was
        changed by a path the table did not observe)."""
        slot = (account.sam.lower(), account.digest)
        keys = self._keys.get(slot)
        if keys is None:
            keys = self._keys[slot] = {}
        if enctype not in keys:
            password = self._password_for(account)
            if password is None:
                return None
            keys[enctype] = krb_crypto.string_to_key(enctype, password, self.salt(account))
        return keys[enctype]

    def _password_for(self, account: Account) -> str | None:
        """The seed's (or the generated users') password, if it is still the account's."""
        if self._seeded is None:      # the seed never changes while the DC runs: read it once
            self._seeded = _seed_passwords(self.directory.seed)
        for candidate in (self._seeded.get(account.sam.lower()),
                          self.directory.settings.generated_password):
            if candidate is not None and password_digest(account.sam, candidate) == account.digest:
                return candidate
        return None

    def remember(self, account: Account, password: str) -> None:
        """Keys for a password just set (called after the directory accepted it)."""
        slot = (account.sam.lower(), account.digest)
        self._keys[slot] = {e: krb_crypto.string_to_key(e, password, self.salt(account))
                            for e in krb_crypto.SUPPORTED}

    def saved(self, account: Account) -> dict[int, bytes] | None:
        """The keys of a password set over LDAP, for the snapshot (None: the seed's password, or
        keys the table never held); AD keeps these long-term keys in its database too."""
        if self._password_for(account) is not None:
            return None
        keys = self._keys.get((account.sam.lower(), account.digest))
        return {e: k.contents for e, k in keys.items()} if keys else None

    def restore(self, account: Account, keys: dict[int, bytes]) -> None:
        """Keys read back from the snapshot for the account's current password."""
        self._keys[(account.sam.lower(), account.digest)] = {
            e: krb_crypto.Key(e, contents) for e, contents in keys.items()}

    def watch(self, directory: Directory) -> None:
        """Follow password changes made over LDAP (`unicodePwd` set by an admin or by the user)."""
        directory.password_listeners.append(self.remember)


def _seed_passwords(seed: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for section in ("users", "service_accounts"):
        for u in seed.get(section) or []:
            if "sam" in u and u.get("password") is not None:
                out[str(u["sam"]).lower()] = str(u["password"])
    return out
