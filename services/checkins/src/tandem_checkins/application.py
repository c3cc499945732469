"""The check-ins application: records check-ins against the goals it knows, and signals missed periods."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, OperationalError

from tandem_checkins.domain import (
    VALUE_TYPES,
    CheckIn,
    CheckInSchedule,
    DevelopmentEntry,
    EmployeeHasDeparted,
    Entry,
    GoalSnapshot,
)
from tandem_runtime.clock import Clock
from tandem_runtime.database import DatabaseURL
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext, Executed, TandemApplication
from tandem_runtime.goals_replica import GoalFacts, GoalsReplica
from tandem_runtime.idempotency import RequestKey
from tandem_runtime.ids import random_uuid
from tandem_runtime.metrics import Metrics
from tandem_runtime.retry import is_transient

log = logging.getLogger(__name__)

_SWEEP_SAVE_BATCH = 200


class CheckInNotFound(LookupError):
    """No check-in with that id in that tenant."""


@dataclass(frozen=True)
class RecordCheckIn:
    """Record a check-in held with an employee."""

    tenant_id: str
    employee_id: str
    held_on: date
    held_by: tuple[str, ...]
    entries: tuple[Entry, ...]
    recorded_by: str
    checkin_id: UUID = field(default_factory=random_uuid)


@dataclass(frozen=True)
class SkippedGoal:
    """A goal the cadence sweep could not judge, and the kind of error it met."""

    tenant_id: str
    goal_id: UUID
    error: str


@dataclass
class SweepOutcome:
    """What one cadence sweep did: periods signalled, and goals skipped because they failed alone."""

    overdue_signalled: int = 0
    skipped: list[SkippedGoal] = field(default_factory=list)


def _passing(error: Exception) -> bool:
    """An outage of the store, which would fail every goal alike: the sweep stops and runs again later."""
    return isinstance(error, (OperationalError, OSError)) or is_transient(error)


@dataclass(frozen=True)
class ScheduleView:
    """When a goal's next check-in is due and what was missed."""

    goal_id: UUID
    cadence: str
    first_day: date
    next_due: date
    overdue: bool
    last_check_in_on: date | None
    overdue_periods_signalled: int


def _snapshot(facts: GoalFacts) -> GoalSnapshot:
    return GoalSnapshot(
        goal_id=facts.goal_id,
        tenant_id=facts.tenant_id,
        owner_id=facts.owner_id,
        kind=facts.kind,
        is_open=facts.is_open,
        kpi_unit=facts.kpi_unit,
        rating_scale_max=facts.rating_scale_max,
        start_date=facts.start_date,
    )


