"""The services as separate processes over real HTTP and a real broker, as `make run` starts them."""

from __future__ import annotations

import signal
import time
import uuid

import httpx


def post_goal(urls: dict[str, str], employee: str, title: str) -> str:
    hired = httpx.put(f"{urls['goals']}/v1/directory/employees/{employee}", json={"display_name": "Sam Engineer"})
    assert hired.status_code == 202
    body = {
        "employee_id": employee,
        "kind": "development",
        "cycle": "2026",
        "title": title,
        "start_date": "2026-01-01",
        "due_date": "2026-09-30",
        "skill": "cloud infrastructure",
        "activity_targets": {"certifications": ["AWS Certified Cloud Practitioner"]},
    }
    posted = httpx.post(f"{urls['goals']}/v1/goals", json=body)
    assert posted.status_code == 201
    return posted.json()["goal_id"]


def shown(urls: dict[str, str], employee: str) -> list[str]:
    answer = httpx.get(f"{urls['projections']}/v1/dashboards/alignment", params={"employee_id": employee})
    if answer.status_code == 404:
        return []
    return [goal["goal_id"] for goal in answer.json()["employee"]["development_goals"]]


def test_a_goal_posted_to_the_goals_service_is_on_the_dashboard_within_two_seconds(services):
    urls, _ = services
    # A fresh projection first reads the topics' history (other tests' events): let it catch up.
    warm_up = f"e-{uuid.uuid4().hex[:6]}"
    post_goal(urls, warm_up, "Warm-up goal")
    deadline = time.monotonic() + 120
    while not shown(urls, warm_up):
        assert time.monotonic() < deadline, "the projection never caught up with the topic"
        time.sleep(0.05)

    employee = f"e-{uuid.uuid4().hex[:6]}"
    goal_id = post_goal(urls, employee, "Complete AWS Certified Cloud Practitioner training")
    accepted = time.monotonic()
    while time.monotonic() - accepted < 2.0 and not shown(urls, employee):
        time.sleep(0.02)
    assert shown(urls, employee) == [goal_id]


def test_services_shut_down_gracefully_on_sigterm(services, tmp_path):
    _, processes = services
    for process in processes.values():
        process.send_signal(signal.SIGTERM)
    for name, process in processes.items():
        # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit too.
        assert process.wait(timeout=20) in (0, -signal.SIGTERM), f"{name} did not exit cleanly"
        log = (tmp_path / f"{name}.log").read_text()
        assert "Application shutdown complete." in log, f"{name} skipped its shutdown:\n{log[-2000:]}"
        assert "Traceback" not in log


def test_bad_input_over_the_wire_is_a_clear_422_not_a_500(services):
    urls, _ = services
    response = httpx.post(f"{urls['goals']}/v1/goals", json={"employee_id": "e-1", "kind": "performance"})
    assert response.status_code == 422
    missing = {error["field"] for error in response.json()["errors"]}
    assert {"cycle", "title", "start_date", "due_date"} <= missing
    dashboards = f"{urls['projections']}/v1/dashboards/alignment"
    assert httpx.get(dashboards, params={"employee_id": ""}).status_code == 422
    both = httpx.get(dashboards, params={"employee_id": "e-1", "manager_id": "m-1"})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "manager_id"
    assert httpx.get(dashboards, params={"employee_id": "nobody-at-all"}).status_code == 404
