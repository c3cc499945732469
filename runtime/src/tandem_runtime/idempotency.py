"""Idempotent commands: a retried request has one effect and gets the first answer again.

The first request with an ``Idempotency-Key`` is remembered as a small aggregate, saved in the same
transaction as the events it caused. A retry finds it and replays the outcome; the same key with a
different request is refused. Two concurrent retries race on the record's creation: one wins, the
other sees the winner's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:idempotent-request")


@dataclass(frozen=True)
class RequestKey:
    """An ``Idempotency-Key`` in its tenant, with the fingerprint of the request that carried it."""

    tenant_id: str
    key: str
    digest: str

    @property
    def record_id(self) -> UUID:
        return uuid5(_NAMESPACE, f"{self.tenant_id}:{self.key}")


class IdempotencyKeyReused(ValueError):
    """An idempotency key sent again with a different request."""


class IdempotentRequest(Aggregate):
    """The remembered outcome of the first request with a given key."""

    @staticmethod
    def create_id(record_id: UUID) -> UUID:
        return record_id

    @event("Remembered")
    def __init__(self, record_id: UUID, digest: str, outcome: dict[str, Any]) -> None:
        self.digest = digest
        self.outcome = outcome

    def replay(self, key: RequestKey) -> dict[str, Any]:
        """The first outcome, if ``key`` came with the same request."""
        if key.digest != self.digest:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
        return self.outcome
