"""The one place where the review domain's events become published contracts: only completed reviews."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tandem_contracts import reviews as contract
from tandem_contracts.base import IntegrationEvent
from tandem_reviews.domain import Review
from tandem_runtime.eventstore import CommandContext

SOURCE = "/tandem/reviews"


def _items(steps: dict[str, dict[str, Any]], step: str, part: str) -> tuple[dict[str, Any], ...]:
    return tuple(asdict(item) for item in steps.get(step, {}).get(part, ()))


def to_integration_event(domain_event: object, context: CommandContext | None = None) -> IntegrationEvent | None:
    """``ReviewCompleted`` for a completed review; the steps on the way stay inside the service."""
    if not isinstance(domain_event, Review.Completed):
        return None
    e: Any = domain_event
    return contract.ReviewCompleted(
        tenant_id=e.tenant_id,
        employee_id=e.employee_id,
        occurred_at=e.occurred_at,
        version=e.originator_version,
        actor=context.actor if context else e.completed_by,
        review_id=e.originator_id,
        cycle=e.cycle,
        next_cycle=e.next_cycle,
        reviewer_id=e.reviewer_id,
        rating_scale_max=e.rating_scale_max,
        performance=_items(e.steps, "performance", "results"),
        capability_gaps=_items(e.steps, "connections", "gaps"),
        payoffs=_items(e.steps, "connections", "payoffs"),
        development=_items(e.steps, "development", "results"),
        plan=_items(e.steps, "development", "plan"),
        corrects_review_id=e.corrects_review_id,
    )
