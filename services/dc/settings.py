"""The DC's settings, read once at start-up into `DcSettings`; a bad value stops the start with one line.

From the topology (`services.dc.settings`); the lockout policy, `max_page_size` and
`generated_users` may also come from the seed's `domain` section (the topology wins). Every
default is written here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ber import MAX_MESSAGE

DAY = 86400.0
GENERATED_PASSWORD = "Generated-Passw0rd!"


@dataclass(frozen=True)
class Policy:
    """The domain's account policy (AD keeps it on the domain object)."""
    lockout_threshold: int = 5
    lockout_duration: float = 1800.0         # 0 = until an administrator unlocks
    observation_window: float = 1800.0       # badPwdCount resets after this long without failures
    max_password_age: float = 42 * DAY       # AD's default maximum password age


@dataclass(frozen=True)
class DcSettings:
    policy: Policy = Policy()
    max_page_size: int = 1000                # AD's MaxPageSize
    generated_users: int = 0                 # adds user00001... for paging tests and benchmarks
    generated_password: str = GENERATED_PASSWORD
    ldap_idle_seconds: float = 900.0         # AD's MaxConnIdleTime
    ldap_max_message_bytes: int = MAX_MESSAGE  # AD's MaxReceiveBuffer: a longer request drops the connection
    ldap_max_query_seconds: float = 120.0    # AD's MaxQueryDuration: then timeLimitExceeded (3)
    ldap_max_filter_terms: int = 10000       # the lab's bound on a filter (AD documents none): adminLimitExceeded
    ldap_max_filter_depth: int = 100         # nesting of &, |, ! (the same refusal)
    starttls: bool = True
    advertise_ip: str | None = None          # the A record's address; default: the topology's host
    kerberos_udp_max_reply: int = 1465       # larger replies: KRB_ERR_RESPONSE_TOO_BIG (retry on TCP)
    kerberos_max_skew_seconds: float = 300.0  # AD's "Maximum tolerance for computer clock sync"

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None, seed: dict[str, Any] | None = None) -> DcSettings:
        """Raises ValueError naming the setting when a value is of the wrong kind or range."""
        s = _Reader(settings or {}, (seed or {}).get("domain") or {})
        duration = s.number("lockout_duration_seconds", 1800.0, seed_too=True)
        policy = Policy(
            lockout_threshold=s.integer("lockout_threshold", 5, seed_too=True),
            lockout_duration=duration,
            observation_window=s.number("lockout_observation_window_seconds", duration or 1800.0,
                                        seed_too=True),
            max_password_age=s.number("max_password_age_days", 42.0, seed_too=True) * DAY,
        )
        return cls(
            policy=policy,
            max_page_size=s.integer("max_page_size", 1000, seed_too=True, minimum=1),
            generated_users=s.integer("generated_users", 0, seed_too=True),
            generated_password=s.text("generated_password", GENERATED_PASSWORD),
            ldap_idle_seconds=s.number("ldap_idle_seconds", 900.0, positive=True),
            ldap_max_message_bytes=s.integer("ldap_max_message_bytes", MAX_MESSAGE, minimum=1),
            ldap_max_query_seconds=s.number("ldap_max_query_seconds", 120.0, positive=True),
            ldap_max_filter_terms=s.integer("ldap_max_filter_terms", 10000, minimum=1),
            ldap_max_filter_depth=s.integer("ldap_max_filter_depth", 100, minimum=1),
            starttls=s.flag("starttls", True),
            advertise_ip=s.text("advertise_ip", "") or None,
            kerberos_udp_max_reply=s.integer("kerberos_udp_max_reply", 1465, minimum=1),
            kerberos_max_skew_seconds=s.number("kerberos_max_skew_seconds", 300.0),
        )


class _Reader:
    """Typed reads of the settings (then the seed's domain section), with the setting's name in
    every error."""

    def __init__(self, settings: dict[str, Any], domain: dict[str, Any]):
        self.settings, self.domain = settings, domain

    def _raw(self, name: str, seed_too: bool) -> Any:
        if name in self.settings and self.settings[name] is not None:
            return self.settings[name]
        if seed_too and self.domain.get(name) is not None:
            return self.domain[name]
        return None

    def integer(self, name: str, default: int, *, seed_too: bool = False, minimum: int = 0) -> int:
        raw = self._raw(name, seed_too)
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError(f"setting {name} must be an integer, not {raw!r}")
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"setting {name} must be an integer, not {raw!r}") from None
        if value < minimum:
            raise ValueError(f"setting {name} must be at least {minimum}, not {value}")
        return value

    def number(self, name: str, default: float, *, seed_too: bool = False, positive: bool = False) -> float:
        raw = self._raw(name, seed_too)
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"setting {name} must be a number, not {raw!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"setting {name} must be a number, not {raw!r}") from None
        if value < 0 or (positive and value == 0):
            raise ValueError(f"setting {name} must be {'positive' if positive else 'zero or more'}, not {raw!r}")
        return value

    def text(self, name: str, default: str) -> str:
        raw = self._raw(name, False)
        if raw is None:
            return default
        if not isinstance(raw, str):
            raise ValueError(f"setting {name} must be a string, not {raw!r}")
        return raw

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name, False)
        if raw is None:
            return default
        if isinstance(raw, bool) or raw in (0, 1):
            return bool(raw)
        raise ValueError(f"setting {name} must be true or false, not {raw!r}")
