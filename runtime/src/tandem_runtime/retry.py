"""Retry pacing shared by the background loops."""

from __future__ import annotations

import psycopg
import sqlite3

# Database errors that pass: a lost connection, a timeout, a locked file. Anything else is a bug.
TRANSIENT_DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, psycopg.OperationalError)


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
