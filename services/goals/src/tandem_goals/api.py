"""HTTP entry points: parse, call the application, map the result. No rules live here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from tandem_contracts import goals as contract
from tandem_contracts.bounds import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    Amount,
    Day,
    Label,
    Note,
    Percent,
    PersonId,
    Title,
    text,
)
from tandem_goals import domain
from tandem_goals.application import (
    MAX_CASCADE,
    CascadeGoal,
    CloseGoal,
    GoalNotFound,
    GoalsApplication,
    GoalTemplate,
    LinkGoals,
    ReviseGoal,
    SetGoal,
    StaleVersion,
    UnlinkGoals,
)
from tandem_runtime.blocking import CommandEndpoint
from tandem_runtime.eventstore import Executed
from tandem_runtime.http import (
    PROBLEM_RESPONSES,
    CommandRequest,
    RequestRefused,
    command_answer,
    command_headers,
    expected_version,
    tenant_header,
)

IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", max_length=40, description='The version you read (the ETag, e.g. "3"); 409 if the goal moved on.'),
]
GoalIdPath = Annotated[str, Path(description="The goal's id.")]
EmployeeIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The employee's id.")]


# --- request bodies -------------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoalFields(_Body):
    """What a goal aims at. Performance goals carry a ``kpi``; development goals a ``skill`` and targets."""

    kind: contract.GoalKind
    cycle: Label = Field(examples=["2026"])
    title: Title = Field(examples=["Increase new client conversions by 15%"])
    description: Note = Field(default="", description="The Specific: what exactly is to be achieved.")
    start_date: Day
    due_date: Day = Field(description="The Time-bound.")
    cadence: contract.Cadence | None = Field(
        default=None,
        description="Check-in rhythm: weekly (default) or biweekly for performance goals; monthly (default) or"
        " quarterly for development goals.",
    )
    level: contract.GoalLevel = Field(default=contract.GoalLevel.INDIVIDUAL, description="Place in the cascade.")
    kpi: contract.Kpi | None = Field(default=None, description="Performance goals: the Measurable.")
    skill: Title | None = Field(default=None, description="Development goals: the skill it builds.")
    activity_targets: contract.ActivityTargets | None = None
    behavioural_target: contract.BehaviouralTarget | None = None
    capacity: contract.Capacity | None = Field(
        default=None, description="Development goals: hours per month set aside (counted against the owner's limit), budget, mentor."
    )
    status: Literal["draft", "active"] = "active"


class SetGoalRequest(GoalFields):
    """A goal to set for one employee."""

    employee_id: PersonId = Field(description="The goal's owner; must be in the directory.")
    parent_goal_id: UUID | None = Field(default=None, description="The goal this one cascades from (the Relevant).")
    set_by: PersonId | None = Field(default=None, description="Defaults to X-Actor-ID, then the owner.")


def _present(value: Any) -> Any:
    """A revised field that every goal (or KPI) has: null would clear what cannot be missing."""
    if value is None:
        raise PydanticCustomError("not_clearable", "every goal has this field: send a new value, not null")
    return value


class KpiChange(_Body):
    """The parts of the KPI to change; the rest stays. A new target is kept in the goal's target history."""

    name: Title | None = None
    unit: Annotated[str, text(40, min_length=1)] | None = None
    baseline: Amount | None = None
    target: Amount | None = None
    direction: contract.KpiDirection | None = None
    weight: Percent | None = None

    @field_validator("name", "unit", "baseline", "target", "direction", mode="before")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        return _present(value)


class ReviseGoalRequest(_Body):
    """The fields to change, and why. Fields left out stay as they are; send null to clear an optional one."""

    reason: Annotated[str, text(2000, min_length=1)] = Field(examples=["Market shrank; target reset with the sales director"])
    title: Title | None = None
    description: Note | None = None
    start_date: Day | None = None
    due_date: Day | None = None
    cadence: contract.Cadence | None = None
    parent_goal_id: UUID | None = None
    level: contract.GoalLevel | None = None
    status: Literal["active"] | None = Field(default=None, description="Activate a draft goal.")
    kpi: KpiChange | None = None
    skill: Title | None = None
    activity_targets: contract.ActivityTargets | None = None
    behavioural_target: contract.BehaviouralTarget | None = None
    capacity: contract.Capacity | None = None

    @field_validator("title", "description", "start_date", "due_date", "cadence", "level", "status", mode="before")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        return _present(value)


