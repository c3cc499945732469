"""The outbox relay: the only path from an application's event store to Kafka.

It reads the notification log after its tracked position, publishes each event in its CloudEvents
envelope keyed by ``tenant_id:employee_id``, waits for every acknowledgement, and only then records the
new position. While more notifications are waiting, the position is recorded at most every 0.1 s, and
always before the relay idles or stops. A crash re-publishes what was acknowledged since the last record
(at-least-once); consumers drop duplicates by the stable event id and the aggregate version. Notification
ids may have gaps: the relay only ever asks for "after my position". One relay runs per application at a
time, behind a lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from eventsourcing.persistence import Notification, PersistenceError
from filelock import FileLock, Timeout

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.envelope import Message, encode, stable_event_id
from tandem_runtime.blocking import OwnThread
from tandem_runtime.database import DatabaseURL
from tandem_runtime.eventstore import CommandContext, TandemApplication, context_of
from tandem_runtime.metrics import Metrics
from tandem_runtime.retry import Backoff
from tandem_runtime.topics import DEAD_LETTER

log = logging.getLogger(__name__)

# Maps a stored domain event, and the context of the command that caused it, to its contract (None: unpublished).
Translate = Callable[[object, CommandContext | None], IntegrationEvent | None]


class RelayStorage(ABC):
    """Where a relay keeps its position, and the lock that lets only one relay run per application."""

    @abstractmethod
    def try_lock(self) -> bool:
        """Take the relay lock without waiting; True if this relay now holds it."""

    @abstractmethod
    def load_position(self, relay: str) -> int | None:
        """The last notification id the relay published, or None before its first batch."""

    @abstractmethod
    def save_position(self, relay: str, notification_id: int) -> None:
        """Record that every notification up to ``notification_id`` is acknowledged by Kafka."""

    @abstractmethod
    def close(self) -> None:
        """Release the lock and the connection."""

    @staticmethod
    def for_database(url: str | DatabaseURL, relay: str) -> RelayStorage:
        """The storage that sits beside the application's event store."""
        parsed = url if isinstance(url, DatabaseURL) else DatabaseURL.parse(url)
        if parsed.is_memory:
            return MemoryRelayStorage()
        if parsed.is_sqlite:
            return SQLiteRelayStorage(parsed.path)
        return PostgresRelayStorage(parsed.conninfo(), relay)


_POSITION_TABLE = (
    "CREATE TABLE IF NOT EXISTS tandem_relay_positions (relay TEXT PRIMARY KEY, notification_id BIGINT NOT NULL)"
)
_SAVE_POSITION = (
    "INSERT INTO tandem_relay_positions (relay, notification_id) VALUES ({p}, {p}) "
    "ON CONFLICT (relay) DO UPDATE SET notification_id = excluded.notification_id"
)


class MemoryRelayStorage(RelayStorage):
    """Position in a dict; the lock is always free. For in-memory event stores in fast tests."""

    def __init__(self) -> None:
        self._positions: dict[str, int] = {}

    def try_lock(self) -> bool:
        return True

    def load_position(self, relay: str) -> int | None:
        return self._positions.get(relay)

    def save_position(self, relay: str, notification_id: int) -> None:
        self._positions[relay] = notification_id

    def close(self) -> None:
        """Nothing to release."""


class SQLiteRelayStorage(RelayStorage):
    """Position in the event store's SQLite file; a file lock beside it."""

    def __init__(self, path: str) -> None:
        self._lock = FileLock(f"{path}.relay.lock", thread_local=False)  # not tied to the thread that took it
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._connection.execute(_POSITION_TABLE)
        self._guard = threading.Lock()

    def try_lock(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def load_position(self, relay: str) -> int | None:
        with self._guard:
            row = self._connection.execute(
                "SELECT notification_id FROM tandem_relay_positions WHERE relay = ?", (relay,)
            ).fetchone()
        return row[0] if row else None

    def save_position(self, relay: str, notification_id: int) -> None:
        with self._guard:
            self._connection.execute(_SAVE_POSITION.format(p="?"), (relay, notification_id))

    def close(self) -> None:
        with self._guard:
            self._connection.close()
        if self._lock.is_locked:
            self._lock.release(force=True)


class PostgresRelayStorage(RelayStorage):
    """Position in a table of the event store's database; a session advisory lock held on the same connection."""

    def __init__(self, conninfo: str, relay: str) -> None:
        self._connection = psycopg.connect(conninfo, autocommit=True)
        self._connection.execute(_POSITION_TABLE)
        self._relay = relay
        self._guard = threading.Lock()

    def try_lock(self) -> bool:
        with self._guard:
            row = self._connection.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"tandem-relay:{self._relay}",)
            ).fetchone()
        return bool(row and row[0])

    def load_position(self, relay: str) -> int | None:
        with self._guard:
            row = self._connection.execute(
                "SELECT notification_id FROM tandem_relay_positions WHERE relay = %s", (relay,)
            ).fetchone()
        return row[0] if row else None

    def save_position(self, relay: str, notification_id: int) -> None:
        with self._guard:
            self._connection.execute(_SAVE_POSITION.format(p="%s"), (relay, notification_id))

    def close(self) -> None:
        with self._guard:
            self._connection.close()  # ends the session, which releases the advisory lock


