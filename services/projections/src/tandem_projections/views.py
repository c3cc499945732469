"""The documents the read side serves, as models: what OpenAPI shows an integrator.

The routes answer JSON written by orjson from the read model's stored documents, never through these models (a
team of a thousand would cost a second encoding pass); a test holds real answers to them, so they cannot drift.
Every field is required unless it is absent from some answers; ``None`` is a value, not an absence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.checkins import FeedbackSource, GoalHealth
from tandem_contracts.goals import Cadence, GoalKind, GoalLevel, GoalOutcome, GoalStatus, KpiDirection, LinkRationale

Number = Annotated[float, Field(description="A decimal rounded for display.")]
Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="A calendar month, e.g. 2026-06.")]
# A goal at the other end of a link that the read model has not seen (yet) shows as "unknown".
LinkedStatus = GoalStatus | Literal["unknown"]
FlagCode = Literal["capability_gap_without_development", "development_aligned_to_nothing", "capacity_over_committed",
                   "capacity_unused", "check_in_overdue"]


class View(BaseModel):
    """A served document: exactly these fields, no others."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- parts of a card ----------------------------------------------------------------------------------------


class Kpi(View):
    name: str | None
    unit: str | None
    direction: KpiDirection | None
    baseline: Number | None
    target: Number | None


class Budget(View):
    amount: str = Field(description="A decimal number, as text.")
    currency: str


class DevelopmentCapacity(View):
    hours_per_month: Number | None
    budget: Budget | None
    mentor_id: str | None


class Progress(View):
    done: Number
    target: Number | None


class CertificationProgress(View):
    done: list[str]
    target: list[str]


class SessionProgress(View):
    done: int
    target: int | None


class Activities(View):
    training_hours: Progress
    certifications: CertificationProgress
    mentorship_sessions: SessionProgress


class RatingSource(View):
    source: FeedbackSource
    count: int
    average: Number | None


class Behavioural(View):
    """360 feedback on the goal's competency: peer and direct-report ratings only as an average of three or more."""

    competency: str | None
    target_rating: Number | None
    scale_max: Number | None
    latest_rating: Number | None
    rated_on: date | None
    sources: list[RatingSource]


class Link(View):
    link_id: str
    rationale: LinkRationale
    skill: str | None
    evidence: str | None
    future_role: str | None
    linked_on: date


class Supporter(View):
    """A development goal linked to a performance goal."""

    goal_id: str
    employee_id: str
    title: str | None
    status: LinkedStatus
    outcome: GoalOutcome | None
    skill: str | None
    progress: Number | None
    behavioural: Behavioural | None
    activities: Activities | None
    link: Link


class CapabilityGap(View):
    skill: str
    source: Literal["review", "link"]
    review_id: str | None = Field(default=None, description="Only when the gap comes from a review.")
    note: str
    covered_by: list[str] = Field(description="The live development goals linked for this skill.")


class ParentGoal(View):
    goal_id: str
    title: str
    employee_id: str
    level: GoalLevel


class GoalBasics(View):
    """What a card shows of every goal first."""

    goal_id: str
    employee_id: str
    title: str
    cycle: str
    status: GoalStatus
    outcome: GoalOutcome | None


class PerformanceGoal(GoalBasics):
    level: GoalLevel
    parent_goal_id: str | None
    start_date: date
    due_date: date
    cadence: Cadence
    kpi: Kpi
    actual: Number | None
    attainment: Number | None = Field(description="Percent of the way from baseline to target, direction-aware.")
    health: GoalHealth | None
    check_ins: int
    trend: list[Number] = Field(description="The latest KPI values checked in, oldest first.")
    last_check_in_on: date | None
    next_check_in_due: date | None
    missed_check_ins: int
    supported_by: list[Supporter]
    capability_gaps: list[CapabilityGap]
    overdue: bool
    cascades_from: ParentGoal | None


class Application(View):
    held_on: date
    performance_goal_id: str
    how: str


class Note(View):
    held_on: date
    notes: str


class AlignedTo(View):
    """The performance goal a development goal serves."""

    goal_id: str
    employee_id: str
    title: str | None
    status: LinkedStatus
    attainment: Number | None
    health: GoalHealth | None
    link: Link


class DevelopmentGoal(GoalBasics):
    skill: str | None
    start_date: date
    due_date: date
    cadence: Cadence
    capacity: DevelopmentCapacity
    activities: Activities
    progress: Number | None = Field(description="Percent of the activity targets reached.")
    behavioural: Behavioural | None
    applications: list[Application]
    notes: list[Note]
    check_ins: int
    last_check_in_on: date | None
    next_check_in_due: date | None
    missed_check_ins: int
    aligned_to: list[AlignedTo]
    overdue: bool


