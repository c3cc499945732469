"""Rebuild the read model from offset zero into a fresh store, then swap it in.

The configured database URL names a family of store *generations*. The current one is recorded beside it
(SQLite: a ``<file>.current`` file naming the generation's file; PostgreSQL: a one-row table naming the
generation's schema). A rebuild fills the next generation while the current one keeps answering queries,
then the pointer moves and the old generation is removed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2

from tandem_contracts.envelope import decode as contracts_decode
from tandem_projections.facts import Employee
from tandem_projections.read_model import (
    DashboardsReadModel,
    cards_in_parallel,
    forget_facts_of,
    refill_department_rollups,
    refresh_all_cards,
)
from tandem_runtime.blocking import OwnThread
from tandem_runtime.database import DatabaseURL, SQLDatabase
from tandem_runtime.projection import Delivery, ProjectionStore
from tandem_runtime.retry import is_transient

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
REBUILD_BATCH = 20_000


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did: events applied (replays and undecodable messages excluded) and seconds taken."""

    events: int
    seconds: float
    skipped: int = 0
    cards: int = 0
    replay_seconds: float = 0.0
    cards_seconds: float = 0.0


class StoreGenerations:
    """The generations of one read-model store, and which of them is current."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.parsed = DatabaseURL.parse(database_url)

    def current(self) -> str:
        """The URL of the generation queries should use."""
        if self.parsed.is_memory:
            return self.url
        if self.parsed.is_sqlite:
            pointer = Path(self.parsed.path + ".current")
            if pointer.exists():
                return f"sqlite:///{Path(self.parsed.path).parent / pointer.read_text().strip()}"
            return self.url
        with SQLDatabase.connect(self.url, pool_size=1) as database, database.transaction() as cursor:
            schema = self._pointed_schema(cursor)
        return self._schema_url(schema) if schema else self.url

    def next(self) -> str:
        """A fresh, empty generation's URL."""
        stamp = time.strftime("%Y%m%d%H%M%S") + f"{time.time_ns() % 1_000_000:06d}"
        if self.parsed.is_sqlite:
            path = Path(self.parsed.path)
            fresh = path.parent / f"{path.name}.g{stamp}"
            path.parent.mkdir(parents=True, exist_ok=True)
            for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
                leftover.unlink(missing_ok=True)
            return f"sqlite:///{fresh}"
        return self._schema_url(f"tandem_read_model_g{stamp}")

    def promote(self, url: str) -> str:
        """Make ``url`` the current generation; return the one it replaced."""
        previous = self.current()
        target = DatabaseURL.parse(url)
        if self.parsed.is_sqlite:
            pointer = Path(self.parsed.path + ".current")
            staged = pointer.with_name(pointer.name + ".tmp")
            staged.write_text(Path(target.path).name)
            os.replace(staged, pointer)  # atomic: a reader sees the old generation or the new one
            return previous
        with SQLDatabase.connect(self.url, pool_size=1) as database, database.transaction() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS tandem_read_model_generation (id INTEGER PRIMARY KEY, schema_name TEXT NOT NULL)")
            cursor.execute(
                "INSERT INTO tandem_read_model_generation (id, schema_name) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET schema_name = excluded.schema_name",
                (target.schema,),
            )
        return previous

    def discard(self, url: str) -> None:
        """Remove a generation that is no longer current (never the base store of a PostgreSQL database)."""
        target = DatabaseURL.parse(url)
        if target.is_sqlite:
            for path in (target.path, f"{target.path}-wal", f"{target.path}-shm"):
                Path(path).unlink(missing_ok=True)
        elif target.schema and re.fullmatch(r"tandem_read_model_g\d+", target.schema):
            with SQLDatabase.connect(self.url, pool_size=1) as database, database.transaction() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {target.schema} CASCADE")

    def _schema_url(self, schema: str) -> str:
        base = self.url.split("?", 1)[0]
        return f"{base}?schema={schema}"

    @staticmethod
    def _pointed_schema(cursor) -> str | None:
        cursor.execute("SELECT to_regclass('tandem_read_model_generation') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT schema_name FROM tandem_read_model_generation WHERE id = 1")
        row = cursor.fetchone()
        return row[0] if row else None


