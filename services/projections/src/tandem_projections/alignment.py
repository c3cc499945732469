"""The alignment read model: every employee's goals, as the dashboards need them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from tandem_contracts.goals import GOALS_TOPIC, GoalSet
from tandem_runtime.database import Cursor
from tandem_runtime.projection import Delivery

_UPSERT_GOAL = (
    "INSERT INTO alignment_goals"
    " (tenant_id, goal_id, employee_id, kind, status, cycle, parent_goal_id, version, document)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, goal_id) DO UPDATE SET"
    " employee_id = excluded.employee_id, kind = excluded.kind, status = excluded.status,"
    " cycle = excluded.cycle, parent_goal_id = excluded.parent_goal_id, version = excluded.version,"
    " document = excluded.document"
    " WHERE alignment_goals.version < excluded.version"
)

_COUNT_GOALS = (
    "INSERT INTO alignment_employees (tenant_id, employee_id, performance_goals, development_goals)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, employee_id) DO UPDATE SET"
    " performance_goals = alignment_employees.performance_goals + excluded.performance_goals,"
    " development_goals = alignment_employees.development_goals + excluded.development_goals"
)


class AlignmentReadModel:
    """Goals per tenant and employee, kept from ``tandem.goals.v1``."""

    name = "alignment"
    topics = (GOALS_TOPIC,)

    def create_schema(self, cursor: Cursor) -> None:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS alignment_goals ("
            " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, employee_id TEXT NOT NULL,"
            " kind TEXT NOT NULL, status TEXT NOT NULL, cycle TEXT NOT NULL, parent_goal_id TEXT,"
            " version BIGINT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (tenant_id, goal_id))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS alignment_goals_by_employee ON alignment_goals (tenant_id, employee_id)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS alignment_employees ("
            " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL,"
            " performance_goals INTEGER NOT NULL DEFAULT 0, development_goals INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (tenant_id, employee_id))"
        )

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        rows = []
        new_goals: Counter[tuple[str, str, str]] = Counter()
        for delivery in deliveries:
            event = delivery.event
            if isinstance(event, GoalSet):
                new_goals[(event.tenant_id, event.employee_id, event.kind.value)] += 1
                rows.append(
                    (
                        event.tenant_id,
                        str(event.goal_id),
                        event.employee_id,
                        event.kind.value,
                        event.status.value,
                        event.cycle,
                        str(event.parent_goal_id) if event.parent_goal_id else None,
                        event.version,
                        event.model_dump_json(),
                    )
                )
        if rows:
            cursor.executemany(_UPSERT_GOAL, rows)
        # Counts are increments, not upserts: they are right only because the runner applies each event once.
        cursor.executemany(
            _COUNT_GOALS,
            [
                (tenant, employee, n if kind == "performance" else 0, n if kind == "development" else 0)
                for (tenant, employee, kind), n in new_goals.items()
            ],
        )


def employee_dashboard(cursor: Cursor, tenant_id: str, employee_id: str) -> dict[str, Any]:
    """One employee's alignment dashboard: performance goals and development goals."""
    cursor.execute(
        "SELECT document, version FROM alignment_goals WHERE tenant_id = ? AND employee_id = ? ORDER BY goal_id",
        (tenant_id, employee_id),
    )
    performance, development = [], []
    for document, version in cursor.fetchall():
        goal = orjson.loads(document)
        goal["version"] = version
        for key in ("tenant_id", "employee_id"):
            goal.pop(key, None)
        (performance if goal["kind"] == "performance" else development).append(goal)
    cursor.execute(
        "SELECT performance_goals, development_goals FROM alignment_employees WHERE tenant_id = ? AND employee_id = ?",
        (tenant_id, employee_id),
    )
    counted = cursor.fetchone() or (0, 0)
    by_due = lambda goal: (goal["due_date"], goal["title"])  # noqa: E731
    return {
        "tenant_id": tenant_id,
        "employee_id": employee_id,
        "counts": {"performance_goals": counted[0], "development_goals": counted[1]},
        "performance_goals": sorted(performance, key=by_due),
        "development_goals": sorted(development, key=by_due),
    }
