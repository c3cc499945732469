"""HTTP entry points: parse, call the application, map the result. No rules live here."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID, NAMESPACE_URL, uuid4, uuid5

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts import goals as contract
from tandem_goals import domain
from tandem_goals.application import GoalNotFound, GoalsApplication, SetGoal
from tandem_runtime.eventstore import CommandContext, IdempotencyKeyReused
from tandem_runtime.http import RequestRefused, request_digest

_IDEMPOTENCY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:goals:idempotency")

TenantHeader = Annotated[str | None, Header(alias="X-Tenant-ID", max_length=64)]
CorrelationHeader = Annotated[str | None, Header(alias="X-Correlation-ID", max_length=128)]
TraceparentHeader = Annotated[str | None, Header(alias="traceparent", max_length=128)]
IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


class SetGoalRequest(BaseModel):
    """A goal to set. Performance goals carry a ``kpi``; development goals a ``skill`` and targets."""

    model_config = ConfigDict(extra="forbid")

    employee_id: str = Field(min_length=1, max_length=128, description="The goal's owner.")
    kind: contract.GoalKind
    cycle: str = Field(min_length=1, max_length=32, examples=["2026"])
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    start_date: date
    due_date: date
    cadence: contract.Cadence | None = Field(
        default=None, description="Defaults to weekly for performance goals, monthly for development goals."
    )
    parent_goal_id: UUID | None = None
    kpi: contract.Kpi | None = None
    skill: str | None = Field(default=None, min_length=1, max_length=200)
    activity_targets: contract.ActivityTargets | None = None
    behavioural_target: contract.BehaviouralTarget | None = None
    capacity: contract.Capacity | None = None
    status: Literal["draft", "active"] = "active"
    set_by: str | None = Field(default=None, min_length=1, max_length=128, description="Defaults to the owner.")


class GoalResponse(BaseModel):
    goal_id: UUID
    version: int
    tenant_id: str
    employee_id: str
    set_by: str
    kind: str
    status: str
    cycle: str
    title: str
    description: str
    start_date: date
    due_date: date
    cadence: str
    parent_goal_id: UUID | None
    kpi: contract.Kpi | None
    skill: str | None
    activity_targets: contract.ActivityTargets | None
    behavioural_target: contract.BehaviouralTarget | None
    capacity: contract.Capacity | None
    set_at: datetime


def _plain(value: object) -> dict[str, object] | None:
    return None if value is None else asdict(value)  # type: ignore[call-overload]


def _goal_response(goal: domain.Goal) -> GoalResponse:
    return GoalResponse(
        goal_id=goal.id,
        version=goal.version,
        tenant_id=goal.tenant_id,
        employee_id=goal.owner_id,
        set_by=goal.set_by,
        kind=goal.kind.value,
        status=goal.status.value,
        cycle=goal.cycle,
        title=goal.title,
        description=goal.description,
        start_date=goal.start_date,
        due_date=goal.due_date,
        cadence=goal.cadence.value,
        parent_goal_id=goal.parent_goal_id,
        kpi=_plain(goal.kpi),
        skill=goal.skill,
        activity_targets=_plain(goal.activity_targets),
        behavioural_target=_plain(goal.behavioural_target),
        capacity=_plain(goal.capacity),
        set_at=goal.set_at,
    )


def _command(body: SetGoalRequest, tenant_id: str, goal_id: UUID) -> SetGoal:
    capacity = body.capacity
    return SetGoal(
        goal_id=goal_id,
        tenant_id=tenant_id,
        owner_id=body.employee_id,
        set_by=body.set_by or body.employee_id,
        kind=domain.GoalKind(body.kind.value),
        cycle=body.cycle,
        title=body.title,
        description=body.description,
        start_date=body.start_date,
        due_date=body.due_date,
        cadence=domain.Cadence(body.cadence.value) if body.cadence else None,
        parent_goal_id=body.parent_goal_id,
        kpi=domain.Kpi(
            name=body.kpi.name,
            unit=body.kpi.unit,
            baseline=body.kpi.baseline,
            target=body.kpi.target,
            direction=domain.KpiDirection(body.kpi.direction.value),
            weight=body.kpi.weight,
        )
        if body.kpi
        else None,
        skill=body.skill,
        activity_targets=domain.ActivityTargets(
            training_hours=body.activity_targets.training_hours,
            certifications=body.activity_targets.certifications,
            mentorship_sessions=body.activity_targets.mentorship_sessions,
        )
        if body.activity_targets
        else None,
        behavioural_target=domain.BehaviouralTarget(
            competency=body.behavioural_target.competency,
            target_rating=body.behavioural_target.target_rating,
            rating_scale_max=body.behavioural_target.rating_scale_max,
        )
        if body.behavioural_target
        else None,
        capacity=domain.Capacity(
            hours_per_month=capacity.hours_per_month,
            budget=domain.Budget(capacity.budget.amount, capacity.budget.currency) if capacity.budget else None,
            mentor_id=capacity.mentor_id,
        )
        if capacity
        else None,
        status=domain.GoalStatus(body.status),
    )


def goals_router(application: GoalsApplication, default_tenant: str) -> APIRouter:
    """The goal routes, bound to one application."""
    router = APIRouter(prefix="/v1", tags=["goals"])

    @router.post("/goals", status_code=201, response_model=GoalResponse)
    def set_goal(
        body: SetGoalRequest,
        response: Response,
        tenant: TenantHeader = None,
        idempotency_key: IdempotencyHeader = None,
        correlation_id: CorrelationHeader = None,
        traceparent: TraceparentHeader = None,
    ) -> GoalResponse:
        """Set a goal. A retry with the same ``Idempotency-Key`` returns the goal it set, unchanged."""
        tenant_id = tenant or default_tenant
        goal_id = uuid5(_IDEMPOTENCY_NAMESPACE, f"{tenant_id}:{idempotency_key}") if idempotency_key else uuid4()
        command = _command(body, tenant_id, goal_id)
        context = CommandContext.issued_by(
            command.set_by, correlation_id, idempotency_key, traceparent, request_digest(body) if idempotency_key else None
        )
        try:
            outcome = application.set_goal(command, context)
        except domain.GoalRuleBroken as broken:
            raise RequestRefused(422, broken.message, field=broken.field or None, rule=broken.rule or None) from None
        except IdempotencyKeyReused as reused:
            raise RequestRefused(422, str(reused), field="Idempotency-Key", rule="same_request_on_retry") from None
        if outcome.replayed:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        response.headers["Location"] = f"/v1/goals/{outcome.goal.id}"
        response.headers["ETag"] = f'"{outcome.goal.version}"'
        return _goal_response(outcome.goal)

    @router.get("/goals/{goal_id}", response_model=GoalResponse)
    def get_goal(goal_id: str, response: Response, tenant: TenantHeader = None) -> GoalResponse:
        """A goal as it stands now; ``ETag`` is its version, for ``If-Match`` on later commands."""
        try:
            goal = application.get_goal(tenant or default_tenant, UUID(goal_id))
        except (GoalNotFound, ValueError):
            raise RequestRefused(404, f"goal {goal_id} not found") from None
        response.headers["ETag"] = f'"{goal.version}"'
        return _goal_response(goal)

    return router
