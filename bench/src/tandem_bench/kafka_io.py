"""Kafka for the benchmark: the local broker's lifecycle, and the raw aiokafka limits (produce, consume)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tandem_contracts.envelope import Message
from tandem_runtime.kafka import make_producer
from tandem_runtime.topics import CHECKINS, DIRECTORY, GOALS, REVIEWS, ensure_topics

REPO = Path(__file__).resolve().parents[3]
KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
EVENT_TOPICS = (GOALS, CHECKINS, REVIEWS, DIRECTORY)


def kafka_version() -> str:
    """The broker version named in deploy/local/pom.xml."""
    pom = (REPO / "deploy" / "local" / "pom.xml").read_text()
    found = re.search(r"<kafka.version>(.*?)</kafka.version>", pom)
    return found.group(1) if found else "unknown"


class LocalKafka:
    """The broker of ``deploy/local/kafka.sh`` in a temporary state dir, or the cluster ``KAFKA_BOOTSTRAP_SERVERS``
    names (unless ``own``: a run that kills the broker needs one of its own)."""

    def __init__(self, own: bool = False) -> None:
        self.given = None if own else os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.state: Path | None = None
        self.bootstrap = self.given or ""
        self.seconds_to_start = 0.0

    def start(self) -> str:
        """Start the broker (or only create the topics on the given cluster); return the bootstrap address.

        Started again after ``kill``, the broker comes back on its data and its address.
        """
        started = time.perf_counter()
        if self.given:
            asyncio.run(ensure_topics(self.given))
            return self.given
        self.state = self.state or Path(tempfile.mkdtemp(prefix="tandem-bench-kafka-"))
        env = {**os.environ, "TANDEM_KAFKA_DIR": str(self.state)}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        result = subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"the local Kafka broker did not start:\n{result.stdout}\n{result.stderr}")
        self.bootstrap = result.stdout.strip().splitlines()[-1].split("=", 1)[1]
        self.seconds_to_start = time.perf_counter() - started
        return self.bootstrap

    @property
    def pid(self) -> int | None:
        """The broker's JVM, when this benchmark started it."""
        if self.state is None:
            return None
        try:
            return int((self.state / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the broker this run started, as a crash, and wait until it is gone."""
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker this benchmark started (by the script's recorded pid) and delete its data."""
        if self.state is None:
            return
        env = {**os.environ, "TANDEM_KAFKA_DIR": str(self.state)}
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True, timeout=120, check=False)
        shutil.rmtree(self.state, ignore_errors=True)
        self.state = None


@dataclass
class Produced:
    """What ``produce`` sent, and how long the sending (alone) and the whole took."""

    events: int
    bytes: int
    send_seconds: float
    wall_seconds: float


async def produce(
    bootstrap: str,
    messages: Iterable[Message],
    *,
    chunk: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> Produced:
    """Send every message with the suite's acks=all idempotent producer, many in flight.

    Messages are generated a chunk at a time, untimed; only sending a chunk and waiting for all its
    acknowledgements is timed, so ``send_seconds`` is the producer's time alone.
    """
    producer = make_producer(bootstrap, client_id="tandem-bench")
    await producer.start()
    events = size = 0
    timed = 0.0
    started = time.perf_counter()
    try:
        source: Iterator[Message] = iter(messages)
        while batch := list(islice(source, chunk)):
            size += sum(len(m.value) + len(m.key) + sum(len(v) + len(k) for k, v in m.headers) for m in batch)
            began = time.perf_counter()
            deliveries = [await producer.send(m.topic, value=m.value, key=m.key, headers=m.headers) for m in batch]
            await asyncio.gather(*deliveries)
            timed += time.perf_counter() - began
            events += len(batch)
            if progress:
                progress(events)
    finally:
        await producer.stop()
    return Produced(events, size, timed, time.perf_counter() - started)


@dataclass
class Consumed:
    """How many messages ``consume_all`` read, and in how many seconds."""

    events: int
    seconds: float


async def _assigned(bootstrap: str, topics: tuple[str, ...], **options: object) -> AIOKafkaConsumer:
    """A started group-less consumer that holds every partition of ``topics``."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await consumer.start()
    deadline = time.perf_counter() + 30
    while {tp.topic for tp in consumer.assignment()} != set(topics):
        if time.perf_counter() > deadline:
            await consumer.stop()
            raise RuntimeError(f"no partitions of {', '.join(topics)} assigned within 30 s: do the topics exist?")
        await asyncio.sleep(0.05)
    return consumer


async def end_offsets(bootstrap: str, topics: tuple[str, ...] = EVENT_TOPICS) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topics``."""
    consumer = await _assigned(bootstrap, topics)
    try:
        return await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()


async def events_on(bootstrap: str, topics: tuple[str, ...] = EVENT_TOPICS) -> int:
    """How many messages ``topics`` hold now (their end offsets summed; the topics are never compacted)."""
    return sum((await end_offsets(bootstrap, topics)).values())


async def consume_all(bootstrap: str, topics: tuple[str, ...] = EVENT_TOPICS, max_records: int = 10_000) -> Consumed:
    """Read every message now on ``topics`` from offset 0 in ``getmany`` batches, doing nothing with them.

    The fetch sizes are the projection runner's, so the comparison with it is like for like.
    """
    consumer = await _assigned(
        bootstrap,
        topics,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        waiting = {tp: end for tp, end in ends.items() if end > 0}
        count = 0
        started = time.perf_counter()
        while waiting:
            batches = await consumer.getmany(timeout_ms=500, max_records=max_records)
            for tp, records in batches.items():
                count += len(records)
                if tp in waiting and records[-1].offset >= waiting[tp] - 1:
                    del waiting[tp]
        return Consumed(count, time.perf_counter() - started)
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topics: tuple[str, ...] = EVENT_TOPICS) -> list[ConsumerRecord]:
    """Every message on ``topics`` right now, from offset 0 (for checks on small topics: all held in memory)."""
    consumer = await _assigned(bootstrap, topics, auto_offset_reset="earliest")
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        waiting = {tp for tp, end in ends.items() if end > 0}
        while waiting:
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                records.extend(r for r in batch if r.offset < ends[tp])
                if batch and batch[-1].offset >= ends[tp] - 1:
                    waiting.discard(tp)
        return records
    finally:
        await consumer.stop()


async def wait_for_events(bootstrap: str, at_least: int, timeout: float, topics: tuple[str, ...] = (GOALS,)) -> float | None:
    """Seconds until ``topics`` hold ``at_least`` messages, or None after ``timeout``."""
    started = time.perf_counter()
    consumer = await _assigned(bootstrap, topics)
    try:
        partitions = list(consumer.assignment())
        while time.perf_counter() - started < timeout:
            if sum((await consumer.end_offsets(partitions)).values()) >= at_least:
                return time.perf_counter() - started
            await asyncio.sleep(0.02)
        return None
    finally:
        await consumer.stop()
