"""The AD agents' work queues, in memory: tasks waiting for each agent's next long poll, the
events that wake a waiting poll, and the delegated authentications waiting for an answer
(agents.py fills and drains them). An admin reset forgets them all."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hub:
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)
    pending_auth: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    def push(self, agent_id: str, task: dict[str, Any]) -> None:
        self.queues.setdefault(agent_id, []).append(task)
        self.wakeups.setdefault(agent_id, asyncio.Event()).set()

    def wake(self, agent_id: str) -> None:
        w = self.wakeups.get(agent_id)
        if w is not None:
            w.set()

    def clear(self) -> None:
        """Forget everything; a poll or authentication still waiting keeps the objects it holds
        and ends on its own (its agent is gone, or its answer never comes)."""
        self.queues, self.wakeups, self.pending_auth = {}, {}, {}
