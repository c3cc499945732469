"""Value objects and words of the check-in domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID


class GoalHealth(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class FeedbackSource(StrEnum):
    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    DIRECT_REPORT = "direct_report"


# Individual ratings from these sources are never shown; their average only from this many answers up.
ANONYMOUS_SOURCES = (FeedbackSource.PEER, FeedbackSource.DIRECT_REPORT)
ANONYMITY_THRESHOLD = 3


@dataclass(frozen=True)
class Training:
    hours: Decimal
    course: str


@dataclass(frozen=True)
class Certification:
    name: str
    issuer: str
    obtained_on: date


@dataclass(frozen=True)
class MentorshipSession:
    mentor_id: str
    minutes: int


@dataclass(frozen=True)
class SkillApplication:
    """How the skill being learned helped a performance goal this period."""

    performance_goal_id: UUID
    how: str


@dataclass(frozen=True)
class Rating:
    source: FeedbackSource
    rating: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", FeedbackSource(self.source))


@dataclass(frozen=True)
class PerformanceEntry:
    goal_id: UUID
    kpi_value: Decimal
    unit: str
    status: GoalHealth
    roadblocks: str = ""
    resources_needed: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", GoalHealth(self.status))


@dataclass(frozen=True)
class DevelopmentEntry:
    goal_id: UUID
    training: tuple[Training, ...] = field(default=())
    certifications: tuple[Certification, ...] = field(default=())
    mentorship: tuple[MentorshipSession, ...] = field(default=())
    skill_application: SkillApplication | None = None
    ratings: tuple[Rating, ...] = field(default=())
    notes: str = ""
    competency: str | None = None  # the goal's behavioural target at the time, so the record stands alone

    def __post_init__(self) -> None:
        for name in ("training", "certifications", "mentorship", "ratings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class GoalSnapshot:
    """What a check-in needs to know of a goal it covers (from the goals topic)."""

    goal_id: UUID
    tenant_id: str
    owner_id: str
    kind: str
    is_open: bool
    kpi_unit: str | None = None
    rating_scale_max: Decimal | None = None
    start_date: date | None = None


VALUE_TYPES = (
    Training, Certification, MentorshipSession, SkillApplication, Rating, PerformanceEntry, DevelopmentEntry,
)
