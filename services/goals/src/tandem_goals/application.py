"""The goals application: loads aggregates, asks them to decide, saves what they record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import PersistenceError

from tandem_goals.domain import (
    VALUE_TYPES,
    ActivityTargets,
    BehaviouralTarget,
    Budget,
    Cadence,
    Capacity,
    CascadeLedger,
    EmployeeHasDeparted,
    EmployeeUnknown,
    Goal,
    GoalKind,
    GoalLevel,
    GoalOutcome,
    GoalRuleBroken,
    GoalStatus,
    Kpi,
    LinkRationale,
    ParentGoalClosed,
    ParentGoalNotFound,
    WorkPlan,
)
from tandem_runtime.clock import Clock
from tandem_runtime.database import DatabaseURL
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext, ConcurrentChange, Executed, TandemApplication
from tandem_runtime.idempotency import RequestKey
from tandem_runtime.ids import random_uuid
from tandem_runtime.retry import is_transient

MAX_CASCADE = 10_000
# A planned goal's id is uuid5(PLANNED_GOAL_NAMESPACE, "<review_id>:<index in the plan>").
PLANNED_GOAL_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:goals:planned-in-review")


class GoalNotFound(LookupError):
    """No goal with that id in that tenant."""


class StaleVersion(RuntimeError):
    """The goal is not at the version the request expected (``If-Match``)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the goal is at version {actual}, not {expected}: read it again and retry")
        self.actual = actual


@dataclass(frozen=True)
class GoalTemplate:
    """What a goal aims at, before it has an owner: used by SetGoal and by cascades."""

    kind: GoalKind
    cycle: str
    title: str
    description: str
    start_date: date
    due_date: date
    cadence: Cadence | None = None
    level: GoalLevel = GoalLevel.INDIVIDUAL
    kpi: Kpi | None = None
    skill: str | None = None
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    capacity: Capacity | None = None
    status: GoalStatus = GoalStatus.ACTIVE


@dataclass(frozen=True)
class SetGoal:
    """Set a goal for an employee."""

    tenant_id: str
    owner_id: str
    set_by: str
    goal: GoalTemplate
    parent_goal_id: UUID | None = None
    goal_id: UUID = field(default_factory=random_uuid)


@dataclass(frozen=True)
class ReviseGoal:
    """Change what a goal aims at, saying why."""

    tenant_id: str
    goal_id: UUID
    changes: dict[str, Any]
    reason: str
    revised_by: str
    expected_version: int | None = None


@dataclass(frozen=True)
class LinkGoals:
    """Align a development goal to the performance goal it serves."""

    tenant_id: str
    goal_id: UUID
    performance_goal_id: UUID
    rationale: LinkRationale
    linked_by: str
    skill: str | None = None
    evidence: str | None = None
    future_role: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class UnlinkGoals:
    """Remove a development goal's alignment."""

    tenant_id: str
    goal_id: UUID
    link_id: UUID
    unlinked_by: str
    reason: str = ""
    expected_version: int | None = None


@dataclass(frozen=True)
class CloseGoal:
    """Close a goal with its outcome."""

    tenant_id: str
    goal_id: UUID
    outcome: GoalOutcome
    closed_by: str
    final_value: Decimal | None = None
    note: str = ""
    expected_version: int | None = None


@dataclass(frozen=True)
class CascadeGoal:
    """Set one goal for many employees at once, each a child of the parent goal; all or nothing."""

    tenant_id: str
    parent_goal_id: UUID
    set_by: str
    goal: GoalTemplate
    employee_ids: tuple[str, ...] = ()
    manager_id: str | None = None
    include_indirect_reports: bool = False


