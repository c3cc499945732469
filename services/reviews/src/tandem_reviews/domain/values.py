"""Value objects of the review domain: the three steps and the plan for the next cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True)
class GoalRef:
    """What a review needs to know of one of the employee's goals (from the goals topic)."""

    goal_id: UUID
    owner_id: str
    kind: str
    cycle: str
    title: str
    is_open: bool
    level: str = "individual"


@dataclass(frozen=True)
class PerformanceResult:
    goal_id: UUID
    title: str
    kpi_name: str
    unit: str
    direction: str
    baseline: Decimal
    target: Decimal
    actual: Decimal
    attainment_percent: Decimal
    rating: Decimal
    factors: str
    how: str


@dataclass(frozen=True)
class CapabilityGapFound:
    skill: str
    performance_goal_id: UUID
    note: str = ""


@dataclass(frozen=True)
class DevelopmentPayoff:
    development_goal_id: UUID
    performance_goal_id: UUID
    note: str = ""


@dataclass(frozen=True)
class DevelopmentResult:
    goal_id: UUID
    title: str
    applied: bool
    evidence: tuple[str, ...] = field(default=())
    aspirations: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", tuple(self.evidence))


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
class PlannedDevelopmentGoal:
    title: str
    skill: str
    rationale: str
    performance_goal_id: UUID
    start_date: date
    due_date: date
    hours_per_month: Decimal
    evidence: str | None = None
    future_role: str | None = None
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    budget: Budget | None = None
    mentor_id: str | None = None


VALUE_TYPES = (
    PerformanceResult, CapabilityGapFound, DevelopmentPayoff, DevelopmentResult, ActivityTargets, BehaviouralTarget,
    Budget, PlannedDevelopmentGoal,
)



# What a review's step holds, by part: the values above.
StepItem = PerformanceResult | CapabilityGapFound | DevelopmentPayoff | DevelopmentResult | PlannedDevelopmentGoal
