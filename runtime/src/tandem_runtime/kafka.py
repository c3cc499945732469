"""Kafka client settings shared by every service."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.envelope import encode
from tandem_runtime.eventstore import CommandContext
from tandem_runtime.ids import random_uuid


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """An acks=all, idempotent producer: an acknowledged event is on every in-sync replica, exactly once."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=256 * 1024,
        compression_type=None,
        request_timeout_ms=30000,
    )


class DirectPublisher:
    """Publishes events straight to Kafka and waits for the acknowledgement.

    Only for events that no service keeps as its own state (the directory pass-through): everything a
    service records goes through its outbox relay instead.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._producer: AIOKafkaProducer | None = None

    def attach(self, producer: AIOKafkaProducer | None) -> None:
        """Use a started producer (None detaches it at shutdown)."""
        self._producer = producer

    async def publish(self, event: IntegrationEvent, context: CommandContext) -> None:
        """Send ``event`` in its envelope and wait until every in-sync replica has it."""
        if self._producer is None:
            raise RuntimeError("the Kafka producer is not started")
        message = encode(
            event,
            event_id=str(random_uuid()),
            source=self.source,
            actor=context.actor,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            traceparent=context.traceparent,
        )
        await self._producer.send_and_wait(message.topic, value=message.value, key=message.key, headers=message.headers)
