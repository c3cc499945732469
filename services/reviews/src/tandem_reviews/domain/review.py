"""The review aggregate: one employee, one cycle, three steps, then completed and never changed.

1. performance: each performance goal of the cycle against its target, the why and the how;
2. connections: capability gaps that appeared, and development that paid off;
3. development: was the skill applied, and the plan for the next cycle, aligned to performance goals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from tandem_reviews.domain.errors import (
    GoalNotReviewable,
    PlanIncomplete,
    ReviewAlreadyCompleted,
    ReviewRuleBroken,
    StepMissing,
)
from tandem_reviews.domain.values import (
    CapabilityGapFound,
    DevelopmentPayoff,
    DevelopmentResult,
    GoalRef,
    PerformanceResult,
    PlannedDevelopmentGoal,
    StepItem,
)

STEPS = ("performance", "connections", "development")


class Review(Aggregate):
    """A review of one employee's cycle by a reviewer (normally the manager)."""

    if TYPE_CHECKING:  # the @event decorators below make these classes at run time; declared for the type checker
        Started: ClassVar[type[Aggregate.Created]]
        Completed: ClassVar[type[Aggregate.Event]]

    @staticmethod
    def create_id(review_id: UUID) -> UUID:
        return review_id

    @classmethod
    def start(
        cls,
        *,
        review_id: UUID,
        tenant_id: str,
        employee_id: str,
        cycle: str,
        next_cycle: str,
        reviewer_id: str,
        rating_scale_max: Decimal,
        corrects: Review | None,
        occurred_at: datetime,
    ) -> Review:
        """Start a review; a correction names a completed review of the same employee and cycle."""
        if corrects is not None:
            if not corrects.completed or (corrects.employee_id, corrects.cycle) != (employee_id, cycle):
                raise ReviewRuleBroken(
                    "a correction names a completed review of the same employee and cycle",
                    "corrects_review_id",
                    "corrects_a_completed_review",
                )
        if next_cycle == cycle:
            raise ReviewRuleBroken("the next cycle differs from the one reviewed", "next_cycle", "next_cycle_differs")
        return cls(
            review_id=review_id,
            tenant_id=tenant_id,
            employee_id=employee_id,
            cycle=cycle,
            next_cycle=next_cycle,
            reviewer_id=reviewer_id,
            rating_scale_max=rating_scale_max,
            corrects_review_id=corrects.id if corrects else None,
            occurred_at=occurred_at,
        )

    def record_performance(self, results: Sequence[PerformanceResult], goals: Sequence[GoalRef], occurred_at: datetime) -> None:
        """Step 1: every performance goal of the cycle, each rated on the tenant's scale."""
        self._refuse_if_completed()
        in_cycle = {g.goal_id for g in goals if g.kind == "performance" and g.cycle == self.cycle and g.owner_id == self.employee_id}
        seen: set[UUID] = set()
        for index, result in enumerate(results):
            if result.goal_id in seen:
                raise ReviewRuleBroken("each goal is reviewed once", f"goals.{index}.goal_id", "goal_once")
            seen.add(result.goal_id)
            if result.goal_id not in in_cycle:
                raise GoalNotReviewable(
                    f"goal {result.goal_id} is not a performance goal of {self.employee_id} in {self.cycle}",
                    f"goals.{index}.goal_id",
                )
            if not Decimal(0) < result.rating <= self.rating_scale_max:
                raise ReviewRuleBroken(
                    f"ratings lie between 0 and {self.rating_scale_max}", f"goals.{index}.rating", "rating_on_scale"
                )
        missing = in_cycle - {result.goal_id for result in results}
        if missing:
            raise StepMissing(
                f"every performance goal of the cycle is reviewed; missing: {', '.join(sorted(map(str, missing)))}",
                "goals",
                "every_performance_goal_reviewed",
            )
        self._step_recorded(step="performance", content={"results": tuple(results)}, occurred_at=occurred_at)

    def record_connections(
        self,
        gaps: Sequence[CapabilityGapFound],
        payoffs: Sequence[DevelopmentPayoff],
        goals: Mapping[UUID, GoalRef],
        occurred_at: datetime,
    ) -> None:
        """Step 2: the capability gaps that appeared and the development that paid off."""
        self._refuse_if_completed()
        for index, gap in enumerate(gaps):
            self._own(goals, gap.performance_goal_id, "performance", f"capability_gaps.{index}.performance_goal_id")
        for index, payoff in enumerate(payoffs):
            self._own(goals, payoff.development_goal_id, "development", f"payoffs.{index}.development_goal_id")
            self._own(goals, payoff.performance_goal_id, "performance", f"payoffs.{index}.performance_goal_id")
        content: dict[str, tuple[StepItem, ...]] = {"gaps": tuple(gaps), "payoffs": tuple(payoffs)}
        self._step_recorded(step="connections", content=content, occurred_at=occurred_at)

    def record_development(
        self,
        results: Sequence[DevelopmentResult],
        plan: Sequence[PlannedDevelopmentGoal],
        goals: Mapping[UUID, GoalRef],
        occurred_at: datetime,
    ) -> None:
        """Step 3: the development goals reviewed, and the plan for the next cycle."""
        self._refuse_if_completed()
        for index, result in enumerate(results):
            self._own(goals, result.goal_id, "development", f"goals.{index}.goal_id")
        for index, planned in enumerate(plan):
            where = f"plan.{index}"
            target = goals.get(planned.performance_goal_id)
            if target is None or target.kind != "performance" or not target.is_open:
                raise PlanIncomplete("a planned goal serves an open performance goal", f"{where}.performance_goal_id")
            if target.owner_id != self.employee_id and target.level == "individual":
                raise PlanIncomplete(
                    "another employee's performance goal can be served only if it is an organisation or team goal",
                    f"{where}.performance_goal_id",
                )
            if planned.rationale == "capability_gap" and not planned.evidence:
                raise PlanIncomplete("a capability gap names the evidence of the shortfall", f"{where}.evidence")
            if planned.rationale == "future_role" and not planned.future_role:
                raise PlanIncomplete("a future-role goal names the role or need", f"{where}.future_role")
            if planned.due_date < planned.start_date:
                raise PlanIncomplete("the due date must not be before the start date", f"{where}.due_date")
            targets, behaviour = planned.activity_targets, planned.behavioural_target
            if (targets is None or targets.is_empty) and behaviour is None:
                raise PlanIncomplete("a planned goal is measured by activity or behavioural targets", f"{where}.activity_targets")
            if behaviour is not None and behaviour.target_rating > behaviour.rating_scale_max:
                raise PlanIncomplete("the target rating is above the rating scale", f"{where}.behavioural_target.target_rating")
        content: dict[str, tuple[StepItem, ...]] = {"results": tuple(results), "plan": tuple(plan)}
        self._step_recorded(step="development", content=content, occurred_at=occurred_at)

    def complete(self, completed_by: str, occurred_at: datetime) -> None:
        """Complete the review once all three steps are filled; it never changes again."""
        self._refuse_if_completed()
        missing = [step for step in STEPS if step not in self.steps]
        if missing:
            raise StepMissing(f"fill the {' and '.join(missing)} step before completing", f"steps.{missing[0]}")
        self._completed(
            completed_by=completed_by,
            occurred_at=occurred_at,
            # The whole review travels with the event, so it can be published without the aggregate.
            tenant_id=self.tenant_id,
            employee_id=self.employee_id,
            cycle=self.cycle,
            next_cycle=self.next_cycle,
            reviewer_id=self.reviewer_id,
            rating_scale_max=self.rating_scale_max,
            corrects_review_id=self.corrects_review_id,
            steps=self.steps,
        )

    def _own(self, goals: Mapping[UUID, GoalRef], goal_id: UUID, kind: str, field: str) -> None:
        goal = goals.get(goal_id)
        if goal is None or goal.kind != kind or goal.owner_id != self.employee_id:
            raise GoalNotReviewable(f"goal {goal_id} is not a {kind} goal of {self.employee_id}", field)

    def _refuse_if_completed(self) -> None:
        if self.completed:
            raise ReviewAlreadyCompleted("a completed review never changes; start a correction instead", "review_id")

    @event("Started")
    def __init__(
        self,
        review_id: UUID,
        tenant_id: str,
        employee_id: str,
        cycle: str,
        next_cycle: str,
        reviewer_id: str,
        rating_scale_max: Decimal,
        corrects_review_id: UUID | None,
        occurred_at: datetime,
    ) -> None:
        self.tenant_id = tenant_id
        self.employee_id = employee_id
        self.cycle = cycle
        self.next_cycle = next_cycle
        self.reviewer_id = reviewer_id
        self.rating_scale_max = rating_scale_max
        self.corrects_review_id = corrects_review_id
        self.started_at = occurred_at
        self.steps: dict[str, dict[str, tuple[StepItem, ...]]] = {}
        self.completed = False
        self.completed_at: datetime | None = None

    @event("StepRecorded")
    def _step_recorded(self, step: str, content: dict[str, tuple[StepItem, ...]], occurred_at: datetime) -> None:
        self.steps[step] = {name: tuple(items) for name, items in content.items()}

    @event("Completed")
    def _completed(
        self,
        completed_by: str,
        occurred_at: datetime,
        tenant_id: str,
        employee_id: str,
        cycle: str,
        next_cycle: str,
        reviewer_id: str,
        rating_scale_max: Decimal,
        corrects_review_id: UUID | None,
        steps: dict[str, dict[str, tuple[StepItem, ...]]],
    ) -> None:
        self.completed = True
        self.completed_at = occurred_at
        self.completed_by = completed_by
