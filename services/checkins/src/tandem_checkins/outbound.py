"""The one place where the check-in domain's events become published contracts.

Feedback is published as summaries per source: self and manager ratings individually, peer and
direct-report ratings only as an average of at least three, never one by one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from tandem_checkins.domain import (
    ANONYMITY_THRESHOLD,
    ANONYMOUS_SOURCES,
    CheckIn,
    CheckInSchedule,
    DevelopmentEntry,
    FeedbackSource,
    PerformanceEntry,
    Rating,
)
from tandem_contracts import checkins as contract
from tandem_contracts.base import IntegrationEvent
from tandem_runtime.eventstore import CommandContext

SOURCE = "/tandem/checkins"


def feedback_summary(ratings: tuple[Rating, ...]) -> list[dict[str, Any]]:
    """Ratings per source, with anonymous sources reduced to an average of enough answers."""
    by_source: dict[FeedbackSource, list[Decimal]] = defaultdict(list)
    for rating in ratings:
        by_source[FeedbackSource(rating.source)].append(rating.rating)
    summaries = []
    for source in FeedbackSource:
        values = by_source.get(source)
        if not values:
            continue
        anonymous = source in ANONYMOUS_SOURCES
        enough = len(values) >= ANONYMITY_THRESHOLD
        summaries.append(
            {
                "source": source.value,
                "count": len(values),
                "average": (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01")) if not anonymous or enough else None,
                "ratings": () if anonymous else tuple(values),
            }
        )
    return summaries


def entry_contract(entry: PerformanceEntry | DevelopmentEntry) -> dict[str, Any]:
    """An entry as published (and shown): feedback summarised, never anonymous ratings one by one."""
    if isinstance(entry, PerformanceEntry):
        return {"kind": "performance", **asdict(entry)}
    plain = asdict(entry)
    ratings, competency = plain.pop("ratings"), plain.pop("competency")
    feedback = (
        {"competency": competency, "sources": feedback_summary(entry.ratings)}
        if ratings
        else None
    )
    return {"kind": "development", **plain, "feedback": feedback}


def to_integration_event(domain_event: object, context: CommandContext | None = None) -> IntegrationEvent | None:
    """The contract event for a domain event, or None for events that stay inside the service."""
    e: Any = domain_event
    if isinstance(domain_event, CheckIn.Recorded):
        return contract.CheckInRecorded(
            tenant_id=e.tenant_id,
            employee_id=e.employee_id,
            occurred_at=e.occurred_at,
            version=e.originator_version,
            actor=context.actor if context else e.recorded_by,
            checkin_id=e.originator_id,
            held_on=e.held_on,
            held_by=tuple(e.held_by),
            entries=tuple(entry_contract(entry) for entry in e.entries),
        )
    if isinstance(domain_event, CheckInSchedule.Overdue):
        return contract.CheckInOverdue(
            **_of_schedule(e, context), period_start=e.period_start, period_end=e.period_end
        )
    if isinstance(domain_event, CheckInSchedule.Scheduled):
        return contract.CheckInScheduled(**_of_schedule(e, context), first_day=e.first_day, due_on=e.due_on)
    return None


def _of_schedule(e: Any, context: CommandContext | None) -> dict[str, Any]:
    """What every published event of a goal's schedule carries: the stream, the goal and its rhythm."""
    return {
        "tenant_id": e.tenant_id,
        "employee_id": e.owner_id,
        "occurred_at": e.occurred_at,
        "version": e.originator_version,
        "actor": context.actor if context else "cadence-sweep",
        "schedule_id": e.originator_id,
        "goal_id": e.goal_id,
        "cadence": e.cadence,
        "last_check_in_on": e.last_check_in_on,
    }
