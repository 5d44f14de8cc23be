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
    moment = _dt.datetime.fromtimestamp(epoch, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
