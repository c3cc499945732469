"""Events of the ``tandem.goals.v1`` topic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent

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

    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=40, description="e.g. percent, count, EUR, hours.")
    baseline: Decimal
    target: Decimal
    direction: KpiDirection
    weight: Decimal | None = Field(default=None, ge=0, le=100, description="Share of the review, in percent.")


class ActivityTargets(_Part):
    """Activity metrics of a development goal: training hours, named certifications, mentorship sessions."""

    training_hours: Decimal | None = Field(default=None, ge=0)
    certifications: tuple[str, ...] = ()
    mentorship_sessions: int | None = Field(default=None, ge=0)


class BehaviouralTarget(_Part):
    """A behavioural metric of a development goal: the 360-feedback rating to reach on a competency."""

    competency: str = Field(min_length=1, max_length=200)
    target_rating: Decimal = Field(ge=0)
    rating_scale_max: Decimal = Field(default=Decimal(5), gt=0)


class Budget(_Part):
    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")


class Capacity(_Part):
    """Resources set aside for a development goal; the hours count against the work plan."""

    hours_per_month: Decimal = Field(ge=0)
    budget: Budget | None = None
    mentor_id: str | None = None


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
    set_by: str = Field(min_length=1, description="Who set the goal (an employee id).")
    cycle: str = Field(min_length=1, max_length=32, description="The goal cycle, e.g. 2026 or 2026-H1.")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000, description="The Specific: what exactly is to be achieved.")
    start_date: date
    due_date: date = Field(description="The Time-bound: when the goal is due.")
    cadence: Cadence
    parent_goal_id: UUID | None = Field(default=None, description="The Relevant: the goal this one cascades from.")
    level: GoalLevel = Field(default=GoalLevel.INDIVIDUAL, description="Organisation, team or individual goal.")
    kpi: Kpi | None = Field(default=None, description="Performance goals only.")
    skill: str | None = Field(default=None, description="Development goals only: the skill the goal builds.")
    activity_targets: ActivityTargets | None = Field(default=None, description="Development goals only.")
    behavioural_target: BehaviouralTarget | None = Field(default=None, description="Development goals only.")
    capacity: Capacity | None = Field(default=None, description="Development goals only.")


class GoalChanges(_Part):
    """The revisable parts of a goal. In a revision, only the fields listed in ``changed_fields`` count."""

    title: str | None = None
    description: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    cadence: Cadence | None = None
    parent_goal_id: UUID | None = None
    level: GoalLevel | None = None
    status: GoalStatus | None = None
    kpi: Kpi | None = None
    skill: str | None = None
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    capacity: Capacity | None = None


class GoalRevised(GoalEvent):
    """A goal was revised, with the reason; ``previous`` keeps what the changed fields were, so history stays."""

    event_type: ClassVar[str] = "tandem.goal.revised.v1"

    reason: str = Field(min_length=1, max_length=2000)
    changed_fields: tuple[str, ...] = Field(description="Names of the fields of ``changes`` that changed.")
    changes: GoalChanges
    previous: GoalChanges


class GoalLinked(GoalEvent):
    """A development goal (``goal_id``) was aligned to a performance goal, with the reason why."""

    event_type: ClassVar[str] = "tandem.goal.linked.v1"

    link_id: UUID
    performance_goal_id: UUID
    performance_goal_owner_id: str
    rationale: LinkRationale
    skill: str | None = Field(default=None, description="capability_gap: the skill that is missing.")
    evidence: str | None = Field(default=None, description="capability_gap: the evidence of the shortfall.")
    future_role: str | None = Field(default=None, description="future_role: the role or strategic need it prepares for.")


class GoalUnlinked(GoalEvent):
    """A development goal's alignment to a performance goal was removed."""

    event_type: ClassVar[str] = "tandem.goal.unlinked.v1"

    link_id: UUID
    performance_goal_id: UUID
    reason: str = ""


class GoalClosed(GoalEvent):
    """A goal was closed with its outcome; a closed goal never changes again."""

    event_type: ClassVar[str] = "tandem.goal.closed.v1"

    outcome: GoalOutcome
    final_value: Decimal | None = Field(default=None, description="The KPI's final value (performance goals).")
    note: str = ""
