"""The goals HTTP API over an in-memory event store: status codes, errors, idempotency."""

import asyncio
import inspect
import threading
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tandem_goals.main import GoalsSettings, build_service
from tandem_goals.outbound import to_integration_event
from tandem_runtime.blocking import command_endpoint_for
from tandem_runtime.eventstore import context_of
from tests.examples import conversion_goal, employee

PERFORMANCE = conversion_goal("e-1")

def published(service):
    """The contract events the relay would publish, in order."""
    application = service.application
    notifications = application.recorder.select_notifications(start=None, limit=1000)
    stored = (application.mapper.to_domain_event(n) for n in notifications)
    events = (to_integration_event(event, context_of(event)) for event in stored)
    return [event for event in events if event is not None]


@pytest.fixture
def service():
    built = build_service(GoalsSettings(database_url="memory:"))
    built.directory.record(
        *(employee(e, tenant_id=t) for t in ("demo", "acme", "globex") for e in ("e-1", "e-2", "m-1"))
    )
    return built


@pytest.fixture
def client(service):
    return TestClient(service.http, raise_server_exceptions=False)


def test_posting_a_goal_answers_201_with_its_id_version_and_location(client):
    response = client.post("/v1/goals", json=PERFORMANCE, headers={"X-Tenant-ID": "acme"})
    assert response.status_code == 201
    goal = response.json()
    assert goal["version"] == 1 and goal["cadence"] == "weekly" and goal["tenant_id"] == "acme"
    assert response.headers["location"] == f"/v1/goals/{goal['goal_id']}"
    assert response.headers["etag"] == '"1"'


def test_a_posted_goal_can_be_read_back(client):
    goal_id = client.post("/v1/goals", json=PERFORMANCE).json()["goal_id"]
    response = client.get(f"/v1/goals/{goal_id}")
    assert response.status_code == 200
    assert response.json()["kpi"]["target"] == "15"


def test_an_unknown_goal_is_404(client):
    assert client.get(f"/v1/goals/{uuid4()}").status_code == 404
    assert client.get("/v1/goals/not-a-goal-id").status_code == 404


def test_a_goal_of_another_tenant_is_404(client):
    goal_id = client.post("/v1/goals", json=PERFORMANCE, headers={"X-Tenant-ID": "acme"}).json()["goal_id"]
    assert client.get(f"/v1/goals/{goal_id}", headers={"X-Tenant-ID": "globex"}).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kpi": {**PERFORMANCE["kpi"], "target": "lots"}}, "kpi.target"),
        ({"kind": "ambition"}, "kind"),
        ({"start_date": "2026-13-01"}, "start_date"),
        ({"title": ""}, "title"),
        ({"employee_id": None}, "employee_id"),
        ({"colour": "blue"}, "colour"),
        ({"cadence": "monthly"}, "cadence"),
        ({"due_date": "2025-01-01"}, "due_date"),
        ({"kpi": None}, "kpi"),
        ({"parent_goal_id": str(uuid4())}, "parent_goal_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, change, field):
    response = client.post("/v1/goals", json={**PERFORMANCE, **change})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_body_that_is_not_json_is_422(client):
    response = client.post("/v1/goals", content=b"{oops", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_a_retried_request_with_the_same_idempotency_key_sets_one_goal(client, service):
    first = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "retry-1"})
    second = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "retry-1"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["goal_id"] == second.json()["goal_id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert len(published(service)) == 1


def test_a_retry_after_the_goal_moved_on_gets_the_first_answer_not_the_goal_as_it_is_now(client):
    first = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "retry-late"})
    goal_id = first.json()["goal_id"]
    assert client.post(f"/v1/goals/{goal_id}/revisions", json={"reason": "Reset", "title": "Renamed"}).status_code == 201
    second = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "retry-late"})
    assert second.status_code == 200 and second.headers["idempotent-replayed"] == "true"
    assert (second.json(), second.headers["etag"]) == (first.json(), '"1"')


