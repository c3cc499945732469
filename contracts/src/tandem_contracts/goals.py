"""Events of the ``tandem.goals.v1`` topic."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent
from tandem_contracts.bounds import (
    MAX_LIST,
    Amount,
    Count,
    Day,
    Hours,
    Label,
    NonNegativeAmount,
    Note,
    Percent,
    PersonId,
    Rating,
    RatingScale,
    Title,
    text,
)

GOALS_TOPIC = "tandem.goals.v1"


class GoalKind(StrEnum):
    PERFORMANCE = "performance"
    DEVELOPMENT = "development"


class GoalStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class Cadence(StrEnum):
    """How often a goal is checked in on: weekly or bi-weekly for performance, monthly or quarterly for development."""

    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class GoalLevel(StrEnum):
    """Where a goal sits in the cascade: organisation → team → individual."""

    ORGANISATION = "organisation"
    TEAM = "team"
    INDIVIDUAL = "individual"


class LinkRationale(StrEnum):
    """Why a development goal serves a performance goal: the seed's two alignment approaches."""

    CAPABILITY_GAP = "capability_gap"
    FUTURE_ROLE = "future_role"


class GoalOutcome(StrEnum):
    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    MISSED = "missed"
    ABANDONED = "abandoned"


class KpiDirection(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Kpi(_Part):
    """The Measurable of a performance goal: a KPI moved from a baseline to a target."""

    name: Title
    unit: Annotated[str, text(40, min_length=1)] = Field(description="e.g. percent, count, EUR, hours.")
    baseline: Amount
    target: Amount
    direction: KpiDirection
    weight: Percent | None = Field(default=None, description="Share of the review, in percent.")


class ActivityTargets(_Part):
    """Activity metrics of a development goal: training hours, named certifications, mentorship sessions."""

    training_hours: NonNegativeAmount | None = None
    certifications: tuple[Title, ...] = Field(default=(), max_length=MAX_LIST)
    mentorship_sessions: Count | None = None


class BehaviouralTarget(_Part):
    """A behavioural metric of a development goal: the 360-feedback rating to reach on a competency."""

    competency: Title
    target_rating: Rating
    rating_scale_max: RatingScale = Decimal(5)


class Budget(_Part):
    amount: NonNegativeAmount
    currency: str = Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class Capacity(_Part):
    """Resources set aside for a development goal; the hours count against the work plan."""

    hours_per_month: Hours
    budget: Budget | None = None
    mentor_id: PersonId | None = None


class GoalEvent(AggregateEvent):
    """An event of one goal's stream; ``employee_id`` is the goal's owner."""

    topic: ClassVar[str] = GOALS_TOPIC
    subject_kind: ClassVar[str] = "goals"
    subject_field: ClassVar[str] = "goal_id"

    goal_id: UUID


class GoalSet(GoalEvent):
    """A goal was set: a SMART performance goal with a KPI, or a development goal with its targets."""

    event_type: ClassVar[str] = "tandem.goal.set.v1"

    kind: GoalKind
    status: GoalStatus
    set_by: PersonId = Field(description="Who set the goal (an employee id).")
    cycle: Label = Field(description="The goal cycle, e.g. 2026 or 2026-H1.")
    title: Title
    description: Note = Field(default="", description="The Specific: what exactly is to be achieved.")
    start_date: Day
    due_date: Day = Field(description="The Time-bound: when the goal is due.")
    cadence: Cadence
    parent_goal_id: UUID | None = Field(default=None, description="The Relevant: the goal this one cascades from.")
    level: GoalLevel = Field(default=GoalLevel.INDIVIDUAL, description="Organisation, team or individual goal.")
    kpi: Kpi | None = Field(default=None, description="Performance goals only.")
    skill: Title | None = Field(default=None, description="Development goals only: the skill the goal builds.")
    activity_targets: ActivityTargets | None = Field(default=None, description="Development goals only.")
    behavioural_target: BehaviouralTarget | None = Field(default=None, description="Development goals only.")
    capacity: Capacity | None = Field(default=None, description="Development goals only.")


class GoalChanges(_Part):
    """The revisable parts of a goal. In a revision, only the fields listed in ``changed_fields`` count."""

    title: Title | None = None
    description: Note | None = None
    start_date: Day | None = None
    due_date: Day | None = None
    cadence: Cadence | None = None
    parent_goal_id: UUID | None = None
    level: GoalLevel | None = None
    status: GoalStatus | None = None
    kpi: Kpi | None = None
    skill: Title | None = None
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    capacity: Capacity | None = None


class GoalRevised(GoalEvent):
    """A goal was revised, with the reason; ``previous`` keeps what the changed fields were, so history stays."""

    event_type: ClassVar[str] = "tandem.goal.revised.v1"

    reason: Annotated[str, text(2000, min_length=1)]
    changed_fields: tuple[Annotated[str, Field(max_length=64)], ...] = Field(
        max_length=32, description="Names of the fields of ``changes`` that changed."
    )
    changes: GoalChanges
    previous: GoalChanges


class GoalLinked(GoalEvent):
    """A development goal (``goal_id``) was aligned to a performance goal, with the reason why."""

    event_type: ClassVar[str] = "tandem.goal.linked.v1"

    link_id: UUID
    performance_goal_id: UUID
    performance_goal_owner_id: PersonId
    rationale: LinkRationale
    skill: Title | None = Field(default=None, description="capability_gap: the skill that is missing.")
    evidence: Note | None = Field(default=None, description="capability_gap: the evidence of the shortfall.")
    future_role: Title | None = Field(default=None, description="future_role: the role or strategic need it prepares for.")


class GoalUnlinked(GoalEvent):
    """A development goal's alignment to a performance goal was removed."""

    event_type: ClassVar[str] = "tandem.goal.unlinked.v1"

    link_id: UUID
    performance_goal_id: UUID
    reason: Note = ""


class GoalClosed(GoalEvent):
    """A goal was closed with its outcome; a closed goal never changes again."""

    event_type: ClassVar[str] = "tandem.goal.closed.v1"

    outcome: GoalOutcome
    final_value: Amount | None = Field(default=None, description="The KPI's final value (performance goals).")
    note: Note = ""


MAX_ATTAINMENT = Decimal("999999.9")


def attainment_percent(baseline: Decimal, target: Decimal, actual: Decimal, direction: KpiDirection | str) -> Decimal:
    """Progress from a KPI's baseline to its target in percent, whichever way the KPI should move: 100 means the
    target was met. A target equal to its baseline is met (100) or not (0). Rounded to a tenth, and held
    within ±999,999.9 %, so a tiny span never gives a figure no one can read.

    The one definition of attainment: reviews publish it, dashboards show it.
    """
    decreasing = direction == KpiDirection.DECREASE
    if target == baseline:
        met = actual <= target if decreasing else actual >= target
        return Decimal(100) if met else Decimal(0)
    share = (actual - baseline) / (target - baseline) * 100
    return max(-MAX_ATTAINMENT, min(MAX_ATTAINMENT, share)).quantize(Decimal("0.1"))
