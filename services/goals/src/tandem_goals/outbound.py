"""The one place where the goal domain's events become published contracts."""

from __future__ import annotations

from dataclasses import asdict

from tandem_contracts import goals as contract
from tandem_contracts.base import IntegrationEvent
from tandem_goals.domain import Goal

SOURCE = "/tandem/goals"


def to_integration_event(domain_event: object) -> IntegrationEvent | None:
    """The contract event for a domain event, or None for events that stay inside the service."""
    if isinstance(domain_event, Goal.Set):
        e = domain_event  # enum fields arrive as their strings after a round trip through the store
        return contract.GoalSet(
            tenant_id=e.tenant_id,
            employee_id=e.owner_id,
            occurred_at=e.occurred_at,
            version=e.originator_version,
            goal_id=e.originator_id,
            kind=e.kind,
            status=e.status,
            set_by=e.set_by,
            cycle=e.cycle,
            title=e.title,
            description=e.description,
            start_date=e.start_date,
            due_date=e.due_date,
            cadence=e.cadence,
            parent_goal_id=e.parent_goal_id,
            kpi=asdict(e.kpi) if e.kpi else None,
            skill=e.skill,
            activity_targets=asdict(e.activity_targets) if e.activity_targets else None,
            behavioural_target=asdict(e.behavioural_target) if e.behavioural_target else None,
            capacity=asdict(e.capacity) if e.capacity else None,
        )
    return None
