"""Group commit on an SQLite event store: a command is answered, and its events published, only once a flush
of the log covers it; many commits share one flush; a failed flush is reported and tried again. Over a log
whose flushes the tests hold and release by hand."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tandem_runtime.group_commit import DurabilityScope, LogFlusher, current_scope
from tandem_runtime.metrics import Metrics
from tandem_runtime.outbox import MemoryRelayStorage, OutboxRelay
from tests.examples import goals_application, set_goal
from tests.support import AcknowledgingProducer, eventually

TENANT = "acme"


class HeldDisk:
    """Stands for fsync: each flush waits until the test opens the gate, and can be made to fail."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()  # a flush has begun
        self.flushes = 0
        self.failing: OSError | None = None

    def fsync(self, path: str) -> None:
        self.entered.set()
        assert self.gate.wait(timeout=10), "a flush waited for a gate the test never opened"
        if self.failing is not None:
            error, self.failing = self.failing, None
            raise error
        self.flushes += 1


@pytest.fixture
def disk() -> HeldDisk:
    return HeldDisk()


@pytest.fixture
def flusher(tmp_path, disk):
    flusher = LogFlusher(str(tmp_path / "events.db"), fsync=disk.fsync)
    flusher.start(0)
    yield flusher
    disk.gate.set()
    flusher.stop()


def test_a_commit_is_durable_only_once_a_flush_covers_it(flusher, disk):
    async def scenario() -> None:
        waiting = asyncio.ensure_future(flusher.flushed(1))
        await asyncio.sleep(0.05)
        assert not waiting.done() and flusher.durable == 0
        disk.gate.set()
        await asyncio.wait_for(waiting, timeout=5)
        assert flusher.durable == 1

    asyncio.run(scenario())


def test_commits_made_during_a_flush_share_the_next_one(flusher, disk):
    async def scenario() -> None:
        first = asyncio.ensure_future(flusher.flushed(1))
        await eventually(disk.entered.is_set)  # the flusher has taken commit 1 and waits on the disk
        later = [asyncio.ensure_future(flusher.flushed(n)) for n in range(2, 51)]
        await asyncio.sleep(0.05)
        disk.gate.set()
        await asyncio.wait_for(asyncio.gather(first, *later), timeout=5)
        assert flusher.durable == 50
        assert disk.flushes == 2  # commit 1's flush, then one for the 49 made while it ran

    asyncio.run(scenario())


def test_a_failed_flush_is_reported_to_whoever_waits_and_tried_again(flusher, disk):
    async def scenario() -> None:
        disk.failing = OSError(5, "Input/output error")
        disk.gate.set()
        with pytest.raises(OSError):
            await asyncio.wait_for(flusher.flushed(1), timeout=5)
        await asyncio.wait_for(flusher.flushed(1), timeout=5)  # the retry covers it
        assert flusher.durable == 1

    asyncio.run(scenario())


@pytest.fixture
def held_application(tmp_path, disk):
    """A goals application on an SQLite file, whose flushes go to the held disk."""
    application = goals_application(f"sqlite:///{tmp_path / 'events.db'}", TENANT, ["e-1"])
    assert application.flusher is not None
    application.flusher._fsync = disk.fsync  # a fresh store: nothing was waiting to be flushed
    yield application
    disk.gate.set()
    application.close()


def test_a_save_outside_an_endpoint_on_the_loop_blocks_until_durable(held_application, disk):
    saved = threading.Event()
    worker = threading.Thread(target=lambda: (set_goal(held_application, TENANT, "e-1"), saved.set()))
    worker.start()
    assert not saved.wait(timeout=0.2)
    disk.gate.set()
    assert saved.wait(timeout=5)
    worker.join()


def test_the_relay_publishes_only_what_a_flush_made_durable(held_application, disk):
    from tandem_goals.outbound import SOURCE, to_integration_event

    metrics = Metrics("goals")
    relay = OutboxRelay(name="goals", application=held_application, translate=to_integration_event, source=SOURCE,
                        open_storage=MemoryRelayStorage, metrics=metrics)
    storage = MemoryRelayStorage()

    async def scenario() -> None:
        relay._producer = AcknowledgingProducer()
        scope = DurabilityScope()
        token = current_scope.set(scope)
        try:
            set_goal(held_application, TENANT, "e-1")  # committed; an endpoint would now await its scope
        finally:
            current_scope.reset(token)
        assert scope.upto == 1
        assert await relay.relay_batch(storage) == 0
        disk.gate.set()
        await asyncio.wait_for(scope.settle(), timeout=5)
        assert await relay.relay_batch(storage) == 1
        assert "tandem_event_store_flush_seconds_count 1.0" in metrics.render().decode()

    asyncio.run(scenario())


def test_the_event_store_commits_without_flushing_and_leaves_that_to_its_flusher(tmp_path):
    application = goals_application(f"sqlite:///{tmp_path / 'events.db'}", TENANT, ["e-1"])
    try:
        with application.factory.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL: the log is written at commit, not flushed
        set_goal(application, TENANT, "e-1")
        assert application.durable_position() == 1  # outside an endpoint, the save waited for its flush
    finally:
        application.close()
