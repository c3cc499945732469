"""Events of the ``tandem.reviews.v1`` topic: completed reviews, whole and self-contained."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent
from tandem_contracts.bounds import (
    MAX_LIST,
    Amount,
    Day,
    Hours,
    Label,
    Note,
    PersonId,
    Rating,
    RatingScale,
    Title,
    text,
)
from tandem_contracts.goals import ActivityTargets, BehaviouralTarget, Budget, KpiDirection, LinkRationale

REVIEWS_TOPIC = "tandem.reviews.v1"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PerformanceResult(_Part):
    """Step 1: one performance goal against its target, why it came out so, and how it was reached."""

    goal_id: UUID
    title: Title
    kpi_name: Title
    unit: Annotated[str, text(40, min_length=1)]
    direction: KpiDirection
    baseline: Amount
    target: Amount
    actual: Amount
    attainment_percent: Amount = Field(description="Progress from baseline to target, direction-aware; 100 = target met.")
    rating: Rating
    factors: Note = Field(description="The why: what influenced the result.")
    how: Note = Field(description="The how: values and competencies shown on the way.")


class CapabilityGapFound(_Part):
    """Step 2: a skill that, had it been there, would have made a performance goal easier or faster."""

    skill: Title
    performance_goal_id: UUID
    note: Note = ""


class DevelopmentPayoff(_Part):
    """Step 2: a development goal that paid off in a performance goal."""

    development_goal_id: UUID
    performance_goal_id: UUID
    note: Note = ""


class DevelopmentResult(_Part):
    """Step 3: was the skill applied, or only the course finished; the evidence; the employee's aspirations."""

    goal_id: UUID
    title: Title
    applied: bool
    evidence: tuple[Note, ...] = Field(default=(), max_length=MAX_LIST)
    aspirations: Note = ""


class PlannedDevelopmentGoal(_Part):
    """Step 3: a development goal for the next cycle, aligned to a performance goal, with its resources."""

    title: Title
    skill: Title
    rationale: LinkRationale
    performance_goal_id: UUID
    evidence: Note | None = None
    future_role: Title | None = None
    start_date: Day
    due_date: Day
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    hours_per_month: Hours
    budget: Budget | None = None
    mentor_id: PersonId | None = None


class ReviewCompleted(AggregateEvent):
    """A review was completed: all three steps, self-contained, and the plan for the next cycle."""

    event_type: ClassVar[str] = "tandem.review.completed.v1"
    topic: ClassVar[str] = REVIEWS_TOPIC
    subject_kind: ClassVar[str] = "reviews"
    subject_field: ClassVar[str] = "review_id"

    review_id: UUID
    cycle: Label
    next_cycle: Label
    reviewer_id: PersonId
    rating_scale_max: RatingScale
    performance: tuple[PerformanceResult, ...] = Field(max_length=MAX_LIST)
    capability_gaps: tuple[CapabilityGapFound, ...] = Field(default=(), max_length=MAX_LIST)
    payoffs: tuple[DevelopmentPayoff, ...] = Field(default=(), max_length=MAX_LIST)
    development: tuple[DevelopmentResult, ...] = Field(default=(), max_length=MAX_LIST)
    plan: tuple[PlannedDevelopmentGoal, ...] = Field(default=(), max_length=MAX_LIST)
    corrects_review_id: UUID | None = Field(default=None, description="The completed review this one corrects.")
