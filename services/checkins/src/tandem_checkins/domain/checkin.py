"""The check-in aggregate: one structured conversation about an employee's goals on one day.

Performance and development are discussed together: a performance goal's KPI value and health, and
a development goal's activities, the skill applied to a performance goal, and 360-degree feedback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from tandem_checkins.domain.errors import (
    CheckInDatedInFuture,
    CheckInRuleBroken,
    EntryDoesNotFitGoal,
    GoalNotCheckable,
    ValueOutOfRange,
    WrongUnit,
)
from tandem_checkins.domain.values import DevelopmentEntry, GoalSnapshot, PerformanceEntry

MAX_HOURS_IN_A_CHECK_IN = Decimal(744)  # the hours of a 31-day month
MAX_MINUTES_OF_A_SESSION = 24 * 60
Entry = PerformanceEntry | DevelopmentEntry


class CheckIn(Aggregate):
    """A check-in held with one employee, covering one or more of their goals."""

    if TYPE_CHECKING:  # the @event decorators below make these classes at run time; declared for the type checker
        Recorded: ClassVar[type[Aggregate.Created]]

    @staticmethod
    def create_id(checkin_id: UUID) -> UUID:
        return checkin_id

    @classmethod
    def record(
        cls,
        *,
        checkin_id: UUID,
        tenant_id: str,
        employee_id: str,
        held_on: date,
        held_by: Sequence[str],
        entries: Sequence[Entry],
        goals: Mapping[UUID, GoalSnapshot],
        today: date,
        recorded_by: str,
        occurred_at: datetime,
    ) -> CheckIn:
        """Record a check-in, refusing one on unknown, closed or foreign goals, or with values that do not fit."""
        if held_on > today:
            raise CheckInDatedInFuture(f"a check-in cannot be held in the future ({held_on} is after {today})", "held_on")
        if not entries:
            raise CheckInRuleBroken("a check-in covers at least one goal", "entries", "entries_not_empty")
        if not held_by:
            raise CheckInRuleBroken("a check-in names who held it", "held_by", "held_by_not_empty")
        seen: set[UUID] = set()
        for index, entry in enumerate(entries):
            where = f"entries.{index}"
            if entry.goal_id in seen:
                raise CheckInRuleBroken("each goal is covered once per check-in", f"{where}.goal_id", "goal_once")
            seen.add(entry.goal_id)
            goal = _checkable(goals.get(entry.goal_id), entry.goal_id, tenant_id, employee_id, f"{where}.goal_id")
            if goal.start_date is not None and held_on < goal.start_date:
                raise CheckInRuleBroken(
                    f"a check-in cannot be held before its goal starts ({held_on} is before {goal.start_date})",
                    "held_on",
                    "held_on_not_before_goal_start",
                )
            if isinstance(entry, PerformanceEntry):
                _check_performance(entry, goal, where)
            else:
                _check_development(entry, goal, goals, tenant_id, today, where)
        return cls(
            checkin_id=checkin_id,
            tenant_id=tenant_id,
            employee_id=employee_id,
            held_on=held_on,
            held_by=tuple(held_by),
            entries=tuple(entries),
            recorded_by=recorded_by,
            occurred_at=occurred_at,
        )

    @event("Recorded")
    def __init__(
        self,
        checkin_id: UUID,
        tenant_id: str,
        employee_id: str,
        held_on: date,
        held_by: tuple[str, ...],
        entries: tuple[Entry, ...],
        recorded_by: str,
        occurred_at: datetime,
    ) -> None:
        self.tenant_id = tenant_id
        self.employee_id = employee_id
        self.held_on = held_on
        self.held_by = tuple(held_by)
        self.entries = tuple(entries)
        self.recorded_by = recorded_by
        self.recorded_at = occurred_at


def _checkable(goal: GoalSnapshot | None, goal_id: UUID, tenant_id: str, employee_id: str, field: str) -> GoalSnapshot:
    if goal is None or goal.tenant_id != tenant_id:
        raise GoalNotCheckable(f"goal {goal_id} is unknown", field)
    if goal.owner_id != employee_id:
        raise GoalNotCheckable(f"goal {goal_id} belongs to {goal.owner_id}, not {employee_id}", field)
    if not goal.is_open:
        raise GoalNotCheckable(f"goal {goal_id} is closed", field)
    return goal


def _check_performance(entry: PerformanceEntry, goal: GoalSnapshot, where: str) -> None:
    if goal.kind != "performance":
        raise EntryDoesNotFitGoal(
            "a development goal is checked in with activities and feedback, not a KPI value", f"{where}.kind"
        )
    if entry.unit != goal.kpi_unit:
        raise WrongUnit(f"the goal's KPI is measured in {goal.kpi_unit!r}, not {entry.unit!r}", f"{where}.unit")
    if not entry.kpi_value.is_finite() or abs(entry.kpi_value) > Decimal("1e12"):
        raise ValueOutOfRange("the KPI value is not a plausible number", f"{where}.kpi_value")
    if entry.unit.strip().lower() in ("percent", "%") and not Decimal(0) <= entry.kpi_value <= Decimal(100):
        raise ValueOutOfRange("a percentage lies between 0 and 100", f"{where}.kpi_value")


def _check_development(
    entry: DevelopmentEntry, goal: GoalSnapshot, goals: Mapping[UUID, GoalSnapshot], tenant_id: str, today: date, where: str
) -> None:
    if goal.kind != "development":
        raise EntryDoesNotFitGoal("activities are logged on development goals, not performance goals", f"{where}.kind")
    hours = sum((training.hours for training in entry.training), Decimal(0))
    if any(training.hours <= 0 for training in entry.training) or hours > MAX_HOURS_IN_A_CHECK_IN:
        raise ValueOutOfRange(f"training hours are positive and at most {MAX_HOURS_IN_A_CHECK_IN}", f"{where}.training")
    if any(not 0 < session.minutes <= MAX_MINUTES_OF_A_SESSION for session in entry.mentorship):
        raise ValueOutOfRange("a mentorship session lasts between 1 minute and a day", f"{where}.mentorship")
    if any(certification.obtained_on > today for certification in entry.certifications):
        raise CheckInDatedInFuture(
            "a certification cannot be obtained in the future", f"{where}.certifications", "certified_not_in_future"
        )
    if entry.skill_application is not None:
        helped = goals.get(entry.skill_application.performance_goal_id)
        if helped is None or helped.tenant_id != tenant_id or helped.kind != "performance":
            raise GoalNotCheckable(
                "the skill was applied to a performance goal this service knows",
                f"{where}.skill_application.performance_goal_id",
            )
    if entry.ratings:
        scale = goal.rating_scale_max
        if scale is None:
            raise EntryDoesNotFitGoal("the goal has no behavioural target to rate", f"{where}.feedback")
        if any(not Decimal(0) < rating.rating <= scale for rating in entry.ratings):
            raise ValueOutOfRange(f"ratings lie between 0 and {scale}", f"{where}.feedback.ratings")
