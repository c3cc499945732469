"""Events of the ``tandem.goals.v1`` topic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import IntegrationEvent

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


class GoalSet(IntegrationEvent):
    """A goal was set: a SMART performance goal with a KPI, or a development goal with its targets."""

    event_type: ClassVar[str] = "tandem.goal.set.v1"
    topic: ClassVar[str] = GOALS_TOPIC
    subject_kind: ClassVar[str] = "goals"
    subject_field: ClassVar[str] = "goal_id"

    goal_id: UUID
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
    kpi: Kpi | None = Field(default=None, description="Performance goals only.")
    skill: str | None = Field(default=None, description="Development goals only: the skill the goal builds.")
    activity_targets: ActivityTargets | None = Field(default=None, description="Development goals only.")
    behavioural_target: BehaviouralTarget | None = Field(default=None, description="Development goals only.")
    capacity: Capacity | None = Field(default=None, description="Development goals only.")
