"""The CloudEvents envelope and the committed JSON Schemas."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from tandem_contracts import schemas
from tandem_contracts.envelope import UndecodableMessage, decode, encode, stable_event_id
from tandem_contracts.goals import GoalSet

GOAL = GoalSet(
    tenant_id="acme",
    employee_id="e-1",
    occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
    version=1,
    actor="m-1",
    goal_id=uuid4(),
    kind="performance",
    status="active",
    set_by="m-1",
    cycle="2026",
    title="Increase conversions",
    start_date=date(2026, 1, 1),
    due_date=date(2026, 12, 31),
    cadence="weekly",
    kpi={"name": "conversions", "unit": "percent", "baseline": "10", "target": "15", "direction": "increase"},
)


def message():
    return encode(
        GOAL,
        event_id=stable_event_id(GOAL.goal_id, 1),
        source="/tandem/goals",
        actor="m-1",
        correlation_id="corr",
        causation_id="cause",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )


def test_an_event_travels_keyed_by_tenant_and_employee_with_ce_headers():
    encoded = message()
    headers = dict(encoded.headers)
    assert encoded.topic == "tandem.goals.v1"
    assert encoded.key == b"acme:e-1"
    assert headers["ce_type"] == b"tandem.goal.set.v1"
    assert headers["ce_subject"] == f"goals/{GOAL.goal_id}".encode()
    assert headers["ce_sequence"] == b"1" and headers["ce_tenantid"] == b"acme"
    assert headers["ce_actor"] == b"m-1" and headers["ce_causationid"] == b"cause"
    assert headers["traceparent"].startswith(b"00-")


def test_decoding_gives_back_the_same_event_and_envelope():
    encoded = message()
    envelope, event = decode(encoded.headers, encoded.value)
    assert event == GOAL
    assert envelope.correlation_id == "corr" and envelope.sequence == 1


def test_the_event_id_is_stable_across_republishing():
    assert stable_event_id(GOAL.goal_id, 1) == stable_event_id(GOAL.goal_id, 1) != stable_event_id(GOAL.goal_id, 2)


def test_readers_tolerate_fields_they_do_not_know():
    encoded = message()
    value = encoded.value[:-1] + b',"added_later":"x"}'
    assert decode(encoded.headers, value)[1] == GOAL


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda h, v: ([x for x in h if x[0] != "ce_type"], v), "missing CloudEvents headers"),
        (lambda h, v: ([(n, b"tandem.unknown.v9" if n == "ce_type" else b) for n, b in h], v), "unknown ce_type"),
        (lambda h, v: (h, b"not json"), "data is invalid"),
        (lambda h, v: (h, b""), "empty value"),
        (lambda h, v: ([(n, b"globex" if n == "ce_tenantid" else b) for n, b in h], v), "does not match"),
        (lambda h, v: ([(n, b"\xff" if n == "ce_id" else b) for n, b in h], v), "not UTF-8"),
    ],
)
def test_undecodable_messages_are_refused_with_the_reason(mangle, reason):
    encoded = message()
    headers, value = mangle(encoded.headers, encoded.value)
    with pytest.raises(UndecodableMessage, match=reason):
        decode(headers, value)


def test_committed_json_schemas_match_the_models():
    assert schemas.differences() == [], "run `make schemas` and commit the result"


def test_a_stale_schema_is_detected(tmp_path):
    schemas.write(tmp_path)
    (tmp_path / "tandem.goal.set.v1.json").write_text("{}\n")
    (tmp_path / "tandem.retired.v1.json").write_text("{}\n")
    assert schemas.differences(tmp_path) == ["tandem.goal.set.v1.json", "tandem.retired.v1.json"]


def test_every_model_still_reads_every_released_schema():
    assert schemas.incompatibilities() == [], "upcast the old shape instead of breaking it"


def released_goal_set() -> dict:
    import copy

    return copy.deepcopy(schemas.released()["tandem.goal.set.v1"][0][1])


def test_adding_an_optional_field_or_dropping_one_stays_compatible():
    from tandem_contracts.compatibility import problems

    old = released_goal_set()
    new = released_goal_set()
    new["properties"]["stretch_target"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    del new["properties"]["description"]
    assert problems(old, new) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s["required"].append("description"), "description: now required"),
        (lambda s: s["properties"].update(version={"type": "string"}), "version: no longer accepts integer"),
        (lambda s: s["$defs"]["GoalKind"]["enum"].remove("development"), "GoalKind: lost the value 'development'"),
        (lambda s: s["$defs"]["Kpi"]["required"].append("weight"), "Kpi.weight: now required"),
    ],
)
def test_breaking_changes_to_a_released_schema_are_caught(change, problem):
    from tandem_contracts.compatibility import problems

    new = released_goal_set()
    change(new)
    assert any(problem in found for found in problems(released_goal_set(), new))
