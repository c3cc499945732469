"""HTTP entry points: parse, call the application, map the result. No rules live here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem_checkins import domain
from tandem_checkins.application import (
    CheckInNotFound,
    CheckInsApplication,
    RecordCheckIn,
)
from tandem_checkins.outbound import entry_contract
from tandem_contracts import checkins as contract
from tandem_contracts.bounds import Amount, Day, Note, PersonId, Rating, text
from tandem_runtime.blocking import CommandEndpoint
from tandem_runtime.eventstore import Executed
from tandem_runtime.http import (
    PROBLEM_RESPONSES,
    CommandRequest,
    RequestRefused,
    command_answer,
    command_headers,
    tenant_header,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PerformanceEntryIn(_Body):
    """A performance goal discussed: the KPI as measured now, in the goal's unit."""

    kind: Literal["performance"]
    goal_id: UUID
    kpi_value: Amount
    unit: Annotated[str, text(40, min_length=1)] = Field(description="Must be the goal's KPI unit.")
    status: contract.GoalHealth
    roadblocks: Annotated[str, text(2000)] = ""
    resources_needed: Annotated[str, text(2000)] = ""


class RatingIn(_Body):
    source: contract.FeedbackSource
    rating: Rating = Field(description="On the goal's behavioural rating scale.")


class FeedbackIn(_Body):
    """360-degree ratings of the goal's competency. Peer and direct-report ratings stay anonymous."""

    ratings: list[RatingIn] = Field(min_length=1, max_length=200)


class DevelopmentEntryIn(_Body):
    """A development goal discussed: activities since the last check-in, the skill applied, feedback."""

    kind: Literal["development"]
    goal_id: UUID
    training: list[contract.Training] = Field(default_factory=list, max_length=100)
    certifications: list[contract.Certification] = Field(default_factory=list, max_length=50)
    mentorship: list[contract.MentorshipSession] = Field(default_factory=list, max_length=100)
    skill_application: contract.SkillApplication | None = Field(
        default=None, description="How did the skill you learned help you hit a performance goal this period?"
    )
    feedback: FeedbackIn | None = None
    notes: Note = ""


class RecordCheckInRequest(_Body):
    """A check-in held with one employee on a day, covering one or more of their goals."""

    employee_id: PersonId
    held_on: Day = Field(description="Not in the future, nor before the start of any goal it covers.")
    held_by: list[PersonId] = Field(
        min_length=1, max_length=10, description="Who took part: the employee and/or their manager."
    )
    entries: list[Annotated[PerformanceEntryIn | DevelopmentEntryIn, Field(discriminator="kind")]] = Field(
        min_length=1, max_length=50
    )


class CheckInView(BaseModel):
    checkin_id: UUID
    version: int
    tenant_id: str
    employee_id: str
    held_on: date
    held_by: list[str]
    entries: list[contract.PerformanceEntry | contract.DevelopmentEntry]
    recorded_by: str
    recorded_at: datetime


class ScheduleView(BaseModel):
    goal_id: UUID
    cadence: str
    first_day: date
    next_due: date = Field(
        description="The day the next check-in is due by: the end of the period after the last one checked in."
    )
    overdue: bool = Field(description="That day has passed without a check-in.")
    last_check_in_on: date | None
    overdue_periods_signalled: int


class SkippedGoalView(BaseModel):
    """A goal the sweep left out because judging it failed; the others were swept."""

    goal_id: UUID
    error: str = Field(description="The kind of error, e.g. OverflowError.")


class SweepView(BaseModel):
    overdue_signalled: int
    skipped: list[SkippedGoalView] = Field(description="The caller's tenant's goals the sweep skipped.")
    skipped_in_all_tenants: int = Field(description="How many goals the sweep skipped, in every tenant.")


def check_in_view(check_in: domain.CheckIn) -> CheckInView:
    return CheckInView(
        checkin_id=check_in.id,
        version=check_in.version,
        tenant_id=check_in.tenant_id,
        employee_id=check_in.employee_id,
        held_on=check_in.held_on,
        held_by=list(check_in.held_by),
        entries=[entry_contract(entry) for entry in check_in.entries],
        recorded_by=check_in.recorded_by,
        recorded_at=check_in.recorded_at,
    )


