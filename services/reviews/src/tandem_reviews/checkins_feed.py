"""The reviews service's view of ``tandem.checkins.v1``: the last KPI value checked in on each goal.

A review's actual defaults to it. The latest check-in by date wins, so order and repeats do not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from tandem_contracts.checkins import CHECKINS_TOPIC, CheckInRecorded, PerformanceEntry
from tandem_runtime.database import Cursor, SQLDatabase
from tandem_runtime.projection import Delivery


class LatestKpiValues:
    """The read model: (tenant, goal) → the KPI value of the latest check-in."""

    name = "latest-kpi-values"
    topics = (CHECKINS_TOPIC,)

    def create_schema(self, cursor: Cursor) -> None:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS latest_kpi_values (tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL,"
            " held_on TEXT NOT NULL, kpi_value TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id))"
        )

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        self.record(cursor, [delivery.event for delivery in deliveries])

    def record(self, cursor: Cursor, events: Sequence[object]) -> None:
        """Keep each goal's latest KPI value from check-in events."""
        rows = [
            (event.tenant_id, str(entry.goal_id), event.held_on.isoformat(), str(entry.kpi_value))
            for event in events
            if isinstance(event, CheckInRecorded)
            for entry in event.entries
            if isinstance(entry, PerformanceEntry)
        ]
        cursor.executemany(
            "INSERT INTO latest_kpi_values (tenant_id, goal_id, held_on, kpi_value) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, goal_id) DO UPDATE SET held_on = excluded.held_on, kpi_value = excluded.kpi_value"
            " WHERE latest_kpi_values.held_on <= excluded.held_on",
            rows,
        )


class KpiValues:
    """Reads the last KPI value checked in on a goal."""

    def __init__(self, database: SQLDatabase) -> None:
        self.database = database
        with database.transaction() as cursor:
            LatestKpiValues().create_schema(cursor)

    def record(self, *events: CheckInRecorded) -> None:
        """Apply check-ins directly (test set-up)."""
        with self.database.transaction() as cursor:
            LatestKpiValues().record(cursor, events)

    def latest(self, tenant_id: str, goal_id: UUID) -> Decimal | None:
        with self.database.reading() as cursor:
            cursor.execute(
                "SELECT kpi_value FROM latest_kpi_values WHERE tenant_id = ? AND goal_id = ?", (tenant_id, str(goal_id))
            )
            row = cursor.fetchone()
        return Decimal(row[0]) if row else None
