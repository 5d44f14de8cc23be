"""The org's rate-limit counters, in memory (a restart or an admin reset starts them afresh):
per-minute buckets by path prefix (Okta's org-wide limits, 429 E0000047 with X-Rate-Limit-*
headers; gate.py answers them) and the per-user limit of primary authentications, "Authenticate
the same user" (authn.py asks it). See docs/okta.md, "Rate limits"."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Taken(NamedTuple):
    limit: int
    remaining: int
    reset: int          # epoch second the window ends
    allowed: bool
    first_denial: bool = False    # per-user limit: the first denied attempt in this second


class RateLimiter:
    def __init__(self, now: Callable[[], float], limits: dict[str, int], user_limit: int) -> None:
        self.now = now
        self.limits = limits              # path prefix (or "default") -> requests per minute
        self.user_limit = user_limit      # primary authentications per user and second; 0 = off
        self.counts: dict[tuple[str, int], int] = {}
        self.user_counts: dict[tuple[str, int], int] = {}

    def bucket(self, path: str) -> tuple[str, int]:
        best = max((p for p in self.limits if p != "default" and path.startswith(p)), key=len, default="default")
        return best, int(self.limits[best])

    def take(self, path: str) -> Taken:
        """One request on `path` against its bucket of this minute."""
        name, limit = self.bucket(path)
        minute = int(self.now() // 60)
        key = (name, minute)
        for old in [k for k in self.counts if k[1] < minute]:
            del self.counts[old]
        used = self.counts.get(key, 0)
        allowed = used < limit
        if allowed:
            self.counts[key] = used + 1
        return Taken(limit, max(0, limit - self.counts.get(key, 0)), (minute + 1) * 60, allowed)

    def take_user(self, who: str) -> Taken:
        """One primary authentication of `who` (the user's id, or the username as given when no
        user has it, case-insensitive), counted in whole seconds of the service clock."""
        limit = self.user_limit
        second = int(self.now())
        if limit <= 0:
            return Taken(0, 0, second + 1, True)
        key = (who.strip().lower(), second)
        for old in [k for k in self.user_counts if k[1] < second]:
            del self.user_counts[old]
        used = self.user_counts.get(key, 0)
        self.user_counts[key] = used + 1          # denied attempts count too (a brute force stays denied)
        return Taken(limit, max(0, limit - used - 1), second + 1, used < limit, used == limit)

    def clear(self) -> None:
        self.counts.clear()
        self.user_counts.clear()