class Capacity(View):
    """Development hours logged in the month of the latest check-in, against the hours set aside per month."""

    hours_per_month_set_aside: Number
    reference_month: Month | None
    hours_logged: Number
    by_month: dict[str, Number]
    over_committed: bool
    unused: bool


class Flag(View):
    code: FlagCode
    goal_id: str | None
    message: str


class Tallies(View):
    """What each card counts and every roll-up sums."""

    performance_goals: int
    development_goals: int
    on_track: int
    at_risk: int
    off_track: int
    gaps_without_development: int
    unaligned_development_goals: int
    capacity_over_committed: int
    capacity_unused: int
    hours_set_aside: Number
    hours_logged: Number


class Counts(Tallies):
    supported_performance_goals: int
    aligned_development_goals: int
    overdue_check_ins: int


class Card(View):
    """One employee's alignment card."""

    tenant_id: str
    employee_id: str
    display_name: str
    job_title: str | None
    department: str | None
    manager_id: str | None
    active: bool
    in_directory: bool
    performance_goals: list[PerformanceGoal]
    development_goals: list[DevelopmentGoal]
    capacity: Capacity
    flags: list[Flag]
    counts: Counts


# --- roll-ups and teams -------------------------------------------------------------------------------------


class RollupFigures(Tallies):
    employees: int
    development_support_share: float | None = Field(description="Of the performance goals, 0 to 1.")
    aligned_development_share: float | None = Field(description="Of the development goals, 0 to 1.")
    on_track_rate: float | None = Field(description="Of the performance goals with a health, 0 to 1.")


class Rollup(RollupFigures):
    overdue_check_ins: int


class Manager(View):
    employee_id: str
    display_name: str
    job_title: str | None
    department: str | None


class SummaryKpi(View):
    name: str | None
    unit: str | None
    baseline: Number | None
    target: Number | None


class SummaryBehavioural(View):
    competency: str | None
    latest_rating: Number | None
    scale_max: Number | None


class SummaryLink(View):
    rationale: LinkRationale
    skill: str | None
    future_role: str | None


class SummarySupporter(View):
    goal_id: str
    employee_id: str
    title: str | None
    status: LinkedStatus
    skill: str | None
    progress: Number | None
    activities: Activities | None
    behavioural: SummaryBehavioural
    link: SummaryLink


class SummaryPerformanceGoal(View):
    goal_id: str
    title: str
    cycle: str
    status: GoalStatus
    level: GoalLevel
    parent_goal_id: str | None
    cadence: Cadence
    actual: Number | None
    attainment: Number | None
    health: GoalHealth | None
    last_check_in_on: date | None
    next_check_in_due: date | None
    missed_check_ins: int
    kpi: SummaryKpi
    supported_by: list[SummarySupporter]


class SummaryAlignedTo(View):
    goal_id: str
    employee_id: str
    title: str | None


class SummaryDevelopmentGoal(View):
    goal_id: str
    title: str
    cycle: str
    status: GoalStatus
    skill: str | None
    progress: Number | None
    next_check_in_due: date | None
    missed_check_ins: int
    aligned_to: list[SummaryAlignedTo]


class SummaryCapacity(View):
    hours_per_month_set_aside: Number
    reference_month: Month | None
    hours_logged: Number
    over_committed: bool
    unused: bool


class ReportSummary(View):
    """A report on a team dashboard: live goals, their support, capacity and flags."""

    employee_id: str
    display_name: str
    job_title: str | None
    department: str | None
    manager_id: str | None
    flags: list[Flag]
    capacity: SummaryCapacity
    performance_goals: list[SummaryPerformanceGoal]
    development_goals: list[SummaryDevelopmentGoal]


class DepartmentMember(View):
    employee_id: str
    display_name: str
    manager_id: str | None
    counts: Counts


class DepartmentRollup(RollupFigures):
    """A department's roll-up on the tenant dashboard (overdue check-ins are counted per tenant only)."""

    department: str | None


class CascadeRoot(View):
    """An organisation goal with how the goals cascaded directly from it are doing."""

    goal_id: str
    title: str
    employee_id: str
    status: GoalStatus
    attainment: Number | None
    health: GoalHealth | None
    children: int
    children_attainment: Number | None
    children_on_track: int


# --- the dashboards -----------------------------------------------------------------------------------------


class EmployeeDashboard(View):
    scope: Literal["employee"]
    tenant_id: str
    as_of: date
    employee: Card


class TeamDashboard(View):
    scope: Literal["team"]
    tenant_id: str
    as_of: date
    manager: Manager
    rollup: Rollup
    overdue_goal_ids: list[str] = Field(description="The reports' goals whose check-in is overdue today.")
    reports: list[ReportSummary]


class DepartmentDashboard(View):
    scope: Literal["department"]
    tenant_id: str
    department: str
    as_of: date
    rollup: Rollup
    employees: list[DepartmentMember]


