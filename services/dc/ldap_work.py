"""Where the LDAP server's heavy work happens: off the event loop, under AD's LDAP policy limits.

The DC has one event loop for LDAP, DNS and Kerberos. A search can cost seconds of CPU (a filter of
megabytes is read into objects, and matched against every candidate entry), so big messages are
decoded, and every filter converted and evaluated, in a small thread pool; the
loop keeps answering the other protocols meanwhile. A connection awaits its request's work before
reading the next one, so replies on a connection stay in request order.

The limits ([LDAP policy], docs/active-directory.md "Limits"):
- MaxReceiveBuffer (`ldap_max_message_bytes`): checked by the framing (`ber.MessageReader`); AD
  drops the connection.
- filter size (`ldap_max_filter_terms`, `ldap_max_filter_depth`): read off the BER before
  decoding, so an over-complex filter costs milliseconds; answered `adminLimitExceeded` (11).
- MaxQueryDuration (`ldap_max_query_seconds`, or the request's own timeLimit if shorter):
  `search.search` checks the deadline while it walks; answered `timeLimitExceeded` (3) with the
  entries found so far.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import ber, ldap_messages
from .filters import Filter
from .settings import DcSettings

T = TypeVar("T")

INLINE = 16 * 1024        # messages up to this size decode on the loop (well under a millisecond)
WORKERS = 4               # searches evaluated at once (AD's MaxActiveQueries is 20; the lab has 2 cores)
EVENT_FILTER_CHARS = 2000  # a filter's text in events is cut here (a 2 MB filter is not a log line)


@dataclass(frozen=True)
class TooComplex:
    """A search whose filter is over the bounds; answered without decoding it."""
    mid: int
    terms: int
    depth: int


class Worker:
    def __init__(self, settings: DcSettings):
        self.max_terms = settings.ldap_max_filter_terms
        self.max_depth = settings.ldap_max_filter_depth
        self.max_seconds = settings.ldap_max_query_seconds
        # Daemon threads, not a ThreadPoolExecutor: the interpreter joins an executor's threads at
        # exit, so a stopping DC would wait for a search's MaxQueryDuration.
        self.jobs: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future, Callable, tuple]] = \
            queue.SimpleQueue()
        self.threads: list[threading.Thread] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread; its result or exception, back on the loop."""
        if not self.threads:
            self.threads = [threading.Thread(target=self._serve, name=f"ldap-work-{i}", daemon=True)
                            for i in range(WORKERS)]
            for t in self.threads:
                t.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.jobs.put((loop, future, fn, args))
        return await future

    def _serve(self) -> None:
        while True:
            loop, future, fn, args = self.jobs.get()
            try:
                outcome: tuple[Any, BaseException | None] = (fn(*args), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, raised there
                outcome = (None, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:   # the loop has closed: nobody is waiting any more
                pass

    async def prepare(self, data: bytes) -> Any:
        """The decoded LDAPMessage, or TooComplex. Raises what `ldap_messages.decode` raises."""
        if len(data) <= INLINE:
            return self._prepare(data)
        return await self.run(self._prepare, data)

    def _prepare(self, data: bytes) -> Any:
        shape = ber.search_filter_shape(data, self.max_terms, self.max_depth)
        if shape is not None and (shape[1] > self.max_terms or shape[2] > self.max_depth):
            return TooComplex(*shape)
        return ldap_messages.decode(data)

    async def filter(self, raw: Any) -> tuple[Filter, str]:
        """A request's filter as a `Filter` and its full text; a big one converted in the pool."""
        if len(raw) <= INLINE:
            return convert(raw)
        return await self.run(convert, raw)

    def deadline(self, time_limit: int) -> float:
        """When a search starting now must stop: MaxQueryDuration, or the client's timeLimit
        (seconds, 0 = none; RFC 4511 4.5.1.5) when that is shorter."""
        seconds = min(self.max_seconds, time_limit) if time_limit > 0 else self.max_seconds
        return time.monotonic() + seconds


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():         # the connection went away meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def convert(decoded_filter: Any) -> tuple[Filter, str]:
    """A decoded filter as a `Filter` and its full text (the paged-search key); in the pool."""
    flt = ber.to_filter(decoded_filter)
    return flt, str(flt)


def event_text(text: str) -> str:
    return text if len(text) <= EVENT_FILTER_CHARS else text[:EVENT_FILTER_CHARS] + f"... ({len(text)} chars)"
