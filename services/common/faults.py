"""Injected faults: drop, delay or deny traffic on a protocol or from a peer.

The admin API stores rules here; each protocol server asks `gate()` once per request before it
answers, so a scenario can say "the DC drops this peer's LDAP" without touching the network stack.
"""
from __future__ import annotations

import ipaddress
import math
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

# intercept_tls: a TLS-inspecting proxy in front of the service (services/common/tls.py).
ACTIONS = ("drop", "delay", "deny", "remove_record", "intercept_tls")
# The protocols some server honours; a fault on any other would silently do nothing.
PROTOCOLS = ("radius", "ldap", "dns", "kerberos", "push", "smtp", "https")
MAX_DELAY = 600.0     # seconds; longer than any client in the lab waits
# A DNS name: labels of letters, digits, hyphens and underscores (SRV names), up to 253 characters.
_DNS_NAME = re.compile(r"(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+")


@dataclass(frozen=True)
class Gate:
    """What the faults say about one request: drop it, hold it `delay` seconds, refuse it."""
    drop: bool = False
    delay: float = 0.0
    deny: bool = False
    rule: Fault | None = None     # the drop or deny rule that decided, for the event

    @property
    def open(self) -> bool:
        return not (self.drop or self.deny or self.delay)


OPEN = Gate()


@dataclass
class Fault:
    action: str
    protocol: str | None = None   # one of PROTOCOLS; None = any
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
        protocol = spec.get("protocol")
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
        fault = Fault(action=action, protocol=protocol, port=_port(spec.get("port")),
                      peer=_peer(spec.get("peer")), seconds=_seconds(spec.get("seconds", 0.0)),
                      target=_target(spec.get("target")))
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

    def gate(self, protocol: str, peer: str | None = None, port: int | None = None) -> Gate:
        """One look per request: drop wins over deny, and delay adds to either (a delayed deny is
        held, then refused)."""
        with self._lock:
            rules = [r for r in self._rules if r.applies(protocol, port, peer)]
        if not rules:
            return OPEN
        drop = next((r for r in rules if r.action == "drop"), None)
        deny = next((r for r in rules if r.action == "deny"), None)
        delay = next((float(r.seconds) for r in rules if r.action == "delay"), 0.0)
        return Gate(drop=drop is not None, deny=deny is not None, delay=delay, rule=drop or deny)

    def removed_records(self, protocol: str, peer: str | None = None,
                        port: int | None = None) -> set[str]:
        """The targets of the `remove_record` rules that apply (DNS names, lower case, no dot)."""
        return {str(r.target).lower().rstrip(".")
                for r in self.matches(protocol, port, peer, action="remove_record") if r.target}

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


# -- validation: a rule is checked whole before it is stored, so a bad one changes nothing ------

def _port(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError("port must be an integer from 1 to 65535")
    return value


def _peer(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("peer must be an IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("peer must be an IP address") from None


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"seconds must be a number from 0 to {MAX_DELAY:g}")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DELAY:
        raise ValueError(f"seconds must be a number from 0 to {MAX_DELAY:g}")
    return seconds


def _target(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DNS_NAME.fullmatch(value):
        raise ValueError("target must be a DNS name")
    return value
