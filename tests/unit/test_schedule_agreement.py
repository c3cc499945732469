"""One owner for "when is a check-in due": the check-ins service decides, the dashboards show its published answer.

Random histories drive the real check-ins service (in memory): goals with random cadences and starts, check-ins on
random days (some recorded late), cadence and start revised midway. Everything it publishes, with the goal events,
feeds the dashboards read model. On any later day, the dashboard and ``GET /v1/goals/{id}/check-in-schedule``
agree for every goal: the day the next check-in is due by, and whether it is overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import uuid4

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem_checkins.main import CheckInsSettings, build_service
from tandem_checkins.outbound import to_integration_event
from tandem_contracts.base import IntegrationEvent
from tandem_contracts.goals import (
    Cadence,
    GoalChanges,
    GoalKind,
    GoalRevised,
    GoalSet,
    GoalStatus,
    Kpi,
    KpiDirection,
)
from tandem_projections.queries import employee_dashboard
from tandem_runtime.clock import FixedClock
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.eventstore import context_of
from tests.scenarios import ReadSide

TENANT = "agree"
OWNER = "rep-1"
FIRST_DAY = date(2026, 1, 1)


def nine_on(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def goal_set(cadence: Cadence, start: date) -> GoalSet:
    return GoalSet(
        tenant_id=TENANT, employee_id=OWNER, occurred_at=nine_on(FIRST_DAY), version=1, actor="mgr-1",
        goal_id=uuid4(), kind=GoalKind.PERFORMANCE, status=GoalStatus.ACTIVE, set_by="mgr-1", cycle="2026",
        title="Conversions", start_date=start, due_date=date(2026, 12, 31), cadence=cadence,
        kpi=Kpi(name="conversions", unit="percent", baseline=Decimal(1), target=Decimal(2), direction=KpiDirection.INCREASE),
    )


cadences = st.sampled_from([Cadence.WEEKLY, Cadence.BIWEEKLY, Cadence.MONTHLY, Cadence.QUARTERLY])
steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=40),  # days later
        st.sampled_from(["check_in", "check_in", "check_in", "late_check_in", "revise"]),
        st.integers(min_value=0, max_value=2),  # which goal
        cadences,
        st.integers(min_value=0, max_value=20),  # days back, for a late check-in or a new start
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    goals=st.lists(st.tuples(cadences, st.integers(min_value=0, max_value=60)), min_size=1, max_size=3),
    history=steps,
    looks=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=4),
)
def test_the_dashboard_and_the_check_in_schedule_agree_for_every_goal(tmp_path_factory, goals, history, looks):
    clock = FixedClock(nine_on(FIRST_DAY))
    service = build_service(CheckInsSettings(database_url="memory:"), clock=clock)
    http = TestClient(service.http, raise_server_exceptions=False)
    told: list[IntegrationEvent] = []
    set_goals = [goal_set(cadence, FIRST_DAY + timedelta(days=offset)) for cadence, offset in goals]
    versions = {goal.goal_id: 1 for goal in set_goals}
    starts = {goal.goal_id: goal.start_date for goal in set_goals}
    for goal in set_goals:
        service.goals.record(goal)
        told.append(goal)
    service.application.follow_goals([(TENANT, goal.goal_id) for goal in set_goals])

    today = FIRST_DAY
    for later, action, which, cadence, back in history:
        today += timedelta(days=later)
        clock.set(nine_on(today))
        goal = set_goals[which % len(set_goals)]
        if action == "revise":
            versions[goal.goal_id] += 1
            start = max(FIRST_DAY, today - timedelta(days=back))
            revised = GoalRevised(
                tenant_id=TENANT, employee_id=OWNER, occurred_at=nine_on(today), version=versions[goal.goal_id],
                actor="mgr-1", goal_id=goal.goal_id, reason="rhythm agreed again", changed_fields=("cadence", "start_date"),
                changes=GoalChanges(cadence=cadence, start_date=start), previous=GoalChanges(),
            )
            service.goals.record(revised)
            told.append(revised)
            starts[goal.goal_id] = start
            service.application.follow_goals([(TENANT, goal.goal_id)])
            continue
        held_on = max(starts[goal.goal_id], today - timedelta(days=back if action == "late_check_in" else 0))
        if held_on > today:
            continue
        answer = http.post("/v1/check-ins", headers={"X-Tenant-ID": TENANT}, json={
            "employee_id": OWNER, "held_on": held_on.isoformat(), "held_by": [OWNER],
            "entries": [{"kind": "performance", "goal_id": str(goal.goal_id), "kpi_value": "1.5", "unit": "percent",
                         "status": "on_track"}],
        })
        assert answer.status_code == 201, answer.text

    application = service.application
    notifications = application.recorder.select_notifications(start=None, limit=100_000)
    published = (to_integration_event(e, context_of(e)) for e in map(application.mapper.to_domain_event, notifications))
    database = SQLiteDatabase(str(tmp_path_factory.mktemp("agree") / "read.db"))
    try:
        side = ReadSide(database)
        side.publish([*told, *(event for event in published if event is not None)])
        for ahead in looks:
            day = today + timedelta(days=ahead)
            clock.set(nine_on(day))
            with database.reading() as cursor:
                card = employee_dashboard(cursor, TENANT, OWNER, day)["employee"]
            shown = {view["goal_id"]: view for view in card["performance_goals"]}
            for goal in set_goals:
                schedule = http.get(f"/v1/goals/{goal.goal_id}/check-in-schedule", headers={"X-Tenant-ID": TENANT}).json()
                view = shown[str(goal.goal_id)]
                assert (view["next_check_in_due"], view["overdue"]) == (schedule["next_due"], schedule["overdue"]), (
                    day, goal.cadence, schedule,
                )
    finally:
        database.close()
