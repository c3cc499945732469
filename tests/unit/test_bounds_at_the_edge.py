"""Bounds at the edge: every value that once broke a consumer, or the suite for everyone, is a 422 naming the field
and the rule, and a body over the limit is a 413. The bounds are declared once, in contracts, and show in the
schemas."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from tandem_checkins.main import CheckInsSettings
from tandem_checkins.main import build_service as build_checkins
from tandem_contracts import bounds
from tandem_contracts.goals import GoalSet, attainment_percent
from tandem_goals.main import GoalsSettings
from tandem_goals.main import build_service as build_goals
from tests.examples import conversion_goal, employee


@pytest.fixture(scope="module")
def goals():
    built = build_goals(GoalsSettings(database_url="memory:", max_body_bytes=64 * 1024))
    built.directory.record(employee("e-1"), employee("e-1", tenant_id="acme"))
    return TestClient(built.http, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def checkins():
    return TestClient(build_checkins(CheckInsSettings(database_url="memory:")).http, raise_server_exceptions=False)


def refused(answer, field: str, rule: str, status: int = 422) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (field, rule) in [(e["field"], e["rule"]) for e in answer.json().get("errors") or []], answer.json()


def goal_with(**changes):
    body = copy.deepcopy(conversion_goal("e-1"))
    for path, value in changes.items():
        *parents, name = path.split("__")
        node = body
        for parent in parents:
            node = node[parent]
        node[name] = value
    return body


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"start_date": "9999-12-25", "due_date": "9999-12-30"}, "start_date", "less_than_equal"),
        ({"start_date": "0001-01-01"}, "start_date", "greater_than_equal"),
        ({"kpi__baseline": -1e308}, "kpi.baseline", "greater_than_equal"),
        ({"kpi__target": "1e400"}, "kpi.target", "less_than_equal"),
        ({"kpi__target": "NaN"}, "kpi.target", "finite_number"),
        ({"kpi__target": "1.0000001"}, "kpi.target", "decimal_max_places"),
        ({"employee_id": "px:1"}, "employee_id", "string_pattern_mismatch"),
        ({"employee_id": "px\u202e1"}, "employee_id", "string_pattern_mismatch"),
        ({"employee_id": "px\n1"}, "employee_id", "string_pattern_mismatch"),
        ({"title": "nul\x00inside"}, "title", "string_pattern_mismatch"),
        ({"cycle": "2026\n"}, "cycle", "string_pattern_mismatch"),
    ],
)
def test_a_goal_out_of_bounds_is_refused_naming_the_field_and_rule(goals, changes, field, rule):
    refused(goals.post("/v1/goals", json=goal_with(**changes)), field, rule)


@pytest.mark.parametrize("key", [None, "retry-1"])
def test_a_count_beyond_any_sane_range_is_refused_with_or_without_an_idempotency_key(goals, key):
    body = {**conversion_goal("e-1"), "kind": "development", "kpi": None, "skill": "negotiation",
            "activity_targets": {"mentorship_sessions": 18446744073709551616}}
    headers = {"Idempotency-Key": key} if key else {}
    refused(goals.post("/v1/goals", json=body, headers=headers), "activity_targets.mentorship_sessions", "less_than_equal")


@pytest.mark.parametrize("tenant", ["ev:il", "evil\x7f", "e" * 65, "évil"])
def test_a_tenant_id_of_anything_but_plain_characters_is_refused(goals, tenant):
    answer = goals.post("/v1/goals", json=conversion_goal("e-1"), headers={"X-Tenant-ID": tenant.encode("latin-1")})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "X-Tenant-ID"


def test_an_actor_id_with_a_colon_is_refused(goals):
    refused(goals.post("/v1/goals", json=conversion_goal("e-1"), headers={"X-Actor-ID": "a:b"}),
            "X-Actor-ID", "string_pattern_mismatch")


def test_a_directory_id_in_the_path_is_held_to_the_same_rule(goals):
    answer = goals.put("/v1/directory/employees/px:1", json={"display_name": "P X"})
    refused(answer, "employee_id", "string_pattern_mismatch")


def test_a_body_over_the_limit_is_413_declared_or_streamed(goals):
    big = {**conversion_goal("e-1"), "description": "x" * 70_000}
    assert goals.post("/v1/goals", json=big).status_code == 413

    def chunks():
        yield b'{"description": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    answer = goals.post("/v1/goals", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["status"] == 413


def test_the_work_plan_of_someone_unknown_is_404(goals):
    assert goals.get("/v1/employees/nobody-here/work-plan").status_code == 404
    assert goals.get("/v1/employees/e-1/work-plan").status_code == 200


@pytest.mark.parametrize(
    ("entry", "field", "rule"),
    [
        ({"kpi_value": "1e1000000"}, "entries.0.performance.kpi_value", "less_than_equal"),
        ({"kpi_value": 1e308}, "entries.0.performance.kpi_value", "less_than_equal"),
    ],
)
def test_a_check_in_value_out_of_bounds_is_refused(checkins, entry, field, rule):
    body = {"employee_id": "e-1", "held_on": "2026-01-05", "held_by": ["e-1"],
            "entries": [{"kind": "performance", "goal_id": "6f1c7e4e-8c1f-4f54-9d3a-2f0b8e0c1a11", "unit": "percent",
                         "status": "on_track", "kpi_value": "1", **entry}]}
    refused(checkins.post("/v1/check-ins", json=body), field, rule)


def test_a_check_in_dated_before_the_window_is_refused(checkins):
    body = {"employee_id": "e-1", "held_on": "0001-01-01", "held_by": ["e-1"],
            "entries": [{"kind": "performance", "goal_id": "6f1c7e4e-8c1f-4f54-9d3a-2f0b8e0c1a11", "unit": "percent",
                         "status": "on_track", "kpi_value": "1"}]}
    refused(checkins.post("/v1/check-ins", json=body), "held_on", "greater_than_equal")


def test_the_schemas_and_openapi_show_the_bounds(goals):
    schema = GoalSet.model_json_schema()
    assert schema["properties"]["start_date"]["formatMaximum"] == bounds.LATEST_DAY.isoformat()
    assert schema["properties"]["employee_id"]["pattern"] == bounds.ID_PATTERN
    kpi = schema["$defs"]["Kpi"]["properties"]["target"]["anyOf"][0]
    assert kpi["maximum"] == float(bounds.MAX_MAGNITUDE)
    openapi = goals.get("/openapi.json").json()
    tenant = next(p for p in openapi["paths"]["/v1/goals"]["post"]["parameters"] if p["name"] == "X-Tenant-ID")
    assert tenant["schema"]["anyOf"][0]["pattern"] == bounds.TENANT_PATTERN


def test_attainment_is_held_within_a_readable_range_and_is_direction_aware():
    from decimal import Decimal as D

    assert attainment_percent(D(10), D(15), D(15), "increase") == 100
    assert attainment_percent(D(20), D(10), D(15), "decrease") == 50
    assert attainment_percent(D(5), D(5), D(4), "decrease") == 100
    assert attainment_percent(D(5), D(5), D(4), "increase") == 0
    assert attainment_percent(D(0), D("0.000001"), D("1e12"), "increase") == D("999999.9")


@pytest.mark.parametrize("field", ["title", "description", "start_date", "due_date", "cadence", "level", "status"])
def test_a_revision_cannot_clear_what_every_goal_has(goals, field):
    goal_id = goals.post("/v1/goals", json=conversion_goal("e-1")).json()["goal_id"]
    refused(goals.post(f"/v1/goals/{goal_id}/revisions", json={"reason": "r", field: None}), field, "not_clearable")
    assert goals.get(f"/v1/goals/{goal_id}").status_code == 200


@pytest.mark.parametrize("change", [{"kpi": None}, {"kpi": {"target": None}}, {"parent_goal_id": None}, {"skill": None}])
def test_a_revision_clearing_an_optional_part_never_fails_the_service(goals, change):
    goal_id = goals.post("/v1/goals", json=conversion_goal("e-1")).json()["goal_id"]
    answer = goals.post(f"/v1/goals/{goal_id}/revisions", json={"reason": "r", **change})
    assert answer.status_code in (201, 422), answer.text
    assert goals.get(f"/v1/goals/{goal_id}").status_code == 200
