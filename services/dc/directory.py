"""The directory: AD's entries for the lab domain, their indexes, and which account a name means.

This is the state of the DC, built from the seed by `load()` (at start and on `POST /reset`);
what changed since is kept across restarts by `snapshot.py`, which follows `changed()`.
The rest is kept elsewhere: building the entries (`seeding.py`), the account rules shared by
LDAP and Kerberos (`accounts.py`), administration over LDAP (`modify.py`), search and attribute
selection (`search.py`), the RootDSE (`rootdse.py`). Filters (`filters.py`) read entries through
`get` and `schema_dn`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .entry import Account, Entry, password_digest
from .names import InvalidDN, filetime, generalized_time, norm_dn
from .seeding import Seeder, domain_from_seed
from .settings import DcSettings, Policy

FIRST_USN = 12000
# Attributes with an index, for the exact-match filters clients send most (a sAMAccountName, a UPN,
# a DN, an objectClass to narrow a listing). A search uses the one with the fewest candidates.
INDEXED = ("samaccountname", "userprincipalname", "distinguishedname", "mail", "objectclass")

PasswordListener = Callable[[Account, str], None]


class Directory:
    def __init__(self, seed: dict[str, Any], now: Callable[[], float], settings: DcSettings):
        self.seed = seed or {}
        self.now = now
        self.settings = settings
        # Told about every password set over LDAP (the KDC derives its keys from them); kept
        # across `load()`, which rebuilds everything else.
        self.password_listeners: list[PasswordListener] = []
        self.load()

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    @property
    def max_page_size(self) -> int:
        return self.settings.max_page_size

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """(Re)build every entry from the seed: lockouts, counters and logons start fresh."""
        self.domain = domain_from_seed(self.seed)
        self.schema_dn = f"CN=Schema,CN=Configuration,{self.domain.base_dn}"
        self.entries: dict[str, Entry] = {}
        self.order: list[Entry] = []
        self.children: dict[str, list[Entry]] = {}
        self.accounts: dict[str, Account] = {}          # by normalised DN
        self.by_sam: dict[str, Account] = {}
        self.group_dns: dict[str, str] = {}             # lower-case group name -> DN
        self.index: dict[str, dict[Any, list[Entry]]] = {attr: {} for attr in INDEXED}
        self.index_keys: dict[str, list[tuple[str, Any]]] = {}   # normalised DN -> its index keys
        self.usn = FIRST_USN
        self.loaded_at = self.now()
        # The entries changed since the seed (by DN) and a counter of changes: what the snapshot saves.
        self.changed_entries: set[str] = set()
        self.dirty: set[str] = set()                    # ... and those changed since the last save
        self.logon_entries: set[str] = set()            # the accounts whose logon counters changed
        self.logons_dirty: set[str] = set()             # ... and those changed since the last save
        self.generation = 0
        Seeder(self).populate()

    def next_usn(self) -> int:
        self.usn += 1
        return self.usn

    def add(self, dn: str, attrs: dict[str, Any], parent: str | None) -> Entry:
        """Add an entry under `parent` (None: a naming context's root) and index it."""
        entry = Entry(dn, attrs, parent=norm_dn(parent) if parent is not None else None)
        self.entries[entry.norm] = entry
        self.order.append(entry)
        if entry.parent is not None:
            self.children.setdefault(entry.parent, []).append(entry)
        self._index(entry)
        return entry

    def _index(self, entry: Entry) -> None:
        keys = []
        for attr, idx in self.index.items():
            for v in entry.values(attr):
                key = norm_dn(v) if attr == "distinguishedname" else str(v).casefold()
                idx.setdefault(key, []).append(entry)
                keys.append((attr, key))
        self.index_keys[entry.norm] = keys

    def reindex_entry(self, entry: Entry) -> None:
        """Index `entry` again after its attributes changed (an admin's modify). Posting lists are
        replaced, not edited, so a search reading one in a worker thread sees a whole list."""
        for attr, key in self.index_keys.pop(entry.norm, []):
            hits = self.index[attr].get(key)
            if hits is not None:
                self.index[attr][key] = [e for e in hits if e is not entry]
        self._index(entry)

    def add_detached(self, dn: str, attrs: dict[str, Any]) -> Entry:
        """An entry readable by its DN only, outside every subtree (the subschema entry)."""
        entry = Entry(dn, attrs, parent=None)
        self.entries[entry.norm] = entry
        return entry

    def add_account(self, account: Account) -> None:
        self.accounts[account.entry.norm] = account
        self.by_sam[account.sam.lower()] = account

    # -- lookups -----------------------------------------------------------------------------
    def get(self, norm: str) -> Entry | None:
        return self.entries.get(norm)

    def find_account(self, name: str) -> Account | None:
        """The account a bind name means: a DN, `user@suffix` or `DOMAIN\\user`."""
        name = name.strip()
        if "\\" in name:
            dom, _, sam = name.partition("\\")
            if dom.lower() in (self.domain.netbios.lower(), self.domain.dns_name.lower()):
                return self.by_sam.get(sam.lower())
            return None
        if "=" in name:
            try:
                return self.accounts.get(norm_dn(name))
            except InvalidDN:
                return None
        if "@" in name:
            hits = self.index["userprincipalname"].get(name.casefold(), [])
            if hits:
                return self.accounts.get(hits[0].norm)
            local, _, suffix = name.rpartition("@")
            if suffix.lower() in (self.domain.dns_name.lower(), self.domain.netbios.lower()):
                return self.by_sam.get(local.lower())
        return None

    def is_admin(self, account: Account | None) -> bool:
        """The built-in Administrator or a member of Domain Admins."""
        if account is None:
            return False
        admins = self.group_dns.get("domain admins")
        return account.sam.lower() == "administrator" or (
            admins is not None and norm_dn(admins) in {norm_dn(v) for v in account.entry.values("memberOf")})

    # -- changes -----------------------------------------------------------------------------
    def changed(self, entry: Entry) -> None:
        """Note that `entry` differs from the seed now (an admin's modify, a new password)."""
        self.changed_entries.add(entry.norm)
        self.dirty.add(entry.norm)
        self.logon_entries.add(entry.norm)              # an admin may have unlocked it
        self.logons_dirty.add(entry.norm)
        self.generation += 1

    def logon_changed(self, entry: Entry) -> None:
        """Note that only `entry`'s logon counters changed (a bind, an AS exchange): the snapshot
        saves them apart from the entry (`accounts.LOGON_ATTRIBUTES`), so a save costs what changed."""
        self.logon_entries.add(entry.norm)
        self.logons_dirty.add(entry.norm)
        self.generation += 1

    def reindex(self) -> None:
        """Rebuild the indexes from the entries (after a snapshot replaced their attributes)."""
        self.index = {attr: {} for attr in INDEXED}
        self.index_keys = {}
        for entry in self.order:
            self._index(entry)

    def touched(self, entry: Entry) -> None:
        """Record a change to `entry` as AD does (uSNChanged, whenChanged)."""
        entry.set("uSNChanged", self.next_usn())
        entry.set("whenChanged", generalized_time(self.now()))
        self.changed(entry)

    def set_password(self, account: Account, password: str) -> None:
        """A new password (already checked): pwdLastSet is now, and the listeners hear of it."""
        account.digest = password_digest(account.sam, password)
        account.entry.set("pwdLastSet", filetime(self.now()))
        self.changed(account.entry)
        for listener in self.password_listeners:
            listener(account, password)