@dataclass
class RelayState:
    """What the relay reports to health checks and metrics."""

    holds_lock: bool = False
    position: int | None = None
    published: int = 0
    last_error: str | None = None


class OutboxRelay:
    """Publishes an application's notification log to Kafka, in order, at least once."""

    def __init__(
        self,
        *,
        name: str,
        application: TandemApplication,
        translate: Translate,
        source: str,
        open_storage: Callable[[], RelayStorage],
        metrics: Metrics | None = None,
        batch_size: int = 500,
        idle_wait_seconds: float = 0.5,
        lock_retry_seconds: float = 2.0,
        save_interval_seconds: float = 0.1,
    ) -> None:
        self.name = name
        self.state = RelayState()
        self._application = application
        self._translate = translate
        self._source = source
        self._producer: AIOKafkaProducer | None = None
        self._open_storage = open_storage
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_wait = idle_wait_seconds
        self._lock_retry = lock_retry_seconds
        # While more is waiting, the acknowledged position is recorded at most this often (and always before
        # idling): each record is a commit that competes with the commands' own, and a crash only republishes.
        self._save_interval = save_interval_seconds
        self._saved: int | None = None
        self._saved_at = float("-inf")
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Reads of the log never queue behind the commands' own blocking work.
        self._thread = OwnThread(f"relay-{name}")
        application.on_recorded(self.wake)
        if metrics is not None and application.flusher is not None:
            application.flusher.timed = metrics.event_store_flush_seconds.observe

    def wake(self, _notification_id: int | None = None) -> None:
        """Ask the relay to look for new notifications now; safe to call from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self, producer: AIOKafkaProducer) -> None:
        """Relay through the started ``producer`` until cancelled, recovering from broker and database outages.

        A lost position store (its connection, and with it the lock) is reopened and the lock taken
        again before relaying resumes, so two relays never publish at once.
        """
        self._producer = producer
        self._loop = asyncio.get_running_loop()
        backoff = Backoff()
        try:
            await self._relay_until_cancelled(backoff)
        finally:
            self._thread.close()

    async def _relay_until_cancelled(self, backoff: Backoff) -> None:
        while True:
            storage = await self._hold_lock()
            try:
                await self._relay_while_healthy(storage, backoff)
            except asyncio.CancelledError:
                await self._save_at_shutdown(storage)
                raise
            except (psycopg.Error, sqlite3.Error) as error:
                self._failed("position store lost", error)
                await asyncio.sleep(backoff.next())
            finally:
                self.state.holds_lock = False
                await self._thread.run(storage.close)

    async def _hold_lock(self) -> RelayStorage:
        while True:
            try:
                storage = await self._thread.run(self._open_storage)
                if await self._thread.run(storage.try_lock):
                    self.state.position = await self._thread.run(storage.load_position, self.name)
                    self._saved = self.state.position
                    self.state.holds_lock = True
                    log.info("relay %s: holds the lock, resuming after notification %s", self.name, self.state.position)
                    return storage
                await self._thread.run(storage.close)
                log.info("relay %s: another relay holds the lock; standing by", self.name)
            except (psycopg.Error, sqlite3.Error, OSError) as error:
                self._failed("cannot open the position store", error)
            await asyncio.sleep(self._lock_retry)

    async def _relay_while_healthy(self, storage: RelayStorage, backoff: Backoff) -> None:
        while True:
            self._wakeup.clear()
            try:
                relayed = await self.relay_batch(storage)
            except (KafkaError, PersistenceError) as error:
                self._failed("batch not published, will retry", error)
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            self.state.last_error = None
            if relayed < self._batch_size and not self._wakeup.is_set():
                await self._save_position(storage)  # nothing more waiting: record where we are before idling
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_wait)
                except TimeoutError:
                    pass

    def _failed(self, what: str, error: BaseException) -> None:
        self.state.last_error = f"{what}: {type(error).__name__}: {error}"
        log.warning("relay %s: %s", self.name, self.state.last_error)

    async def relay_batch(self, storage: RelayStorage) -> int:
        """Publish the next batch after the position and advance it; return how many notifications it read.

        The new position is recorded now if the last record is older than the save interval, else before
        the relay next idles.
        """
        read, last_id, messages = await self._thread.run(self._read_batch, self.state.position)
        if not read:
            return 0
        assert self._producer is not None, "run() attaches the producer"
        deliveries = [
            await self._producer.send(m.topic, value=m.value, key=m.key, headers=m.headers) for m in messages
        ]
        await asyncio.gather(*deliveries)
        self.state.position = last_id
        self.state.published += len(messages)
        if self._metrics:
            self._metrics.relay_published.inc(len(messages))
            self._metrics.relay_position.set(last_id)
        if self._loop_time() - self._saved_at >= self._save_interval:
            await self._save_position(storage)
        return read

    def _read_batch(self, position: int | None) -> tuple[int, int, list[Message]]:
        """The next notifications after ``position`` as messages (in the relay's thread: decoding and encoding
        a batch takes tens of milliseconds, which the event loop spends on requests instead); returns how many
        notifications were read, the last one's id, and the messages."""
        durable = self._application.durable_position()  # never publish what a crash could still undo
        if durable is not None and durable <= (position or 0):
            return 0, 0, []
        notifications: Sequence[Notification] = self._application.recorder.select_notifications(
            start=position, limit=self._batch_size, stop=durable, inclusive_of_start=position is None
        )
        if not notifications:
            return 0, 0, []
        messages = [message for message in map(self._to_message, notifications) if message is not None]
        return len(notifications), notifications[-1].id, messages

    async def _save_position(self, storage: RelayStorage) -> None:
        """Record the acknowledged position, if it moved since the last record."""
        position = self.state.position
        if position is None or position == self._saved:
            return
        await self._thread.run(storage.save_position, self.name, position)
        self._saved, self._saved_at = position, self._loop_time()

    async def _save_at_shutdown(self, storage: RelayStorage) -> None:
        """A stopping relay records what Kafka acknowledged, so its successor republishes nothing."""
        try:
            await self._save_position(storage)
        except (psycopg.Error, sqlite3.Error) as error:
            self._failed("position not recorded at shutdown, the next relay republishes", error)

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    def _to_message(self, notification: Notification) -> Message | None:
        domain_event = self._application.mapper.to_domain_event(notification)
        context = context_of(domain_event)
        try:
            integration_event = self._translate(domain_event, context)
        except (ValueError, TypeError, ArithmeticError) as error:  # pydantic's ValidationError is a ValueError
            # Stored before today's bounds (or otherwise beyond its contract): set aside, never the relay's end.
            return self._set_aside(notification, error)
        if integration_event is None:
            return None
        return encode(
            integration_event,
            event_id=stable_event_id(notification.originator_id, notification.originator_version),
            source=self._source,
            actor=context.actor if context else "system",
            correlation_id=context.correlation_id if context else str(notification.originator_id),
            causation_id=context.causation_id if context else str(notification.originator_id),
            traceparent=context.traceparent if context else None,
        )

    def _set_aside(self, notification: Notification, error: Exception) -> Message:
        """A dead letter for a stored event that no longer makes a valid contract event, with the error and origin."""
        log.error("relay %s: dead-lettering notification %d (%s v%d): %r", self.name, notification.id,
                  notification.originator_id, notification.originator_version, error)
        if self._metrics:
            self._metrics.dead_lettered.labels(f"relay-{self.name}", "untranslatable").inc()
        return Message(
            topic=DEAD_LETTER,
            key=str(notification.originator_id).encode(),
            value=notification.state,
            headers=[
                ("dlq_error", str(error)[:2000].encode()),
                ("dlq_error_type", type(error).__name__.encode()),
                ("dlq_reason", b"untranslatable"),
                ("dlq_consumer", f"relay-{self.name}".encode()),
                ("dlq_original_stream", str(notification.originator_id).encode()),
                ("dlq_original_version", str(notification.originator_version).encode()),
                ("dlq_original_topic_type", notification.topic.encode()),
            ],
        )

    def lag(self) -> int:
        """Notifications recorded but not yet published (an upper bound: ids may have gaps)."""
        highest = self._application.recorder.max_notification_id() or 0
        return max(0, highest - (self.state.position or 0))