async def replay(
    store: ProjectionStore,
    bootstrap_servers: str,
    *,
    progress: Progress | None = None,
    batch_size: int = REBUILD_BATCH,
    share: tuple[int, int] = (0, 1),
) -> tuple[int, int]:
    """Apply every topic of ``store``'s read model from its tracked positions (or the start) up to the end
    offsets seen now, in large batches, fetching the next batch while the last one is written.

    ``share`` (index, count) takes only the partitions whose number is ``index`` modulo ``count``: an
    employee's events share a partition number on every topic, so shares hold disjoint employees.
    Returns (events applied, messages skipped as undecodable, unapplicable or already applied). What live
    processing dead-lettered is skipped here the same way: a batch that fails is applied an event at a time.
    """
    read_model = store.read_model
    decode = getattr(read_model, "decode", contracts_decode)  # the default the live runner uses too
    gather = getattr(read_model, "gather", None)
    # Inside the running service (a rebuild's catch-up), the batches must not queue behind its queries.
    thread = OwnThread(f"replay-{read_model.name}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id=f"tandem-rebuild-{read_model.name}",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, number)
            for topic in read_model.topics
            for number in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
            if number % share[1] == share[0]
        ]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        tracked = await thread.run(store.positions)
        beginnings = {}
        for tp in partitions:
            begin = max(starts[tp], tracked.get((tp.topic, tp.partition), -1) + 1)
            if begin < ends[tp]:
                beginnings[tp] = begin
        # Assigned only now, and sought before the consumer can fetch: assigned any earlier, it long-polls at
        # the end of every partition (its default reset), which holds back the requests queued behind it.
        consumer.assign(list(beginnings))
        for tp, begin in beginnings.items():
            consumer.seek(tp, begin)
        remaining = {tp: ends[tp] for tp in beginnings}
        total = sum(ends[tp] - begin for tp, begin in beginnings.items())
        done = applied = skipped = 0
        writing: asyncio.Task[tuple[int, int]] | None = None
        if progress:
            progress(0, total)

        def decode_and_apply(fetched: list[tuple[TopicPartition, list[ConsumerRecord]]]) -> tuple[int, int]:
            # Decoding happens here, off the event loop, which meanwhile keeps fetching the next batch.
            if gather is not None:
                try:
                    return gather_and_apply(fetched)
                except Exception as error:
                    if is_transient(error):
                        raise
                    # An event that fails only when applied: found by the slow path below.
            deliveries: list[Delivery] = []
            consumed: dict[tuple[str, int], int] = {}
            undecodable = 0
            for tp, messages in fetched:
                topic, partition = tp.topic, tp.partition
                for message in messages:
                    try:
                        envelope, event = decode(message.headers, message.value)
                    except Exception:
                        undecodable += 1  # live processing dead-lettered it already
                        continue
                    deliveries.append(Delivery(topic, partition, message.offset, envelope, event))
                consumed[(topic, partition)] = messages[-1].offset
            # Live processing dead-lettered the poison; here it is skipped, found one message at a time.
            new, duplicates, rejected = store.apply_isolating(deliveries, consumed)
            return new, duplicates + undecodable + len(rejected)

        def gather_and_apply(fetched: list[tuple[TopicPartition, list[ConsumerRecord]]]) -> tuple[int, int]:
            # Each event becomes the read model's rows as soon as it is decoded, and only the rows wait for the
            # batch's transaction: a batch of decoded events kept until then outgrew the processor's caches,
            # and the allocator handed their memory back to the system and faulted it in again every batch.
            assert gather is not None, "called only for a read model that gathers"
            gathered = gather()
            skipped = 0
            for _, messages in fetched:
                for message in messages:
                    try:
                        envelope, event = decode(message.headers, message.value)
                        gathered.add(envelope.type, event)
                    except Exception:
                        skipped += 1  # live processing dead-lettered it already
            store.apply_gathered(
                gathered, {(tp.topic, tp.partition): (messages[0].offset, messages[-1].offset) for tp, messages in fetched}
            )
            return sum(len(messages) for _, messages in fetched) - skipped, skipped

        # The collector's passes over millions of fresh objects cost more than the decoding itself; a replay
        # makes few cycles, so it runs without the collector and collects once at the end.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while remaining:
                records = await consumer.getmany(*remaining, timeout_ms=500, max_records=batch_size)
                fetched = []
                for tp, messages in records.items():
                    end = remaining.get(tp)
                    if end is None:
                        continue
                    if messages[-1].offset >= end:
                        messages = [m for m in messages if m.offset < end]
                    if messages:
                        fetched.append((tp, messages))
                        done += len(messages)
                        if messages[-1].offset >= end - 1:
                            del remaining[tp]
                if writing is not None:
                    new, passed = await writing
                    applied, skipped = applied + new, skipped + passed
                writing = asyncio.create_task(thread.run(decode_and_apply, fetched)) if fetched else None
                if progress:
                    progress(done, total)
            if writing is not None:
                new, passed = await writing
                applied, skipped = applied + new, skipped + passed
        finally:
            if collecting:
                gc.enable()
                gc.collect()
        return applied, skipped
    finally:
        await consumer.stop()
        thread.close()


