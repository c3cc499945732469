"""Everything the dashboards read model holds and serves, read back whole, and where two such snapshots differ.

A rebuild from offset 0 must give the same read model as live processing: tests and the chaos run compare the
two stores with these.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from tandem_projections.packet import review_packet
from tandem_projections.queries import (
    cascade_tree,
    department_dashboard,
    employee_dashboard,
    team_dashboard,
    tenant_dashboard,
)
from tandem_runtime.database import SQLDatabase

__all__ = ["first_difference", "read_model_snapshot"]

def _columns(cursor: Any, database: SQLDatabase) -> dict[str, list[str]]:
    """The read model's tables (``rm_*``) and their columns, in order."""
    if database.is_sqlite:
        cursor.execute("SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c"
                       " WHERE m.type = 'table' ORDER BY m.name, c.cid")
    else:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns"
                       " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
    tables: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        if table.startswith("rm_"):
            tables.setdefault(table, []).append(column)
    return tables


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("{", "[")):
        return orjson.loads(value)
    return value


def _sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: orjson.dumps(row, option=orjson.OPT_SORT_KEYS))


def read_model_snapshot(database: SQLDatabase, today: date) -> dict[str, Any]:
    """Everything the dashboards read model holds and serves, in a form that compares whole.

    Every ``rm_*`` table (rows sorted, JSON documents parsed), and for each tenant its dashboard, every
    department's, every employee's, every manager's team, every review packet and the cascade below
    every organisation and team goal, as of ``today``.
    """
    snapshot: dict[str, Any] = {"tables": {}, "dashboards": {}}
    with database.reading() as cursor:
        for table, names in _columns(cursor, database).items():
            cursor.execute(f"SELECT {', '.join(names)} FROM {table}")
            rows = [{name: _cell(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()]
            snapshot["tables"][table] = _sorted_rows(rows)
        cursor.execute("SELECT DISTINCT tenant_id FROM rm_cards")
        for (tenant,) in sorted(cursor.fetchall()):
            views: dict[str, Any] = {"tenant": tenant_dashboard(cursor, tenant, today)}
            cursor.execute("SELECT employee_id, manager_id, department FROM rm_cards WHERE tenant_id = ?", (tenant,))
            cards = sorted(cursor.fetchall(), key=lambda row: row[0])
            cursor.execute("SELECT DISTINCT employee_id, cycle FROM rm_goals WHERE tenant_id = ?", (tenant,))
            cycles = sorted(cursor.fetchall())
            views["employees"] = {e: employee_dashboard(cursor, tenant, e, today) for e, _, _ in cards}
            managers = sorted({m for _, m, _ in cards if m} | {e for e, _, _ in cards})
            views["teams"] = {}
            for manager in managers:
                cursor.execute("SELECT 1 FROM rm_people WHERE tenant_id = ? AND manager_id = ?", (tenant, manager))
                if cursor.fetchone():
                    views["teams"][manager] = team_dashboard(cursor, tenant, manager, today)
            views["departments"] = {}
            for department in sorted({d for _, _, d in cards if d}):
                cursor.execute("SELECT 1 FROM rm_cards WHERE tenant_id = ? AND department = ? AND active = 1",
                               (tenant, department))
                if cursor.fetchone():
                    views["departments"][department] = department_dashboard(cursor, tenant, department, today)
            views["packets"] = {f"{e}/{c}": review_packet(cursor, tenant, e, c, today) for e, c in cycles}
            cursor.execute("SELECT goal_id FROM rm_goals WHERE tenant_id = ? AND level <> 'individual'", (tenant,))
            views["cascades"] = {g: cascade_tree(cursor, tenant, g) for (g,) in sorted(cursor.fetchall())}
            snapshot["dashboards"][tenant] = views
    return snapshot


def first_difference(actual: Any, expected: Any, path: str = "") -> str | None:
    """Where two snapshots first differ, and how, or None when they are equal."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected), key=str):
            if key not in actual or key not in expected:
                return f"{path}/{key}: only in {'expected' if key in expected else 'actual'}"
            found = first_difference(actual[key], expected[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(actual, list) and isinstance(expected, list):
        for index, (left, right) in enumerate(zip(actual, expected, strict=False)):  # lengths compared after
            found = first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        if len(actual) != len(expected):
            return f"{path}: {len(actual)} items, expected {len(expected)}"
        return None
    if actual != expected or type(actual) is not type(expected):
        return f"{path}: {actual!r}, expected {expected!r}"
    return None
