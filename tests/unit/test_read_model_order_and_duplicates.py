"""However events arrive, the dashboards read model ends up the same, checked with hypothesis.

The reference is the history applied in the order it was published, one event per batch: the live path
at its slowest. Every other way of delivering the same history (any order across topics and streams,
relay duplicates, replayed batches, any batch sizes, and the rebuild path that stores every fact before
computing any card) must give exactly the reference: every ``rm_*`` table, and every dashboard and packet
the read model serves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import date
from itertools import chain, permutations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_contracts.base import IntegrationEvent
from tandem_runtime.database import SQLiteDatabase
from tests.scenarios import (
    SEED_AS_OF,
    HistoryBuilder,
    batches,
    deliveries,
    feed,
    first_difference,
    kpi,
    random_history,
    read_model_snapshot,
    republished,
    seed_story,
)

AS_OF = SEED_AS_OF
STORY = seed_story().events
SOURCES = ("story", "random")
_references: dict[tuple[str, int, int], dict[str, Any]] = {}

batch_sizes = st.lists(st.integers(1, 30), min_size=1, max_size=6)


def history(source: str, data: st.DataObject) -> tuple[tuple[str, int, int], list[IntegrationEvent]]:
    """The seed's story, or a random organisation's history drawn from a seed."""
    if source == "story":
        return ("story", 0, 0), STORY
    seed = data.draw(st.integers(0, 1_000_000), label="seed")
    employees = data.draw(st.integers(2, 7), label="employees")
    return ("random", seed, employees), random_history(seed, employees)


def reference(key: tuple[str, int, int], events: Sequence[IntegrationEvent]) -> dict[str, Any]:
    if key not in _references:
        _references[key] = build(events, sizes=1)
    return _references[key]


def build(events: Sequence[IntegrationEvent], *, sizes: Any, defer: bool = False,
          replays: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """The snapshot after publishing ``events`` in that order, on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        database = SQLiteDatabase(str(Path(folder) / "read.db"))
        try:
            feed(database, deliveries(events), sizes=sizes, replays=replays, defer_cards=defer)
            return read_model_snapshot(database, AS_OF)
        finally:
            database.close()


def duplicates(events: Sequence[IntegrationEvent], data: st.DataObject) -> list[IntegrationEvent]:
    """``events`` with some republished later, as the outbox relay does after a crash before its commit."""
    copies = data.draw(st.lists(st.tuples(st.integers(0, len(events) - 1), st.integers(1, len(events))),
                                max_size=max(1, len(events) // 3)), label="duplicates")
    return republished(events, copies)


def replays(events: Sequence[IntegrationEvent], sizes: list[int], data: st.DataObject) -> list[tuple[int, int]]:
    """Which earlier batch to apply again after which batch."""
    count = len(list(batches(events, sizes)))
    return data.draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)), max_size=5),
                     label="replays")


def same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    difference = first_difference(actual, expected)
    assert difference is None, difference


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_arrival_order_across_topics_and_streams_gives_the_same_read_model(source, data):
    key, events = history(source, data)
    order = data.draw(st.permutations(range(len(events))), label="order")

    same(build([events[i] for i in order], sizes=data.draw(batch_sizes, label="sizes")), reference(key, events))


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_relay_duplicates_and_replayed_batches_change_nothing(source, data):
    key, events = history(source, data)
    delivered = duplicates(events, data)
    sizes = data.draw(batch_sizes, label="sizes")

    same(build(delivered, sizes=sizes, replays=replays(delivered, sizes, data)), reference(key, events))


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_batch_sizes_do_not_change_the_read_model(source, data):
    key, events = history(source, data)

    same(build(events, sizes=data.draw(batch_sizes, label="sizes")), reference(key, events))


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_storing_every_fact_first_then_computing_every_card_gives_the_live_read_model(source, data):
    key, events = history(source, data)
    order = data.draw(st.permutations(range(len(events))), label="order")

    same(build([events[i] for i in order], sizes=data.draw(batch_sizes, label="sizes"), defer=True),
         reference(key, events))


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_out_of_order_duplicated_and_replayed_all_at_once_still_gives_the_same_read_model(source, data):
    key, events = history(source, data)
    order = data.draw(st.permutations(range(len(events))), label="order")
    delivered = duplicates([events[i] for i in order], data)
    sizes = data.draw(batch_sizes, label="sizes")
    again = replays(delivered, sizes, data)
    defer = data.draw(st.booleans(), label="rebuild")

    same(build(delivered, sizes=sizes, replays=again, defer=defer), reference(key, events))


def test_the_mean_attainment_below_an_organisation_goal_does_not_depend_on_the_order_its_goals_arrived():
    b = HistoryBuilder("acme", schedules=False)
    measure = kpi("share of accounts", "percent", 0, 100)
    root = b.performance_goal("ceo", "Win every account", measure, on=date(2026, 1, 5), level="organisation")
    [organisation_goal] = b.drain()
    teams = []
    # Attainments 0.1, 0.2, 0.3 and 10: floats add them up differently in different orders, around a mean of 2.65.
    for n, actual in enumerate(("0.1", "0.2", "0.3", "10")):
        team = b.performance_goal(f"m{n}", "Win the region", measure, on=date(2026, 1, 5), level="team", parent=root)
        b.check_in(f"m{n}", on=date(2026, 1, 12), entries=[b.kpi_entry(team, actual, "on_track")])
        teams.append(b.drain())

    means = set()
    for arrival in permutations(teams):
        tenant = build([organisation_goal, *chain.from_iterable(arrival)], sizes=1)["dashboards"]["acme"]["tenant"]
        means.add(tenant["cascade"][0]["children_attainment"])

    assert len(means) == 1, means


def test_the_snapshot_tells_read_models_apart():
    """The comparison itself can fail: one lost check-in shows."""
    check_in = next(i for i, e in enumerate(STORY) if e.event_type == "tandem.checkin.recorded.v1")

    difference = first_difference(build(STORY[:check_in] + STORY[check_in + 1 :], sizes=10), build(STORY, sizes=10))

    assert difference is not None
