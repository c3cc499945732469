"""Database URLs and a small SQL layer that runs the same statements on SQLite and PostgreSQL.

Statements are written once with ``?`` placeholders and ``INSERT … ON CONFLICT`` upserts, which both
engines understand; the PostgreSQL side swaps the placeholders for ``%s``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseURL:
    """``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``postgresql://user:pw@host:port/db``
    (optionally ``?schema=name``: tables live in that schema, made if missing), or ``memory:`` (in-process
    only, for fast tests)."""

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = ""

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        """Parse a URL; raise ``ValueError`` naming what is wrong."""
        parsed = urlparse(url)
        if parsed.scheme == "memory":
            return cls(scheme="memory")
        if parsed.scheme == "sqlite":
            path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
            if not path:
                raise ValueError(f"sqlite URL needs a file path: {url!r}")
            return cls(scheme="sqlite", path=path)
        if parsed.scheme in ("postgresql", "postgres"):
            return cls(
                scheme="postgresql",
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 5432,
                user=unquote(parsed.username or ""),
                password=unquote(parsed.password or ""),
                dbname=parsed.path.lstrip("/") or "postgres",
                schema=parse_qs(parsed.query).get("schema", [""])[0],
            )
        raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}; use sqlite or postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == "sqlite"

    @property
    def is_memory(self) -> bool:
        return self.scheme == "memory"

    def conninfo(self, *, durable: bool = True) -> str:
        """The libpq connection string of a PostgreSQL URL (see ``SQLDatabase.connect`` for ``durable``)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}"]
        if self.user:
            parts.append(f"user={self.user}")
        if self.password:
            parts.append(f"password={self.password}")
        settings = [f"-c search_path={self.schema}"] if self.schema else []
        if not durable:
            # A commit returns before its write-ahead log is flushed; the database stays consistent.
            settings.append("-c synchronous_commit=off")
        if settings:
            parts.append(f"options='{' '.join(settings)}'")
        return " ".join(parts)

    def eventsourcing_env(self) -> dict[str, str]:
        """The ``PERSISTENCE_MODULE`` and friends that point an eventsourcing Application at this database."""
        if self.is_memory:
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.is_sqlite:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.path}
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }


class Cursor(Protocol):
    # Read-only and positional, as sqlite3's and psycopg's cursors declare them.
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SQLDatabase(ABC):
    """A connection source with one transaction at a time for writes and concurrent reads."""

    is_sqlite: bool

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor inside one transaction: committed on success, rolled back on error."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Cursor]:
        """A cursor for queries."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""

    def __enter__(self) -> SQLDatabase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @abstractmethod
    def make_durable(self) -> None:
        """Make sure everything committed so far survives an operating-system crash (see ``durable``)."""

    @staticmethod
    def connect(url: str | DatabaseURL, pool_size: int = 4, *, durable: bool = True) -> SQLDatabase:
        """Open the database a URL names.

        ``durable=False`` is for bulk loads into a store nobody uses yet: commits do not wait for the disk,
        so an operating-system crash can lose or corrupt the store, and ``make_durable`` must follow the load.
        """
        parsed = url if isinstance(url, DatabaseURL) else DatabaseURL.parse(url)
        if parsed.is_memory:
            return SQLiteDatabase(":memory:")
        if parsed.is_sqlite:
            return SQLiteDatabase(parsed.path, durable=durable)
        if parsed.schema:
            if not parsed.schema.replace("_", "").isalnum():
                raise ValueError(f"schema names are letters, digits and underscores: {parsed.schema!r}")
            with psycopg.connect(replace(parsed, schema="").conninfo(), autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {parsed.schema}")
        return PostgresDatabase(parsed.conninfo(durable=durable), pool_size=pool_size)


class SQLiteDatabase(SQLDatabase):
    """SQLite in WAL mode: one writer connection behind a lock, one reader connection per thread."""

    is_sqlite = True

    def __init__(self, path: str, *, durable: bool = True) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.durable = durable
        self._write_lock = threading.Lock()
        self._writer = self._open()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        # Closing a connection while another thread uses it crashes the interpreter: close waits for readers.
        self._readers_idle = threading.Condition()
        self._active_reads = 0
        self._closed = False
        self._checkpoints: BackgroundCheckpoints | None = None
        if durable and path != ":memory:":
            # Commits leave checkpoints to a thread of their own, unless the log outgrows what that thread
            # keeps it to (commits back to back can keep its checkpoints from ever completing, and only a
            # completed one lets the log start over): then the next commit checkpoints, as SQLite would.
            self._writer.execute(f"PRAGMA wal_autocheckpoint={BackgroundCheckpoints.SAFETY_NET_PAGES}")
            self._writer.execute("PRAGMA journal_size_limit=67108864")  # a log that grew is cut back to 64 MB
            self._checkpoints = BackgroundCheckpoints(path)

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commit.
        # OFF never waits for the disk (see ``connect``'s ``durable``).
        connection.execute("PRAGMA synchronous=NORMAL" if self.durable else "PRAGMA synchronous=OFF")
        connection.execute("PRAGMA foreign_keys=ON")
        # A larger page cache and memory-mapped reads: read models are read far more than written.
        connection.execute("PRAGMA cache_size=-65536")
        connection.execute("PRAGMA mmap_size=268435456")
        return connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._write_lock:
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
                if self._checkpoints is not None:
                    self._checkpoints.wanted()
            finally:
                cursor.close()

    def make_durable(self) -> None:
        """Move the write-ahead log into the database file and flush the file to disk."""
        if self.path == ":memory:":
            return
        with self._write_lock, self._checkpoints.paused() if self._checkpoints else nullcontext():
            busy, _, _ = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise sqlite3.OperationalError(f"{self.path}: another connection kept the write-ahead log from moving into the file")
        with open(self.path, "rb+") as file:
            os.fsync(file.fileno())

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        if self.path == ":memory:":
            with self._write_lock:
                yield self._writer.cursor()
            return
        with self._readers_idle:
            if self._closed:
                raise sqlite3.ProgrammingError("the database is closed")
            self._active_reads += 1
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._open()
                self._local.connection = connection
                self._readers.append(connection)
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            with self._readers_idle:
                self._active_reads -= 1
                self._readers_idle.notify_all()

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        with self._write_lock, self._readers_idle:
            self._closed = True
            self._readers_idle.wait_for(lambda: self._active_reads == 0, timeout=30)
            for connection in [*self._readers, self._writer]:
                connection.close()
            self._readers.clear()


class BackgroundCheckpoints:
    """Moves a SQLite database's write-ahead log into its file from a thread of its own, at most every
    ``INTERVAL`` seconds after a commit (``wanted``).

    Left to SQLite, the commit that fills the log past a thousand pages copies them into the file and waits
    for the disk, inside the writer's transaction: a live read model's batch of twenty new goals took 7 ms to
    commit on average, as long as applying the batch itself. A passive checkpoint here waits for no reader
    or writer, and the commits go on meanwhile. The writer still checkpoints past ``SAFETY_NET_PAGES``.
    """

    INTERVAL = 0.2
    SAFETY_NET_PAGES = 8000  # 32 MB of log

    def __init__(self, path: str) -> None:
        self._path = path
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._checkpointing = threading.Lock()  # SQLite runs one checkpoint at a time and fails the others
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def wanted(self) -> None:
        """A commit added to the log."""
        self._wanted.set()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No background checkpoint runs meanwhile (for a checkpoint of the caller's own)."""
        with self._checkpointing:
            yield

    def stop(self) -> None:
        """Stop checkpointing (SQLite checkpoints what is left when the last connection closes)."""
        self._stopping.set()
        self._wanted.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        while not self._stopping.is_set():
            self._wanted.wait()
            if self._stopping.is_set():
                break
            self._wanted.clear()
            try:
                if connection is None:
                    connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=5)
                with self._checkpointing:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception as error:  # the thread must outlive any one failure: nothing else checkpoints so often
                log.warning("%s: background checkpoint failed, will retry: %s", self._path, error)
            self._stopping.wait(self.INTERVAL)
        if connection is not None:
            connection.close()


