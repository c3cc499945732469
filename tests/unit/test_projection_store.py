"""The projection store applies each batch once: replays and relay duplicates change nothing."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from tandem_contracts.envelope import decode, encode, stable_event_id
from tandem_contracts.goals import GoalSet
from tandem_projections.alignment import AlignmentReadModel, employee_dashboard
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.projection import Delivery, ProjectionStore


def goal_set(employee_id="e-1", kind="performance", version=1, goal_id=None, title="Increase conversions"):
    measure = (
        {"kpi": {"name": "conversions", "unit": "percent", "baseline": "10", "target": "15", "direction": "increase"}}
        if kind == "performance"
        else {"skill": "negotiation", "activity_targets": {"training_hours": "20"}}
    )
    return GoalSet(
        tenant_id="acme",
        employee_id=employee_id,
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        version=version,
        actor="m-1",
        goal_id=goal_id or uuid4(),
        kind=kind,
        status="active",
        set_by="m-1",
        cycle="2026",
        title=title,
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
        cadence="weekly" if kind == "performance" else "monthly",
        **measure,
    )


def delivered(event, offset, partition=0):
    message = encode(
        event,
        event_id=stable_event_id(event.goal_id, event.version),
        source="/tandem/goals",
        actor="m-1",
        correlation_id="c",
        causation_id="c",
    )
    envelope, decoded = decode(message.headers, message.value)
    return Delivery("tandem.goals.v1", partition, offset, envelope, decoded)


@pytest.fixture
def store(tmp_path):
    database = SQLiteDatabase(str(tmp_path / "read.db"))
    yield ProjectionStore(database, AlignmentReadModel())
    database.close()


def counts(store):
    with store.database.reading() as cursor:
        cursor.execute("SELECT performance_goals, development_goals FROM alignment_employees WHERE employee_id = 'e-1'")
        return cursor.fetchone()


def test_a_batch_is_applied_and_its_positions_tracked(store):
    batch = [delivered(goal_set(), 0), delivered(goal_set(kind="development"), 1)]
    assert store.apply_batch(batch, {("tandem.goals.v1", 0): 1}) == (2, 0)
    assert store.positions() == {("tandem.goals.v1", 0): 1}
    assert counts(store) == (1, 1)


def test_a_replayed_batch_changes_nothing(store):
    batch = [delivered(goal_set(), 0), delivered(goal_set(), 1)]
    store.apply_batch(batch, {("tandem.goals.v1", 0): 1})
    assert store.apply_batch(batch, {("tandem.goals.v1", 0): 1}) == (0, 2)
    assert counts(store) == (2, 0)


def test_a_republished_event_at_a_new_offset_is_dropped_by_its_version(store):
    event = goal_set()
    store.apply_batch([delivered(event, 0)], {("tandem.goals.v1", 0): 0})
    assert store.apply_batch([delivered(event, 7)], {("tandem.goals.v1", 0): 7}) == (0, 1)
    assert counts(store) == (1, 0)
    assert store.positions() == {("tandem.goals.v1", 0): 7}


def test_duplicates_inside_one_batch_are_applied_once(store):
    event = goal_set()
    assert store.apply_batch([delivered(event, 0), delivered(event, 1)], {("tandem.goals.v1", 0): 1}) == (1, 1)
    assert counts(store) == (1, 0)


def test_a_batch_that_fails_leaves_neither_read_model_nor_position(store):
    class Exploding(AlignmentReadModel):
        def apply(self, cursor, deliveries):
            super().apply(cursor, deliveries)
            raise RuntimeError("disk full")

    failing = ProjectionStore(store.database, Exploding())
    with pytest.raises(RuntimeError):
        failing.apply_batch([delivered(goal_set(), 0)], {("tandem.goals.v1", 0): 0})
    assert store.positions() == {}
    assert counts(store) is None


def test_the_dashboard_lists_an_employees_goals_by_kind(store):
    performance, development = goal_set(), goal_set(kind="development", title="Negotiation training")
    store.apply_batch([delivered(performance, 0), delivered(development, 1), delivered(goal_set("e-2"), 2)],
                      {("tandem.goals.v1", 0): 2})
    with store.database.reading() as cursor:
        dashboard = employee_dashboard(cursor, "acme", "e-1")
    assert [g["goal_id"] for g in dashboard["performance_goals"]] == [str(performance.goal_id)]
    assert [g["title"] for g in dashboard["development_goals"]] == ["Negotiation training"]
    assert dashboard["counts"] == {"performance_goals": 1, "development_goals": 1}


def test_revisions_links_and_closing_show_on_the_dashboard(store):
    from decimal import Decimal

    from tandem_contracts.goals import GoalChanges, GoalClosed, GoalLinked, GoalRevised

    conversions, negotiation = goal_set(), goal_set(kind="development", title="Negotiation training")
    common = {"tenant_id": "acme", "employee_id": "e-1", "occurred_at": datetime(2026, 2, 1, tzinfo=UTC), "actor": "m-1"}
    revised = GoalRevised(**common, goal_id=conversions.goal_id, version=2, reason="stretch",
                          changed_fields=("title",), changes=GoalChanges(title="Increase conversions by 20%"),
                          previous=GoalChanges(title=conversions.title))
    linked = GoalLinked(**common, goal_id=negotiation.goal_id, version=2, link_id=uuid4(),
                        performance_goal_id=conversions.goal_id, performance_goal_owner_id="e-1",
                        rationale="capability_gap", skill="negotiation", evidence="18% vs 20%")
    closed = GoalClosed(**common, goal_id=conversions.goal_id, version=3, outcome="achieved", final_value=Decimal("21"))
    events = [conversions, negotiation, revised, linked, closed]
    store.apply_batch([delivered(e, n) for n, e in enumerate(events)], {("tandem.goals.v1", 0): len(events) - 1})
    with store.database.reading() as cursor:
        dashboard = employee_dashboard(cursor, "acme", "e-1")
    [performance] = dashboard["performance_goals"]
    [development] = dashboard["development_goals"]
    assert performance["title"] == "Increase conversions by 20%"
    assert (performance["status"], performance["outcome"], performance["version"]) == ("closed", "achieved", 3)
    assert [link["rationale"] for link in performance["supported_by"]] == ["capability_gap"]
    assert [link["performance_goal_id"] for link in development["aligned_to"]] == [str(conversions.goal_id)]
