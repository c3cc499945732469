"""Events of the ``tandem.checkins.v1`` topic: check-ins on goals, and the signal that one is overdue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import AggregateEvent
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
    hours: Decimal = Field(gt=0)
    course: str = Field(min_length=1, max_length=200)


class Certification(_Part):
    name: str = Field(min_length=1, max_length=200)
    issuer: str = Field(min_length=1, max_length=200)
    obtained_on: date


class MentorshipSession(_Part):
    mentor_id: str = Field(min_length=1, max_length=128)
    minutes: int = Field(gt=0)


class SkillApplication(_Part):
    """How a skill being learned helped a performance goal: the seed's check-in question."""

    performance_goal_id: UUID
    how: str = Field(min_length=1, max_length=2000)


class RatingSummary(_Part):
    """Ratings of one source. Peer and direct-report ratings are published only as an average of 3 or more."""

    source: FeedbackSource
    count: int = Field(ge=0)
    average: Decimal | None = Field(default=None, description="None when fewer answered than the anonymity threshold.")
    ratings: tuple[Decimal, ...] = Field(default=(), description="Individual ratings: self and manager only.")


class BehaviouralFeedback(_Part):
    competency: str | None = Field(default=None, description="The goal's behavioural target when it was rated.")
    sources: tuple[RatingSummary, ...]


class PerformanceEntry(_Part):
    """A performance goal discussed: the KPI measured, its health, what stands in the way."""

    kind: Literal["performance"] = "performance"
    goal_id: UUID
    kpi_value: Decimal
    unit: str
    status: GoalHealth
    roadblocks: str = ""
    resources_needed: str = ""


class DevelopmentEntry(_Part):
    """A development goal discussed: activity since the last check-in, the skill applied, feedback."""

    kind: Literal["development"] = "development"
    goal_id: UUID
    training: tuple[Training, ...] = ()
    certifications: tuple[Certification, ...] = ()
    mentorship: tuple[MentorshipSession, ...] = ()
    skill_application: SkillApplication | None = None
    feedback: BehaviouralFeedback | None = None
    notes: str = ""


class CheckInRecorded(AggregateEvent):
    """A check-in was held with an employee on one or more of their goals."""

    event_type: ClassVar[str] = "tandem.checkin.recorded.v1"
    topic: ClassVar[str] = CHECKINS_TOPIC
    subject_kind: ClassVar[str] = "check-ins"
    subject_field: ClassVar[str] = "checkin_id"

    checkin_id: UUID
    held_on: date
    held_by: tuple[str, ...] = Field(description="Who took part: the employee and/or their manager.")
    entries: tuple[PerformanceEntry | DevelopmentEntry, ...] = Field(min_length=1)


class CheckInOverdue(AggregateEvent):
    """A goal's check-in period ended without a check-in; signalled once per missed period."""

    event_type: ClassVar[str] = "tandem.checkin.overdue.v1"
    topic: ClassVar[str] = CHECKINS_TOPIC
    subject_kind: ClassVar[str] = "check-in-schedules"
    subject_field: ClassVar[str] = "schedule_id"

    schedule_id: UUID
    goal_id: UUID
    cadence: Cadence
    period_start: date
    period_end: date = Field(description="The last day of the missed period.")
    last_check_in_on: date | None = None