async def reapply_the_live_way(database: SQLDatabase, bootstrap_servers: str, employees: set[Employee]) -> int:
    """Forget the facts of ``employees`` and apply their events again as live processing does (cards with each
    batch, a failing batch an event at a time), from their partitions' start up to the positions the store
    reached; then refresh the cards of the owners at the other end of their links. Returns how many of their
    events were left out.

    For the employees whose cards a rebuild could not build: their facts, stored before any card, include an
    event that fails only as its card is built, which live processing dead-lettered.
    """
    read_model = DashboardsReadModel()
    store = ProjectionStore(database, read_model, schema_made=True)
    reached = await asyncio.to_thread(store.positions)
    keys = {f"{tenant}:{employee}".encode() for tenant, employee in employees}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
                                client_id=f"tandem-rebuild-{read_model.name}-again")
    await consumer.start()
    try:
        last: dict[TopicPartition, int] = {}
        for topic in read_model.topics:
            numbers = sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
            for key in keys:  # where the services' producers put the key (aiokafka's default partitioner)
                tp = TopicPartition(topic, numbers[(murmur2(key) & 0x7FFFFFFF) % len(numbers)])
                if (topic, tp.partition) in reached:
                    last[tp] = reached[(topic, tp.partition)]
        starts = await consumer.beginning_offsets(list(last)) if last else {}
        remaining = {tp: offset for tp, offset in last.items() if starts[tp] <= offset}

        def forget() -> set[Employee]:
            with database.transaction() as cursor:
                return forget_facts_of(cursor, employees)

        others = await asyncio.to_thread(forget)
        left_out = 0
        if remaining:
            consumer.assign(list(remaining))
            await consumer.seek_to_beginning(*remaining)
        while remaining:
            records = await consumer.getmany(*remaining, timeout_ms=500, max_records=REBUILD_BATCH)
            deliveries: list[Delivery] = []
            for tp, messages in records.items():
                end = remaining.get(tp)
                if end is None:
                    continue
                for message in messages:
                    if message.offset > end or message.key not in keys:
                        continue
                    try:
                        envelope, event = read_model.decode(message.headers, message.value)
                    except Exception:
                        continue  # live processing dead-lettered it already
                    deliveries.append(Delivery(tp.topic, tp.partition, message.offset, envelope, event))
                if messages[-1].offset >= end:
                    del remaining[tp]
            if deliveries:
                _, _, rejected = await asyncio.to_thread(store.apply_isolating, deliveries, {})
                left_out += len(rejected)

        def refresh_others() -> None:
            with database.transaction() as cursor:
                carded = [employee for employee in sorted(others) if _has_card(cursor, employee)]
                unbuildable: dict[Employee, str] = {}
                refresh_all_cards(cursor, carded, unbuildable=unbuildable)
                for (tenant, employee), error in sorted(unbuildable.items()):
                    log.error("rebuild: the card of %s/%s cannot be built: %s", tenant, employee, error)

        await asyncio.to_thread(refresh_others)
        return left_out
    finally:
        await consumer.stop()


