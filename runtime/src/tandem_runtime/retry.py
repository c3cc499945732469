"""Retry pacing shared by the background loops, and which errors are worth a retry at all."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
from aiokafka.errors import KafkaError

# Database errors that pass: a lost connection, a timeout, a locked file. Anything else is a bug.
TRANSIENT_DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, psycopg.OperationalError)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` comes from an outage that passes (the broker or the database), so the work is retried
    whole; any other error is the work's own and retrying it would fail the same way."""
    # PostgreSQL files a value too large for an index under its operational errors; it never passes.
    return isinstance(error, (KafkaError, *TRANSIENT_DATABASE_ERRORS)) and not isinstance(
        error, psycopg.errors.ProgramLimitExceeded)


class Backoff:
    """Exponential delays between retries, from 0.1 s up to 5 s."""

    def __init__(self, first: float = 0.1, limit: float = 5.0) -> None:
        self._first = first
        self._limit = limit
        self._delay = first

    def next(self) -> float:
        """The delay before the next attempt."""
        delay, self._delay = self._delay, min(self._delay * 2, self._limit)
        return delay

    def reset(self) -> None:
        """Start again from the shortest delay after a success."""
        self._delay = self._first
