"""The goals service's reaction to ``tandem.reviews.v1``: a completed review's plan becomes draft goals.

Each planned development goal gets an id derived from the review and its place in the plan, so a
review delivered twice sets each draft once. The review is the causation of every goal it sets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tandem_contracts.envelope import Envelope
from tandem_contracts.reviews import REVIEWS_TOPIC, ReviewCompleted
from tandem_goals.application import GoalsApplication
from tandem_runtime.database import Cursor
from tandem_runtime.eventstore import CommandContext
from tandem_runtime.projection import Delivery

log = logging.getLogger(__name__)


class NextCyclePlanner:
    """Consumed by the projection runner: tracked like a read model, acting through the application."""

    name = "next-cycle-planner"
    topics = (REVIEWS_TOPIC,)

    def __init__(self, application: GoalsApplication) -> None:
        self.application = application

    def create_schema(self, cursor: Cursor) -> None:
        """Nothing to create: the drafts live in the event store; the runner tracks positions."""

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            review = delivery.event
            if not isinstance(review, ReviewCompleted) or not review.plan:
                continue
            envelope = delivery.envelope
            assert isinstance(envelope, Envelope)  # the default decoder's: this planner declares no fast one
            context = CommandContext(
                actor=review.actor,
                correlation_id=envelope.correlation_id or str(review.review_id),
                causation_id=envelope.id,
                traceparent=envelope.traceparent,
            )
            created, refused = self.application.plan_next_cycle(review, context)
            log.info("review %s: %d draft goals set, %d refused", review.review_id, created, len(refused))
            for reason in refused:
                log.warning("review %s: a planned goal was not set: %s", review.review_id, reason)
