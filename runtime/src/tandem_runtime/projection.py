"""The batched, tracked, idempotent projection consumer.

Messages are consumed in batches. Each batch is applied to the read model in one database transaction
together with the Kafka position of every partition it touched and the latest version of every
aggregate stream it saw. That position, not Kafka's committed offset, is the truth: on assignment
the consumer seeks to it, so a crash between the transaction and the Kafka commit only replays
messages, and replays are skipped. Duplicates from the outbox relay (same event, new offset) are
skipped by stream version.

No event stops a consumer: one that cannot be decoded, or whose batch fails for any reason but a passing
outage (``retry.is_transient``), is found by applying the batch again one event per transaction, and set
aside on the dead-letter topic with its error in the headers (``DeadLetters``), while the rest of the batch
is applied and tracked. A batch with nothing wrong stays one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from tandem_contracts.envelope import Envelope, Headline, decode
from tandem_runtime.blocking import OwnThread
from tandem_runtime.database import Cursor, SQLDatabase
from tandem_runtime.metrics import Metrics
from tandem_runtime.retry import Backoff, is_transient
from tandem_runtime.topics import DEAD_LETTER

log = logging.getLogger(__name__)

_CHUNK = 500  # rows per IN (...) query: under SQLite's parameter limit


@dataclass(slots=True)  # not frozen: a frozen dataclass's constructor costs three times as much, per event
class Delivery:
    """One decoded event and where it came from."""

    topic: str
    partition: int
    offset: int
    envelope: Envelope | Headline  # a fast decoder's headline carries id, type, subject, tenant and sequence
    event: Any  # what the read model's decoder gives: a contracts model (IntegrationEvent), or plain data


class ReadModel(Protocol):
    """A projection's tables and how events change them."""

    # Read-only, so a class attribute such as ``topics = (GOALS,)`` satisfies them.
    @property
    def name(self) -> str: ...
    @property
    def topics(self) -> tuple[str, ...]: ...
    # Optional: ``tracks_streams = False`` (see ProjectionStore), ``decode`` (headers, value) → (Envelope, event), defaulting to the validating contracts decoder,
    # and ``malformed``, the errors ``apply`` raises on data the fast decoder let through (any error isolates its
    # event; these are counted as malformed rather than unapplicable). A read model may also be ``GathersRows``.

    def create_schema(self, cursor: Cursor) -> None:
        """Create the read model's tables if they do not exist."""

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        """Apply new events, in delivery order, inside the batch's transaction."""


@runtime_checkable
class GathersRows(Protocol):
    """A read model whose replay keeps a batch's rows instead of its decoded events."""

    def gather(self) -> Any:
        """A fresh collector of rows, with ``add(event_type, event)``."""

    def apply_gathered(self, cursor: Cursor, gathered: Any) -> None:
        """Write what a collector from ``gather()`` holds, inside the batch's transaction."""


