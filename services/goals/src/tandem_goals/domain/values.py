"""Value objects and words of the goal domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID


class GoalKind(StrEnum):
    PERFORMANCE = "performance"
    DEVELOPMENT = "development"


class GoalStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class GoalLevel(StrEnum):
    ORGANISATION = "organisation"
    TEAM = "team"
    INDIVIDUAL = "individual"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class KpiDirection(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class LinkRationale(StrEnum):
    CAPABILITY_GAP = "capability_gap"
    FUTURE_ROLE = "future_role"


class GoalOutcome(StrEnum):
    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    MISSED = "missed"
    ABANDONED = "abandoned"


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
    """Resources set aside for a development goal; the hours are part of the work plan, not extra."""

    hours_per_month: Decimal
    budget: Budget | None = None
    mentor_id: str | None = None


@dataclass(frozen=True)
class Link:
    """A development goal's alignment to a performance goal, and why."""

    link_id: UUID
    performance_goal_id: UUID
    performance_goal_owner_id: str
    rationale: LinkRationale
    skill: str | None = None
    evidence: str | None = None
    future_role: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rationale", LinkRationale(self.rationale))


@dataclass(frozen=True)
class LinkTarget:
    """What a development goal needs to know of the performance goal it is asked to serve."""

    goal_id: UUID
    tenant_id: str
    owner_id: str
    kind: GoalKind
    level: GoalLevel
    status: GoalStatus


@dataclass(frozen=True)
class TargetChange:
    """One change of a KPI target, kept so the history of the goal's ambition stays visible."""

    at: datetime
    previous_target: Decimal
    target: Decimal
    reason: str


VALUE_TYPES = (Kpi, ActivityTargets, BehaviouralTarget, Budget, Capacity, Link, TargetChange)