class GoalsApplication(TandemApplication):
    """Goals and work plans, event-sourced; the outbox relay publishes what it records."""

    name = "Goals"
    value_types = VALUE_TYPES

    def __init__(
        self,
        database_url: str | DatabaseURL,
        directory: Directory,
        clock: Clock | None = None,
        development_hours_limit: Callable[[str], Decimal] = lambda tenant_id: Decimal(20),
    ) -> None:
        super().__init__(database_url)
        self.directory = directory
        self.clock = clock or Clock()
        self.development_hours_limit = development_hours_limit

    # --- commands -------------------------------------------------------------------------------------

    def set_goal(self, command: SetGoal, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Set a goal for an active employee, under an open parent, within their development capacity."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            self._require_active_employees(command.tenant_id, [command.owner_id])
            if command.parent_goal_id is not None:
                self._open_parent(command.tenant_id, command.parent_goal_id)
            goal = self._new_goal(command.tenant_id, command.goal_id, command.owner_id, command.set_by, command.goal, command.parent_goal_id)
            plans = self._commit_capacity(command.tenant_id, [goal])
            return [goal, *plans], {"goal_id": str(goal.id), "version": goal.version}

        return self.execute(decide, context=context, request_key=request_key)

    def revise_goal(self, command: ReviseGoal, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Revise a goal; a new parent must be open and must not make the cascade a cycle."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            goal = self._goal_at(command.tenant_id, command.goal_id, command.expected_version)
            ancestry: tuple[UUID, ...] = ()
            new_parent = command.changes.get("parent_goal_id")
            if new_parent is not None and new_parent != goal.parent_goal_id:
                self._open_parent(command.tenant_id, new_parent)
                ancestry = self._ancestry(command.tenant_id, new_parent)
            goal.revise(
                changes=command.changes,
                reason=command.reason,
                revised_by=command.revised_by,
                occurred_at=self.clock.now(),
                parent_ancestry=ancestry,
            )
            plans = self._commit_capacity(command.tenant_id, [goal]) if "capacity" in command.changes else []
            ledgers = []
            if "parent_goal_id" in command.changes:
                ledger = self._cascade_ledger(command.tenant_id)
                ledger.record_parent_change(goal.id, goal.parent_goal_id)
                ledgers.append(ledger)
            return [goal, *plans, *ledgers], {"goal_id": str(goal.id), "version": goal.version}

        return self.execute(decide, context=context, request_key=request_key)

    def link_goals(self, command: LinkGoals, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Align a development goal to a performance goal, with the capability gap or future role behind it."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            goal = self._goal_at(command.tenant_id, command.goal_id, command.expected_version)
            target = self._find(command.tenant_id, command.performance_goal_id)
            if target is None:
                raise GoalRuleBroken(
                    f"performance goal {command.performance_goal_id} does not exist",
                    field="performance_goal_id",
                    rule="performance_goal_exists",
                )
            link = goal.link(
                link_id=random_uuid(),
                target=target.as_link_target,
                rationale=command.rationale,
                skill=command.skill,
                evidence=command.evidence,
                future_role=command.future_role,
                linked_by=command.linked_by,
                occurred_at=self.clock.now(),
            )
            return [goal], {"goal_id": str(goal.id), "version": goal.version, "link_id": str(link.link_id)}

        return self.execute(decide, context=context, request_key=request_key)

    def unlink_goals(self, command: UnlinkGoals, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Remove an alignment."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            goal = self._goal_at(command.tenant_id, command.goal_id, command.expected_version)
            goal.unlink(
                link_id=command.link_id, reason=command.reason, unlinked_by=command.unlinked_by, occurred_at=self.clock.now()
            )
            return [goal], {"goal_id": str(goal.id), "version": goal.version}

        return self.execute(decide, context=context, request_key=request_key)

    def close_goal(self, command: CloseGoal, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Close a goal with its outcome and give its development hours back to the work plan."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            goal = self._goal_at(command.tenant_id, command.goal_id, command.expected_version)
            goal.close(
                outcome=command.outcome,
                final_value=command.final_value,
                note=command.note,
                closed_by=command.closed_by,
                occurred_at=self.clock.now(),
            )
            plans = self._commit_capacity(command.tenant_id, [goal]) if goal.capacity else []
            return [goal, *plans], {"goal_id": str(goal.id), "version": goal.version}

        return self.execute(decide, context=context, request_key=request_key)

    def cascade_goal(self, command: CascadeGoal, context: CommandContext, request_key: RequestKey | None = None) -> Executed:
        """Set the same goal for many employees under one parent, in one transaction: all or nothing."""

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            self._open_parent(command.tenant_id, command.parent_goal_id)
            owners = list(dict.fromkeys(command.employee_ids))
            if command.manager_id is not None:
                self._require_active_employees(command.tenant_id, [command.manager_id], field="manager_id")
                reports = self.directory.reports_of(
                    command.tenant_id, command.manager_id, transitive=command.include_indirect_reports
                )
                owners = list(dict.fromkeys([*owners, *reports]))
            if not owners:
                raise GoalRuleBroken(
                    "the cascade reaches nobody: name employees or a manager with reports",
                    field="employee_ids",
                    rule="cascade_reaches_someone",
                )
            if len(owners) > MAX_CASCADE:
                raise GoalRuleBroken(
                    f"a cascade reaches at most {MAX_CASCADE} employees", field="employee_ids", rule="cascade_size"
                )
            self._require_active_employees(command.tenant_id, owners, field="employee_ids")
            goals = [
                self._new_goal(command.tenant_id, random_uuid(), owner, command.set_by, command.goal, command.parent_goal_id)
                for owner in owners
            ]
            plans = self._commit_capacity(command.tenant_id, goals)
            outcome = {
                "parent_goal_id": str(command.parent_goal_id),
                "goals": [{"goal_id": str(goal.id), "employee_id": goal.owner_id} for goal in goals],
            }
            return [*goals, *plans], outcome

        return self.execute(decide, context=context, request_key=request_key)

    def plan_next_cycle(self, review: Any, context: CommandContext) -> tuple[int, list[str]]:
        """Set a completed review's planned development goals as drafts, linked to the goals they serve.

        Each draft's id comes from the review and its place in the plan, so a repeated review sets
        nothing twice. A planned goal the rules refuse is reported, and the others are still set.
        """
        created, refused = 0, []
        if review.corrects_review_id is not None:
            self._withdraw_drafts_of(review.tenant_id, review.corrects_review_id, review.review_id, context)
        for index, planned in enumerate(review.plan):
            goal_id = uuid5(PLANNED_GOAL_NAMESPACE, f"{review.review_id}:{index}")
            if self._find(review.tenant_id, goal_id) is not None:
                continue
            try:
                self._set_planned_goal(review, planned, goal_id, context)
                created += 1
            except (GoalRuleBroken, ConcurrentChange) as error:
                refused.append(f"{planned.title}: {error}")
            except Exception as error:
                if isinstance(error, PersistenceError) or is_transient(error):
                    raise  # an outage: the whole review is applied again
                # One planned goal that cannot be set (say, dates past the calendar) leaves the others be.
                refused.append(f"{planned.title}: cannot be set ({type(error).__name__}: {error})")
        return created, refused

    def _withdraw_drafts_of(self, tenant_id: str, corrected: UUID, correction: UUID, context: CommandContext) -> None:
        """A corrected review's plan is replaced: its drafts not yet activated are closed as abandoned."""
        for index in range(MAX_CASCADE):
            draft = self._find(tenant_id, uuid5(PLANNED_GOAL_NAMESPACE, f"{corrected}:{index}"))
            if draft is None:
                return
            if draft.status is not GoalStatus.DRAFT:
                continue

            def decide(goal: Goal = draft) -> tuple[Sequence[Aggregate], dict[str, Any]]:
                goal.close(
                    outcome=GoalOutcome.ABANDONED,
                    final_value=None,
                    note=f"replaced by the plan of review {correction}",
                    closed_by=context.actor,
                    occurred_at=self.clock.now(),
                )
                plans = self._commit_capacity(tenant_id, [goal]) if goal.capacity else []
                return [goal, *plans], {"goal_id": str(goal.id), "version": goal.version}

            self.execute(decide, context=context)

    def _set_planned_goal(self, review: Any, planned: Any, goal_id: UUID, context: CommandContext) -> None:
        budget = Budget(planned.budget.amount, planned.budget.currency) if planned.budget else None
        targets, behaviour = planned.activity_targets, planned.behavioural_target
        template = GoalTemplate(
            kind=GoalKind.DEVELOPMENT,
            cycle=review.next_cycle,
            title=planned.title,
            description=f"Planned in review {review.review_id} of {review.cycle}.",
            start_date=planned.start_date,
            due_date=planned.due_date,
            skill=planned.skill,
            activity_targets=ActivityTargets(targets.training_hours, targets.certifications, targets.mentorship_sessions)
            if targets
            else None,
            behavioural_target=BehaviouralTarget(behaviour.competency, behaviour.target_rating, behaviour.rating_scale_max)
            if behaviour
            else None,
            capacity=Capacity(planned.hours_per_month, budget, planned.mentor_id),
            status=GoalStatus.DRAFT,
        )

        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            goal = self._new_goal(review.tenant_id, goal_id, review.employee_id, review.reviewer_id, template, None)
            target = self._find(review.tenant_id, planned.performance_goal_id)
            if target is None:
                raise GoalRuleBroken(f"performance goal {planned.performance_goal_id} does not exist", field="performance_goal_id")
            goal.link(
                link_id=uuid5(PLANNED_GOAL_NAMESPACE, f"{goal_id}:link"),
                target=target.as_link_target,
                rationale=LinkRationale(planned.rationale),
                skill=planned.skill,
                evidence=planned.evidence,
                future_role=planned.future_role,
                linked_by=review.reviewer_id,
                occurred_at=self.clock.now(),
            )
            plans = self._commit_capacity(review.tenant_id, [goal])
            return [goal, *plans], {"goal_id": str(goal.id), "version": goal.version}

        self.execute(decide, context=context)

    # --- queries --------------------------------------------------------------------------------------

    def get_goal(self, tenant_id: str, goal_id: UUID, version: int | None = None) -> Goal:
        """The goal (as it stood at ``version``, if given), or ``GoalNotFound`` if it does not exist in this tenant."""
        goal = self._find(tenant_id, goal_id, version)
        if goal is None:
            raise GoalNotFound(str(goal_id))
        return goal

    def work_plan(self, tenant_id: str, employee_id: str) -> tuple[Decimal, Decimal, dict[UUID, Decimal]] | None:
        """An employee's committed development hours per month, their limit, and the hours per goal; None for
        someone neither in the directory nor with a plan."""
        plan = self._work_plan(tenant_id, employee_id)
        if plan is None and self.directory.employee(tenant_id, employee_id) is None:
            return None
        commitments = dict(plan.commitments) if plan is not None else {}
        return sum(commitments.values(), Decimal(0)), self.development_hours_limit(tenant_id), commitments

    # --- helpers --------------------------------------------------------------------------------------

    def _new_goal(
        self, tenant_id: str, goal_id: UUID, owner_id: str, set_by: str, template: GoalTemplate, parent_goal_id: UUID | None
    ) -> Goal:
        return Goal.set(
            goal_id=goal_id,
            tenant_id=tenant_id,
            owner_id=owner_id,
            set_by=set_by,
            kind=template.kind,
            cycle=template.cycle,
            title=template.title,
            description=template.description,
            start_date=template.start_date,
            due_date=template.due_date,
            cadence=template.cadence,
            parent_goal_id=parent_goal_id,
            level=template.level,
            kpi=template.kpi,
            skill=template.skill,
            activity_targets=template.activity_targets,
            behavioural_target=template.behavioural_target,
            capacity=template.capacity,
            status=template.status,
            occurred_at=self.clock.now(),
        )

    def _commit_capacity(self, tenant_id: str, goals: Sequence[Goal]) -> list[WorkPlan]:
        """Count each development goal's hours in its owner's work plan; refuse what exceeds the limit."""
        limit = self.development_hours_limit(tenant_id)
        plans: dict[str, WorkPlan] = {}
        for goal in goals:
            if goal.kind is not GoalKind.DEVELOPMENT:
                continue
            plan = plans.get(goal.owner_id) or self._work_plan(tenant_id, goal.owner_id)
            if plan is None:
                if goal.committed_hours_per_month == 0:
                    continue
                plan = WorkPlan(tenant_id=tenant_id, employee_id=goal.owner_id)
            plan.commit(goal.id, goal.committed_hours_per_month, limit)
            plans[goal.owner_id] = plan
        return list(plans.values())

    def _cascade_ledger(self, tenant_id: str) -> CascadeLedger:
        try:
            ledger: object = self.repository.get(CascadeLedger.id_for(tenant_id))
        except AggregateNotFoundError:
            return CascadeLedger(tenant_id=tenant_id)
        assert isinstance(ledger, CascadeLedger)
        return ledger

    def _work_plan(self, tenant_id: str, employee_id: str) -> WorkPlan | None:
        try:
            plan: object = self.repository.get(WorkPlan.id_for(tenant_id, employee_id))
        except AggregateNotFoundError:
            return None
        return plan if isinstance(plan, WorkPlan) else None

    def _require_active_employees(self, tenant_id: str, employee_ids: Sequence[str], field: str = "employee_id") -> None:
        known = self.directory.employees(tenant_id, employee_ids)
        unknown = [e for e in employee_ids if e not in known]
        departed = [e for e in employee_ids if e in known and known[e].departed]
        if unknown:
            raise EmployeeUnknown(f"not in the directory: {_some(unknown)}", field=field)
        if departed:
            raise EmployeeHasDeparted(f"no longer with the organisation: {_some(departed)}", field=field)

    def _open_parent(self, tenant_id: str, parent_goal_id: UUID) -> Goal:
        parent = self._find(tenant_id, parent_goal_id)
        if parent is None:
            raise ParentGoalNotFound(f"parent goal {parent_goal_id} does not exist")
        if parent.status is GoalStatus.CLOSED:
            raise ParentGoalClosed(f"parent goal {parent_goal_id} is closed")
        return parent

    def _ancestry(self, tenant_id: str, goal_id: UUID) -> tuple[UUID, ...]:
        """``goal_id`` and the goals above it, up to the top of the cascade."""
        chain: dict[UUID, None] = {}
        current: UUID | None = goal_id
        while current is not None and current not in chain:
            chain[current] = None
            goal = self._find(tenant_id, current)
            current = goal.parent_goal_id if goal is not None else None
        return tuple(chain)

    def _goal_at(self, tenant_id: str, goal_id: UUID, expected_version: int | None) -> Goal:
        goal = self.get_goal(tenant_id, goal_id)
        if expected_version is not None and goal.version != expected_version:
            raise StaleVersion(expected_version, goal.version)
        return goal

    def _find(self, tenant_id: str, goal_id: UUID, version: int | None = None) -> Goal | None:
        try:
            goal: object = self.repository.get(goal_id, version=version)
        except AggregateNotFoundError:
            return None
        return goal if isinstance(goal, Goal) and goal.tenant_id == tenant_id else None


def _some(ids: Sequence[str], shown: int = 10) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more
