"""A service's background work, one task per key: the asynchronous state transitions AWS shows
through its Describe* calls (a directory's Stage Requested → Creating → Active, its RadiusStatus
Creating → Completed, a WorkSpace's PENDING → AVAILABLE, a registration's REGISTERING →
REGISTERED).

Starting work under a key cancels the work already under it; `current()` tells a task whether it
is still the one for its key, so a late result of superseded work (RADIUS updated or disabled
meanwhile, the directory deleted) is dropped. A task that fails is logged, never lost silently.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Hashable
from typing import Any


class Background:
    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    def start(self, key: Hashable, work: Coroutine[Any, Any, None]) -> None:
        self.cancel(key)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def current(self, key: Hashable) -> bool:
        """Called from inside a task: is it still the work for `key`?"""
        return self._tasks.get(key) is asyncio.current_task()

    def cancel(self, key: Hashable) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _done(self, key: Hashable, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background work %s failed: %r", key, task.exception())
