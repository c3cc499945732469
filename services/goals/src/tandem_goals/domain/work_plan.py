"""The work plan: an employee's development hours per month, counted against a limit.

Development time is part of the work plan, not extra: every open development goal's monthly hours
are committed here, and a commitment that would take the total over the tenant's limit is refused.
One work plan per employee makes the limit hold even when two goals are set at the same moment.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from tandem_goals.domain.errors import CapacityExceeded

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:goals:work-plan")


class WorkPlan(Aggregate):
    """The development hours per month committed by one employee's open development goals."""

    @staticmethod
    def create_id(tenant_id: str, employee_id: str) -> UUID:
        return uuid5(_NAMESPACE, f"{tenant_id}:{employee_id}")

    @classmethod
    def id_for(cls, tenant_id: str, employee_id: str) -> UUID:
        return cls.create_id(tenant_id, employee_id)

    @event("Started")
    def __init__(self, tenant_id: str, employee_id: str) -> None:
        self.tenant_id = tenant_id
        self.employee_id = employee_id
        self.commitments: dict[UUID, Decimal] = {}

    @property
    def committed_hours(self) -> Decimal:
        return sum(self.commitments.values(), Decimal(0))

    def commit(self, goal_id: UUID, hours_per_month: Decimal, limit: Decimal) -> None:
        """Set aside ``hours_per_month`` for a goal (replacing its earlier commitment), within ``limit``.

        Giving hours back is always allowed, even when a lowered limit leaves the plan above it.
        """
        earlier = self.commitments.get(goal_id, Decimal(0))
        if goal_id in self.commitments and earlier == hours_per_month:
            return
        total = self.committed_hours - earlier + hours_per_month
        if hours_per_month > earlier and total > limit:
            raise CapacityExceeded(
                f"{self.employee_id} would have {total} development hours a month; the limit is {limit}"
                f" ({self.committed_hours} committed already)"
            )
        if hours_per_month == 0:
            self.release(goal_id)
            return
        self._committed(goal_id=goal_id, hours_per_month=hours_per_month)

    def release(self, goal_id: UUID) -> None:
        """Give back a goal's hours (it closed, or no longer sets time aside)."""
        if goal_id in self.commitments:
            self._released(goal_id=goal_id)

    @event("Committed")
    def _committed(self, goal_id: UUID, hours_per_month: Decimal) -> None:
        self.commitments[goal_id] = hours_per_month

    @event("Released")
    def _released(self, goal_id: UUID) -> None:
        del self.commitments[goal_id]