def _has_card(cursor: Any, employee: Employee) -> bool:
    cursor.execute("SELECT 1 FROM rm_cards WHERE tenant_id = ? AND employee_id = ?", employee)
    return cursor.fetchone() is not None


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # a topic not yet in the client's metadata
    return consumer.partitions_for_topic(topic) or set()


async def rebuild_store(
    database: SQLDatabase,
    bootstrap_servers: str,
    *,
    progress: Progress | None = None,
    cards_progress: Progress | None = None,
    database_url: str | None = None,
    workers: int = 1,
) -> RebuildReport:
    """Fill an empty store from offset zero: every fact first, then every card once, then the department roll-ups.

    Given the store's ``database_url`` and more than one worker, the cards are computed in that many processes.
    """
    started = time.perf_counter()
    parallel = workers > 1 and database_url is not None and not DatabaseURL.parse(database_url).is_memory
    unbuildable: dict[Employee, str] = {}  # whose cards fail on facts live processing did not keep
    if parallel:
        assert database_url is not None  # parallel implies it
        ProjectionStore(database, DashboardsReadModel(defer_cards=True))  # the schema, made once
        applied, skipped, cards, replay_seconds = await asyncio.to_thread(
            _rebuild_in_processes, database, database_url, bootstrap_servers, workers, progress, cards_progress,
            unbuildable,
        )
    else:
        read_model = DashboardsReadModel(defer_cards=True)
        applied, skipped = await replay(ProjectionStore(database, read_model), bootstrap_servers, progress=progress)
        replay_seconds = time.perf_counter() - started
        await asyncio.to_thread(_refresh_statistics, database)
        # The store was empty: everyone the replayed events name is everyone with a fact, so with a card.
        everyone = sorted(read_model.deferred)

        def all_cards() -> int:
            with database.transaction() as cursor:
                return refresh_all_cards(cursor, everyone, cards_progress, unbuildable)

        cards = await asyncio.to_thread(all_cards)
    if unbuildable:
        log.warning("rebuild: %d cards fail on their facts, applying their events again the live way: %s",
                    len(unbuildable), "; ".join(f"{t}/{e}: {error}" for (t, e), error in sorted(unbuildable.items())[:5]))
        left_out = await reapply_the_live_way(database, bootstrap_servers, set(unbuildable))
        applied, skipped = applied - left_out, skipped + left_out

    def sum_departments() -> None:
        with database.transaction() as cursor:
            refill_department_rollups(cursor)

    await asyncio.to_thread(sum_departments)
    await asyncio.to_thread(database.make_durable)  # the replay's processes wrote without waiting for the disk
    seconds = time.perf_counter() - started
    return RebuildReport(events=applied, seconds=seconds, skipped=skipped, cards=cards,
                         replay_seconds=replay_seconds, cards_seconds=seconds - replay_seconds)


_progress: Any = None  # in a replay worker: shared (done, total) counters, two per worker