def _domain_entry(entry: PerformanceEntryIn | DevelopmentEntryIn) -> domain.Entry:
    if isinstance(entry, PerformanceEntryIn):
        return domain.PerformanceEntry(
            entry.goal_id, entry.kpi_value, entry.unit, domain.GoalHealth(entry.status), entry.roadblocks,
            entry.resources_needed,
        )
    return domain.DevelopmentEntry(
        goal_id=entry.goal_id,
        training=tuple(domain.Training(t.hours, t.course) for t in entry.training),
        certifications=tuple(domain.Certification(c.name, c.issuer, c.obtained_on) for c in entry.certifications),
        mentorship=tuple(domain.MentorshipSession(m.mentor_id, m.minutes) for m in entry.mentorship),
        skill_application=domain.SkillApplication(entry.skill_application.performance_goal_id, entry.skill_application.how)
        if entry.skill_application
        else None,
        ratings=tuple(domain.Rating(domain.FeedbackSource(r.source), r.rating) for r in entry.feedback.ratings)
        if entry.feedback
        else (),
        notes=entry.notes,
    )


def checkins_router(
    application: CheckInsApplication, default_tenant: str, command_endpoint: CommandEndpoint
) -> APIRouter:
    """The check-in routes, bound to one application."""
    router = APIRouter(prefix="/v1", tags=["check-ins"], responses=PROBLEM_RESPONSES)
    # Dependencies as defaults: these annotations are strings, and closure names do not resolve from them.
    headers = Depends(command_headers(default_tenant))
    tenant = Depends(tenant_header(default_tenant))

    def run(command: Callable[[], Executed]) -> Executed:
        try:
            return command()
        except domain.CheckInRuleBroken as broken:
            raise RequestRefused(422, broken.message, field=broken.field, rule=broken.rule or None) from None

    def load(tenant_id: str, checkin_id: str) -> domain.CheckIn:
        try:
            return application.get_check_in(tenant_id, UUID(checkin_id))
        except (CheckInNotFound, ValueError):
            raise RequestRefused(404, f"check-in {checkin_id} not found") from None

    @router.post("/check-ins", status_code=201, response_model=CheckInView, summary="Record a check-in")
    @command_endpoint
    def record_check_in(body: RecordCheckInRequest, request: CommandRequest = headers) -> Response:
        """Record a check-in on an employee's own open goals: KPI values in the goal's unit, development
        activities, the skill applied to a performance goal, and 360-degree feedback. Future dates are refused."""
        recorded_by = request.actor or body.held_by[0]
        command = RecordCheckIn(
            request.tenant_id, body.employee_id, body.held_on, tuple(body.held_by),
            tuple(_domain_entry(entry) for entry in body.entries), recorded_by,
        )
        key = request.request_key("check-in", body)
        executed = run(lambda: application.record_check_in(command, request.context(recorded_by), key))
        checkin_id = executed.outcome["checkin_id"]
        check_in = executed.saved_as(UUID(checkin_id), domain.CheckIn) or load(request.tenant_id, checkin_id)
        return command_answer(check_in_view(check_in), replayed=executed.replayed,
                              headers={"Location": f"/v1/check-ins/{check_in.id}"})

    @router.get("/check-ins/{checkin_id}", response_model=CheckInView, summary="Read a check-in")
    def get_check_in(checkin_id: Annotated[str, Path()], tenant_id: str = tenant) -> CheckInView:
        """A check-in; anonymous feedback appears only as averages of enough answers."""
        return check_in_view(load(tenant_id, checkin_id))

    @router.get("/employees/{employee_id}/check-ins", response_model=list[CheckInView], summary="An employee's check-ins")
    def list_check_ins(
        employee_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 100, tenant_id: str = tenant
    ) -> list[CheckInView]:
        """An employee's check-ins, newest first."""
        return [check_in_view(c) for c in application.check_ins_of(tenant_id, employee_id, limit)]

    @router.get("/goals/{goal_id}/check-in-schedule", response_model=ScheduleView, summary="When a goal's next check-in is due")
    def schedule(goal_id: UUID, tenant_id: str = tenant) -> ScheduleView:
        """The goal's cadence, the day the current period's check-in is due, and missed periods so far."""
        view = application.schedule_of(tenant_id, goal_id)
        if view is None:
            raise RequestRefused(404, f"goal {goal_id} is not known to the check-ins service")
        return ScheduleView(**view.__dict__)

    @router.post("/check-in-schedules:sweep", response_model=SweepView, summary="Signal overdue check-ins now")
    def sweep(tenant_id: str = tenant) -> SweepView:
        """Signal every missed period now (it also runs on its own every few minutes); each period once. A goal
        that cannot be judged is skipped and named; the others are swept all the same."""
        outcome = application.signal_overdue_check_ins()
        return SweepView(
            overdue_signalled=outcome.overdue_signalled,
            skipped=[SkippedGoalView(goal_id=s.goal_id, error=s.error) for s in outcome.skipped if s.tenant_id == tenant_id],
            skipped_in_all_tenants=len(outcome.skipped),
        )

    return router

