"""The outbox relay: events go out in the order of the log, the position only moves past what Kafka
acknowledged, and a failed batch is sent again from there. Over a producer that the tests settle by hand;
the relay on a real broker is covered by the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tandem_contracts.envelope import stable_event_id
from tandem_goals.application import GoalsApplication
from tandem_goals.outbound import SOURCE, to_integration_event
from tandem_runtime.outbox import MemoryRelayStorage, OutboxRelay
from tests.examples import goals_application, set_goal
from tests.support import AcknowledgingProducer, HeldProducer, eventually

TENANT = "acme"


def application_with_goals(count: int) -> GoalsApplication:
    application = goals_application("memory:", TENANT, ["e-1"])
    for _ in range(count):
        set_goal(application, TENANT, "e-1")
    return application


def log_of(application: GoalsApplication) -> tuple[list[int], list[str]]:
    """The notification ids of the application's log, and the event id each is published under, in order."""
    notifications = application.recorder.select_notifications(start=1, limit=1000)
    return [n.id for n in notifications], [stable_event_id(n.originator_id, n.originator_version) for n in notifications]


def relay(application: GoalsApplication, storage: MemoryRelayStorage, batch_size: int) -> OutboxRelay:
    return OutboxRelay(
        name="goals",
        application=application,
        translate=to_integration_event,
        source=SOURCE,
        open_storage=lambda: storage,
        batch_size=batch_size,
        save_interval_seconds=0.0,
    )


@asynccontextmanager
async def running(relay_under_test: OutboxRelay, producer: HeldProducer) -> AsyncIterator[None]:
    """The relay runs over ``producer`` inside the block, and is stopped (cancelled) when it ends."""
    task = asyncio.create_task(relay_under_test.run(producer))  # type: ignore[arg-type]
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_batch_is_sent_again_from_the_acknowledged_position():
    application = application_with_goals(6)
    ids, in_log_order = log_of(application)
    storage, producer = MemoryRelayStorage(), HeldProducer()
    under_test = relay(application, storage, batch_size=2)
    async with running(under_test, producer):
        await eventually(lambda: len(producer.sent) == 2)
        await asyncio.sleep(0.1)
        assert len(producer.sent) == 2, "the next batch waits for this one's acknowledgements"
        assert under_test.state.position is None

        producer.acknowledge(0, 1)
        await eventually(lambda: len(producer.sent) == 4)
        assert under_test.state.position == ids[1]
        producer.acknowledge(3, 3)  # the second batch's later event is acknowledged, its first one fails
        producer.fail(2)
        await eventually(lambda: under_test.state.last_error is not None)
        assert under_test.state.position == ids[1], "a batch with a failed event does not move the position"

        async def everything_acknowledged() -> bool:
            producer.acknowledge(0, len(producer.sent) - 1)
            return under_test.state.position == ids[-1]

        await eventually(everything_acknowledged)

    sent = [event_id for event_id, _ in producer.sent]
    assert sent == [*in_log_order[:4], *in_log_order[2:]], "the failed batch, whole, again, then the rest"
    assert under_test.state.last_error is None
    assert storage.load_position("goals") == ids[-1]


async def test_stopping_records_the_acknowledged_position_not_the_sent_one():
    application = application_with_goals(4)
    ids, _ = log_of(application)
    storage, producer = MemoryRelayStorage(), HeldProducer()
    under_test = relay(application, storage, batch_size=2)
    async with running(under_test, producer):
        await eventually(lambda: len(producer.sent) == 2)
        producer.acknowledge(0, 1)
        await eventually(lambda: len(producer.sent) == 4)  # the second batch sent, not acknowledged
    assert storage.load_position("goals") == ids[1]


@pytest.mark.parametrize("batch_size", [1, 5, 500])
async def test_every_event_is_published_once_in_log_order(batch_size: int):
    application = application_with_goals(23)
    ids, in_log_order = log_of(application)
    storage, producer = MemoryRelayStorage(), AcknowledgingProducer()
    under_test = relay(application, storage, batch_size=batch_size)
    async with running(under_test, producer):
        await eventually(lambda: under_test.state.position == ids[-1])
    assert [event_id for event_id, _ in producer.sent] == in_log_order
    assert under_test.state.published == 23
    assert storage.load_position("goals") == ids[-1]


class TopicRecordingProducer:
    """Acknowledges every send at once and keeps each one's topic and headers."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, bytes]]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> asyncio.Future[None]:
        self.sent.append((topic, dict(headers)))
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        return delivery


async def test_a_stored_event_that_no_longer_makes_a_valid_contract_is_set_aside_and_the_rest_go_on():
    application = application_with_goals(5)
    ids, in_log_order = log_of(application)
    beyond = in_log_order[2]

    def translate(domain_event, context):
        event = to_integration_event(domain_event, context)
        if event is not None and stable_event_id(domain_event.originator_id, domain_event.originator_version) == beyond:
            raise ValueError("kpi.target: Input should be less than or equal to 1E+12")
        return event

    storage, producer = MemoryRelayStorage(), TopicRecordingProducer()
    under_test = OutboxRelay(name="goals", application=application, translate=translate, source=SOURCE,
                             open_storage=lambda: storage, save_interval_seconds=0.0)
    async with running(under_test, producer):  # type: ignore[arg-type]
        await eventually(lambda: under_test.state.position == ids[-1])
    published = [headers["ce_id"].decode() for topic, headers in producer.sent if topic == "tandem.goals.v1"]
    assert published == [event_id for event_id in in_log_order if event_id != beyond]
    [(topic, headers)] = [(topic, headers) for topic, headers in producer.sent if topic != "tandem.goals.v1"]
    assert topic == "tandem.deadletter.v1"
    assert headers["dlq_reason"] == b"untranslatable" and b"1E+12" in headers["dlq_error"]
    assert headers["dlq_consumer"] == b"relay-goals"