def _rebuild_in_processes(
    database: SQLDatabase,
    database_url: str,
    bootstrap_servers: str,
    workers: int,
    progress: Progress | None,
    cards_progress: Progress | None,
    unbuildable: dict[Employee, str],
) -> tuple[int, int, int, float]:
    """Replay in ``workers`` processes, each its share of the partitions, into the store ``database`` (at
    ``database_url``); then compute every card in the same processes, naming those that cannot be built in
    ``unbuildable``. Returns (applied, skipped, cards, seconds replaying)."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # no forking of a process that holds threads and sockets
    counters = context.Array("q", 2 * workers, lock=False)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_share_counters, initargs=(counters,)) as pool:
        futures = [pool.submit(_replay_share, database_url, bootstrap_servers, (index, workers)) for index in range(workers)]
        while not all(future.done() for future in futures):
            if progress:
                progress(sum(counters[0::2]), sum(counters[1::2]))
            time.sleep(0.1)
        results = [future.result() for future in futures]
        if progress:
            progress(sum(counters[0::2]), sum(counters[1::2]))
        replayed = time.perf_counter()
        _refresh_statistics(database)
        # The store was empty: everyone the replayed events name is everyone with a fact, so with a card.
        everyone = sorted(set().union(*(named for _, _, named in results)))
        cards = cards_in_parallel(database_url, everyone, pool, cards_progress, unbuildable)
    return sum(result[0] for result in results), sum(result[1] for result in results), cards, replayed - started


def _refresh_statistics(database: SQLDatabase) -> None:
    """On PostgreSQL, tell the planner what the replay loaded: without statistics it scans whole tables for
    the cards' lookups by goal. (SQLite's plans here are fixed by the schema and the queries themselves.)
    Two tables at a time, each ANALYZE in its own server process.

    Autovacuum stays on during the replay: its ANALYZE of the growing tables is what keeps the replay's own
    lookups (goal documents by id) on their indexes. Held off, the 10-million-event replay slowed to a crawl
    of whole-table scans after a million events."""
    if database.is_sqlite:
        return
    with database.transaction() as cursor:  # this generation's tables only (not the one serving queries), largest first
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY pg_relation_size(c.oid) DESC, c.relname"
        )
        tables = [table for (table,) in cursor.fetchall()]

    def analyze(table: str) -> None:
        with database.transaction() as cursor:
            cursor.execute(f'ANALYZE "{table}"')

    with ThreadPoolExecutor(2, thread_name_prefix="analyze") as analyzing:
        list(analyzing.map(analyze, tables))


def _share_counters(counters: Any) -> None:
    global _progress  # set once per worker process
    _progress = counters


def _replay_share(database_url: str, bootstrap_servers: str, share: tuple[int, int]) -> tuple[int, int, set[Employee]]:
    def report(done: int, total: int) -> None:
        _progress[2 * share[0]], _progress[2 * share[0] + 1] = done, total

    # This process only replays: its fetching and its decoding threads take turns on the interpreter lock
    # every 50 ms rather than every 5 (the default), which spent a fifth of its time on handing over.
    sys.setswitchinterval(0.05)
    started = time.perf_counter()
    with SQLDatabase.connect(database_url, pool_size=2, durable=False) as database:  # made durable at the end
        read_model = DashboardsReadModel(defer_cards=True)
        store = ProjectionStore(database, read_model, schema_made=True)  # by the parent, before the replay
        applied, skipped = asyncio.run(replay(store, bootstrap_servers, progress=report, share=share))
    log.info("rebuild: share %d of %d replayed %d events in %.1f s", share[0] + 1, share[1], applied,
             time.perf_counter() - started)
    return applied, skipped, read_model.deferred


def default_workers() -> int:
    """Processes for a rebuild's cards: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


async def rebuild(
    database_url: str, bootstrap_servers: str, *, progress: Progress | None = None, workers: int | None = None
) -> RebuildReport:
    """Rebuild the read model into the (fresh) store at ``database_url`` from all four topics."""
    database = SQLDatabase.connect(database_url)
    try:
        return await rebuild_store(database, bootstrap_servers, progress=progress, database_url=database_url,
                                   workers=default_workers() if workers is None else workers)
    finally:
        database.close()
