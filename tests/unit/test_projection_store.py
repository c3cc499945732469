"""The projection store applies each batch once: replays and relay duplicates change nothing."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from tandem_contracts.envelope import decode, encode, stable_event_id
from tandem_contracts.goals import GoalSet
from tandem_runtime.database import BackgroundCheckpoints, SQLiteDatabase
from tandem_runtime.projection import Delivery, ProjectionRunner, ProjectionStore


def goal_set(employee_id="e-1", kind="performance", version=1, goal_id=None, title="Increase conversions"):
    measure = (
        {"kpi": {"name": "conversions", "unit": "percent", "baseline": "10", "target": "15", "direction": "increase"}}
        if kind == "performance"
        else {"skill": "negotiation", "activity_targets": {"training_hours": "20"}}
    )
    return GoalSet(
        tenant_id="acme",
        employee_id=employee_id,
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        version=version,
        actor="m-1",
        goal_id=goal_id or uuid4(),
        kind=kind,
        status="active",
        set_by="m-1",
        cycle="2026",
        title=title,
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
        cadence="weekly" if kind == "performance" else "monthly",
        **measure,
    )


def message_of(event):
    return encode(
        event,
        event_id=stable_event_id(event.goal_id, event.version),
        source="/tandem/goals",
        actor="m-1",
        correlation_id="c",
        causation_id="c",
    )


def delivered(event, offset, partition=0):
    message = message_of(event)
    envelope, decoded = decode(message.headers, message.value)
    return Delivery("tandem.goals.v1", partition, offset, envelope, decoded)


class GoalCounter:
    """Counts goals per employee and kind by increments: right only if each event is applied exactly once."""

    name = "goal-counter"
    topics = ("tandem.goals.v1",)

    def create_schema(self, cursor):
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS goal_counts (employee_id TEXT PRIMARY KEY,"
            " performance_goals INTEGER NOT NULL DEFAULT 0, development_goals INTEGER NOT NULL DEFAULT 0)"
        )

    def apply(self, cursor, deliveries):
        self.count(cursor, [(d.event.employee_id, *((1, 0) if d.event.kind == "performance" else (0, 1)))
                            for d in deliveries])

    @staticmethod
    def count(cursor, rows):
        """Add (employee, performance goals, development goals) rows to the counts."""
        cursor.executemany(
            "INSERT INTO goal_counts (employee_id, performance_goals, development_goals) VALUES (?, ?, ?)"
            " ON CONFLICT (employee_id) DO UPDATE SET performance_goals = goal_counts.performance_goals"
            " + excluded.performance_goals, development_goals = goal_counts.development_goals + excluded.development_goals",
            rows,
        )


@pytest.fixture
def store(tmp_path):
    database = SQLiteDatabase(str(tmp_path / "read.db"))
    yield ProjectionStore(database, GoalCounter())
    database.close()


def counts(store):
    with store.database.reading() as cursor:
        cursor.execute("SELECT performance_goals, development_goals FROM goal_counts WHERE employee_id = 'e-1'")
        return cursor.fetchone()


def test_a_batch_is_applied_and_its_positions_tracked(store):
    batch = [delivered(goal_set(), 0), delivered(goal_set(kind="development"), 1)]
    assert store.apply_batch(batch, {("tandem.goals.v1", 0): 1}) == (2, 0)
    assert store.positions() == {("tandem.goals.v1", 0): 1}
    assert counts(store) == (1, 1)


def test_a_replayed_batch_changes_nothing(store):
    batch = [delivered(goal_set(), 0), delivered(goal_set(), 1)]
    store.apply_batch(batch, {("tandem.goals.v1", 0): 1})
    assert store.apply_batch(batch, {("tandem.goals.v1", 0): 1}) == (0, 2)
    assert counts(store) == (2, 0)


def test_a_republished_event_at_a_new_offset_is_dropped_by_its_version(store):
    event = goal_set()
    store.apply_batch([delivered(event, 0)], {("tandem.goals.v1", 0): 0})
    assert store.apply_batch([delivered(event, 7)], {("tandem.goals.v1", 0): 7}) == (0, 1)
    assert counts(store) == (1, 0)
    assert store.positions() == {("tandem.goals.v1", 0): 7}


def test_duplicates_inside_one_batch_are_applied_once(store):
    event = goal_set()
    assert store.apply_batch([delivered(event, 0), delivered(event, 1)], {("tandem.goals.v1", 0): 1}) == (1, 1)
    assert counts(store) == (1, 0)


def test_a_batch_that_fails_leaves_neither_read_model_nor_position(store):
    class Exploding(GoalCounter):
        def apply(self, cursor, deliveries):
            super().apply(cursor, deliveries)
            raise RuntimeError("disk full")

    failing = ProjectionStore(store.database, Exploding())
    with pytest.raises(RuntimeError):
        failing.apply_batch([delivered(goal_set(), 0)], {("tandem.goals.v1", 0): 0})
    assert store.positions() == {}
    assert counts(store) is None


def test_a_bulk_load_made_durable_leaves_everything_in_the_database_file(tmp_path):
    path = tmp_path / "bulk.db"
    loading = SQLiteDatabase(str(path), durable=False)
    assert loading._writer.execute("PRAGMA synchronous").fetchone() == (0,)  # OFF: no waiting for the disk
    store = ProjectionStore(loading, GoalCounter())
    store.apply_batch([delivered(goal_set(), 0), delivered(goal_set(kind="development"), 1)], {("tandem.goals.v1", 0): 1})

    loading.make_durable()

    assert Path(f"{path}-wal").stat().st_size == 0  # the log moved into the file
    loading.close()
    reopened = SQLiteDatabase(str(path))
    assert reopened._writer.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL, as always
    assert counts(ProjectionStore(reopened, GoalCounter())) == (1, 1)
    reopened.close()


def test_a_live_store_moves_its_log_into_the_file_in_the_background_never_in_a_commit(tmp_path):
    path = tmp_path / "live.db"
    live = SQLiteDatabase(str(path))
    # Commits checkpoint only past the safety net
    assert live._writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (BackgroundCheckpoints.SAFETY_NET_PAGES,)
    store = ProjectionStore(live, GoalCounter())
    empty_file = path.stat().st_size
    for offset in range(50):
        store.apply_batch([delivered(goal_set(goal_id=uuid4()), offset)], {("tandem.goals.v1", 0): offset})

    deadline = time.monotonic() + 5
    while path.stat().st_size == empty_file and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > empty_file  # only a checkpoint writes the file; the commits wrote the log
    checkpoints = live._checkpoints
    live.close()
    assert checkpoints is not None and not checkpoints._thread.is_alive()
    reopened = SQLiteDatabase(str(path))
    assert counts(ProjectionStore(reopened, GoalCounter())) == (50, 0)
    reopened.close()


def blob_store(path: Path) -> SQLiteDatabase:
    """A live (durable) SQLite store with one table of blobs."""
    store = SQLiteDatabase(str(path))
    with store.transaction() as cursor:
        cursor.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    return store


def test_commits_back_to_back_keep_the_log_within_the_safety_net(tmp_path):
    # The background checkpoints race such commits and may never complete; the writer's own then do.
    busy = blob_store(tmp_path / "busy.db")
    for _ in range(800):
        with busy.transaction() as cursor:
            cursor.execute("INSERT INTO blobs (body) VALUES (?)", (bytes(200_000),))  # 160 MB in all
    assert Path(f"{busy.path}-wal").stat().st_size < 64 * 2**20  # unchecked, it holds all 160 MB
    busy.close()


def test_a_store_is_made_durable_while_its_background_checkpoint_runs(tmp_path):
    store = blob_store(tmp_path / "durable.db")
    for _ in range(6):
        with store.transaction() as cursor:  # its commit wakes the background checkpoint
            cursor.executemany("INSERT INTO blobs (body) VALUES (?)", [(bytes(1000),)] * 40_000)
        store.make_durable()  # never "another connection kept the write-ahead log from moving" (a race, unpaused)
        assert Path(f"{store.path}-wal").stat().st_size == 0
    store.close()


class GatheringCounter(GoalCounter):
    """The counter, fed rows its replay gathered: (employee, performance, development) per goal."""

    @staticmethod
    def gather():
        return []

    def apply_gathered(self, cursor, gathered):
        self.count(cursor, gathered)


def test_gathered_rows_are_applied_with_their_positions_in_one_transaction(tmp_path):
    database = SQLiteDatabase(str(tmp_path / "read.db"))
    store = ProjectionStore(database, GatheringCounter())
    store.apply_gathered([("e-1", 1, 0), ("e-1", 0, 1)], {("tandem.goals.v1", 0): (0, 1), ("tandem.goals.v1", 3): (5, 9)})

    assert store.positions() == {("tandem.goals.v1", 0): 1, ("tandem.goals.v1", 3): 9}
    assert counts(store) == (1, 1)
    database.close()


def test_gathered_rows_from_offsets_already_applied_are_refused_whole(tmp_path):
    database = SQLiteDatabase(str(tmp_path / "read.db"))
    store = ProjectionStore(database, GatheringCounter())
    store.apply_gathered([("e-1", 1, 0)], {("tandem.goals.v1", 0): (0, 4)})

    with pytest.raises(RuntimeError, match="another writer"):
        store.apply_gathered([("e-1", 1, 0)], {("tandem.goals.v1", 0): (4, 6)})

    assert store.positions() == {("tandem.goals.v1", 0): 4}
    assert counts(store) == (1, 0)
    database.close()


class CommitsToNobody:
    """The consumer's part a runner's ``process`` uses: committing offsets beside the batches."""

    def __init__(self):
        self.committed = {}

    async def commit(self, offsets):
        self.committed.update(offsets)

    async def stop(self):
        pass


async def test_a_batch_is_applied_while_the_shared_worker_threads_are_all_busy(store):
    """Queries run in the event loop's shared pool of threads; a burst of them must not hold back the
    projection's next batch (the read model would fall behind exactly when it is most read)."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2))
    release = threading.Event()
    busy = [asyncio.ensure_future(asyncio.to_thread(release.wait)) for _ in range(4)]  # two running, two queued
    runner = ProjectionRunner(store=store, bootstrap_servers="127.0.0.1:9")
    runner.consumer = CommitsToNobody()
    message = message_of(goal_set())
    record = ConsumerRecord("tandem.goals.v1", 0, 0, 0, 0, b"acme:e-1", message.value, None, 0, 0, message.headers)
    try:
        batch = asyncio.ensure_future(runner.process({TopicPartition("tandem.goals.v1", 0): [record]}))
        # A guard against hanging on a regression, not a timing assertion: the batch needs none of the busy threads.
        done, _ = await asyncio.wait([batch], timeout=30)
    finally:
        release.set()
        await asyncio.gather(*busy)
    assert done, "the batch waited for the shared threads"
    assert batch.result().applied == 1
    assert counts(store) == (1, 0)
    await runner.stop()
    assert runner.consumer.committed == {TopicPartition("tandem.goals.v1", 0): 1}


