"""The check-in schedule of one goal: when check-ins are due, and which periods were missed.

A goal's cadence cuts time into periods from the goal's first day. The next check-in is due by the end of
the period after the last one checked in (or of the first period, before any): a check-in is overdue once
that day has passed. A period that ends without a check-in is missed; the schedule signals it once, and
never again. Periods that ended before this service started tracking the goal, or before its cadence or
start last changed, are not judged (again). This is the one place that decides it: every other service
shows the answer published with each change of the schedule (``CheckInScheduled``).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:checkins:schedule")


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_start(cadence: str, first_day: date, index: int) -> date:
    """The first day of period ``index`` of a cadence that starts on ``first_day``."""
    if cadence == "weekly":
        return first_day + timedelta(weeks=index)
    if cadence == "biweekly":
        return first_day + timedelta(weeks=2 * index)
    if cadence == "monthly":
        return _add_months(first_day, index)
    if cadence == "quarterly":
        return _add_months(first_day, 3 * index)
    raise ValueError(f"unknown cadence {cadence!r}")


def period_of(cadence: str, first_day: date, day: date) -> int:
    """The index of the period that contains ``day`` (-1 before the first day)."""
    if day < first_day:
        return -1
    if cadence in ("weekly", "biweekly"):
        return (day - first_day).days // (7 if cadence == "weekly" else 14)
    step = 1 if cadence == "monthly" else 3
    index = ((day.year - first_day.year) * 12 + day.month - first_day.month) // step
    # Months differ in length, so the estimate may be one period ahead of ``day``.
    while index > 0 and period_start(cadence, first_day, index) > day:
        index -= 1
    return index


def period_end(cadence: str, first_day: date, index: int) -> date:
    """The last day of period ``index``."""
    return period_start(cadence, first_day, index + 1) - timedelta(days=1)


class CheckInSchedule(Aggregate):
    """One goal's check-in rhythm: the check-ins held, and the missed periods already signalled."""

    if TYPE_CHECKING:  # the @event decorators below make these classes at run time; declared for the type checker
        Scheduled: ClassVar[type[Aggregate.Event]]
        Overdue: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(tenant_id: str, goal_id: UUID) -> UUID:
        return uuid5(_NAMESPACE, f"{tenant_id}:{goal_id}")

    @classmethod
    def id_for(cls, tenant_id: str, goal_id: UUID) -> UUID:
        return cls.create_id(tenant_id, goal_id)

    @event("Started")
    def __init__(
        self,
        tenant_id: str,
        goal_id: UUID,
        owner_id: str,
        cadence: str,
        first_day: date,
        tracked_from: date,
    ) -> None:
        self.tenant_id = tenant_id
        self.goal_id = goal_id
        self.owner_id = owner_id
        self.cadence = cadence
        self.first_day = first_day
        self.tracked_from = tracked_from
        self.check_ins: list[date] = []
        self.checkin_ids: list[UUID] = []
        self.signalled: set[str] = set()
        self.due_on = self._due()
        self.announced: date | None = None  # the due date last published

    @property
    def last_check_in_on(self) -> date | None:
        return max(self.check_ins) if self.check_ins else None

    def follow(self, cadence: str, first_day: date, now: datetime) -> None:
        """Follow the goal's current cadence and start, and say when the next check-in is due if that moved (or was
        never said); periods that ended under the old rhythm stay judged."""
        if (cadence, first_day) != (self.cadence, self.first_day):
            self._rebased(cadence=cadence, first_day=first_day, tracked_from=now.date())
        self._announce_due(now)

    def record_check_in(self, checkin_id: UUID, held_on: date, now: datetime) -> None:
        """Count a check-in held on ``held_on``."""
        self._checked_in(checkin_id=checkin_id, held_on=held_on)
        self._announce_due(now)

    def _announce_due(self, now: datetime) -> None:
        # ``getattr``: a snapshot taken before due dates were published has no ``announced``.
        if self.due_on != getattr(self, "announced", None):
            self._scheduled(
                occurred_at=now,
                tenant_id=self.tenant_id,
                goal_id=self.goal_id,
                owner_id=self.owner_id,
                cadence=self.cadence,
                first_day=self.first_day,
                due_on=self.due_on,
                last_check_in_on=self.last_check_in_on,
            )

    def is_overdue(self, today: date) -> bool:
        """Whether the day the next check-in was due by has passed."""
        return self.due_on < today

    def _due(self) -> date:
        return due_on(self.cadence, self.first_day, self.check_ins)

    def missed_periods(self, today: date, until: date) -> list[tuple[date, date]]:
        """Periods that ended before ``today`` (and started by ``until``) with no check-in, not yet signalled."""
        cadence = self.cadence
        missed: list[tuple[date, date]] = []
        held = {period_of(cadence, self.first_day, day) for day in self.check_ins}
        # Periods that ended before tracking began are never judged, so the walk starts at tracking.
        index = max(0, period_of(cadence, self.first_day, self.tracked_from))
        while True:
            start = period_start(cadence, self.first_day, index)
            end = period_end(cadence, self.first_day, index)
            if end >= today or start > until:
                return missed
            tracked = end >= self.tracked_from
            if tracked and index not in held and _key(cadence, start) not in self.signalled:
                missed.append((start, end))
            index += 1

    def signal_overdue(self, now: datetime, until: date) -> int:
        """Signal every newly missed period once; return how many."""
        missed = self.missed_periods(now.date(), until)
        for start, end in missed:
            self._overdue(
                cadence=self.cadence,
                period_start=start,
                period_end=end,
                last_check_in_on=self.last_check_in_on,
                tenant_id=self.tenant_id,
                goal_id=self.goal_id,
                owner_id=self.owner_id,
                occurred_at=now,
            )
        return len(missed)

    @event("Rebased")
    def _rebased(self, cadence: str, first_day: date, tracked_from: date) -> None:
        self.cadence = cadence
        self.first_day = first_day
        self.tracked_from = tracked_from
        self.due_on = self._due()

    @event("CheckedIn")
    def _checked_in(self, checkin_id: UUID, held_on: date) -> None:
        self.check_ins.append(held_on)
        self.checkin_ids.append(checkin_id)
        self.due_on = self._due()

    @event("Scheduled")
    def _scheduled(
        self,
        occurred_at: datetime,
        tenant_id: str,
        goal_id: UUID,
        owner_id: str,
        cadence: str,
        first_day: date,
        due_on: date,
        last_check_in_on: date | None,
    ) -> None:
        self.due_on = due_on
        self.announced = due_on

    @event("Overdue")
    def _overdue(
        self,
        cadence: str,
        period_start: date,
        period_end: date,
        last_check_in_on: date | None,
        tenant_id: str,
        goal_id: UUID,
        owner_id: str,
        occurred_at: datetime,
    ) -> None:
        self.signalled.add(_key(cadence, period_start))


def due_on(cadence: str, first_day: date, check_ins: list[date]) -> date:
    """The day the next check-in is due by: the end of the period after the last one checked in, or of the
    first period before any check-in."""
    checked = max((period_of(cadence, first_day, day) + 1 for day in check_ins), default=0)
    return period_end(cadence, first_day, max(0, checked))


def _key(cadence: str, start: date) -> str:
    return f"{cadence}:{start.isoformat()}"
