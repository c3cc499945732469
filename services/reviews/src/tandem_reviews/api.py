"""HTTP entry points: parse, call the application, map the result. No rules live here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts import goals as goal_contract
from tandem_contracts import reviews as contract
from tandem_contracts.bounds import (
    Amount,
    Day,
    Hours,
    Label,
    Note,
    PersonId,
    Rating,
    Title,
    text,
)
from tandem_reviews import domain
from tandem_reviews.application import (
    GoalAssessment,
    ReviewNotFound,
    ReviewsApplication,
    StaleReview,
    StartReview,
)
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

IfMatchHeader = Annotated[str | None, Header(alias="If-Match", max_length=40, description='The version you read, e.g. "3".')]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartReviewRequest(_Body):
    employee_id: PersonId
    cycle: Label = Field(examples=["2026"])
    next_cycle: Label = Field(examples=["2027"])
    reviewer_id: PersonId | None = Field(default=None, description="Defaults to X-Actor-ID.")
    corrects_review_id: UUID | None = Field(default=None, description="A completed review this one corrects.")


class GoalAssessmentIn(_Body):
    goal_id: UUID
    actual: Amount | None = Field(default=None, description="Defaults to the last KPI value checked in.")
    rating: Rating = Field(description="On the tenant's rating scale (1 to 5 by default).")
    factors: Annotated[str, text(4000, min_length=1)] = Field(description="The why: what influenced the result.")
    how: Annotated[str, text(4000, min_length=1)] = Field(description="The how: values and competencies shown.")


class PerformanceStep(_Body):
    """Step 1: every performance goal of the cycle against its target."""

    goals: list[GoalAssessmentIn] = Field(max_length=100)


class ConnectionsStep(_Body):
    """Step 2: capability gaps that appeared, development that paid off."""

    capability_gaps: list[contract.CapabilityGapFound] = Field(default_factory=list, max_length=50)
    payoffs: list[contract.DevelopmentPayoff] = Field(default_factory=list, max_length=50)


class DevelopmentAssessmentIn(_Body):
    goal_id: UUID
    applied: bool = Field(description="Was the skill applied, not just the course finished?")
    evidence: list[Note] = Field(default_factory=list, max_length=20, description="Situations where the skill was used.")
    aspirations: Note = ""


class PlannedGoalIn(_Body):
    title: Title
    skill: Title
    rationale: goal_contract.LinkRationale
    performance_goal_id: UUID = Field(description="The performance goal it will serve.")
    evidence: Annotated[str, text(2000)] | None = None
    future_role: Title | None = None
    start_date: Day
    due_date: Day
    activity_targets: goal_contract.ActivityTargets | None = None
    behavioural_target: goal_contract.BehaviouralTarget | None = None
    hours_per_month: Hours
    budget: goal_contract.Budget | None = None
    mentor_id: PersonId | None = None


class DevelopmentStep(_Body):
    """Step 3: the development goals reviewed, and the plan for the next cycle."""

    goals: list[DevelopmentAssessmentIn] = Field(default_factory=list, max_length=100)
    plan: list[PlannedGoalIn] = Field(default_factory=list, max_length=20)


class ReviewView(BaseModel):
    review_id: UUID
    version: int
    tenant_id: str
    employee_id: str
    cycle: str
    next_cycle: str
    reviewer_id: str
    rating_scale_max: Decimal
    corrects_review_id: UUID | None
    steps_filled: list[str]
    performance: list[contract.PerformanceResult]
    capability_gaps: list[contract.CapabilityGapFound]
    payoffs: list[contract.DevelopmentPayoff]
    development: list[contract.DevelopmentResult]
    plan: list[contract.PlannedDevelopmentGoal]
    completed: bool
    completed_at: datetime | None


def review_view(review: domain.Review) -> ReviewView:
    def items(step: str, part: str) -> list[dict[str, Any]]:
        return [asdict(item) for item in review.steps.get(step, {}).get(part, ())]

    return ReviewView(
        review_id=review.id, version=review.version, tenant_id=review.tenant_id, employee_id=review.employee_id,
        cycle=review.cycle, next_cycle=review.next_cycle, reviewer_id=review.reviewer_id,
        rating_scale_max=review.rating_scale_max, corrects_review_id=review.corrects_review_id,
        steps_filled=[step for step in domain.STEPS if step in review.steps],
        performance=items("performance", "results"), capability_gaps=items("connections", "gaps"),
        payoffs=items("connections", "payoffs"), development=items("development", "results"),
        plan=items("development", "plan"), completed=review.completed, completed_at=review.completed_at,
    )


def _planned(goal: PlannedGoalIn) -> domain.PlannedDevelopmentGoal:
    targets, behaviour, budget = goal.activity_targets, goal.behavioural_target, goal.budget
    return domain.PlannedDevelopmentGoal(
        title=goal.title, skill=goal.skill, rationale=goal.rationale.value, performance_goal_id=goal.performance_goal_id,
        start_date=goal.start_date, due_date=goal.due_date, hours_per_month=goal.hours_per_month,
        evidence=goal.evidence, future_role=goal.future_role,
        activity_targets=domain.ActivityTargets(targets.training_hours, targets.certifications, targets.mentorship_sessions)
        if targets else None,
        behavioural_target=domain.BehaviouralTarget(behaviour.competency, behaviour.target_rating, behaviour.rating_scale_max)
        if behaviour else None,
        budget=domain.Budget(budget.amount, budget.currency) if budget else None,
        mentor_id=goal.mentor_id,
    )




def reviews_router(application: ReviewsApplication, default_tenant: str) -> APIRouter:
    """The review routes, bound to one application."""
    router = APIRouter(prefix="/v1", tags=["reviews"], responses=PROBLEM_RESPONSES)
    # Dependencies as defaults: these annotations are strings, and closure names do not resolve from them.
    headers = Depends(command_headers(default_tenant))
    tenant = Depends(tenant_header(default_tenant))

    def load(tenant_id: str, review_id: str, version: int | None = None) -> domain.Review:
        try:
            return application.get_review(tenant_id, UUID(review_id), version)
        except (ReviewNotFound, ValueError):
            raise RequestRefused(404, f"review {review_id} not found") from None

    def run(status: int, tenant_id: str, command: Callable[[], Executed]) -> Response:
        try:
            executed = command()
        except domain.ReviewRuleBroken as broken:
            raise RequestRefused(422, broken.message, field=broken.field, rule=broken.rule or None) from None
        except ReviewNotFound as missing:
            raise RequestRefused(404, f"review {missing} not found") from None
        except StaleReview as clash:
            raise RequestRefused(409, str(clash), field="If-Match", rule="current_version") from None
        # A replay answers as the first time: the review as that command left it.
        review = load(tenant_id, executed.outcome["review_id"], executed.outcome.get("version") if executed.replayed else None)
        headers = {"Location": f"/v1/reviews/{review.id}", "ETag": f'"{review.version}"'}
        return command_answer(review_view(review), replayed=executed.replayed, status=status, headers=headers)

    @router.post("/reviews", status_code=201, response_model=ReviewView, summary="Start a review")
    def start(body: StartReviewRequest, request: CommandRequest = headers) -> Response:
        """Start the review of one employee's cycle. To correct a completed review, start a new one naming it."""
        reviewer = body.reviewer_id or request.actor or "unknown"
        command = StartReview(request.tenant_id, body.employee_id, body.cycle, body.next_cycle, reviewer, body.corrects_review_id)
        key = request.request_key("start", body)
        return run(201, request.tenant_id, lambda: application.start_review(command, request.context(reviewer), key))

    @router.put("/reviews/{review_id}/steps/performance", status_code=200, response_model=ReviewView, summary="Step 1: performance")
    def performance(
        review_id: Annotated[str, Path()], body: PerformanceStep,
        request: CommandRequest = headers, if_match: IfMatchHeader = None,
    ) -> Response:
        """Every performance goal of the cycle: target, actual (default: the last KPI check-in), attainment, rating,
        the why and the how. Replaces what the step held."""
        review = load(request.tenant_id, review_id)
        assessments = [GoalAssessment(g.goal_id, g.rating, g.factors, g.how, g.actual) for g in body.goals]
        key = request.request_key(f"performance:{review.id}", body)
        context = request.context(review.reviewer_id)
        return run(200, request.tenant_id, lambda: application.record_performance(
            request.tenant_id, review.id, assessments, expected_version(if_match), context, key))

    @router.put("/reviews/{review_id}/steps/connections", status_code=200, response_model=ReviewView, summary="Step 2: connections")
    def connections(
        review_id: Annotated[str, Path()], body: ConnectionsStep,
        request: CommandRequest = headers, if_match: IfMatchHeader = None,
    ) -> Response:
        """The capability gaps that appeared, and the development that paid off."""
        review = load(request.tenant_id, review_id)
        gaps = [domain.CapabilityGapFound(g.skill, g.performance_goal_id, g.note) for g in body.capability_gaps]
        payoffs = [domain.DevelopmentPayoff(p.development_goal_id, p.performance_goal_id, p.note) for p in body.payoffs]
        key = request.request_key(f"connections:{review.id}", body)
        context = request.context(review.reviewer_id)
        return run(200, request.tenant_id, lambda: application.record_connections(
            request.tenant_id, review.id, gaps, payoffs, expected_version(if_match), context, key))

    @router.put("/reviews/{review_id}/steps/development", status_code=200, response_model=ReviewView, summary="Step 3: development")
    def development(
        review_id: Annotated[str, Path()], body: DevelopmentStep,
        request: CommandRequest = headers, if_match: IfMatchHeader = None,
    ) -> Response:
        """Was each skill applied (with evidence), and the plan: next cycle's development goals, each serving a
        performance goal, with hours per month, budget and mentor. On completion they become draft goals."""
        review = load(request.tenant_id, review_id)
        results = [(g.goal_id, g.applied, tuple(g.evidence), g.aspirations) for g in body.goals]
        plan = [_planned(goal) for goal in body.plan]
        key = request.request_key(f"development:{review.id}", body)
        context = request.context(review.reviewer_id)
        return run(200, request.tenant_id, lambda: application.record_development(
            request.tenant_id, review.id, results, plan, expected_version(if_match), context, key))

    @router.post("/reviews/{review_id}/complete", status_code=201, response_model=ReviewView, summary="Complete a review")
    def complete(
        review_id: Annotated[str, Path()], request: CommandRequest = headers,
        if_match: IfMatchHeader = None,
    ) -> Response:
        """Complete the review: all three steps must be filled. Publishes ReviewCompleted; never changes again."""
        review = load(request.tenant_id, review_id)
        key = request.request_key(f"complete:{review.id}")
        context = request.context(review.reviewer_id)
        return run(201, request.tenant_id, lambda: application.complete_review(
            request.tenant_id, review.id, expected_version(if_match), context, key))

    @router.get("/reviews/{review_id}", response_model=ReviewView, summary="Read a review")
    def get(review_id: Annotated[str, Path()], response: Response, tenant_id: str = tenant) -> ReviewView:
        review = load(tenant_id, review_id)
        response.headers["ETag"] = f'"{review.version}"'
        return review_view(review)

    return router
