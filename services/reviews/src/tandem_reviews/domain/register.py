"""The review register: one per employee and cycle, so a cycle has one review (and its corrections).

A second review of the same cycle is refused; a change to a completed review is a correction naming
the latest review of the cycle.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from tandem_reviews.domain.errors import ReviewRuleBroken

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:reviews:register")


class ReviewRegister(Aggregate):
    """The reviews of one employee's cycle, newest last."""

    @staticmethod
    def create_id(tenant_id: str, employee_id: str, cycle: str) -> UUID:
        return uuid5(_NAMESPACE, f"{tenant_id}:{employee_id}:{cycle}")

    @classmethod
    def id_for(cls, tenant_id: str, employee_id: str, cycle: str) -> UUID:
        return cls.create_id(tenant_id, employee_id, cycle)

    @event("Opened")
    def __init__(self, tenant_id: str, employee_id: str, cycle: str) -> None:
        self.tenant_id = tenant_id
        self.employee_id = employee_id
        self.cycle = cycle
        self.reviews: list[UUID] = []

    def admit(self, review_id: UUID, corrects_review_id: UUID | None) -> None:
        """Admit a new review of the cycle: the first one, or a correction of the latest."""
        if self.reviews and corrects_review_id != self.reviews[-1]:
            raise ReviewRuleBroken(
                f"{self.employee_id}'s {self.cycle} review is {self.reviews[-1]}: continue it, or correct it once completed",
                "corrects_review_id" if corrects_review_id else "cycle",
                "one_review_per_cycle",
            )
        self._admitted(review_id=review_id)

    @event("Admitted")
    def _admitted(self, review_id: UUID) -> None:
        self.reviews.append(review_id)