class CheckInsApplication(TandemApplication):
    """Check-ins and check-in schedules, event-sourced; the outbox relay publishes what it records."""

    name = "CheckIns"
    value_types = VALUE_TYPES

    def __init__(
        self,
        database_url: str | DatabaseURL,
        goals: GoalsReplica,
        directory: Directory,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(database_url)
        self.goals = goals
        self.directory = directory
        self.clock = clock or Clock()
        self._metrics = metrics

    def record_check_in(
        self, command: RecordCheckIn, context: CommandContext, request_key: RequestKey | None = None
    ) -> Executed:
        """Record a check-in and count it in each covered goal's schedule."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            now = self.clock.now()
            employee = self.directory.employee(command.tenant_id, command.employee_id)
            if employee is not None and employee.departed:
                # Unknown employees are not refused here: their goals decide, and the replica may lag.
                raise EmployeeHasDeparted(f"{command.employee_id} is no longer with the organisation", "employee_id")
            referenced = [entry.goal_id for entry in command.entries] + [
                entry.skill_application.performance_goal_id
                for entry in command.entries
                if isinstance(entry, DevelopmentEntry) and entry.skill_application is not None
            ]
            known = self.goals.goals(command.tenant_id, referenced)
            entries = tuple(
                replace(entry, competency=known[entry.goal_id].competency)
                if isinstance(entry, DevelopmentEntry) and entry.goal_id in known
                else entry
                for entry in command.entries
            )
            check_in = CheckIn.record(
                checkin_id=command.checkin_id,
                tenant_id=command.tenant_id,
                employee_id=command.employee_id,
                held_on=command.held_on,
                held_by=command.held_by,
                entries=entries,
                goals={goal_id: _snapshot(facts) for goal_id, facts in known.items()},
                today=now.date(),
                recorded_by=command.recorded_by,
                occurred_at=now,
            )
            schedules = []
            for entry in command.entries:
                schedule = self._schedule(known[entry.goal_id], today=min(now.date(), command.held_on))
                schedule.follow(known[entry.goal_id].cadence, known[entry.goal_id].start_date, now)
                schedule.record_check_in(check_in.id, command.held_on, now)
                schedules.append(schedule)
            return [check_in, *schedules], {"checkin_id": str(check_in.id), "version": check_in.version}

        # A schedule can only clash with the sweep or the follower, never with what the caller read: try again.
        return self.execute(decide, context=context, request_key=request_key, retries=3)

    def signal_overdue_check_ins(self) -> SweepOutcome:
        """Signal every active goal's newly missed periods, once each; say how many were signalled, and which
        goals were skipped because judging or saving them failed (each logged and counted; the rest go on).

        Schedules are saved in batches. If a check-in changed one of them meanwhile, or one of them cannot be
        saved, the batch is judged again goal by goal from fresh state; a goal that still clashes is left for
        the next sweep.
        """
        now = self.clock.now()
        outcome = SweepOutcome()
        batch: list[GoalFacts] = []
        for facts in self.goals.active_goals():
            batch.append(facts)
            if len(batch) >= _SWEEP_SAVE_BATCH:
                outcome.overdue_signalled += self._sweep(batch, now, outcome)
                batch = []
        if batch:
            outcome.overdue_signalled += self._sweep(batch, now, outcome)
        return outcome

    def follow_goals(self, goals: Iterable[tuple[str, UUID]]) -> SweepOutcome:
        """Start or rebase the schedules of ``goals`` (tenant, goal id) that changed on the goals topic, so their
        due dates are published at once rather than at the next sweep; a goal that fails is skipped, as there."""
        now = self.clock.now()
        outcome = SweepOutcome()
        found = [facts for tenant_id, goal_id in goals
                 if (facts := self.goals.goal(tenant_id, goal_id)) and facts.status == "active"]
        if found:
            outcome.overdue_signalled += self._sweep(found, now, outcome)
        return outcome

    def _sweep(self, batch: list[GoalFacts], now: datetime, outcome: SweepOutcome) -> int:
        context = CommandContext.issued_by("cadence-sweep")
        judged: list[tuple[GoalFacts, CheckInSchedule, int]] = []
        for facts in batch:
            try:
                judged.append((facts, *self._judge(facts, now)))
            except Exception as error:
                self._skip(facts, error, outcome)
        changed = [(schedule, count) for _, schedule, count in judged if schedule.pending_events]
        try:
            self.save(*(schedule for schedule, _ in changed), context=context)
            return sum(count for _, count in changed)
        except IntegrityError:
            pass  # a check-in moved a schedule meanwhile
        except Exception as error:
            if _passing(error):
                raise
        signalled = 0
        for facts, _, _ in judged:
            try:
                schedule, count = self._judge(facts, now)
                self.save(schedule, context=context)
                signalled += count
            except IntegrityError:
                continue
            except Exception as error:
                self._skip(facts, error, outcome)
        return signalled

    def _skip(self, facts: GoalFacts, error: Exception, outcome: SweepOutcome) -> None:
        """Leave one goal out of the sweep, unless the error is an outage that would fail every goal."""
        if _passing(error):
            raise error
        kind = type(error).__name__
        log.error("cadence sweep: skipped goal %s of tenant %s: %r", facts.goal_id, facts.tenant_id, error)
        outcome.skipped.append(SkippedGoal(facts.tenant_id, facts.goal_id, kind))
        if self._metrics:
            self._metrics.skipped_items.labels("cadence-sweep", kind).inc()

    def _judge(self, facts: GoalFacts, now: datetime) -> tuple[CheckInSchedule, int]:
        schedule = self._schedule(facts, now.date())
        schedule.follow(facts.cadence, facts.start_date, now)
        return schedule, schedule.signal_overdue(now, until=facts.due_date)

    def get_check_in(self, tenant_id: str, checkin_id: UUID) -> CheckIn:
        """The check-in, or ``CheckInNotFound``."""
        try:
            check_in: object = self.repository.get(checkin_id)
        except AggregateNotFoundError:
            raise CheckInNotFound(str(checkin_id)) from None
        if not isinstance(check_in, CheckIn) or check_in.tenant_id != tenant_id:
            raise CheckInNotFound(str(checkin_id))
        return check_in

    def check_ins_of(self, tenant_id: str, employee_id: str, limit: int = 100) -> list[CheckIn]:
        """An employee's check-ins, newest first (found through their goals' schedules)."""
        ids: dict[UUID, None] = {}
        for facts in self.goals.goals_of(tenant_id, employee_id):
            try:
                schedule: CheckInSchedule = self.repository.get(CheckInSchedule.id_for(tenant_id, facts.goal_id))
            except AggregateNotFoundError:
                continue
            ids.update(dict.fromkeys(schedule.checkin_ids))
        check_ins = [self.get_check_in(tenant_id, checkin_id) for checkin_id in ids]
        return sorted(check_ins, key=lambda c: (c.held_on, c.recorded_at), reverse=True)[:limit]

    def schedule_of(self, tenant_id: str, goal_id: UUID) -> ScheduleView | None:
        """A goal's check-in schedule, if the goal is known."""
        facts = self.goals.goal(tenant_id, goal_id)
        if facts is None:
            return None
        today = self.clock.now().date()
        schedule = self._schedule(facts, today)
        return ScheduleView(
            goal_id=goal_id,
            cadence=facts.cadence,
            first_day=schedule.first_day,
            next_due=schedule.due_on,
            overdue=schedule.is_overdue(today),
            last_check_in_on=schedule.last_check_in_on,
            overdue_periods_signalled=len(schedule.signalled),
        )

    def _schedule(self, facts: GoalFacts, today: date) -> CheckInSchedule:
        """The goal's schedule; a new one holds nobody to periods that ended before ``today``."""
        try:
            schedule: object = self.repository.get(CheckInSchedule.id_for(facts.tenant_id, facts.goal_id))
            assert isinstance(schedule, CheckInSchedule)
            return schedule
        except AggregateNotFoundError:
            return CheckInSchedule(
                tenant_id=facts.tenant_id,
                goal_id=facts.goal_id,
                owner_id=facts.owner_id,
                cadence=facts.cadence,
                first_day=facts.start_date,
                tracked_from=today,
            )
