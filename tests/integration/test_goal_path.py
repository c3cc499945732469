"""HTTP → event store → outbox relay → Kafka → projection → query, on a real broker."""

from __future__ import annotations

import uuid

import pytest

from tandem_goals.main import GoalsSettings
from tandem_goals.main import build_service as build_goals
from tandem_projections.main import ProjectionsSettings
from tandem_projections.main import build_service as build_projections
from tests.examples import conversion_goal
from tests.support import eventually, read_topic, running


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request, tmp_path):
    """Event store and read-model store URLs: both SQLite files, or both PostgreSQL databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/goals.db", f"sqlite:///{tmp_path}/read-model.db"
    new_database = request.getfixturevalue("new_postgres_database")
    return new_database(), new_database()


async def test_a_goal_posted_over_http_appears_in_the_dashboard(kafka_bootstrap, stores):
    event_store, read_model = stores
    tenant, employee = f"t-{uuid.uuid4().hex[:8]}", "e-1"
    goals = build_goals(GoalsSettings(database_url=event_store, kafka_bootstrap_servers=kafka_bootstrap))
    projections = build_projections(
        ProjectionsSettings(
            database_url=read_model, kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"test-{tenant}"
        )
    )
    async with running(goals.http) as goals_api, running(projections.http) as dashboard_api:
        hired = await goals_api.put(
            f"/v1/directory/employees/{employee}",
            json={"display_name": "Ben Rep", "department": "Sales"},
            headers={"X-Tenant-ID": tenant},
        )
        assert hired.status_code == 202
        posted = await goals_api.post("/v1/goals", json=conversion_goal(employee), headers={"X-Tenant-ID": tenant})
        assert posted.status_code == 201
        goal_id = posted.json()["goal_id"]

        async def shown():
            answer = await dashboard_api.get(
                "/v1/dashboards/alignment", params={"employee_id": employee}, headers={"X-Tenant-ID": tenant}
            )
            if answer.status_code == 404:
                return None
            goals_shown = answer.json()["employee"]["performance_goals"]
            return goals_shown if goals_shown else None

        # A fresh projection reads the topic's whole history (other tests' events) before reaching this goal.
        [goal] = await eventually(shown, timeout=90)
        assert goal["goal_id"] == goal_id and goal["status"] == "active"
        assert goal["kpi"]["target"] == 15
        assert (await dashboard_api.get("/health/ready")).status_code == 200
        assert (await goals_api.get("/health/ready")).status_code == 200

    directory = [m for m in await read_topic(kafka_bootstrap, "tandem.directory.v1") if m.key == f"{tenant}:{employee}".encode()]
    assert [dict(m.headers)["ce_type"] for m in directory] == [b"tandem.employee.upserted.v1"]
    published = [m for m in await read_topic(kafka_bootstrap, "tandem.goals.v1") if m.key == f"{tenant}:{employee}".encode()]
    [message] = published
    headers = dict(message.headers)
    assert headers["ce_type"] == b"tandem.goal.set.v1" and headers["ce_actor"] == employee.encode()
    assert headers["ce_subject"] == f"goals/{goal_id}".encode()
