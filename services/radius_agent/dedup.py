"""RFC 5080 §2.2.2 duplicate detection for Access-Requests.

Why it matters here: while a push is pending the NAS (AD Connector) retransmits the same
Access-Request every RadiusTimeout seconds. Each retransmission carries the same source address,
Identifier and Request Authenticator. Processing it again would send the user a second push; the
real Okta agent "recognizes duplicates and drops them". So:

- a duplicate of a request still being processed is silently dropped;
- a duplicate of a request already answered gets the cached reply, byte for byte, without
  reprocessing (so the NAS that lost our reply still gets it);
- a request that ended with *no* answer (a timeout in NO_RESPONSE mode) is remembered too, so its
  retransmissions are dropped rather than restarting the push.

Key: (receiving port, source IP, source port, Identifier, Request Authenticator). When a new
request arrives on the same (port, IP, source port, Identifier) with a different authenticator the
old entry is purged (RFC 5080: the client has moved on). Only requests that passed validation
(Message-Authenticator) may touch the cache; the caller makes sure of that.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Key = tuple[int, str, int, int, bytes]

IN_FLIGHT = "in_flight"
ANSWERED = "answered"


@dataclass
class Entry:
    state: str = IN_FLIGHT
    reply: bytes | None = None          # None once answered means "we chose not to answer"
    expires: float = float("inf")       # in-flight entries live until finished
    started: float = field(default_factory=time.monotonic)


Verdict = Literal["new", "in_flight", "answered"]


class DuplicateCache:
    """In-memory duplicate cache with a bounded size (oldest entries evicted first)."""

    def __init__(self, ttl: float, max_entries: int = 4096,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        # (port, ip, sport, id) -> authenticator, to purge superseded entries quickly
        self._latest: dict[tuple[int, str, int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, key: Key) -> tuple[Verdict, Entry | None]:
        """Classify a validated request; registers it as in flight when it is new."""
        self._expire()
        entry = self._entries.get(key)
        if entry is not None:
            return (IN_FLIGHT if entry.state == IN_FLIGHT else ANSWERED), entry  # type: ignore[return-value]
        slot = key[:4]
        previous = self._latest.get(slot)
        if previous is not None and previous != key[4]:
            old = self._entries.get((*slot, previous))
            # an in-flight request keeps its entry until it finishes; only answered ones go
            if old is not None and old.state == ANSWERED:
                del self._entries[(*slot, previous)]
        self._latest[slot] = key[4]
        entry = Entry(started=self._now())
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            old_key, _ = self._entries.popitem(last=False)
            self._forget_slot(old_key)
        return "new", entry

    def finish(self, key: Key, reply: bytes | None) -> None:
        """Store the reply (or None for "no answer") and start the entry's lifetime."""
        entry = self._entries.get(key)
        if entry is None:      # evicted while in flight, or reset: re-add so duplicates still see it
            entry = Entry()
            self._entries[key] = entry
        entry.state = ANSWERED
        entry.reply = reply
        entry.expires = self._now() + self.ttl
        self._entries.move_to_end(key)

    def forget(self, key: Key) -> None:
        """Drop an entry (e.g. processing crashed): a retransmission is then processed anew."""
        if self._entries.pop(key, None) is not None:
            self._forget_slot(key)

    def clear(self) -> None:
        self._entries.clear()
        self._latest.clear()

    def _forget_slot(self, key: Key) -> None:
        if self._latest.get(key[:4]) == key[4]:
            del self._latest[key[:4]]

    def _expire(self) -> None:
        now = self._now()
        # Answered entries are moved to the end when they finish and all live `ttl` seconds, so
        # among them the order is the expiry order: stop at the first live one (O(1) normally).
        dead = []
        for key, entry in self._entries.items():
            if entry.state != ANSWERED:
                continue
            if entry.expires > now:
                break
            dead.append(key)
        for key in dead:
            del self._entries[key]
            self._forget_slot(key)
