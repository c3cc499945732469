"""The peer to beat: a naive projection, as a FastStream tutorial would write it.

One subscriber over every topic, one message per call: decode it with the contracts, write one row,
commit. SQLite is opened with the same WAL and synchronous=NORMAL settings as Tandem's read-model store,
so the difference measured is batching, not durability settings.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from dataclasses import dataclass

from faststream.kafka import KafkaBroker, KafkaMessage

from tandem_contracts.envelope import decode

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, subject TEXT NOT NULL,"
    " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, occurred_at TEXT NOT NULL, data TEXT NOT NULL)"
)


@dataclass
class PeerResult:
    """Messages applied, and the seconds from the first to the last."""

    events: int
    seconds: float


async def run_naive_peer(bootstrap: str, topics: tuple[str, ...], database: str, seconds: float, limit: int) -> PeerResult:
    """Consume for ``seconds`` after the first message (or until ``limit`` messages); count what was applied."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(_SCHEMA)
    connection.commit()
    broker = KafkaBroker(bootstrap, logger=None)
    applied = 0
    first: float | None = None
    last = 0.0
    done = asyncio.Event()

    @broker.subscriber(*topics, group_id=f"tandem-bench-naive-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest")
    async def project(message: KafkaMessage) -> None:
        nonlocal applied, first, last
        record = message.raw_message
        envelope, event = decode(record.headers, record.value)
        connection.execute(
            "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (envelope.id, envelope.type, envelope.subject, event.tenant_id, event.employee_id,
             event.occurred_at.isoformat(), record.value.decode()),
        )
        connection.commit()
        now = time.perf_counter()
        first = first or now
        last = now
        applied += 1
        if applied >= limit or now - first >= seconds:
            done.set()

    async with broker:
        await broker.start()
        await done.wait()
    connection.close()
    return PeerResult(applied, (last - first) if first else 0.0)
