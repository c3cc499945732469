"""The goals application: loads goals, asks them to decide, saves what they record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from tandem_goals.domain import (
    VALUE_TYPES,
    ActivityTargets,
    BehaviouralTarget,
    Cadence,
    Capacity,
    Goal,
    GoalKind,
    GoalStatus,
    Kpi,
    ParentGoalNotFound,
)
from tandem_runtime.clock import Clock
from tandem_runtime.database import DatabaseURL
from tandem_runtime.eventstore import CommandContext, TandemApplication


class GoalNotFound(LookupError):
    """No goal with that id in that tenant."""


@dataclass(frozen=True)
class SetGoal:
    """Set a goal for an employee."""

    goal_id: UUID
    tenant_id: str
    owner_id: str
    set_by: str
    kind: GoalKind
    cycle: str
    title: str
    description: str
    start_date: date
    due_date: date
    cadence: Cadence | None = None
    parent_goal_id: UUID | None = None
    kpi: Kpi | None = None
    skill: str | None = None
    activity_targets: ActivityTargets | None = None
    behavioural_target: BehaviouralTarget | None = None
    capacity: Capacity | None = None
    status: GoalStatus = GoalStatus.ACTIVE


@dataclass(frozen=True)
class Outcome:
    """The goal a command left, and whether the command was a retry of one already applied."""

    goal: Goal
    replayed: bool = False


class GoalsApplication(TandemApplication):
    """Goals, event-sourced; the outbox relay publishes what it records."""

    name = "Goals"
    value_types = VALUE_TYPES

    def __init__(self, database_url: str | DatabaseURL, clock: Clock | None = None) -> None:
        super().__init__(database_url)
        self.clock = clock or Clock()

    def set_goal(self, command: SetGoal, context: CommandContext) -> Outcome:
        """Set a goal; setting the same goal id again (a retried request) changes nothing."""
        existing = self._find(command.tenant_id, command.goal_id)
        if existing is not None:
            self.check_retry(existing.id, context)
            return Outcome(existing, replayed=True)
        if command.parent_goal_id is not None and self._find(command.tenant_id, command.parent_goal_id) is None:
            raise ParentGoalNotFound(f"parent goal {command.parent_goal_id} does not exist")
        goal = Goal.set(
            goal_id=command.goal_id,
            tenant_id=command.tenant_id,
            owner_id=command.owner_id,
            set_by=command.set_by,
            kind=command.kind,
            cycle=command.cycle,
            title=command.title,
            description=command.description,
            start_date=command.start_date,
            due_date=command.due_date,
            cadence=command.cadence,
            parent_goal_id=command.parent_goal_id,
            kpi=command.kpi,
            skill=command.skill,
            activity_targets=command.activity_targets,
            behavioural_target=command.behavioural_target,
            capacity=command.capacity,
            status=command.status,
            occurred_at=self.clock.now(),
        )
        try:
            self.save(goal, context=context)
        except IntegrityError:
            # A concurrent retry recorded the same goal first: its outcome is ours.
            self.check_retry(command.goal_id, context)
            return Outcome(self.get_goal(command.tenant_id, command.goal_id), replayed=True)
        return Outcome(goal)

    def get_goal(self, tenant_id: str, goal_id: UUID) -> Goal:
        """The goal, or ``GoalNotFound`` if it does not exist in this tenant."""
        goal = self._find(tenant_id, goal_id)
        if goal is None:
            raise GoalNotFound(str(goal_id))
        return goal

    def _find(self, tenant_id: str, goal_id: UUID) -> Goal | None:
        try:
            goal = self.repository.get(goal_id)
        except AggregateNotFoundError:
            return None
        return goal if isinstance(goal, Goal) and goal.tenant_id == tenant_id else None
