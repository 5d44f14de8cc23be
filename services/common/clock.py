"""The service clock: wall time plus an offset the admin API can set.

Everything time-dependent (OTP windows, push TTLs, RADIUS timers, Kerberos skew) reads this clock,
so scenarios can shift one service's time without touching the machine's clock.
"""
from __future__ import annotations

import datetime as _dt
import time as _time


class Clock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = float(offset_seconds)

    def now(self) -> float:
        """Seconds since the epoch, as this service believes."""
        return _time.time() + self.offset_seconds

    def utcnow(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.now(), tz=_dt.UTC)

    def iso(self) -> str:
        """ISO 8601 with milliseconds and a Z, the shape Okta and AWS use."""
        return iso(self.now())


def iso(epoch: float) -> str:
    # Every event carries one: strftime once per second, not per event (a hot-path cost).
    second = int(epoch // 1)
    global _last
    if _last[0] != second:
        _last = (second, _dt.datetime.fromtimestamp(second, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{_last[1]}{int((epoch - second) * 1000):03d}Z"


_last: tuple[int, str] = (-1, "")
