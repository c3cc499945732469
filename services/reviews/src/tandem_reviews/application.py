"""The reviews application: starts reviews, records their steps against the replicas, completes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from tandem_contracts.goals import attainment_percent
from tandem_reviews.checkins_feed import KpiValues
from tandem_reviews.domain import (
    VALUE_TYPES,
    CapabilityGapFound,
    DevelopmentPayoff,
    DevelopmentResult,
    GoalNotReviewable,
    GoalRef,
    PerformanceResult,
    PlannedDevelopmentGoal,
    Review,
    ReviewRegister,
    ReviewRuleBroken,
)
from tandem_runtime.clock import Clock
from tandem_runtime.database import DatabaseURL
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext, Executed, TandemApplication
from tandem_runtime.goals_replica import GoalFacts, GoalsReplica
from tandem_runtime.idempotency import RequestKey
from tandem_runtime.ids import random_uuid


class ReviewNotFound(LookupError):
    """No review with that id in that tenant."""


class StaleReview(RuntimeError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the review is at version {actual}, not {expected}: read it again and retry")


@dataclass(frozen=True)
class StartReview:
    tenant_id: str
    employee_id: str
    cycle: str
    next_cycle: str
    reviewer_id: str
    corrects_review_id: UUID | None = None
    review_id: UUID = field(default_factory=random_uuid)


@dataclass(frozen=True)
class GoalAssessment:
    """Step 1 input for one performance goal; ``actual`` defaults to the last KPI value checked in."""

    goal_id: UUID
    rating: Decimal
    factors: str
    how: str
    actual: Decimal | None = None


def _ref(facts: GoalFacts) -> GoalRef:
    return GoalRef(facts.goal_id, facts.owner_id, facts.kind, facts.cycle, facts.title, facts.is_open, facts.level)


class ReviewsApplication(TandemApplication):
    """Reviews, event-sourced; the outbox relay publishes completed reviews."""

    name = "Reviews"
    value_types = VALUE_TYPES

    def __init__(
        self,
        database_url: str | DatabaseURL,
        goals: GoalsReplica,
        kpi_values: KpiValues,
        directory: Directory,
        clock: Clock | None = None,
        rating_scale_max: Decimal = Decimal(5),
    ) -> None:
        super().__init__(database_url)
        self.goals = goals
        self.kpi_values = kpi_values
        self.directory = directory
        self.clock = clock or Clock()
        self.rating_scale_max = rating_scale_max

    def start_review(self, command: StartReview, context: CommandContext, key: RequestKey | None = None) -> Executed:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            employee = self.directory.employee(command.tenant_id, command.employee_id)
            if employee is None or employee.departed:
                state = "no longer with the organisation" if employee else "not in the directory"
                raise ReviewRuleBroken(f"{command.employee_id} is {state}", "employee_id", "employee_in_directory")
            corrects = None
            if command.corrects_review_id is not None:
                try:
                    corrects = self.get_review(command.tenant_id, command.corrects_review_id)
                except ReviewNotFound:
                    raise ReviewRuleBroken(
                        f"review {command.corrects_review_id} does not exist", "corrects_review_id", "corrects_a_completed_review"
                    ) from None
            review = Review.start(
                review_id=command.review_id, tenant_id=command.tenant_id, employee_id=command.employee_id,
                cycle=command.cycle, next_cycle=command.next_cycle, reviewer_id=command.reviewer_id,
                rating_scale_max=self.rating_scale_max, corrects=corrects, occurred_at=self.clock.now(),
            )
            register = self._register(command.tenant_id, command.employee_id, command.cycle)
            register.admit(review.id, command.corrects_review_id)
            return [review, register], {"review_id": str(review.id), "version": review.version}

        return self.execute(decide, context=context, request_key=key)

    def record_performance(
        self, tenant_id: str, review_id: UUID, assessments: Sequence[GoalAssessment], expected_version: int | None,
        context: CommandContext, key: RequestKey | None = None,
    ) -> Executed:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            review = self._review_at(tenant_id, review_id, expected_version)
            goals = self.goals.goals_of(tenant_id, review.employee_id)
            facts = {g.goal_id: g for g in goals}
            results = [self._result(tenant_id, index, a, facts.get(a.goal_id)) for index, a in enumerate(assessments)]
            review.record_performance(results, [_ref(g) for g in goals], self.clock.now())
            return [review], {"review_id": str(review.id), "version": review.version}

        return self.execute(decide, context=context, request_key=key)

    def record_connections(
        self, tenant_id: str, review_id: UUID, gaps: Sequence[CapabilityGapFound], payoffs: Sequence[DevelopmentPayoff],
        expected_version: int | None, context: CommandContext, key: RequestKey | None = None,
    ) -> Executed:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            review = self._review_at(tenant_id, review_id, expected_version)
            review.record_connections(gaps, payoffs, self._refs(tenant_id, review.employee_id), self.clock.now())
            return [review], {"review_id": str(review.id), "version": review.version}

        return self.execute(decide, context=context, request_key=key)

    def record_development(
        self, tenant_id: str, review_id: UUID, results: Sequence[tuple[UUID, bool, tuple[str, ...], str]],
        plan: Sequence[PlannedDevelopmentGoal], expected_version: int | None, context: CommandContext,
        key: RequestKey | None = None,
    ) -> Executed:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            review = self._review_at(tenant_id, review_id, expected_version)
            refs = self._refs(tenant_id, review.employee_id)
            # A plan may serve another employee's (team or organisation) performance goal.
            others = self.goals.goals(tenant_id, [p.performance_goal_id for p in plan if p.performance_goal_id not in refs])
            refs.update({goal_id: _ref(facts) for goal_id, facts in others.items()})
            reviewed = [
                DevelopmentResult(goal_id, refs[goal_id].title if goal_id in refs else "", applied, evidence, aspirations)
                for goal_id, applied, evidence, aspirations in results
            ]
            review.record_development(reviewed, plan, refs, self.clock.now())
            return [review], {"review_id": str(review.id), "version": review.version}

        return self.execute(decide, context=context, request_key=key)

    def complete_review(
        self, tenant_id: str, review_id: UUID, expected_version: int | None, context: CommandContext,
        key: RequestKey | None = None,
    ) -> Executed:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            review = self._review_at(tenant_id, review_id, expected_version)
            review.complete(context.actor, self.clock.now())
            return [review], {"review_id": str(review.id), "version": review.version}

        return self.execute(decide, context=context, request_key=key)

    def get_review(self, tenant_id: str, review_id: UUID, version: int | None = None) -> Review:
        """The review (as it stood at ``version``, if given), or ``ReviewNotFound`` in this tenant."""
        try:
            review: object = self.repository.get(review_id, version=version)
        except AggregateNotFoundError:
            raise ReviewNotFound(str(review_id)) from None
        if not isinstance(review, Review) or review.tenant_id != tenant_id:
            raise ReviewNotFound(str(review_id))
        return review

    def _register(self, tenant_id: str, employee_id: str, cycle: str) -> ReviewRegister:
        try:
            register: object = self.repository.get(ReviewRegister.id_for(tenant_id, employee_id, cycle))
        except AggregateNotFoundError:
            return ReviewRegister(tenant_id=tenant_id, employee_id=employee_id, cycle=cycle)
        assert isinstance(register, ReviewRegister)
        return register

    def _review_at(self, tenant_id: str, review_id: UUID, expected_version: int | None) -> Review:
        review = self.get_review(tenant_id, review_id)
        if expected_version is not None and review.version != expected_version:
            raise StaleReview(expected_version, review.version)
        return review

    def _refs(self, tenant_id: str, employee_id: str) -> dict[UUID, GoalRef]:
        return {g.goal_id: _ref(g) for g in self.goals.goals_of(tenant_id, employee_id)}

    def _result(self, tenant_id: str, index: int, assessment: GoalAssessment, facts: GoalFacts | None) -> PerformanceResult:
        if facts is None or facts.kind != "performance" or facts.kpi_target is None:
            raise GoalNotReviewable(f"goal {assessment.goal_id} is not a performance goal of this employee", f"goals.{index}.goal_id")
        actual = assessment.actual if assessment.actual is not None else self.kpi_values.latest(tenant_id, facts.goal_id)
        if actual is None:
            raise ReviewRuleBroken("no KPI value was ever checked in on this goal: give the actual", f"goals.{index}.actual", "actual_known")
        assert facts.kpi_baseline is not None and facts.kpi_direction is not None
        return PerformanceResult(
            goal_id=facts.goal_id, title=facts.title, kpi_name=facts.kpi_name or facts.title, unit=facts.kpi_unit or "",
            direction=facts.kpi_direction, baseline=facts.kpi_baseline, target=facts.kpi_target, actual=actual,
            attainment_percent=attainment_percent(facts.kpi_baseline, facts.kpi_target, actual, facts.kpi_direction),
            rating=assessment.rating, factors=assessment.factors, how=assessment.how,
        )
