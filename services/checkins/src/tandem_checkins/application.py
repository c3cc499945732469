"""The check-ins application: records check-ins against the goals it knows, and signals missed periods."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

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
    ) -> None:
        super().__init__(database_url)
        self.goals = goals
        self.directory = directory
        self.clock = clock or Clock()

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
                schedule.follow(known[entry.goal_id].cadence, known[entry.goal_id].start_date, now.date())
                schedule.record_check_in(check_in.id, command.held_on)
                schedules.append(schedule)
            return [check_in, *schedules], {"checkin_id": str(check_in.id), "version": check_in.version}

        return self.execute(decide, context=context, request_key=request_key)

    def signal_overdue_check_ins(self) -> int:
        """Signal every active goal's newly missed periods, once each; return how many were signalled.

        Schedules are saved in batches. If a check-in changed one of them meanwhile, the batch is judged
        again goal by goal from fresh state, and a goal that still clashes is left for the next sweep.
        """
        now = self.clock.now()
        batch: list[GoalFacts] = []
        signalled = 0
        for facts in self.goals.active_goals():
            batch.append(facts)
            if len(batch) >= _SWEEP_SAVE_BATCH:
                signalled += self._sweep(batch, now)
                batch = []
        return signalled + (self._sweep(batch, now) if batch else 0)

    def follow_goals(self, goals: Iterable[tuple[str, UUID]]) -> int:
        """Start or rebase the schedules of ``goals`` (tenant, goal id) that changed on the goals topic, so their
        due dates are published at once rather than at the next sweep; return how many periods were signalled."""
        now = self.clock.now()
        found = [facts for tenant_id, goal_id in goals if (facts := self.goals.goal(tenant_id, goal_id)) and facts.status == "active"]
        return self._sweep(found, now) if found else 0

    def _sweep(self, batch: list[GoalFacts], now: datetime) -> int:
        context = CommandContext.issued_by("cadence-sweep")
        judged = [self._judge(facts, now) for facts in batch]
        changed = [(schedule, count) for schedule, count in judged if schedule.pending_events]
        try:
            self.save(*(schedule for schedule, _ in changed), context=context)
            return sum(count for _, count in changed)
        except IntegrityError:
            signalled = 0
            for facts in batch:
                schedule, count = self._judge(facts, now)
                try:
                    self.save(schedule, context=context)
                    signalled += count
                except IntegrityError:
                    continue
            return signalled

    def _judge(self, facts: GoalFacts, now: datetime) -> tuple[CheckInSchedule, int]:
        schedule = self._schedule(facts, now.date())
        schedule.follow(facts.cadence, facts.start_date, now.date())
        return schedule, schedule.signal_overdue(now, until=facts.due_date)

    def get_check_in(self, tenant_id: str, checkin_id: UUID) -> CheckIn:
        """The check-in, or ``CheckInNotFound``."""
        try:
            check_in = self.repository.get(checkin_id)
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
                schedule = self.repository.get(CheckInSchedule.id_for(tenant_id, facts.goal_id))
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
            schedule = self.repository.get(CheckInSchedule.id_for(facts.tenant_id, facts.goal_id))
            assert isinstance(schedule, CheckInSchedule)
            return schedule
        except AggregateNotFoundError:
            return CheckInSchedule.start(
                tenant_id=facts.tenant_id,
                goal_id=facts.goal_id,
                owner_id=facts.owner_id,
                cadence=facts.cadence,
                first_day=facts.start_date,
                tracked_from=today,
            )