BULK_ROWS = 200  # below this, one executemany beats a COPY round trip


def insert_rows(
    cursor: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], on_conflict: str
) -> None:
    """Insert many rows with an ``ON CONFLICT …`` clause: ``executemany`` on SQLite, and on PostgreSQL a COPY
    through a staging table when there are many (PostgreSQL's per-row INSERT is its slow path).

    With DO UPDATE, ``rows`` must not repeat a key: one statement may not change a row twice.
    """
    if not rows:
        return
    copy_rows = getattr(cursor, "copy_rows", None)
    if copy_rows is not None and len(rows) >= BULK_ROWS:
        copy_rows(table, columns, rows, on_conflict)
        return
    marks = ", ".join("?" * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {on_conflict}", rows)


class _PostgresCursor:
    """Adapts ``?`` placeholders to psycopg's ``%s``."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql.replace("?", "%s"), params)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], on_conflict: str) -> None:
        """COPY rows into a per-transaction staging twin of ``table``, then move them in one INSERT … SELECT.

        With ``DO NOTHING``, the rows are first copied straight into ``table``, which is all that is needed when
        none of them is there already (the usual case: a replay into a fresh store, or new events). A duplicate
        key undoes that copy and takes the staging path.
        """
        names = ", ".join(columns)
        if on_conflict.endswith("DO NOTHING"):
            self._cursor.execute("SAVEPOINT tandem_copy")
            try:
                with self._cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            except psycopg.errors.UniqueViolation:
                self._cursor.execute("ROLLBACK TO SAVEPOINT tandem_copy")
            else:
                self._cursor.execute("RELEASE SAVEPOINT tandem_copy")
                return
        stage = f"stage_{table}"
        self._cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with self._cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self._cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        self._cursor.execute(f"DELETE FROM {stage}")

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


def _compress_with_lz4(connection: psycopg.Connection[Any]) -> None:
    """Compress the long values this connection stores (documents) with lz4 where the server offers it.

    PostgreSQL's own method, pglz, compressed the cards' documents at a third of the speed: it was a sixth of
    the server's work in writing a rebuild's cards. Values already stored keep their method; both read back.
    """
    connection.execute(
        "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings"
        " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    )
    connection.commit()


class PostgresDatabase(SQLDatabase):
    """PostgreSQL through a psycopg connection pool."""

    is_sqlite = False

    def __init__(self, conninfo: str, pool_size: int = 4) -> None:
        # Statements are never prepared, so each is planned for its own parameters. The read side asks for lists
        # of ids whose best plan depends on how big the tables are: a generic plan, made once psycopg had
        # prepared a statement (after five runs), was settled while a rebuild's tables were still small and went
        # on scanning them whole as they grew (a moderate replay took 98 s instead of 10).
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=pool_size, open=True, timeout=30,
                                    kwargs={"prepare_threshold": None}, configure=_compress_with_lz4)

    def make_durable(self) -> None:
        """Flush the write-ahead log: a durable commit waits for everything committed before it."""
        with self.transaction() as cursor:
            cursor.execute("SELECT txid_current()")  # a transaction with an id has a commit record to flush
            cursor.execute("SET LOCAL synchronous_commit = on")

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    def close(self) -> None:
        self._pool.close()
