"""At-least-once publishing and exactly-once projection, under crashes, on a real broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tandem_goals.application import GoalsApplication
from tandem_goals.outbound import SOURCE, to_integration_event
from tandem_projections.queries import employee_dashboard
from tandem_projections.read_model import DashboardsReadModel
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.kafka import make_producer
from tandem_runtime.outbox import OutboxRelay, RelayStorage
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.topics import DEAD_LETTER, GOALS
from tests.examples import goals_application, set_goal
from tests.support import caught_up, eventually, read_topic


class RelayCrashed(BaseException):
    """Stands for the process dying: nothing in the relay catches it."""


class CrashBeforeSavingPosition(RelayStorage):
    """Real storage whose first position save never happens: the relay dies after Kafka acknowledged."""

    def __init__(self, inner: RelayStorage) -> None:
        self.inner = inner

    def try_lock(self) -> bool:
        return self.inner.try_lock()

    def load_position(self, relay: str) -> int | None:
        return self.inner.load_position(relay)

    def save_position(self, relay: str, notification_id: int) -> None:
        raise RelayCrashed

    def close(self) -> None:
        self.inner.close()


def relay_for(application: GoalsApplication, open_storage) -> OutboxRelay:
    return OutboxRelay(
        name="goals", application=application, translate=to_integration_event, source=SOURCE, open_storage=open_storage
    )


async def started_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = make_producer(bootstrap, client_id="test")
    await producer.start()
    return producer


async def run_projection(bootstrap: str, database, group: str, batch_size: int = 2000):
    store = ProjectionStore(database, DashboardsReadModel())
    runner = ProjectionRunner(store=store, bootstrap_servers=bootstrap, group_id=group, batch_size=batch_size)
    producer = await started_producer(bootstrap)
    await runner.start(producer)
    task = asyncio.create_task(runner.run())
    return runner, task, producer


async def stop_projection(runner, task, producer) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await runner.stop()
    await producer.stop()


async def relay_until(application: GoalsApplication, url: str, producer: AIOKafkaProducer, position: int) -> None:
    """Run a relay until it has published through notification ``position``, then stop it."""
    relay = relay_for(application, lambda: RelayStorage.for_database(url, "goals"))
    task = asyncio.create_task(relay.run(producer))
    try:
        await eventually(lambda: relay.state.position == position, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def project_everything(bootstrap: str, database, group: str, batch_size: int = 2000) -> None:
    """Run a projection until it has applied everything on the goals topic now, then stop it."""
    runner, task, producer = await run_projection(bootstrap, database, group, batch_size)
    try:
        await eventually(lambda: caught_up(runner, bootstrap, (GOALS,)), timeout=60)
    finally:
        await stop_projection(runner, task, producer)


def dashboard(database, tenant: str, employee: str) -> dict:
    with database.reading() as cursor:
        return employee_dashboard(cursor, tenant, employee, date(2026, 6, 1))["employee"]


async def test_a_relay_that_dies_before_saving_its_position_republishes_and_the_projection_counts_once(
    kafka_bootstrap, tmp_path
):
    url = f"sqlite:///{tmp_path}/goals.db"
    tenant, employee = f"t-{uuid.uuid4().hex[:8]}", "e-1"
    application = goals_application(url, tenant, [employee])
    goal_id = set_goal(application, tenant, employee)
    producer = await started_producer(kafka_bootstrap)
    try:
        crashing = relay_for(application, lambda: CrashBeforeSavingPosition(RelayStorage.for_database(url, "goals")))
        with pytest.raises(RelayCrashed):
            await crashing.run(producer)

        await relay_until(application, url, producer, position=1)
    finally:
        await producer.stop()

    copies = [m for m in await read_topic(kafka_bootstrap, GOALS) if m.key == f"{tenant}:{employee}".encode()]
    assert len(copies) == 2, "the restarted relay publishes the unacknowledged batch again"
    assert len({dict(m.headers)["ce_id"] for m in copies}) == 1, "both copies carry the same event id"

    database = SQLiteDatabase(str(tmp_path / "read-model.db"))
    await project_everything(kafka_bootstrap, database, group=f"test-{tenant}")
    shown = dashboard(database, tenant, employee)
    assert [g["goal_id"] for g in shown["performance_goals"]] == [str(goal_id)]
    assert shown["counts"]["performance_goals"] == 1
    database.close()


GOALS_MID_STREAM = 2000


async def test_a_projection_stopped_mid_stream_resumes_without_losing_or_double_counting(kafka_bootstrap, tmp_path):
    url = f"sqlite:///{tmp_path}/goals.db"
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    employees = [f"e-{n}" for n in range(40)]
    application = goals_application(url, tenant, employees)
    # Enough batches of 20 that the first run cannot apply them all between two looks at its progress.
    goal_ids = {set_goal(application, tenant, employees[n % len(employees)]) for n in range(GOALS_MID_STREAM)}
    producer = await started_producer(kafka_bootstrap)
    await relay_until(application, url, producer, position=GOALS_MID_STREAM)
    await producer.stop()

    database = SQLiteDatabase(str(tmp_path / "read-model.db"))
    group = f"test-{tenant}"
    first = await run_projection(kafka_bootstrap, database, group, batch_size=20)
    await eventually(lambda: first[0].batches >= 3, timeout=30)
    await stop_projection(*first)  # cancelled wherever it was: possibly between its transaction and the Kafka commit
    applied_before_restart = _count_goals(database, tenant)
    assert applied_before_restart < GOALS_MID_STREAM, "the first run stopped mid-stream"

    await project_everything(kafka_bootstrap, database, group, batch_size=20)
    assert _count_goals(database, tenant) == GOALS_MID_STREAM
    with database.reading() as cursor:
        cursor.execute(
            "SELECT SUM(performance_goals) FROM rm_cards WHERE tenant_id = ?", (tenant,)
        )
        assert cursor.fetchone()[0] == GOALS_MID_STREAM, "every goal counted exactly once"
        cursor.execute("SELECT goal_id FROM rm_goals WHERE tenant_id = ?", (tenant,))
        assert {uuid.UUID(row[0]) for row in cursor.fetchall()} == goal_ids
    database.close()


def _count_goals(database, tenant: str) -> int:
    with database.reading() as cursor:
        cursor.execute("SELECT COUNT(*) FROM rm_goals WHERE tenant_id = ?", (tenant,))
        return cursor.fetchone()[0]


async def test_an_undecodable_message_goes_to_the_dead_letter_topic_and_the_stream_moves_on(kafka_bootstrap, tmp_path):
    url = f"sqlite:///{tmp_path}/goals.db"
    tenant, employee = f"t-{uuid.uuid4().hex[:8]}", "e-1"
    producer = await started_producer(kafka_bootstrap)
    poison_key = f"{tenant}:{employee}".encode()
    await (await producer.send(GOALS, value=b"{garbage", key=poison_key, headers=[("ce_type", b"tandem.goal.set.v1")]))
    application = goals_application(url, tenant, [employee])
    goal_id = set_goal(application, tenant, employee)
    await relay_until(application, url, producer, position=1)
    await producer.stop()

    database = SQLiteDatabase(str(tmp_path / "read-model.db"))
    await project_everything(kafka_bootstrap, database, group=f"test-{tenant}")
    assert [g["goal_id"] for g in dashboard(database, tenant, employee)["performance_goals"]] == [str(goal_id)]
    database.close()

    [dead] = [m for m in await read_topic(kafka_bootstrap, DEAD_LETTER) if m.key == poison_key]
    headers = dict(dead.headers)
    assert dead.value == b"{garbage"
    assert b"missing CloudEvents headers" in headers["dlq_error"]
    assert headers["dlq_original_topic"] == GOALS.encode()
    assert orjson.loads(b"[" + headers["dlq_original_offset"] + b"]")[0] >= 0
