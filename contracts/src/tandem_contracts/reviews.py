"""Events of the ``tandem.reviews.v1`` topic: completed reviews, whole and self-contained."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent
from tandem_contracts.goals import ActivityTargets, BehaviouralTarget, Budget, KpiDirection, LinkRationale

REVIEWS_TOPIC = "tandem.reviews.v1"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PerformanceResult(_Part):
    """Step 1: one performance goal against its target, why it came out so, and how it was reached."""

    goal_id: UUID
    title: str
    kpi_name: str
    unit: str
    direction: KpiDirection
    baseline: Decimal
    target: Decimal
    actual: Decimal
    attainment_percent: Decimal = Field(description="Progress from baseline to target, direction-aware; 100 = target met.")
    rating: Decimal
    factors: str = Field(description="The why: what influenced the result.")
    how: str = Field(description="The how: values and competencies shown on the way.")


class CapabilityGapFound(_Part):
    """Step 2: a skill that, had it been there, would have made a performance goal easier or faster."""

    skill: str
    performance_goal_id: UUID
    note: str = ""


class DevelopmentPayoff(_Part):
    """Step 2: a development goal that paid off in a performance goal."""

    development_goal_id: UUID
    performance_goal_id: UUID
    note: str = ""


class DevelopmentResult(_Part):
    """Step 3: was the skill applied, or only the course finished; the evidence; the employee's aspirations."""

    goal_id: UUID
    title: str
    applied: bool
    evidence: tuple[str, ...] = ()
    aspirations: str = ""


class PlannedDevelopmentGoal(_Part):
    """Step 3: a development goal for the next cycle, aligned to a performance goal, with its resources."""

    title: str
    skill: str
    rationale: LinkRationale
    performance_goal_id: UUID
    evidence: str | None = None
    future_role: str | None = None
    start_date: date
    due_date: date
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    hours_per_month: Decimal
    budget: Budget | None = None
    mentor_id: str | None = None


class ReviewCompleted(AggregateEvent):
    """A review was completed: all three steps, self-contained, and the plan for the next cycle."""

    event_type: ClassVar[str] = "tandem.review.completed.v1"
    topic: ClassVar[str] = REVIEWS_TOPIC
    subject_kind: ClassVar[str] = "reviews"
    subject_field: ClassVar[str] = "review_id"

    review_id: UUID
    cycle: str
    next_cycle: str
    reviewer_id: str
    rating_scale_max: Decimal
    performance: tuple[PerformanceResult, ...]
    capability_gaps: tuple[CapabilityGapFound, ...] = ()
    payoffs: tuple[DevelopmentPayoff, ...] = ()
    development: tuple[DevelopmentResult, ...] = ()
    plan: tuple[PlannedDevelopmentGoal, ...] = ()
    corrects_review_id: UUID | None = Field(default=None, description="The completed review this one corrects.")