class LinkRequest(_Body):
    """Align this development goal to the performance goal it serves, with the reason."""

    performance_goal_id: UUID
    rationale: contract.LinkRationale
    skill: Title | None = Field(default=None, description="capability_gap: the missing skill (defaults to the goal's skill).")
    evidence: Annotated[str, text(2000)] | None = Field(default=None, description="capability_gap: the evidence of the shortfall.")
    future_role: Title | None = Field(default=None, description="future_role: the role or strategic need.")


class CloseRequest(_Body):
    outcome: contract.GoalOutcome
    final_value: Amount | None = Field(default=None, description="Performance goals: the KPI's final value (not needed when abandoned).")
    note: Annotated[str, text(2000)] = ""


class CascadeRequest(_Body):
    """One goal for many employees, each a child of ``parent_goal_id``: name them, or a manager whose team gets it."""

    parent_goal_id: UUID
    goal: GoalFields
    employee_ids: list[PersonId] = Field(default_factory=list, max_length=MAX_CASCADE)
    manager_id: PersonId | None = None
    include_indirect_reports: bool = Field(default=False, description="With manager_id: the whole team below, not only direct reports.")
    set_by: PersonId | None = Field(default=None, description="Defaults to X-Actor-ID, then the parent goal's owner.")


# --- responses ------------------------------------------------------------------------------------------

class LinkView(BaseModel):
    link_id: UUID
    performance_goal_id: UUID
    performance_goal_owner_id: str
    rationale: str
    skill: str | None
    evidence: str | None
    future_role: str | None


class TargetChangeView(BaseModel):
    at: datetime
    previous_target: Decimal
    target: Decimal
    reason: str


class GoalView(BaseModel):
    goal_id: UUID
    version: int
    tenant_id: str
    employee_id: str
    set_by: str
    kind: str
    status: str
    level: str
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
    links: list[LinkView]
    target_history: list[TargetChangeView]
    revisions: int
    outcome: str | None
    final_value: Decimal | None
    set_at: datetime
    closed_at: datetime | None


class CascadedGoal(BaseModel):
    goal_id: UUID
    employee_id: str


class CascadeView(BaseModel):
    parent_goal_id: UUID
    count: int
    goals: list[CascadedGoal]


class WorkPlanView(BaseModel):
    employee_id: str
    committed_hours_per_month: Decimal
    limit_hours_per_month: Decimal
    available_hours_per_month: Decimal
    goals: dict[str, Decimal]


def _plain(value: object) -> Any:
    return None if value is None else asdict(value)  # type: ignore[call-overload]


def goal_view(goal: domain.Goal) -> GoalView:
    return GoalView(
        goal_id=goal.id,
        version=goal.version,
        tenant_id=goal.tenant_id,
        employee_id=goal.owner_id,
        set_by=goal.set_by,
        kind=goal.kind.value,
        status=goal.status.value,
        level=goal.level.value,
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
        links=[LinkView(**asdict(link)) for link in goal.links.values()],
        target_history=[TargetChangeView(**asdict(change)) for change in goal.target_history],
        revisions=goal.revisions,
        outcome=goal.outcome.value if goal.outcome else None,
        final_value=goal.final_value,
        set_at=goal.set_at,
        closed_at=goal.closed_at,
    )


# --- translation to commands ------------------------------------------------------------------------------

def _kpi(kpi: contract.Kpi) -> domain.Kpi:
    return domain.Kpi(kpi.name, kpi.unit, kpi.baseline, kpi.target, domain.KpiDirection(kpi.direction), kpi.weight)


def _activity_targets(targets: contract.ActivityTargets) -> domain.ActivityTargets:
    return domain.ActivityTargets(targets.training_hours, targets.certifications, targets.mentorship_sessions)


