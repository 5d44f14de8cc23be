"""Search over the directory, and what a search returns of each entry (AD's attribute selection,
with its constructed attributes computed at read time).

The wire (`ldap.py`) adds what AD does around it: anonymous access, MaxPageSize, paging.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from services.common import ad_wire

from . import schema
from .accounts import Accounts
from .directory import Directory
from .entry import Entry
from .filters import Filter, equality_hints
from .names import InvalidDN, norm_dn, parse_dn

SCOPE_BASE, SCOPE_ONE, SCOPE_SUB = 0, 1, 2

# How AD spells the constructed attributes in a reply, whatever case the client asked in.
_CANONICAL = {
    "msds-user-account-control-computed": "msDS-User-Account-Control-Computed",
    "tokengroups": "tokenGroups", "canonicalname": "canonicalName",
    "createtimestamp": "createTimeStamp", "modifytimestamp": "modifyTimeStamp",
}


class NoSuchObject(LookupError):
    """The search base does not exist; `matched` is the deepest existing ancestor's DN."""

    def __init__(self, matched: str):
        super().__init__(matched)
        self.matched = matched


class TimeLimit(Exception):
    """The search ran past its deadline (AD's MaxQueryDuration); `found` is what matched so far."""

    def __init__(self, found: list[Entry]):
        super().__init__(len(found))
        self.found = found


_CHECK_EVERY = 32   # candidates between looks at the clock


def search(directory: Directory, base: str, scope: int, flt: Filter,
           deadline: float | None = None) -> list[Entry]:
    """Entries under `base` within `scope` matching `flt`. Raises NoSuchObject, InvalidDN, and
    TimeLimit once `time.monotonic()` passes `deadline`.

    Runs in the LDAP server's worker threads while the event loop writes (binds, modifies,
    resets). It only reads: dict lookups and list iteration, which stay whole under the GIL while
    the loop writes (`Entry.set` replaces an attribute's list; a reset builds new tables and the
    search goes on over the old ones), and it never iterates a dict the loop may grow."""
    base_norm = norm_dn(base)
    root = directory.entries.get(base_norm)
    if root is None:
        raise NoSuchObject(matched(directory, base_norm))
    if scope == SCOPE_BASE:
        candidates: Iterable[Entry] = [root]
    elif scope == SCOPE_ONE:
        candidates = directory.children.get(base_norm, [])
    else:
        candidates = _subtree(directory, base_norm, flt)
    if deadline is None:
        return [e for e in candidates if flt.match(e, directory)]
    found: list[Entry] = []
    for i, e in enumerate(candidates):
        if i % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise TimeLimit(found)
        if flt.match(e, directory):
            found.append(e)
    return found


INLINE_HITS = 64   # candidates from an index up to which a search is cheap enough for the event loop


def indexed(directory: Directory, scope: int, flt: Filter) -> bool:
    """Whether a search costs a lookup, not a walk: a base search, or a sub-tree one whose filter
    requires an exact value of an indexed attribute with few entries."""
    if scope == SCOPE_BASE:
        return True
    hits = _index_hits(directory, flt) if scope == SCOPE_SUB else None
    return hits is not None and len(hits) <= INLINE_HITS


def _index_hits(directory: Directory, flt: Filter) -> list[Entry] | None:
    """The entries of the filter's most selective indexed equality; None when it has none."""
    best: list[Entry] | None = None
    for attr, raw in equality_hints(flt):
        idx = directory.index.get(attr)
        if idx is None:
            continue
        text = raw.decode("utf-8", "replace")
        try:
            key = norm_dn(text) if attr == "distinguishedname" else text.casefold()
        except InvalidDN:
            return []
        hits = idx.get(key, [])
        if best is None or len(hits) < len(best):
            best = hits
    return best


def _subtree(directory: Directory, base_norm: str, flt: Filter) -> Iterable[Entry]:
    hits = _index_hits(directory, flt)
    if hits is not None:
        return [e for e in hits if e.norm == base_norm or e.norm.endswith("," + base_norm)]
    if base_norm == norm_dn(directory.domain.base_dn):
        return directory.order
    return [e for e in directory.order if e.norm == base_norm or e.norm.endswith("," + base_norm)]


def matched(directory: Directory, norm: str) -> str:
    """The DN of the deepest existing ancestor of a missing entry ("" when none)."""
    rdns = parse_dn(norm)
    for i in range(1, len(rdns) + 1):
        key = ",".join(f"{a}={v}" for a, v in rdns[i:])
        try:
            found = directory.entries.get(norm_dn(key)) if key else None
        except InvalidDN:
            found = None
        if found is not None:
            return found.dn
    return ""


def constructed(directory: Directory, entry: Entry, attr: str) -> list[Any]:
    """AD's constructed attributes, computed at read time; [] when not applicable."""
    account = directory.accounts.get(entry.norm)
    if attr == "msds-user-account-control-computed" and account is not None:
        rules = Accounts(directory)
        flags = 0
        if rules.is_locked(account):
            flags |= ad_wire.UF_LOCKOUT
        if rules.password_expired(account):
            flags |= ad_wire.UF_PASSWORD_EXPIRED
        return [str(flags)]
    if attr == "canonicalname":
        rdns = parse_dn(entry.dn)
        dcs = [v for a, v in rdns if a.lower() == "dc"]
        rest = [v for a, v in rdns if a.lower() != "dc"]
        return [".".join(dcs) + "/" + "/".join(reversed(rest))]
    if attr == "createtimestamp":
        return entry.values("whenCreated")
    if attr == "modifytimestamp":
        return entry.values("whenChanged")
    if attr == "tokengroups" and account is not None:
        return [g.first("objectSid") for g in
                (directory.entries.get(norm_dn(dn)) for dn in entry.values("memberOf")) if g is not None]
    return []


@lru_cache(maxsize=256)
def _requested(requested: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """(all stored attributes?, the ones named), read once per attribute list, not per entry."""
    wanted = [r.split(";")[0] for r in requested if r]
    return not wanted or "*" in wanted, tuple(w for w in wanted if w not in ("*", "1.1", "+"))


def select(directory: Directory, entry: Entry, requested: list[str]) -> list[tuple[str, list[Any]]]:
    """The attributes a search returns: all stored ones for none or `*`, none for `1.1`,
    plus any named ones (constructed attributes only when named, as in AD)."""
    everything, named = _requested(tuple(requested))
    out: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    if everything:
        for name, vals in entry.items():
            if name.lower() not in schema.HIDDEN:
                out.append((name, vals))
                seen.add(name.lower())
    for w in named:
        key = w.lower()
        if key in seen or key in schema.HIDDEN:
            continue
        seen.add(key)
        if key in schema.CONSTRUCTED:
            vals = constructed(directory, entry, key)
            if vals:
                out.append((_CANONICAL.get(key, w), vals))
        elif entry.has(key):
            out.append((entry.name_of(key), entry.values(key)))
    return out
