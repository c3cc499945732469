"""The goal aggregate: SMART performance and development goals.

A performance goal is measured by a KPI and checked in on weekly or bi-weekly. A development goal
builds a skill, is measured by activity targets and/or a behavioural target, is checked in on monthly
or quarterly, and may set capacity aside (hours per month, budget, mentor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class GoalKind(StrEnum):
    PERFORMANCE = "performance"
    DEVELOPMENT = "development"


class GoalStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class KpiDirection(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


ALLOWED_CADENCES = {
    GoalKind.PERFORMANCE: (Cadence.WEEKLY, Cadence.BIWEEKLY),
    GoalKind.DEVELOPMENT: (Cadence.MONTHLY, Cadence.QUARTERLY),
}


@dataclass(frozen=True)
class Kpi:
    name: str
    unit: str
    baseline: Decimal
    target: Decimal
    direction: KpiDirection
    weight: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", KpiDirection(self.direction))


@dataclass(frozen=True)
class ActivityTargets:
    training_hours: Decimal | None = None
    certifications: tuple[str, ...] = field(default=())
    mentorship_sessions: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "certifications", tuple(self.certifications))

    @property
    def is_empty(self) -> bool:
        return self.training_hours is None and not self.certifications and self.mentorship_sessions is None


@dataclass(frozen=True)
class BehaviouralTarget:
    competency: str
    target_rating: Decimal
    rating_scale_max: Decimal = Decimal(5)


@dataclass(frozen=True)
class Budget:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Capacity:
    hours_per_month: Decimal
    budget: Budget | None = None
    mentor_id: str | None = None


# StrEnums are stored as their strings; the recording methods turn them back into members.
VALUE_TYPES = (Kpi, ActivityTargets, BehaviouralTarget, Budget, Capacity)


class GoalRuleBroken(ValueError):
    """A goal rule the command breaks; ``field`` names the input at fault."""

    field: str = ""
    rule: str = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MeasureDoesNotFitKind(GoalRuleBroken):
    rule = "measure_fits_kind"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CadenceNotAllowed(GoalRuleBroken):
    field = "cadence"
    rule = "cadence_fits_kind"


class DueBeforeStart(GoalRuleBroken):
    field = "due_date"
    rule = "due_after_start"


class KpiTargetAgainstDirection(GoalRuleBroken):
    field = "kpi.target"
    rule = "target_follows_direction"


class RatingAboveScale(GoalRuleBroken):
    field = "behavioural_target.target_rating"
    rule = "rating_within_scale"


class Goal(Aggregate):
    """A SMART goal of one employee in one cycle."""

    @staticmethod
    def create_id(goal_id: UUID) -> UUID:
        return goal_id

    @classmethod
    def set(
        cls,
        *,
        goal_id: UUID,
        tenant_id: str,
        owner_id: str,
        set_by: str,
        kind: GoalKind,
        cycle: str,
        title: str,
        description: str,
        start_date: date,
        due_date: date,
        cadence: Cadence | None,
        parent_goal_id: UUID | None,
        kpi: Kpi | None,
        skill: str | None,
        activity_targets: ActivityTargets | None,
        behavioural_target: BehaviouralTarget | None,
        capacity: Capacity | None,
        status: GoalStatus,
        occurred_at: datetime,
    ) -> Goal:
        """Set a goal, refusing one that is not SMART for its kind."""
        if activity_targets is not None and activity_targets.is_empty:
            activity_targets = None
        cls._check_measure(kind, kpi, skill, activity_targets, behavioural_target, capacity)
        cadence = cadence or ALLOWED_CADENCES[kind][0]
        if cadence not in ALLOWED_CADENCES[kind]:
            allowed = " or ".join(ALLOWED_CADENCES[kind])
            raise CadenceNotAllowed(f"a {kind} goal is checked in on {allowed}, not {cadence}")
        if due_date < start_date:
            raise DueBeforeStart("the due date must not be before the start date")
        if status is GoalStatus.CLOSED:
            raise GoalRuleBroken("a goal cannot be set as closed")
        return cls(
            goal_id=goal_id,
            tenant_id=tenant_id,
            owner_id=owner_id,
            set_by=set_by,
            kind=kind,
            cycle=cycle,
            title=title,
            description=description,
            start_date=start_date,
            due_date=due_date,
            cadence=cadence,
            parent_goal_id=parent_goal_id,
            kpi=kpi,
            skill=skill,
            activity_targets=activity_targets,
            behavioural_target=behavioural_target,
            capacity=capacity,
            status=status,
            occurred_at=occurred_at,
        )

    @staticmethod
    def _check_measure(
        kind: GoalKind,
        kpi: Kpi | None,
        skill: str | None,
        activity_targets: ActivityTargets | None,
        behavioural_target: BehaviouralTarget | None,
        capacity: Capacity | None,
    ) -> None:
        if kind is GoalKind.PERFORMANCE:
            if kpi is None:
                raise MeasureDoesNotFitKind("kpi", "a performance goal is measured by a KPI")
            for name, value in (
                ("skill", skill),
                ("activity_targets", activity_targets),
                ("behavioural_target", behavioural_target),
                ("capacity", capacity),
            ):
                if value is not None:
                    raise MeasureDoesNotFitKind(name, f"{name} belongs to development goals, not performance goals")
            if kpi.target == kpi.baseline:
                raise KpiTargetAgainstDirection("the KPI target must differ from its baseline")
            if (kpi.direction is KpiDirection.INCREASE) != (kpi.target > kpi.baseline):
                raise KpiTargetAgainstDirection(
                    f"a KPI to {kpi.direction} needs a target {'above' if kpi.direction is KpiDirection.INCREASE else 'below'} its baseline"
                )
            return
        if kpi is not None:
            raise MeasureDoesNotFitKind("kpi", "a development goal is measured by activities or behaviour, not a KPI")
        if not skill:
            raise MeasureDoesNotFitKind("skill", "a development goal names the skill it builds")
        if activity_targets is None and behavioural_target is None:
            raise MeasureDoesNotFitKind(
                "activity_targets", "a development goal needs activity targets, a behavioural target, or both"
            )
        if behavioural_target is not None and behavioural_target.target_rating > behavioural_target.rating_scale_max:
            raise RatingAboveScale("the target rating is above the rating scale")

    @event("Set")
    def __init__(
        self,
        goal_id: UUID,
        tenant_id: str,
        owner_id: str,
        set_by: str,
        kind: GoalKind,
        cycle: str,
        title: str,
        description: str,
        start_date: date,
        due_date: date,
        cadence: Cadence,
        parent_goal_id: UUID | None,
        kpi: Kpi | None,
        skill: str | None,
        activity_targets: ActivityTargets | None,
        behavioural_target: BehaviouralTarget | None,
        capacity: Capacity | None,
        status: GoalStatus,
        occurred_at: datetime,
    ) -> None:
        self.tenant_id = tenant_id
        self.owner_id = owner_id
        self.set_by = set_by
        self.kind = GoalKind(kind)
        self.cycle = cycle
        self.title = title
        self.description = description
        self.start_date = start_date
        self.due_date = due_date
        self.cadence = Cadence(cadence)
        self.parent_goal_id = parent_goal_id
        self.kpi = kpi
        self.skill = skill
        self.activity_targets = activity_targets
        self.behavioural_target = behavioural_target
        self.capacity = capacity
        self.status = GoalStatus(status)
        self.set_at = occurred_at


class ParentGoalNotFound(GoalRuleBroken):
    field = "parent_goal_id"
    rule = "parent_goal_exists"
