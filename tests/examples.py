"""What the tests share: the seed's sales example as request bodies, directory entries, and a goals
application holding such goals."""

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


def goals_application(url: str, tenant: str, employees: list[str]):
    """A ``GoalsApplication`` on the event store at ``url``, whose directory knows ``employees`` (and m-1)."""
    from tandem_goals.application import GoalsApplication
    from tandem_runtime.database import SQLiteDatabase
    from tandem_runtime.directory import Directory

    directory = Directory(SQLiteDatabase(":memory:"))
    directory.record(*(employee(e, tenant_id=tenant) for e in ["m-1", *employees]))
    return GoalsApplication(url, directory)


def set_goal(application, tenant: str, employee_id: str):
    """Set a conversion goal for ``employee_id``, as m-1; return its id."""
    import uuid
    from datetime import date

    from tandem_goals.application import GoalTemplate, SetGoal
    from tandem_goals.domain import GoalKind, Kpi, KpiDirection
    from tandem_runtime.eventstore import CommandContext

    goal_id = uuid.uuid4()
    template = GoalTemplate(
        kind=GoalKind.PERFORMANCE,
        cycle="2026",
        title=f"Goal {goal_id.hex[:6]}",
        description="",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
        kpi=Kpi("conversions", "percent", 10, 15, KpiDirection.INCREASE),
    )
    application.set_goal(SetGoal(tenant, employee_id, "m-1", template, goal_id=goal_id), CommandContext.issued_by("m-1"))
    return goal_id
