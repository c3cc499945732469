"""A service's replica of ``tandem.directory.v1``: who works here, who manages whom, who has left.

Every command service that must refuse work for unknown or departed employees keeps one, fed by the
same batched projection runner as the read side. Directory events carry no version; the latest
``occurred_at`` wins, so late or repeated deliveries change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.directory import DIRECTORY_TOPIC, EmployeeDeparted, EmployeeUpserted
from tandem_runtime.database import Cursor, SQLDatabase
from tandem_runtime.projection import Delivery

_UPSERT = (
    "INSERT INTO directory_employees (tenant_id, employee_id, display_name, manager_id, department, organization,"
    " job_title, employee_number, departed, changed_at_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, employee_id) DO UPDATE SET"
    " display_name = excluded.display_name, manager_id = excluded.manager_id, department = excluded.department,"
    " organization = excluded.organization, job_title = excluded.job_title,"
    " employee_number = excluded.employee_number, departed = excluded.departed,"
    " changed_at_us = excluded.changed_at_us"
    " WHERE directory_employees.changed_at_us <= excluded.changed_at_us"
)
_DEPART = (
    "INSERT INTO directory_employees (tenant_id, employee_id, display_name, departed, changed_at_us)"
    " VALUES (?, ?, ?, 1, ?) ON CONFLICT (tenant_id, employee_id) DO UPDATE SET"
    " departed = 1, changed_at_us = excluded.changed_at_us"
    " WHERE directory_employees.changed_at_us <= excluded.changed_at_us"
)


@dataclass(frozen=True)
class Employee:
    """One directory record."""

    tenant_id: str
    employee_id: str
    display_name: str
    manager_id: str | None
    department: str | None
    organization: str | None
    job_title: str | None
    departed: bool


def _employee(row: Sequence[Any]) -> Employee:
    tenant_id, employee_id, display_name, manager_id, department, organization, job_title, departed = row
    return Employee(tenant_id, employee_id, display_name, manager_id, department, organization, job_title, bool(departed))


def _microseconds(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


class DirectoryReadModel:
    """The directory as rows, kept from ``tandem.directory.v1``."""

    name = "directory"
    topics = (DIRECTORY_TOPIC,)

    def create_schema(self, cursor: Cursor) -> None:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS directory_employees ("
            " tenant_id TEXT NOT NULL, employee_id TEXT NOT NULL, display_name TEXT NOT NULL,"
            " manager_id TEXT, department TEXT, organization TEXT, job_title TEXT, employee_number TEXT,"
            " departed INTEGER NOT NULL DEFAULT 0, changed_at_us BIGINT NOT NULL,"
            " PRIMARY KEY (tenant_id, employee_id))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS directory_by_manager ON directory_employees (tenant_id, manager_id)"
        )

    def apply(self, cursor: Cursor, deliveries: Sequence[Delivery]) -> None:
        record(cursor, [delivery.event for delivery in deliveries])


def record(cursor: Cursor, events: Sequence[IntegrationEvent]) -> None:
    """Apply directory events; the latest ``occurred_at`` wins, so repeats and late arrivals change nothing."""
    for event in events:
        at = _microseconds(event.occurred_at)
        if isinstance(event, EmployeeUpserted):
            cursor.execute(
                _UPSERT,
                (
                    event.tenant_id,
                    event.employee_id,
                    event.display_name,
                    event.manager_id,
                    event.department,
                    event.organization,
                    event.job_title,
                    event.employee_number,
                    0,
                    at,
                ),
            )
        elif isinstance(event, EmployeeDeparted):
            cursor.execute(_DEPART, (event.tenant_id, event.employee_id, event.employee_id, at))


class Directory:
    """Questions a command service asks of its directory replica."""

    def __init__(self, database: SQLDatabase) -> None:
        self.database = database
        with database.transaction() as cursor:
            DirectoryReadModel().create_schema(cursor)

    def record(self, *events: IntegrationEvent) -> None:
        """Write events straight into the replica (the pass-through's write-through, and test set-up)."""
        with self.database.transaction() as cursor:
            record(cursor, events)

    def employee(self, tenant_id: str, employee_id: str) -> Employee | None:
        """The employee's record, departed or not; None if the directory has never heard of them."""
        with self.database.reading() as cursor:
            cursor.execute(
                "SELECT tenant_id, employee_id, display_name, manager_id, department, organization, job_title,"
                " departed FROM directory_employees WHERE tenant_id = ? AND employee_id = ?",
                (tenant_id, employee_id),
            )
            row = cursor.fetchone()
        return _employee(row) if row else None

    def employees(self, tenant_id: str, employee_ids: Sequence[str]) -> dict[str, Employee]:
        """The records of many employees at once (those the directory knows)."""
        found: dict[str, Employee] = {}
        ids = list(dict.fromkeys(employee_ids))
        with self.database.reading() as cursor:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor.execute(
                    "SELECT tenant_id, employee_id, display_name, manager_id, department, organization, job_title,"
                    " departed FROM directory_employees WHERE tenant_id = ? AND employee_id IN ("
                    + ",".join("?" * len(chunk))
                    + ")",
                    (tenant_id, *chunk),
                )
                for row in cursor.fetchall():
                    found[row[1]] = _employee(row)
        return found

    def reports_of(self, tenant_id: str, manager_id: str, *, transitive: bool = False) -> list[str]:
        """The active employees who report to ``manager_id``: directly, or at any depth."""
        with self.database.reading() as cursor:
            if transitive:
                cursor.execute(
                    "WITH RECURSIVE team(employee_id) AS ("
                    " SELECT employee_id FROM directory_employees WHERE tenant_id = ? AND manager_id = ?"
                    " UNION SELECT d.employee_id FROM directory_employees d JOIN team t ON d.manager_id = t.employee_id"
                    " WHERE d.tenant_id = ?)"
                    " SELECT e.employee_id FROM directory_employees e JOIN team t ON e.employee_id = t.employee_id"
                    " WHERE e.tenant_id = ? AND e.departed = 0 ORDER BY e.employee_id",
                    (tenant_id, manager_id, tenant_id, tenant_id),
                )
            else:
                cursor.execute(
                    "SELECT employee_id FROM directory_employees WHERE tenant_id = ? AND manager_id = ? AND departed = 0"
                    " ORDER BY employee_id",
                    (tenant_id, manager_id),
                )
            return [row[0] for row in cursor.fetchall()]
