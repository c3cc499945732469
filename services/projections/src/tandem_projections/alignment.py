"""The alignment read model: every employee's goals and the links between them, as the dashboards need them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from tandem_contracts.goals import GOALS_TOPIC, GoalClosed, GoalLinked, GoalRevised, GoalSet, GoalUnlinked
from tandem_runtime.database import Cursor
from tandem_runtime.projection import Delivery

_CHUNK = 500

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
_INSERT_LINK = (
    "INSERT INTO alignment_links (tenant_id, link_id, development_goal_id, performance_goal_id, rationale, document)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, link_id) DO NOTHING"
)


class AlignmentReadModel:
    """Goals per tenant and employee, and the links from development goals to performance goals."""

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
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS alignment_links ("
            " tenant_id TEXT NOT NULL, link_id TEXT NOT NULL, development_goal_id TEXT NOT NULL,"
            " performance_goal_id TEXT NOT NULL, rationale TEXT NOT NULL, document TEXT NOT NULL,"
            " PRIMARY KEY (tenant_id, link_id))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS alignment_links_by_performance_goal"
            " ON alignment_links (tenant_id, performance_goal_id)"
        )

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        events = [delivery.event for delivery in deliveries]
        documents = _load_documents(cursor, {(e.tenant_id, str(e.goal_id)) for e in events if not isinstance(e, GoalSet)})
        touched: set[tuple[str, str]] = set()
        new_goals: Counter[tuple[str, str, str]] = Counter()
        links, unlinks = [], []
        for event in events:
            key = (event.tenant_id, str(getattr(event, "goal_id", "")))
            if isinstance(event, GoalSet):
                documents[key] = orjson.loads(event.model_dump_json())
                new_goals[(event.tenant_id, event.employee_id, event.kind.value)] += 1
            elif key not in documents:
                continue  # a change to a goal this read model never saw set: nothing to change
            elif isinstance(event, GoalRevised):
                changes = orjson.loads(event.changes.model_dump_json())
                documents[key].update({name: changes[name] for name in event.changed_fields if name in changes})
            elif isinstance(event, GoalClosed):
                documents[key].update(status="closed", outcome=event.outcome.value, closed_at=event.occurred_at.isoformat(),
                                      final_value=None if event.final_value is None else str(event.final_value))
            elif isinstance(event, GoalLinked):
                links.append((event.tenant_id, str(event.link_id), key[1], str(event.performance_goal_id),
                              event.rationale.value, event.model_dump_json()))
            elif isinstance(event, GoalUnlinked):
                unlinks.append((event.tenant_id, str(event.link_id)))
            documents[key]["version"] = event.version
            touched.add(key)
        cursor.executemany(_UPSERT_GOAL, [_goal_row(documents[key]) for key in touched])
        cursor.executemany(_INSERT_LINK, links)
        cursor.executemany("DELETE FROM alignment_links WHERE tenant_id = ? AND link_id = ?", unlinks)
        # Counts are increments, not upserts: they are right only because the runner applies each event once.
        cursor.executemany(
            _COUNT_GOALS,
            [
                (tenant, employee, n if kind == "performance" else 0, n if kind == "development" else 0)
                for (tenant, employee, kind), n in new_goals.items()
            ],
        )


def _goal_row(document: dict[str, Any]) -> tuple[Any, ...]:
    return (
        document["tenant_id"],
        document["goal_id"],
        document["employee_id"],
        document["kind"],
        document["status"],
        document["cycle"],
        document.get("parent_goal_id"),
        document["version"],
        orjson.dumps(document).decode(),
    )


def _load_documents(cursor: Cursor, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    by_tenant: dict[str, list[str]] = {}
    for tenant, goal_id in keys:
        by_tenant.setdefault(tenant, []).append(goal_id)
    for tenant, goal_ids in by_tenant.items():
        for start in range(0, len(goal_ids), _CHUNK):
            chunk = goal_ids[start : start + _CHUNK]
            cursor.execute(
                "SELECT goal_id, document FROM alignment_goals WHERE tenant_id = ? AND goal_id IN ("
                + ",".join("?" * len(chunk)) + ")",
                (tenant, *chunk),
            )
            found.update({(tenant, goal_id): orjson.loads(document) for goal_id, document in cursor.fetchall()})
    return found


def employee_dashboard(cursor: Cursor, tenant_id: str, employee_id: str) -> dict[str, Any]:
    """One employee's alignment dashboard: performance goals with the development goals that serve them,
    and development goals with what they are aligned to."""
    cursor.execute(
        "SELECT document FROM alignment_goals WHERE tenant_id = ? AND employee_id = ? ORDER BY goal_id",
        (tenant_id, employee_id),
    )
    goals = [orjson.loads(row[0]) for row in cursor.fetchall()]
    for goal in goals:
        goal.pop("tenant_id", None)
        goal.pop("employee_id", None)
    ids = [goal["goal_id"] for goal in goals]
    links = _links(cursor, tenant_id, ids)
    for goal in goals:
        goal["aligned_to"] = [link for link in links if link["goal_id"] == goal["goal_id"]]
        goal["supported_by"] = [link for link in links if link["performance_goal_id"] == goal["goal_id"]]
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
        "performance_goals": sorted((g for g in goals if g["kind"] == "performance"), key=by_due),
        "development_goals": sorted((g for g in goals if g["kind"] == "development"), key=by_due),
    }


def _links(cursor: Cursor, tenant_id: str, goal_ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(goal_ids), _CHUNK):
        chunk = goal_ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        cursor.execute(
            f"SELECT document FROM alignment_links WHERE tenant_id = ?"
            f" AND (development_goal_id IN ({marks}) OR performance_goal_id IN ({marks})) ORDER BY link_id",
            (tenant_id, *chunk, *chunk),
        )
        for (document,) in cursor.fetchall():
            link = orjson.loads(document)
            found.append({k: link.get(k) for k in ("link_id", "goal_id", "employee_id", "performance_goal_id",
                                                    "performance_goal_owner_id", "rationale", "skill", "evidence",
                                                    "future_role")})
    return list({link["link_id"]: link for link in found}.values())