class TenantDashboard(View):
    scope: Literal["tenant"]
    tenant_id: str
    as_of: date
    rollup: Rollup
    departments: list[DepartmentRollup]
    cascade: list[CascadeRoot]


AlignmentDashboard = Annotated[
    EmployeeDashboard | TeamDashboard | DepartmentDashboard | TenantDashboard, Field(discriminator="scope")
]


class CascadeNode(View):
    goal_id: str
    title: str
    employee_id: str
    kind: GoalKind
    level: GoalLevel
    status: GoalStatus
    attainment: Number | None
    health: GoalHealth | None
    children: list[CascadeNode]
    parent_goal_id: str | None
    depth: int


class CascadeTree(View):
    tenant_id: str
    truncated: bool = Field(description="The tree was cut at its node limit.")
    tree: CascadeNode


# --- the review packet --------------------------------------------------------------------------------------


class PacketEmployee(View):
    employee_id: str
    display_name: str
    job_title: str | None
    department: str | None
    manager_id: str | None


class PacketReview(View):
    review_id: str
    reviewer_id: str
    completed_at: datetime
    next_cycle: str
    rating_scale_max: Number | None
    corrects_review_id: str | None


class KpiCheckIn(View):
    held_on: date
    kpi_value: Number | None
    status: GoalHealth
    roadblocks: str
    resources_needed: str


class Why(View):
    prompt: str
    roadblocks_raised: list[str]
    resources_asked_for: list[str]
    answer: str | None


class How(View):
    prompt: str
    answer: str | None


class PacketPerformanceGoal(View):
    goal_id: str
    title: str
    status: GoalStatus
    outcome: GoalOutcome | None
    kpi: Kpi
    actual: Number | None
    attainment: Number | None
    health: GoalHealth | None
    due_date: date
    cadence: Cadence
    missed_check_ins: int
    result: str
    check_in_history: list[KpiCheckIn]
    why: Why
    how: How
    rating: Number | None


class PacketGap(View):
    skill: str | None = Field(description="None when only the check-ins show the goal struggling.")
    performance_goal_id: str
    performance_goal: str
    source: Literal["review", "link", "check-ins"]
    note: str
    covered_by: list[str]
    prompt: str
    answer: str | None


class PacketPayoff(View):
    development_goal_id: str
    development_goal: str | None
    performance_goal_id: str
    performance_goal: str | None
    source: Literal["review", "check-ins"]
    evidence: list[str]
    prompt: str


class PacketDevelopmentGoal(View):
    goal_id: str
    title: str
    status: GoalStatus
    outcome: GoalOutcome | None
    skill: str | None
    activities: Activities
    progress: Number | None
    behavioural: Behavioural | None
    applications: list[Application]
    capacity: DevelopmentCapacity
    aligned_to: list[AlignedTo]
    courses: list[str]
    feedback: Behavioural | None
    applied: bool
    evidence: list[str]
    aspirations: str | None
    prompt: str


class SuggestedGoal(View):
    title: str
    skill: str
    rationale: Literal["capability_gap"]
    performance_goal_id: str
    evidence: str
    why: str


class PlannedGoal(View):
    title: str
    skill: str
    rationale: LinkRationale
    performance_goal_id: str
    evidence: str | None
    future_role: str | None
    start_date: date
    due_date: date
    hours_per_month: str = Field(description="A decimal number, as text.")
    mentor_id: str | None
    budget: Budget | None


class PerformanceStep(View):
    title: str
    goals: list[PacketPerformanceGoal]


class ConnectionsStep(View):
    title: str
    capability_gaps: list[PacketGap]
    payoffs: list[PacketPayoff]


class DevelopmentStep(View):
    title: str
    goals: list[PacketDevelopmentGoal]
    suggested_next_cycle: list[SuggestedGoal]
    planned_next_cycle: list[PlannedGoal]


class PacketSteps(View):
    performance: PerformanceStep
    connections: ConnectionsStep
    development: DevelopmentStep


class ReviewPacket(View):
    """An employee's cycle in the three steps of the review, from events alone."""

    tenant_id: str
    cycle: str
    as_of: date
    employee: PacketEmployee
    review: PacketReview | None = Field(description="The cycle's completed review, if there is one.")
    steps: PacketSteps


# --- operations ---------------------------------------------------------------------------------------------


class RebuildProgress(View):
    """A rebuild's state: replaying → cards → catching_up → swapping → done | failed."""

    rebuild_id: str
    state: Literal["replaying", "cards", "catching_up", "swapping", "done", "failed"]
    events_done: int
    events_total: int
    cards_done: int
    cards_total: int
    started_at: float = Field(description="Unix time.")
    finished_at: float | None
    events_applied: int | None
    seconds: float | None
    error: str | None