async def test_a_rejected_event_is_on_the_dead_letter_topic_before_its_batch_is_tracked(store):
    class RefusesDevelopment(GoalCounter):
        def apply(self, cursor, deliveries):
            if any(d.event.kind == "development" for d in deliveries):
                raise ArithmeticError("this read model cannot apply development goals")
            super().apply(cursor, deliveries)

    store.read_model = RefusesDevelopment()
    positions_when_dead_lettered = []

    class DeadLettersNotingPositions:
        async def send(self, message, error, reason):
            positions_when_dead_lettered.append(await asyncio.to_thread(store.positions))

    runner = ProjectionRunner(store=store, bootstrap_servers="127.0.0.1:9")
    runner.consumer = CommitsToNobody()
    runner._dead_letters = DeadLettersNotingPositions()
    records = [
        ConsumerRecord("tandem.goals.v1", 0, offset, 0, 0, b"acme:e-1", message_of(event).value, None, 0, 0,
                       message_of(event).headers)
        for offset, event in enumerate([goal_set(), goal_set(kind="development"), goal_set()])
    ]
    outcome = await runner.process({TopicPartition("tandem.goals.v1", 0): records})
    await runner.stop()

    assert (outcome.applied, outcome.dead_lettered) == (2, 1)
    assert positions_when_dead_lettered == [{}], "the batch was tracked before its dead letter was acknowledged"
    assert store.positions() == {("tandem.goals.v1", 0): 2}
    assert counts(store) == (2, 0)