def _behavioural_target(target: contract.BehaviouralTarget) -> domain.BehaviouralTarget:
    return domain.BehaviouralTarget(target.competency, target.target_rating, target.rating_scale_max)


def _capacity(capacity: contract.Capacity) -> domain.Capacity:
    budget = domain.Budget(capacity.budget.amount, capacity.budget.currency) if capacity.budget else None
    return domain.Capacity(capacity.hours_per_month, budget, capacity.mentor_id)


_PARTS: dict[str, Callable[[Any], Any]] = {
    "kpi": _kpi,
    "activity_targets": _activity_targets,
    "behavioural_target": _behavioural_target,
    "capacity": _capacity,
    "cadence": lambda value: domain.Cadence(value),
    "level": lambda value: domain.GoalLevel(value),
    "status": lambda value: domain.GoalStatus(value),
}


def _domain_value(name: str, value: Any) -> Any:
    return None if value is None else _PARTS.get(name, lambda v: v)(value)


def _template(fields: GoalFields) -> GoalTemplate:
    return GoalTemplate(
        kind=domain.GoalKind(fields.kind),
        cycle=fields.cycle,
        title=fields.title,
        description=fields.description,
        start_date=fields.start_date,
        due_date=fields.due_date,
        cadence=_domain_value("cadence", fields.cadence),
        level=domain.GoalLevel(fields.level),
        kpi=_domain_value("kpi", fields.kpi),
        skill=fields.skill,
        activity_targets=_domain_value("activity_targets", fields.activity_targets),
        behavioural_target=_domain_value("behavioural_target", fields.behavioural_target),
        capacity=_domain_value("capacity", fields.capacity),
        status=domain.GoalStatus(fields.status),
    )


def _revision_changes(body: ReviseGoalRequest, current: domain.Goal) -> dict[str, Any]:
    changes = {name: _domain_value(name, getattr(body, name)) for name in body.model_fields_set if name not in ("reason", "kpi")}
    if "kpi" in body.model_fields_set and body.kpi is not None:
        patch = body.kpi.model_dump(exclude_unset=True)
        if current.kpi is None:
            raise RequestRefused(422, "a development goal has no KPI to change", field="kpi", rule="measure_fits_kind")
        merged = {**asdict(current.kpi), **patch}
        changes["kpi"] = domain.Kpi(**{**merged, "direction": domain.KpiDirection(merged["direction"])})
    return changes




# --- routes ---------------------------------------------------------------------------------------------

