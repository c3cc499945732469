"""Events of the ``tandem.checkins.v1`` topic: check-ins on goals, and the signal that one is overdue."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent
from tandem_contracts.bounds import (
    MAX_LIST,
    Amount,
    Count,
    Day,
    Hours,
    Note,
    PersonId,
    PositiveCount,
    Rating,
    Title,
    text,
)
from tandem_contracts.goals import Cadence

CHECKINS_TOPIC = "tandem.checkins.v1"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GoalHealth(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class FeedbackSource(StrEnum):
    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    DIRECT_REPORT = "direct_report"


class Training(_Part):
    hours: Hours = Field(gt=0)
    course: Title


class Certification(_Part):
    name: Title
    issuer: Title
    obtained_on: Day


class MentorshipSession(_Part):
    mentor_id: PersonId
    minutes: PositiveCount


class SkillApplication(_Part):
    """How a skill being learned helped a performance goal: the seed's check-in question."""

    performance_goal_id: UUID
    how: Annotated[str, text(2000, min_length=1)]


class RatingSummary(_Part):
    """Ratings of one source. Peer and direct-report ratings are published only as an average of 3 or more."""

    source: FeedbackSource
    count: Count
    average: Rating | None = Field(default=None, description="None when fewer answered than the anonymity threshold.")
    ratings: tuple[Rating, ...] = Field(default=(), max_length=MAX_LIST, description="Individual ratings: self and manager only.")


class BehaviouralFeedback(_Part):
    competency: Title | None = Field(default=None, description="The goal's behavioural target when it was rated.")
    sources: tuple[RatingSummary, ...] = Field(max_length=8)


class PerformanceEntry(_Part):
    """A performance goal discussed: the KPI measured, its health, what stands in the way."""

    kind: Literal["performance"] = "performance"
    goal_id: UUID
    kpi_value: Amount
    unit: Annotated[str, text(40, min_length=1)]
    status: GoalHealth
    roadblocks: Note = ""
    resources_needed: Note = ""


class DevelopmentEntry(_Part):
    """A development goal discussed: activity since the last check-in, the skill applied, feedback."""

    kind: Literal["development"] = "development"
    goal_id: UUID
    training: tuple[Training, ...] = Field(default=(), max_length=MAX_LIST)
    certifications: tuple[Certification, ...] = Field(default=(), max_length=MAX_LIST)
    mentorship: tuple[MentorshipSession, ...] = Field(default=(), max_length=MAX_LIST)
    skill_application: SkillApplication | None = None
    feedback: BehaviouralFeedback | None = None
    notes: Note = ""


class CheckInRecorded(AggregateEvent):
    """A check-in was held with an employee on one or more of their goals."""

    event_type: ClassVar[str] = "tandem.checkin.recorded.v1"
    topic: ClassVar[str] = CHECKINS_TOPIC
    subject_kind: ClassVar[str] = "check-ins"
    subject_field: ClassVar[str] = "checkin_id"

    checkin_id: UUID
    held_on: Day
    held_by: tuple[PersonId, ...] = Field(max_length=8, description="Who took part: the employee and/or their manager.")
    entries: tuple[PerformanceEntry | DevelopmentEntry, ...] = Field(min_length=1, max_length=MAX_LIST)


class CheckInOverdue(AggregateEvent):
    """A goal's check-in period ended without a check-in; signalled once per missed period."""

    event_type: ClassVar[str] = "tandem.checkin.overdue.v1"
    topic: ClassVar[str] = CHECKINS_TOPIC
    subject_kind: ClassVar[str] = "check-in-schedules"
    subject_field: ClassVar[str] = "schedule_id"

    schedule_id: UUID
    goal_id: UUID
    cadence: Cadence
    period_start: Day
    period_end: Day = Field(description="The last day of the missed period.")
    last_check_in_on: Day | None = None


class CheckInScheduled(AggregateEvent):
    """A goal's check-in schedule changed: when its next check-in is due, as the check-ins service decides it.

    Published when tracking starts, when the goal's cadence or start changes, and with every check-in. A
    check-in is overdue once ``due_on`` has passed; readers compare it with today and never work it out
    themselves.
    """

    event_type: ClassVar[str] = "tandem.checkin.scheduled.v1"
    topic: ClassVar[str] = CHECKINS_TOPIC
    subject_kind: ClassVar[str] = "check-in-schedules"
    subject_field: ClassVar[str] = "schedule_id"

    schedule_id: UUID
    goal_id: UUID
    cadence: Cadence
    first_day: Day = Field(description="The first day of the first period: the goal's start.")
    due_on: Day = Field(description="The day the next check-in is due by.")
    last_check_in_on: Day | None = None
