"""Request bodies the tests share: the seed's sales example."""

CONVERSION_GOAL = {
    "kind": "performance",
    "cycle": "2026",
    "title": "Increase new client conversions by 15%",
    "start_date": "2026-01-01",
    "due_date": "2026-12-31",
    "kpi": {"name": "conversions", "unit": "percent", "baseline": "10", "target": "15", "direction": "increase"},
}


def conversion_goal(employee_id: str = "e-1") -> dict:
    """A performance goal with a KPI, for ``employee_id``."""
    return {"employee_id": employee_id, **CONVERSION_GOAL}


def employee(employee_id: str, manager_id: str | None = None, tenant_id: str = "demo", **fields):
    """An ``EmployeeUpserted`` for seeding a directory replica."""
    from datetime import UTC, datetime

    from tandem_contracts.directory import EmployeeUpserted

    return EmployeeUpserted(
        tenant_id=tenant_id,
        employee_id=employee_id,
        occurred_at=datetime.now(UTC),
        display_name=fields.pop("display_name", employee_id),
        manager_id=manager_id,
        **fields,
    )