def test_an_idempotency_key_reused_for_a_different_goal_is_422(client):
    client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "reused"})
    response = client.post("/v1/goals", json={**PERFORMANCE, "title": "Another goal"}, headers={"Idempotency-Key": "reused"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_retried_close_answers_as_the_first_did_though_the_goal_is_closed_now(client, service):
    goal_id = client.post("/v1/goals", json=PERFORMANCE).json()["goal_id"]
    close = {"outcome": "achieved", "final_value": "16"}
    first = client.post(f"/v1/goals/{goal_id}/close", json=close, headers={"Idempotency-Key": "close-1"})
    second = client.post(f"/v1/goals/{goal_id}/close", json=close, headers={"Idempotency-Key": "close-1"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["idempotent-replayed"] == "true" and second.json() == first.json()
    assert [type(event).__name__ for event in published(service)] == ["GoalSet", "GoalClosed"]
    again = client.post(f"/v1/goals/{goal_id}/close", json=close, headers={"Idempotency-Key": "close-2"})
    assert again.status_code == 422  # a new request is refused by the rules, as before


def test_a_reused_key_is_named_even_when_the_rules_refuse_the_second_request(client):
    client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "reused-bad"})
    response = client.post("/v1/goals", json={**PERFORMANCE, "employee_id": "nobody"}, headers={"Idempotency-Key": "reused-bad"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_the_same_idempotency_key_in_two_tenants_sets_two_goals(client):
    a = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "k", "X-Tenant-ID": "acme"})
    b = client.post("/v1/goals", json=PERFORMANCE, headers={"Idempotency-Key": "k", "X-Tenant-ID": "globex"})
    assert a.json()["goal_id"] != b.json()["goal_id"]


def test_a_cascaded_goal_names_its_parent(client):
    parent = client.post("/v1/goals", json=PERFORMANCE).json()["goal_id"]
    child = client.post("/v1/goals", json={**PERFORMANCE, "employee_id": "e-2", "parent_goal_id": parent})
    assert child.status_code == 201 and child.json()["parent_goal_id"] == parent


def test_the_published_goal_set_carries_the_full_goal_and_who_asked(client, service):
    body = {
        "employee_id": "e-1",
        "kind": "development",
        "cycle": "2026",
        "title": "Complete Advanced Negotiation Skills training",
        "start_date": "2026-01-01",
        "due_date": "2026-06-30",
        "skill": "negotiation",
        "activity_targets": {"training_hours": "20", "certifications": ["Advanced Negotiation"]},
        "behavioural_target": {"competency": "negotiation", "target_rating": "4"},
        "capacity": {"hours_per_month": "10", "budget": {"amount": "1200", "currency": "EUR"}, "mentor_id": "m-9"},
        "set_by": "m-1",
    }
    response = client.post(
        "/v1/goals", json=body, headers={"X-Tenant-ID": "acme", "X-Correlation-ID": "corr-1", "Idempotency-Key": "req-1"}
    )
    assert response.status_code == 201
    [event] = published(service)
    assert event.partition_key == "acme:e-1"
    assert event.capacity.budget.amount == 1200 and event.activity_targets.certifications == ("Advanced Negotiation",)
    assert event.cadence == "monthly" and event.set_by == "m-1"


def test_health_and_metrics_answer(client):
    assert client.get("/health/live").status_code == 200
    client.post("/v1/goals", json=PERFORMANCE)
    metrics = client.get("/metrics").text
    assert 'tandem_http_requests_total{method="POST",route="/v1/goals",status="201"} 1.0' in metrics


def _runs_on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_a_command_over_sqlite_runs_on_the_event_loop_and_a_cascade_in_a_worker_thread(tmp_path):
    built = build_service(GoalsSettings(database_url=f"sqlite:///{tmp_path}/events.db"))
    built.directory.record(*(employee(e, tenant_id="demo") for e in ("e-1", "e-2")))
    seen = {}
    for name in ("set_goal", "cascade_goal"):
        command = getattr(built.application, name)

        def noting(*args, _command=command, _name=name, **kwargs):
            seen[_name] = _runs_on_a_loop()
            return _command(*args, **kwargs)

        setattr(built.application, name, noting)
    client = TestClient(built.http)
    parent = client.post("/v1/goals", json={**PERFORMANCE, "level": "team"})
    assert parent.status_code == 201, parent.text
    cascade = {"parent_goal_id": parent.json()["goal_id"], "goal": {k: v for k, v in PERFORMANCE.items() if k != "employee_id"},
               "employee_ids": ["e-2"]}
    assert client.post("/v1/goals:cascade", json=cascade).status_code == 201
    assert seen == {"set_goal": True, "cascade_goal": False}


def test_over_postgresql_a_command_endpoint_stays_a_plain_function_for_a_worker_thread():
    def endpoint(goal_id: str) -> int:
        return threading.get_ident()

    assert command_endpoint_for("postgresql://tandem@127.0.0.1:5432/tandem")(endpoint) is endpoint
    on_the_loop = command_endpoint_for("sqlite:///var/goals/events.db")(endpoint)
    assert inspect.iscoroutinefunction(on_the_loop)
    assert inspect.signature(on_the_loop) == inspect.signature(endpoint)
    assert asyncio.run(on_the_loop("g-1")) == threading.get_ident()
