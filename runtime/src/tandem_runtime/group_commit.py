"""Group commit for SQLite event stores: commands commit without waiting for the disk, and one flush of the
write-ahead log then makes every commit before it durable.

With SQLite's default (``synchronous=FULL``) every commit waits for its own fsync, and a service's commands run
on its event loop (``tandem_runtime.blocking``), so the loop waited for the disk once a command: a fifth of the
goals service's time at 500 commands/s, and all of it when the disk was slow. Here the store's connections
commit with ``synchronous=NORMAL`` (the log is written, not flushed), and a flusher thread fsyncs the log for
every commit made since its last flush. A command is answered, and its events published, only once a flush has
covered it, so an acknowledged command still survives an operating-system crash; only the waiting is shared.

A read in the service itself may see a commit a few milliseconds before it is durable (as PostgreSQL's
``synchronous_commit=off`` lets it); nothing leaves the service before: neither the answer nor the events.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

log = logging.getLogger(__name__)


class LogFlusher:
    """Makes an SQLite store's commits durable in groups, from a thread of its own.

    Positions are notification ids: ``durable`` is the highest one a flush has covered. Commits are numbered
    in the order they are made (SQLite has one writer at a time), so a flush covers every id up to the highest
    recorded before it started.
    """

    def __init__(self, database_path: str, fsync: Callable[[str], None] | None = None) -> None:
        self._log_path = f"{database_path}-wal"
        self._database_path = database_path
        self._fsync = fsync or _fsync_file
        self._condition = threading.Condition()
        self._wanted = 0
        self._durable = 0
        self._stopping = False
        self._stopped = False
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._listeners: list[Callable[[int], None]] = []
        self._thread: threading.Thread | None = None
        self.timed: Callable[[float], None] | None = None  # given each flush's seconds (a metric's observe)

    @property
    def durable(self) -> int:
        """The highest notification id a flush has made durable."""
        return self._durable

    def start(self, recorded: int) -> None:
        """Start flushing; ``recorded`` is the highest notification id in the store now, made durable first."""
        with self._condition:
            self._wanted = max(self._wanted, recorded)
        self._thread = threading.Thread(target=self._run, name="event-store-flush", daemon=True)
        self._thread.start()

    def on_flushed(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` (from the flusher's thread) with the new durable position after each flush."""
        self._listeners.append(listener)

    def recorded(self, notification_id: int) -> None:
        """Note a commit up to ``notification_id``: the next flush covers it."""
        with self._condition:
            if notification_id > self._wanted:
                self._wanted = notification_id
                self._condition.notify_all()

    def wait(self, notification_id: int) -> None:
        """Block until ``notification_id`` is durable (any thread)."""
        self.recorded(notification_id)
        with self._condition:
            while self._durable < notification_id:
                if self._stopped:
                    raise RuntimeError("the event store's flusher has stopped")
                self._condition.wait()

    async def flushed(self, notification_id: int) -> None:
        """Wait, without holding the event loop, until ``notification_id`` is durable."""
        if self._durable >= notification_id:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._condition:
            if self._durable >= notification_id:
                return
            if self._stopped:
                raise RuntimeError("the event store's flusher has stopped")
            self._waiters.append((notification_id, loop, future))
        self.recorded(notification_id)
        await future

    def stop(self) -> None:
        """Flush what was recorded, then end the thread."""
        if self._thread is None:
            return
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        try:
            self._flush_until_stopped()
        except BaseException:
            log.exception("event store: the flusher failed; commits are no longer made durable")
            with self._condition:
                self._stopped = True
                self._release(failure=RuntimeError("the event store's flusher failed"))
            raise

    def _flush_until_stopped(self) -> None:
        while True:
            with self._condition:
                while self._wanted <= self._durable and not self._stopping:
                    self._condition.wait()
                if self._wanted <= self._durable:  # stopping, and everything recorded is durable
                    self._stopped = True
                    self._release(failure=RuntimeError("the event store's flusher has stopped"))
                    return
                target = self._wanted
            started = time.perf_counter()
            try:
                self._fsync(self._log_path if os.path.exists(self._log_path) else self._database_path)
            except OSError as error:
                # Nothing new is known to be durable. The commands waiting on the loop are answered with the
                # error (their retries replay them); the flush is tried again.
                log.error("event store: flushing the log failed, retrying: %s", error)
                with self._condition:
                    self._release(failure=error)
                time.sleep(0.1)
                continue
            if self.timed is not None:
                self.timed(time.perf_counter() - started)
            with self._condition:
                self._durable = target
                self._condition.notify_all()
                self._release()
            for listener in self._listeners:
                listener(target)

    def _release(self, failure: BaseException | None = None) -> None:
        """Resolve the waiting coroutines that are now durable (all of them, with ``failure``)."""
        waiting, self._waiters = self._waiters, []
        for entry in waiting:
            notification_id, loop, future = entry
            if failure is None and notification_id > self._durable:
                self._waiters.append(entry)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_settle, future, failure)
        self._condition.notify_all()


def _settle(future: asyncio.Future[None], failure: BaseException | None) -> None:
    if future.done():
        return
    if failure is None:
        future.set_result(None)
    else:
        future.set_exception(failure)


def _fsync_file(path: str) -> None:
    # Any descriptor of a file flushes all of its written pages, whichever descriptor wrote them.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class DurabilityScope:
    """What one command endpoint on the event loop saved, so it can await durability before answering."""

    def __init__(self) -> None:
        self.flusher: LogFlusher | None = None
        self.upto = 0

    def saved(self, flusher: LogFlusher, notification_id: int) -> None:
        self.flusher = flusher
        self.upto = max(self.upto, notification_id)

    async def settle(self) -> None:
        """Return once everything saved in this scope is durable."""
        if self.flusher is not None and self.upto:
            await self.flusher.flushed(self.upto)


current_scope: contextvars.ContextVar[DurabilityScope | None] = contextvars.ContextVar("durability_scope", default=None)
"""Set by an endpoint that runs on the event loop and awaits its scope; elsewhere a save blocks until durable."""


class _UnsyncedCommitsPool(SQLiteConnectionPool):
    """The store's connections commit without flushing the log (the flusher does that)."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute("PRAGMA synchronous=NORMAL")
        return connection


class GroupCommitSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite persistence, its commits left to a ``LogFlusher`` to make durable.

    Only for an application that flushes (``tandem_runtime.eventstore.TandemApplication``).
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        self.datastore.pool = _UnsyncedCommitsPool(db_name=pool.db_name, lock_timeout=pool.lock_timeout)
        pool.close()
