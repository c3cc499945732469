"""Read-your-writes: a query may wait until the live projection has applied a goal's event.

A client that has just changed a goal through the goals service knows the goal's id and new version (the
command's answer). Asking the dashboards for that version (``wait_for_goal``, ``wait_for_version``) makes
the answer wait until the read model holds it, instead of the client polling. The live runner signals each
applied batch here; a waiting query is woken only by a batch that holds an event of its goal, and then reads
the goal's stored version to decide (an event may wait in the read model for an earlier one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tandem_runtime.projection import Delivery

GoalKey = tuple[str, str]  # (tenant_id, goal_id)


class GoalWaiters:
    """Futures waiting for a batch that holds an event of their goal. Used on the event loop only."""

    def __init__(self) -> None:
        self._waiting: dict[GoalKey, set[asyncio.Future[None]]] = {}

    @contextmanager
    def watching(self, tenant_id: str, goal_id: str) -> Iterator[asyncio.Future[None]]:
        """A future done when a batch with an event of the goal has been applied. Watch first, then read
        the store: a batch applied in between is not missed."""
        key = (tenant_id, goal_id)
        signal: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, set()).add(signal)
        try:
            yield signal
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.discard(signal)
                if not waiting:
                    del self._waiting[key]

    def batch_applied(self, deliveries: Sequence[Delivery]) -> None:
        """Wake whoever waits for a goal these applied events are about."""
        if not self._waiting:
            return
        for delivery in deliveries:
            goal_id = delivery.event.get("goal_id")  # the dashboards read model decodes events to plain data
            if goal_id is None:
                continue
            for signal in self._waiting.pop((delivery.envelope.tenant_id, goal_id), ()):
                if not signal.done():
                    signal.set_result(None)

    @property
    def waiting(self) -> int:
        """How many queries wait now."""
        return sum(len(signals) for signals in self._waiting.values())