def goals_router(
    application: GoalsApplication, default_tenant: str, command_endpoint: CommandEndpoint
) -> APIRouter:
    """The goal routes, bound to one application; ``command_endpoint`` says where a command runs
    (``tandem_runtime.blocking.command_endpoint_for``)."""
    router = APIRouter(prefix="/v1", tags=["goals"], responses=PROBLEM_RESPONSES)
    # Dependencies as defaults: these annotations are strings, and closure names do not resolve from them.
    headers = Depends(command_headers(default_tenant))
    tenant = Depends(tenant_header(default_tenant))

    def run(command: Callable[[], Executed]) -> Executed:
        try:
            return command()
        except domain.GoalRuleBroken as broken:
            raise RequestRefused(422, broken.message, field=broken.field or None, rule=broken.rule or None) from None
        except GoalNotFound as missing:
            raise RequestRefused(404, f"goal {missing} not found") from None
        except StaleVersion as stale:
            raise RequestRefused(409, str(stale), field="If-Match", rule="current_version") from None

    def load(tenant_id: str, goal_id: str, version: int | None = None) -> domain.Goal:
        try:
            return application.get_goal(tenant_id, UUID(goal_id), version)
        except (GoalNotFound, ValueError):
            raise RequestRefused(404, f"goal {goal_id} not found") from None

    def _owner_of(tenant_id: str, goal_id: UUID) -> str:
        try:
            return application.get_goal(tenant_id, goal_id).owner_id
        except GoalNotFound:
            return "unknown"  # the command refuses the missing parent, naming the field

    def answer(response: Response, executed: Executed, tenant_id: str, status: int = 201) -> Response:
        goal_id = executed.outcome["goal_id"]
        # A replay answers as the first time: the goal as that command left it, not as it stands now.
        goal = executed.saved_as(UUID(goal_id), domain.Goal) or load(tenant_id, goal_id, executed.outcome.get("version"))
        headers = {**response.headers, "Location": f"/v1/goals/{goal.id}", "ETag": f'"{goal.version}"'}  # and e.g. Link-ID
        return command_answer(goal_view(goal), replayed=executed.replayed, status=status, headers=headers)

    def on_goal(
        goal_id: str,
        request: CommandRequest,
        response: Response,
        act: Callable[[domain.Goal, str], Callable[[], Executed]],
        status: int = 201,
    ) -> Response:
        """Run a command on an existing goal; the actor defaults to the goal's owner."""
        current = load(request.tenant_id, goal_id)
        executed = run(act(current, request.actor or current.owner_id))
        return answer(response, executed, request.tenant_id, status)

    @router.post("/goals", status_code=201, response_model=GoalView, summary="Set a goal")
    @command_endpoint
    def set_goal(
        body: SetGoalRequest,
        response: Response,
        request: CommandRequest = headers,
    ) -> Response:
        """Set a SMART goal for an employee in the directory. A development goal's ``capacity.hours_per_month``
        counts against the owner's monthly development-hours limit."""
        set_by = body.set_by or request.actor or body.employee_id
        command = SetGoal(request.tenant_id, body.employee_id, set_by, _template(body), body.parent_goal_id)
        executed = run(lambda: application.set_goal(command, request.context(set_by), request.request_key("set", body)))
        return answer(response, executed, request.tenant_id)

    @router.get("/goals/{goal_id}", response_model=GoalView, summary="Read a goal")
    def get_goal(goal_id: GoalIdPath, response: Response, tenant_id: str = tenant) -> GoalView:
        """A goal as it stands now, with its links and target history. ``ETag`` is its version, for ``If-Match``."""
        goal = load(tenant_id, goal_id)
        response.headers["ETag"] = f'"{goal.version}"'
        return goal_view(goal)

    @router.post("/goals/{goal_id}/revisions", status_code=201, response_model=GoalView, summary="Revise a goal")
    @command_endpoint
    def revise_goal(
        goal_id: GoalIdPath,
        body: ReviseGoalRequest,
        response: Response,
        request: CommandRequest = headers,
        if_match: IfMatchHeader = None,
    ) -> Response:
        """Change what an open goal aims at, with a reason. KPI target changes stay in ``target_history``."""

        def act(current: domain.Goal, who: str) -> Callable[[], Executed]:
            changes = _revision_changes(body, current)
            command = ReviseGoal(request.tenant_id, current.id, changes, body.reason, who, expected_version(if_match))
            key = request.request_key(f"revise:{current.id}", body)
            return lambda: application.revise_goal(command, request.context(who), key)

        return on_goal(goal_id, request, response, act)

    @router.post("/goals/{goal_id}/close", status_code=201, response_model=GoalView, summary="Close a goal")
    @command_endpoint
    def close_goal(
        goal_id: GoalIdPath,
        body: CloseRequest,
        response: Response,
        request: CommandRequest = headers,
        if_match: IfMatchHeader = None,
    ) -> Response:
        """Close a goal: achieved, partially achieved, missed or abandoned. A closed goal never changes again."""

        def act(current: domain.Goal, who: str) -> Callable[[], Executed]:
            command = CloseGoal(
                request.tenant_id, current.id, domain.GoalOutcome(body.outcome), who, body.final_value, body.note,
                expected_version(if_match),
            )
            key = request.request_key(f"close:{current.id}", body)
            return lambda: application.close_goal(command, request.context(who), key)

        return on_goal(goal_id, request, response, act)

    @router.post("/goals/{goal_id}/links", status_code=201, response_model=GoalView, summary="Link a development goal to a performance goal")
    @command_endpoint
    def link_goals(
        goal_id: GoalIdPath,
        body: LinkRequest,
        response: Response,
        request: CommandRequest = headers,
        if_match: IfMatchHeader = None,
    ) -> Response:
        """Align the development goal ``goal_id`` to the performance goal it serves: a ``capability_gap`` (the
        missing skill and the evidence) or a ``future_role``. Another employee's performance goal can be served
        only if it is an organisation or team goal. The new link is in ``links``; its id in ``Link-ID``."""

        def act(current: domain.Goal, who: str) -> Callable[[], Executed]:
            command = LinkGoals(
                request.tenant_id, current.id, body.performance_goal_id, domain.LinkRationale(body.rationale), who,
                body.skill, body.evidence, body.future_role, expected_version(if_match),
            )
            key = request.request_key(f"link:{current.id}", body)

            def link() -> Executed:
                executed = application.link_goals(command, request.context(who), key)
                response.headers["Link-ID"] = executed.outcome["link_id"]
                return executed

            return link

        return on_goal(goal_id, request, response, act)

    @router.delete("/goals/{goal_id}/links/{link_id}", response_model=GoalView, summary="Remove a link")
    @command_endpoint
    def unlink_goals(
        goal_id: GoalIdPath,
        link_id: Annotated[UUID, Path()],
        response: Response,
        request: CommandRequest = headers,
        reason: Annotated[str, Query(max_length=2000)] = "",
        if_match: IfMatchHeader = None,
    ) -> Response:
        """Remove a development goal's alignment to a performance goal."""

        def act(current: domain.Goal, who: str) -> Callable[[], Executed]:
            command = UnlinkGoals(request.tenant_id, current.id, link_id, who, reason, expected_version(if_match))
            key = request.request_key(f"unlink:{current.id}:{link_id}:{reason}")
            return lambda: application.unlink_goals(command, request.context(who), key)

        return on_goal(goal_id, request, response, act, status=200)

    @router.post("/goals:cascade", status_code=201, response_model=CascadeView, summary="Cascade one goal to many employees")
    def cascade_goal(
        body: CascadeRequest,
        request: CommandRequest = headers,
    ) -> Response:
        """Set the same goal for many employees in one request, each a child of ``parent_goal_id``: the listed
        ``employee_ids``, and/or the team of ``manager_id``. All or nothing: one refusal refuses the whole cascade."""
        set_by = body.set_by or request.actor or _owner_of(request.tenant_id, body.parent_goal_id)
        command = CascadeGoal(
            request.tenant_id, body.parent_goal_id, set_by, _template(body.goal), tuple(body.employee_ids),
            body.manager_id, body.include_indirect_reports,
        )
        executed = run(lambda: application.cascade_goal(command, request.context(set_by), request.request_key("cascade", body)))
        goals = executed.outcome["goals"]
        # Written straight from the outcome, whose ids are strings already: returned as a ``CascadeView``, each
        # of up to ten thousand entries would be built and validated as a model once more.
        view = {"parent_goal_id": executed.outcome["parent_goal_id"], "count": len(goals), "goals": goals}
        return command_answer(orjson.dumps(view), replayed=executed.replayed)

    @router.get("/employees/{employee_id}/work-plan", response_model=WorkPlanView, summary="Development hours of an employee")
    def work_plan(employee_id: EmployeeIdPath, tenant_id: str = tenant) -> WorkPlanView:
        """The development hours per month an employee's open development goals set aside, against the limit."""
        plan = application.work_plan(tenant_id, employee_id)
        if plan is None:
            raise RequestRefused(404, f"employee {employee_id} is unknown", field="employee_id", rule="employee_known")
        committed, limit, per_goal = plan
        return WorkPlanView(
            employee_id=employee_id,
            committed_hours_per_month=committed,
            limit_hours_per_month=limit,
            available_hours_per_month=max(Decimal(0), limit - committed),
            goals={str(goal_id): hours for goal_id, hours in per_goal.items()},
        )

    return router
