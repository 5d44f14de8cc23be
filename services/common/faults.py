"""Injected faults: drop, delay or deny traffic on a protocol or from a peer.

The admin API stores rules here; each protocol server asks `match()` before it answers, so a
scenario can say "the security group blocks UDP 1812" without touching the network stack.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("drop", "delay", "deny", "remove_record")


@dataclass
class Fault:
    action: str
    protocol: str | None = None   # e.g. "radius", "ldap", "dns", "kerberos", "http"; None = any
    port: int | None = None
    peer: str | None = None       # source or destination address; None = any
    seconds: float = 0.0          # for delay
    target: str | None = None     # for remove_record: the DNS name to remove, for instance
    id: int = field(default=0)

    def applies(self, protocol: str | None, port: int | None, peer: str | None) -> bool:
        return (
            (self.protocol is None or protocol is None or self.protocol == protocol)
            and (self.port is None or port is None or self.port == port)
            and (self.peer is None or peer is None or self.peer == peer)
        )


class Faults:
    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._next = 1
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        action = spec.get("action")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        allowed = {"action", "protocol", "port", "peer", "seconds", "target"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = Fault(**{k: spec[k] for k in allowed if k in spec})
        with self._lock:
            fault.id = self._next
            self._next += 1
            self._rules.append(fault)
        return fault

    def match(self, protocol: str | None = None, port: int | None = None,
              peer: str | None = None, action: str | None = None) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if (action is None or rule.action == action) and rule.applies(protocol, port, peer):
                    return rule
        return None

    def matches(self, protocol: str | None = None, port: int | None = None,
                peer: str | None = None, action: str | None = None) -> list[Fault]:
        """Every rule that applies (e.g. several DNS records removed at once)."""
        with self._lock:
            return [r for r in self._rules
                    if (action is None or r.action == action) and r.applies(protocol, port, peer)]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != fault_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
