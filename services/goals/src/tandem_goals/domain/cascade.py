"""The cascade ledger: one per tenant, it serialises changes to who cascades from whom.

A parent change is checked against the goals above the new parent. Two changes at the same moment
(A under B while B goes under A) would each pass that check alone; recording both here makes the
second one a concurrent change, refused, so the cascade never becomes a cycle.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:goals:cascade-ledger")


class CascadeLedger(Aggregate):
    """The tenant's record of re-parented goals."""

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return uuid5(_NAMESPACE, tenant_id)

    @classmethod
    def id_for(cls, tenant_id: str) -> UUID:
        return cls.create_id(tenant_id)

    @event("Opened")
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def record_parent_change(self, goal_id: UUID, parent_goal_id: UUID | None) -> None:
        """Note that ``goal_id`` now cascades from ``parent_goal_id``."""
        self._parent_changed(goal_id=goal_id, parent_goal_id=parent_goal_id)

    @event("ParentChanged")
    def _parent_changed(self, goal_id: UUID, parent_goal_id: UUID | None) -> None:
        pass