@dataclass
class BatchOutcome:
    """What one batch did."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class ProjectionStore:
    """The read model's database plus the tracking tables that make each batch exactly-once."""

    def __init__(self, database: SQLDatabase, read_model: ReadModel, *, schema_made: bool = False) -> None:
        """``schema_made``: another has made the tables already (the processes of a parallel replay, whose
        schema statements would otherwise take table locks while the others write, and deadlock)."""
        self.database = database
        self.read_model = read_model
        # A read model whose every write is idempotent by itself (keyed inserts, version-guarded updates) may
        # opt out of per-stream version tracking, which costs a row per aggregate.
        self._tracks_streams = getattr(read_model, "tracks_streams", True)
        if schema_made:
            return
        with database.transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS tandem_projection_positions ("
                " projection TEXT NOT NULL, topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL,"
                " kafka_offset BIGINT NOT NULL, PRIMARY KEY (projection, topic, kafka_partition))"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS tandem_projection_streams ("
                " projection TEXT NOT NULL, stream_id TEXT NOT NULL, version BIGINT NOT NULL,"
                " PRIMARY KEY (projection, stream_id))"
            )
            read_model.create_schema(cursor)

    def positions(self) -> dict[tuple[str, int], int]:
        """The last applied offset of every tracked partition."""
        with self.database.reading() as cursor:
            cursor.execute(
                "SELECT topic, kafka_partition, kafka_offset FROM tandem_projection_positions"
                " WHERE projection = ? AND kafka_offset >= 0",
                (self.read_model.name,),
            )
            return {(topic, partition): offset for topic, partition, offset in cursor.fetchall()}

    def apply_batch(
        self, deliveries: Sequence[Delivery], consumed: dict[tuple[str, int], int]
    ) -> tuple[int, int]:
        """Apply what is new in one transaction and track ``consumed`` (partition → last offset).

        Returns (applied, duplicates).
        """
        with self.database.transaction() as cursor:
            stored = self._stored_offsets(cursor, {tp for tp in consumed})
            fresh = [d for d in deliveries if d.offset > stored.get((d.topic, d.partition), -1)]
            new = self._skip_seen_versions(cursor, fresh) if self._tracks_streams else fresh
            if new:
                self.read_model.apply(cursor, new)
            self._advance(cursor, consumed, stored)
        return len(new), len(deliveries) - len(new)

    def apply_gathered(self, gathered: Any, fetched: dict[tuple[str, int], tuple[int, int]]) -> None:
        """Apply what the read model's ``gather()`` collected from the offsets ``fetched`` (partition → first
        and last offset), and track them, in one transaction.

        Nothing is filtered here, so every one of those offsets must be past the tracked positions: for a
        replay that started from them and is their only writer. Raises ``RuntimeError`` if one is not.
        """
        read_model = self.read_model
        if not isinstance(read_model, GathersRows):
            raise TypeError(f"read model {read_model.name} gathers no rows")
        with self.database.transaction() as cursor:
            stored = self._stored_offsets(cursor, set(fetched))
            overlap = sorted(tp for tp, (first, _) in fetched.items() if first <= stored.get(tp, -1))
            if overlap:
                raise RuntimeError(f"another writer has applied offsets of {overlap} meanwhile")
            read_model.apply_gathered(cursor, gathered)
            self._advance(cursor, {tp: last for tp, (_, last) in fetched.items()}, stored)

    def _advance(self, cursor: Cursor, consumed: dict[tuple[str, int], int], stored: dict[tuple[str, int], int]) -> None:
        name = self.read_model.name
        cursor.executemany(
            "INSERT INTO tandem_projection_positions (projection, topic, kafka_partition, kafka_offset)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (projection, topic, kafka_partition)"
            " DO UPDATE SET kafka_offset = excluded.kafka_offset",
            [(name, topic, partition, offset) for (topic, partition), offset in consumed.items()
             if offset > stored.get((topic, partition), -1)],
        )

    def apply_isolating(
        self,
        deliveries: Sequence[Delivery],
        consumed: dict[tuple[str, int], int],
        set_aside: Callable[[list[tuple[Delivery, Exception]]], None] | None = None,
    ) -> tuple[int, int, list[tuple[Delivery, Exception]]]:
        """``apply_batch``, and if the batch fails for any reason but a passing outage, ``apply_each``: whatever
        an event does to the read model, only that event is left out. ``set_aside`` gets the rejected events
        before the batch is tracked, so a crash in between replays them rather than losing them.

        Returns (applied, duplicates, rejected with their errors). A transient error propagates, nothing of
        the batch tracked, for the caller to retry it whole.
        """
        try:
            applied, duplicates = self.apply_batch(deliveries, consumed)
        except Exception as error:
            if is_transient(error):
                raise
            log.warning("projection %s: a batch of %d failed, applying it event by event: %r",
                        self.read_model.name, len(deliveries), error)
            return self.apply_each(deliveries, consumed, set_aside)
        return applied, duplicates, []

    def apply_each(
        self,
        deliveries: Sequence[Delivery],
        consumed: dict[tuple[str, int], int],
        set_aside: Callable[[list[tuple[Delivery, Exception]]], None] | None = None,
    ) -> tuple[int, int, list[tuple[Delivery, Exception]]]:
        """Apply ``deliveries`` one transaction each, setting aside those that fail for any reason but a passing
        outage, then track ``consumed``: the slow path for a batch that holds poison.

        Returns (applied, duplicates, rejected with their errors).
        """
        applied = duplicates = 0
        rejected: list[tuple[Delivery, Exception]] = []
        for delivery in deliveries:
            try:
                new, again = self.apply_batch([delivery], {})
            except Exception as error:
                if is_transient(error):
                    raise
                rejected.append((delivery, error))
            else:
                applied, duplicates = applied + new, duplicates + again
        if rejected and set_aside is not None:
            set_aside(rejected)
        self.apply_batch([], consumed)
        return applied, duplicates, rejected

    def _skip_seen_versions(self, cursor: Cursor, fresh: list[Delivery]) -> list[Delivery]:
        """Drop events at or below their stream's applied version (relay duplicates), and track the new versions."""
        versions = self._stored_versions(cursor, {d.envelope.subject for d in fresh if d.envelope.sequence})
        new: list[Delivery] = []
        for delivery in fresh:
            sequence, subject = delivery.envelope.sequence, delivery.envelope.subject
            if sequence is not None and subject:
                if sequence <= versions.get(subject, 0):
                    continue
                versions[subject] = sequence
            new.append(delivery)
        touched = {d.envelope.subject for d in new if d.envelope.sequence and d.envelope.subject}
        cursor.executemany(
            "INSERT INTO tandem_projection_streams (projection, stream_id, version) VALUES (?, ?, ?)"
            " ON CONFLICT (projection, stream_id) DO UPDATE SET version = excluded.version",
            [(self.read_model.name, subject, versions[subject]) for subject in touched],
        )
        return new

    def _stored_offsets(self, cursor: Cursor, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The tracked offsets of ``partitions``, locked until the transaction ends.

        On PostgreSQL two instances may briefly both hold a partition during a rebalance; the row locks
        make the second wait and then see what the first applied. SQLite's single writer does the same.
        """
        name = self.read_model.name
        ordered = sorted(partitions)
        cursor.executemany(
            "INSERT INTO tandem_projection_positions (projection, topic, kafka_partition, kafka_offset)"
            " VALUES (?, ?, ?, -1) ON CONFLICT (projection, topic, kafka_partition) DO NOTHING",
            [(name, topic, partition) for topic, partition in ordered],
        )
        lock = "" if self.database.is_sqlite else " FOR UPDATE"
        stored: dict[tuple[str, int], int] = {}
        for topic in sorted({topic for topic, _ in ordered}):
            numbers = [partition for t, partition in ordered if t == topic]
            cursor.execute(
                "SELECT kafka_partition, kafka_offset FROM tandem_projection_positions"
                " WHERE projection = ? AND topic = ? AND kafka_partition IN (" + ",".join("?" * len(numbers)) + ")"
                " ORDER BY kafka_partition" + lock,
                (name, topic, *numbers),
            )
            stored.update({(topic, partition): offset for partition, offset in cursor.fetchall()})
        return stored

    def _stored_versions(self, cursor: Cursor, subjects: set[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        ordered = sorted(subjects)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            cursor.execute(
                "SELECT stream_id, version FROM tandem_projection_streams WHERE projection = ? AND stream_id IN ("
                + ",".join("?" * len(chunk))
                + ")",
                (self.read_model.name, *chunk),
            )
            found.update(dict(cursor.fetchall()))
        return found


UNDECODABLE, MALFORMED, UNAPPLICABLE = "undecodable", "malformed", "unapplicable"  # why an event was set aside


class DeadLetters:
    """Sets a consumer's poison aside on the dead-letter topic, with its error and origin in the headers, and
    counts it on ``/metrics`` (``tandem_dead_lettered_events`` by consumer and reason): one way for every consumer."""

    def __init__(self, producer: AIOKafkaProducer, consumer: str, metrics: Metrics | None = None) -> None:
        self._producer = producer
        self.consumer = consumer
        self._metrics = metrics

    async def send(self, message: ConsumerRecord, error: BaseException, reason: str) -> None:
        """Publish ``message`` as it came, plus ``dlq_*`` headers naming the error, and wait for the broker's ack."""
        log.error(
            "consumer %s: dead-lettering %s[%d]@%d (%s): %r",
            self.consumer, message.topic, message.partition, message.offset, reason, error,
        )
        headers = [
            *(message.headers or ()),
            ("dlq_error", str(error)[:2000].encode()),
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_reason", reason.encode()),
            ("dlq_original_topic", message.topic.encode()),
            ("dlq_original_partition", str(message.partition).encode()),
            ("dlq_original_offset", str(message.offset).encode()),
            ("dlq_consumer", self.consumer.encode()),
        ]
        try:
            await (await self._producer.send(DEAD_LETTER, value=message.value, key=message.key, headers=headers))
        except MessageSizeTooLargeError:  # the headers tipped it over the limit: the origin still finds it
            headers.append(("dlq_value_dropped", b"true"))
            await (await self._producer.send(DEAD_LETTER, value=None, key=message.key, headers=headers))
        if self._metrics:
            self._metrics.dead_lettered.labels(self.consumer, reason).inc()


class _SeekToTrackedPositions(ConsumerRebalanceListener):
    """On assignment, continue after the position stored with the read model, or from the start."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._runner.assigned.difference_update(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        runner = self._runner
        assert runner.consumer is not None, "the runner's consumer calls this listener"
        positions = await runner.thread.run(runner.store.positions)
        untracked = []
        for tp in assigned:
            offset = positions.get((tp.topic, tp.partition))
            if offset is None:
                untracked.append(tp)
            else:
                runner.consumer.seek(tp, offset + 1)
            runner.assigned.add(tp)
        if untracked:
            await runner.consumer.seek_to_beginning(*untracked)
        log.info("projection %s: assigned %d partitions", runner.store.read_model.name, len(runner.assigned))


class ProjectionRunner:
    """Consumes a read model's topics in batches and applies each batch exactly once."""

    def __init__(
        self,
        *,
        store: ProjectionStore,
        bootstrap_servers: str,
        metrics: Metrics | None = None,
        group_id: str | None = None,
        batch_size: int = 2000,
        poll_timeout_ms: int = 200,
        on_batch: Callable[[Sequence[Delivery]], None] | None = None,
    ) -> None:
        """``on_batch`` is called on the event loop with a batch's decoded events once the batch is applied and
        tracked (replays and duplicates among them): for read-your-writes waiters."""
        self.store = store
        self._on_batch = on_batch
        self.assigned: set[TopicPartition] = set()
        self.batches = 0
        self._metrics = metrics
        self._dead_letters: DeadLetters | None = None
        self._bootstrap_servers = bootstrap_servers
        self._group_id = group_id or f"tandem.projections.{store.read_model.name}"
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self.consumer: AIOKafkaConsumer | None = None
        self._started = False
        # Kafka's committed offsets only show lag (the read model's positions are the truth), so they are
        # committed beside the batches, latest offsets winning, never in a batch's way.
        self._offsets_to_commit: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None
        # Batches never queue behind the process's other blocking work (its queries, above all).
        self.thread = OwnThread(f"projection-{store.read_model.name}")
        self._decode = getattr(store.read_model, "decode", decode)
        self._malformed: tuple[type[Exception], ...] = getattr(store.read_model, "malformed", ())

    @property
    def started(self) -> bool:
        """Connected and subscribed (an instance may hold no partitions while others in its group hold them all)."""
        return self._started

    async def start(self, dead_letter_producer: AIOKafkaProducer) -> None:
        """Connect and subscribe; the rebalance listener seeks to the tracked positions.

        ``dead_letter_producer`` is a started producer for the dead-letter topic.
        """
        self._dead_letters = DeadLetters(dead_letter_producer, self.store.read_model.name, metrics=self._metrics)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=self._group_id,
            client_id=f"tandem-projection-{self.store.read_model.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        await self.consumer.start()
        self.consumer.subscribe(list(self.store.read_model.topics), listener=_SeekToTrackedPositions(self))
        self._started = True

    async def stop(self) -> None:
        """Leave the group cleanly; anything applied is already tracked."""
        self._started = False
        if self._committing is not None:
            await asyncio.wait([self._committing], timeout=5)
            self._committing.cancel()
        if self.consumer is not None:
            await self.consumer.stop()
        self.thread.close()

    async def run(self) -> None:
        """Consume and apply until cancelled; a batch that fails on a passing outage is retried as a whole."""
        assert self.consumer is not None, "start() first"
        backoff = Backoff()
        while True:
            try:
                records = await self.consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._batch_size)
            except KafkaError as error:
                log.warning("projection %s: fetch failed: %s", self.store.read_model.name, error)
                await asyncio.sleep(backoff.next())
                continue
            while records:
                try:
                    await self.process(records)
                except Exception as error:
                    if not is_transient(error):
                        raise
                    # Nothing of the batch is tracked yet, so applying it again is safe.
                    log.warning("projection %s: batch failed, retrying: %s", self.store.read_model.name, error)
                    await asyncio.sleep(backoff.next())
                else:
                    backoff.reset()
                    break

    async def process(self, records: dict[TopicPartition, list[ConsumerRecord]]) -> BatchOutcome:
        """Decode, dead-letter the undecodable, apply the rest in one transaction (or, if that fails, one
        transaction per event, dead-lettering those that fail), then commit offsets."""
        started = time.perf_counter()
        outcome = BatchOutcome()
        deliveries: list[Delivery] = []
        sources: dict[int, ConsumerRecord] = {}
        consumed: dict[tuple[str, int], int] = {}
        for tp, messages in records.items():
            for message in messages:
                try:
                    envelope, event = self._decode(message.headers, message.value)
                except Exception as error:  # a decoder's bug on odd input is the message's poison all the same
                    assert self._dead_letters is not None, "start() first"
                    await self._dead_letters.send(message, error, UNDECODABLE)
                    outcome.dead_lettered += 1
                else:
                    delivery = Delivery(tp.topic, tp.partition, message.offset, envelope, event)
                    deliveries.append(delivery)
                    sources[id(delivery)] = message
            consumed[(tp.topic, tp.partition)] = messages[-1].offset
        loop = asyncio.get_running_loop()

        async def send_dead_letters(rejected: list[tuple[Delivery, Exception]]) -> None:
            assert self._dead_letters is not None, "start() first"
            for delivery, failure in rejected:
                await self._dead_letters.send(sources[id(delivery)], failure,
                                              MALFORMED if isinstance(failure, self._malformed) else UNAPPLICABLE)

        def set_aside(rejected: list[tuple[Delivery, Exception]]) -> None:
            # On the batch's thread, before its offsets are tracked: the dead letters are acknowledged first.
            asyncio.run_coroutine_threadsafe(send_dead_letters(rejected), loop).result()

        outcome.applied, outcome.duplicates, rejected = await self.thread.run(
            self.store.apply_isolating, deliveries, consumed, set_aside
        )
        outcome.dead_lettered += len(rejected)
        self._commit_beside({TopicPartition(t, p): o + 1 for (t, p), o in consumed.items()})
        self.batches += 1
        if self._on_batch is not None:
            try:
                self._on_batch(deliveries)
            except Exception:  # the batch is applied and tracked: a listener's failure must not replay it
                log.exception("projection %s: a batch listener failed", self.store.read_model.name)
        if self._metrics:
            self._record_metrics(records, outcome, time.perf_counter() - started)
        return outcome

    def _commit_beside(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit ``offsets`` to Kafka in the background, one commit in flight, so the next batch need not wait."""
        self._offsets_to_commit.update(offsets)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_offsets())

    async def _commit_offsets(self) -> None:
        assert self.consumer is not None
        while self._offsets_to_commit:
            offsets, self._offsets_to_commit = self._offsets_to_commit, {}
            try:
                await self.consumer.commit(offsets)
            except KafkaError as error:
                # The read model's tracked positions are the truth; Kafka's committed offsets only show lag.
                log.info("projection %s: offset commit skipped: %s", self.store.read_model.name, error)

    def _record_metrics(self, records: dict[TopicPartition, list[ConsumerRecord]], outcome: BatchOutcome, seconds: float) -> None:
        metrics = self._metrics
        assert metrics is not None and self.consumer is not None
        metrics.projection_batch_seconds.observe(seconds)
        topic = next(iter(records)).topic if len(records) == 1 else "all"
        metrics.projection_events.labels(topic, "applied").inc(outcome.applied)
        metrics.projection_events.labels(topic, "duplicate").inc(outcome.duplicates)
        metrics.projection_events.labels(topic, "dead_lettered").inc(outcome.dead_lettered)
        applied_at = time.time() * 1000
        for tp, messages in records.items():
            for message in messages:
                if message.timestamp > 0:  # a record without a timestamp has -1
                    metrics.projection_event_age.observe(max(0.0, applied_at - message.timestamp) / 1000)
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                metrics.projection_lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - messages[-1].offset - 1))
