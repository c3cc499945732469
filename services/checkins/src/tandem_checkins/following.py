"""The check-ins service's reaction to the goals topic: a goal set or revised has its schedule started or
rebased at once, so its due date is published without waiting for the next cadence sweep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from tandem_checkins.application import CheckInsApplication
from tandem_contracts.goals import GoalRevised, GoalSet
from tandem_runtime.blocking import run_to_completion
from tandem_runtime.projection import Delivery

log = logging.getLogger(__name__)


class ScheduleFollower:
    """Collects the goals a batch of the goals topic changed, and has their schedules follow them."""

    def __init__(self, application: CheckInsApplication, interval_seconds: float) -> None:
        self._application = application
        self._interval = interval_seconds
        self._pending: set[tuple[str, UUID]] = set()
        self._busy = False

    @property
    def idle(self) -> bool:
        """Nothing noted is waiting or being followed."""
        return not self._pending and not self._busy

    def note(self, deliveries: Sequence[Delivery]) -> None:
        """The goals a batch set or revised (called on the event loop once the replica holds them)."""
        self._pending.update(
            (delivery.event.tenant_id, delivery.event.goal_id)
            for delivery in deliveries
            if isinstance(delivery.event, GoalSet | GoalRevised)
        )

    async def run(self) -> None:
        """Follow what was noted, every interval, until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            if not self._pending:
                continue
            goals, self._pending = list(self._pending), set()
            self._busy = True
            try:
                outcome = await run_to_completion(self._application.follow_goals, goals)
            except (PersistenceError, OSError) as error:
                # The sweep follows every active goal too, so nothing is lost if this pass fails.
                log.warning("following %d changed goals failed: %s", len(goals), error)
            else:
                if outcome.skipped:
                    log.warning("following changed goals skipped %d of them", len(outcome.skipped))
            finally:
                self._busy = False
