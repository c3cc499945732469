"""The one place where the goal domain's events become published contracts."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from tandem_contracts import goals as contract
from tandem_contracts.base import IntegrationEvent
from tandem_goals.domain import Goal
from tandem_runtime.eventstore import CommandContext

SOURCE = "/tandem/goals"


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def _changes(values: dict[str, Any]) -> contract.GoalChanges:
    return contract.GoalChanges(**{name: _plain(value) for name, value in values.items()})


def to_integration_event(domain_event: object, context: CommandContext | None = None) -> IntegrationEvent | None:
    """The contract event for a domain event, or None for events that stay inside the service.

    ``actor`` is who issued the command (the context); without one, the person the event names.
    Enum fields arrive as their strings after a round trip through the store; the contracts parse them.
    """
    e: Any = domain_event
    issuer = context.actor if context else None
    if isinstance(domain_event, Goal.Set):
        return contract.GoalSet(
            **_stream(e, actor=issuer or e.set_by),
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
            level=e.level,
            kpi=_plain(e.kpi),
            skill=e.skill,
            activity_targets=_plain(e.activity_targets),
            behavioural_target=_plain(e.behavioural_target),
            capacity=_plain(e.capacity),
        )
    if isinstance(domain_event, Goal.Revised):
        return contract.GoalRevised(
            **_stream(e, actor=issuer or e.revised_by),
            reason=e.reason,
            changed_fields=tuple(sorted(e.changed)),
            changes=_changes(e.changed),
            previous=_changes(e.previous),
        )
    if isinstance(domain_event, Goal.Linked):
        return contract.GoalLinked(**_stream(e, actor=issuer or e.linked_by), **asdict(e.link))
    if isinstance(domain_event, Goal.Unlinked):
        return contract.GoalUnlinked(
            **_stream(e, actor=issuer or e.unlinked_by),
            link_id=e.link_id,
            performance_goal_id=e.performance_goal_id,
            reason=e.reason,
        )
    if isinstance(domain_event, Goal.Closed):
        return contract.GoalClosed(
            **_stream(e, actor=issuer or e.closed_by), outcome=e.outcome, final_value=e.final_value, note=e.note
        )
    return None


def _stream(e: Any, actor: str) -> dict[str, Any]:
    return {
        "tenant_id": e.tenant_id,
        "employee_id": e.owner_id,
        "goal_id": e.originator_id,
        "occurred_at": e.occurred_at,
        "version": e.originator_version,
        "actor": actor,
    }
