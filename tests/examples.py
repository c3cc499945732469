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
