"""A service's replica of ``tandem.goals.v1``: what other services need to know about each goal.

Check-ins and reviews refuse work on unknown, closed or foreign goals and check values against a goal's
KPI; they read these facts here, fed by the batched projection runner. Each row keeps the goal's version,
so a late or repeated event changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.goals import GOALS_TOPIC, GoalClosed, GoalRevised, GoalSet
from tandem_runtime.database import Cursor, SQLDatabase
from tandem_runtime.projection import Delivery

_COLUMNS = (
    "tenant_id, goal_id, owner_id, kind, status, level, cycle, title, cadence, start_date, due_date,"
    " kpi_unit, kpi_baseline, kpi_target, kpi_direction, competency, rating_scale_max, version, kpi_name"
)


@dataclass(frozen=True)
class GoalFacts:
    """One goal as another service sees it."""

    tenant_id: str
    goal_id: UUID
    owner_id: str
    kind: str
    status: str
    level: str
    cycle: str
    title: str
    cadence: str
    start_date: date
    due_date: date
    kpi_unit: str | None
    kpi_baseline: Decimal | None
    kpi_target: Decimal | None
    kpi_direction: str | None
    competency: str | None
    rating_scale_max: Decimal | None
    version: int
    kpi_name: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


def _facts(row: Sequence[Any]) -> GoalFacts:
    def decimal(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return GoalFacts(
        tenant_id=row[0],
        goal_id=UUID(row[1]),
        owner_id=row[2],
        kind=row[3],
        status=row[4],
        level=row[5],
        cycle=row[6],
        title=row[7],
        cadence=row[8],
        start_date=date.fromisoformat(row[9]),
        due_date=date.fromisoformat(row[10]),
        kpi_unit=row[11],
        kpi_baseline=decimal(row[12]),
        kpi_target=decimal(row[13]),
        kpi_direction=row[14],
        competency=row[15],
        rating_scale_max=decimal(row[16]),
        version=row[17],
        kpi_name=row[18],
    )


class GoalsReplicaModel:
    """The goals replica's table, kept from ``tandem.goals.v1``."""

    name = "goals-replica"
    topics = (GOALS_TOPIC,)

    def create_schema(self, cursor: Cursor) -> None:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS replica_goals ("
            " tenant_id TEXT NOT NULL, goal_id TEXT NOT NULL, owner_id TEXT NOT NULL, kind TEXT NOT NULL,"
            " status TEXT NOT NULL, level TEXT NOT NULL, cycle TEXT NOT NULL, title TEXT NOT NULL,"
            " cadence TEXT NOT NULL, start_date TEXT NOT NULL, due_date TEXT NOT NULL, kpi_unit TEXT,"
            " kpi_baseline TEXT, kpi_target TEXT, kpi_direction TEXT, competency TEXT, rating_scale_max TEXT,"
            " version BIGINT NOT NULL, kpi_name TEXT, PRIMARY KEY (tenant_id, goal_id))"
        )
        cursor.execute("CREATE INDEX IF NOT EXISTS replica_goals_by_status ON replica_goals (status)")
        cursor.execute("CREATE INDEX IF NOT EXISTS replica_goals_by_owner ON replica_goals (tenant_id, owner_id)")

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        self.record(cursor, [delivery.event for delivery in deliveries])

    def record(self, cursor: Cursor, events: Sequence[IntegrationEvent]) -> None:
        """Apply goal events in order; an event older than the row's version changes nothing."""
        for event in events:
            if isinstance(event, GoalSet):
                kpi, behaviour = event.kpi, event.behavioural_target
                cursor.execute(
                    f"INSERT INTO replica_goals ({_COLUMNS}) VALUES ({','.join('?' * 19)})"
                    " ON CONFLICT (tenant_id, goal_id) DO NOTHING",
                    (
                        event.tenant_id, str(event.goal_id), event.employee_id, event.kind.value, event.status.value,
                        event.level.value, event.cycle, event.title, event.cadence.value, event.start_date.isoformat(),
                        event.due_date.isoformat(), kpi.unit if kpi else None, _text(kpi.baseline if kpi else None),
                        _text(kpi.target if kpi else None), kpi.direction.value if kpi else None,
                        behaviour.competency if behaviour else None,
                        _text(behaviour.rating_scale_max if behaviour else None), event.version,
                        kpi.name if kpi else None,
                    ),
                )
            elif isinstance(event, GoalRevised):
                self._revise(cursor, event)
            elif isinstance(event, GoalClosed):
                cursor.execute(
                    "UPDATE replica_goals SET status = 'closed', version = ? WHERE tenant_id = ? AND goal_id = ?"
                    " AND version < ?",
                    (event.version, event.tenant_id, str(event.goal_id), event.version),
                )

    def _revise(self, cursor: Cursor, event: GoalRevised) -> None:
        changes, columns = event.changes, {}
        for name in event.changed_fields:
            value = getattr(changes, name, None)
            if name in ("title", "cycle"):
                columns[name] = value
            elif name in ("cadence", "status", "level"):
                columns[name] = value.value if value is not None else None
            elif name in ("start_date", "due_date"):
                columns[name] = value.isoformat() if value is not None else None
            elif name == "kpi" and value is not None:
                columns.update(kpi_name=value.name, kpi_unit=value.unit, kpi_baseline=_text(value.baseline),
                               kpi_target=_text(value.target), kpi_direction=value.direction.value)
            elif name == "behavioural_target":
                columns.update(competency=value.competency if value else None,
                               rating_scale_max=_text(value.rating_scale_max) if value else None)
        columns = {name: value for name, value in columns.items() if value is not None or name in ("competency", "rating_scale_max")}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        cursor.execute(
            f"UPDATE replica_goals SET {assignments + ', ' if assignments else ''}version = ?"
            " WHERE tenant_id = ? AND goal_id = ? AND version < ?",
            (*columns.values(), event.version, event.tenant_id, str(event.goal_id), event.version),
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class GoalsReplica:
    """Questions a service asks of its goals replica."""

    def __init__(self, database: SQLDatabase) -> None:
        self.database = database
        with database.transaction() as cursor:
            GoalsReplicaModel().create_schema(cursor)

    def record(self, *events: IntegrationEvent) -> None:
        """Apply events directly (test set-up); the projection runner feeds it in production."""
        with self.database.transaction() as cursor:
            GoalsReplicaModel().record(cursor, events)

    def goal(self, tenant_id: str, goal_id: UUID) -> GoalFacts | None:
        """The goal's facts, or None if this service has not heard of it (in this tenant)."""
        with self.database.reading() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM replica_goals WHERE tenant_id = ? AND goal_id = ?", (tenant_id, str(goal_id))
            )
            row = cursor.fetchone()
        return _facts(row) if row else None

    def goals(self, tenant_id: str, goal_ids: Sequence[UUID]) -> dict[UUID, GoalFacts]:
        """Many goals' facts at once."""
        found: dict[UUID, GoalFacts] = {}
        ids = [str(goal_id) for goal_id in dict.fromkeys(goal_ids)]
        with self.database.reading() as cursor:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor.execute(
                    f"SELECT {_COLUMNS} FROM replica_goals WHERE tenant_id = ? AND goal_id IN ({','.join('?' * len(chunk))})",
                    (tenant_id, *chunk),
                )
                found.update({facts.goal_id: facts for facts in map(_facts, cursor.fetchall())})
        return found

    def goals_of(self, tenant_id: str, owner_id: str) -> list[GoalFacts]:
        """Every goal an employee owns."""
        with self.database.reading() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM replica_goals WHERE tenant_id = ? AND owner_id = ? ORDER BY goal_id",
                (tenant_id, owner_id),
            )
            return [_facts(row) for row in cursor.fetchall()]

    def active_goals(self) -> list[GoalFacts]:
        """Every active goal of every tenant: not a draft, not closed (the cadence sweep walks them)."""
        with self.database.reading() as cursor:
            cursor.execute(f"SELECT {_COLUMNS} FROM replica_goals WHERE status = 'active' ORDER BY tenant_id, goal_id")
            return [_facts(row) for row in cursor.fetchall()]
