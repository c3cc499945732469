"""On PostgreSQL the dashboards read model is the one SQLite gives, however the events arrive.

The reference is always SQLite with the history applied in publication order, one event per batch; the
same history on PostgreSQL, in any order, with duplicates, replays, any batch sizes or the rebuild path,
must give the same tables, dashboards and packets.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem_contracts.base import IntegrationEvent
from tandem_runtime.database import SQLDatabase, SQLiteDatabase, insert_rows
from tandem_runtime.local_postgres import ThrowawayPostgres, postgres_bindir
from tests.scenarios import (
    SEED_AS_OF,
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

pytestmark = pytest.mark.postgres

AS_OF = SEED_AS_OF


def on_sqlite(events: Sequence[IntegrationEvent]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        database = SQLiteDatabase(str(Path(folder) / "read.db"))
        try:
            feed(database, deliveries(events), sizes=1)
            return read_model_snapshot(database, AS_OF)
        finally:
            database.close()


def on_postgres(url: str, events: Sequence[IntegrationEvent], **how: Any) -> dict[str, Any]:
    """The snapshot of ``events`` published in that order, on a fresh PostgreSQL database."""
    database = SQLDatabase.connect(url)
    try:
        feed(database, deliveries(events), **how)
        return read_model_snapshot(database, AS_OF)
    finally:
        database.close()


def test_postgresql_serves_the_seed_story_exactly_as_sqlite_does(new_postgres_database: Callable[[], str]):
    story = seed_story().events

    difference = first_difference(on_postgres(new_postgres_database(), story, sizes=10), on_sqlite(story))

    assert difference is None, difference


def language_collated(url: str) -> str:
    """A fresh database beside ``url`` that sorts text as English does (as production servers often do)."""
    name = f"tandem_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        try:
            connection.execute(f"CREATE DATABASE {name} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                               " TEMPLATE template0")
        except psycopg.Error as error:
            pytest.skip(f"this PostgreSQL cannot make an ICU-collated database: {error}")
    return url.rsplit("/", 1)[0] + f"/{name}"


def test_a_language_collation_on_postgresql_lists_teams_and_cascades_as_sqlite_does(new_postgres_database):
    story = seed_story()
    b = story.builder
    # English collation puts "anna" before "Ben" and "improve" before "Increase"; code-point order does not.
    b.employee("anna", "anna Lopez", on=date(2026, 4, 1), manager_id="maya", department="Sales",
               job_title="Account Executive")
    b.performance_goal("anna", "improve renewal rate", kpi("renewal rate", "percent", 70, 80), on=date(2026, 4, 1),
                       parent=story.goals["team"], set_by="maya")
    events = [*story.events, *b.drain()]

    difference = first_difference(on_postgres(language_collated(new_postgres_database()), events, sizes=10),
                                  on_sqlite(events))

    assert difference is None, difference


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_postgresql_gives_the_sqlite_read_model_however_events_arrive(new_postgres_database, data):
    seed = data.draw(st.integers(0, 1_000_000), label="seed")
    events = random_history(seed, employees=data.draw(st.integers(2, 7), label="employees"))
    order = data.draw(st.permutations(range(len(events))), label="order")
    copies = data.draw(st.lists(st.tuples(st.integers(0, len(events) - 1), st.integers(1, len(events))), max_size=10),
                       label="duplicates")
    arrived = republished([events[i] for i in order], copies)
    sizes = data.draw(st.lists(st.integers(1, 30), min_size=1, max_size=6), label="sizes")
    count = len(list(batches(arrived, sizes)))
    replays = data.draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)), max_size=3),
                        label="replays")
    rebuild = data.draw(st.booleans(), label="rebuild")

    difference = first_difference(
        on_postgres(new_postgres_database(), arrived, sizes=sizes, replays=replays, defer_cards=rebuild),
        on_sqlite(events))

    assert difference is None, difference



def test_bulk_rows_that_repeat_stored_keys_keep_the_stored_rows_on_postgresql(new_postgres_database):
    """Many rows are copied straight into their table; when some keys are there already (or repeat within
    the rows), the copy is undone and the rows go through staging, which skips the repeats."""
    database = SQLDatabase.connect(new_postgres_database())
    try:
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE kept_facts (fact_id TEXT PRIMARY KEY, told TEXT NOT NULL)")
        first = [(f"fact-{n:04d}", "first") for n in range(300)]
        later = [(f"fact-{n:04d}", "later") for n in (*range(150, 450), 449)]
        with database.transaction() as cursor:
            insert_rows(cursor, "kept_facts", ("fact_id", "told"), first, "ON CONFLICT (fact_id) DO NOTHING")
            insert_rows(cursor, "kept_facts", ("fact_id", "told"), later, "ON CONFLICT (fact_id) DO NOTHING")
            cursor.execute("SELECT told, COUNT(*) FROM kept_facts GROUP BY told ORDER BY told")
            assert cursor.fetchall() == [("first", 300), ("later", 150)]
    finally:
        database.close()


def test_no_postgresql_statement_is_prepared_so_each_is_planned_for_its_own_parameters(new_postgres_database):
    # A generic plan settled while a rebuild's tables were small goes on scanning them whole as they grow.
    for durable in (True, False):
        database = SQLDatabase.connect(new_postgres_database(), durable=durable)
        try:
            for _ in range(8):  # psycopg would prepare a statement on its fifth run
                with database.transaction() as cursor:
                    cursor.execute("SELECT ?::text", ("goal",))
            with database.transaction() as cursor:
                cursor.execute("SELECT count(*) FROM pg_prepared_statements")
                assert cursor.fetchone()[0] == 0
        finally:
            database.close()


def test_long_values_are_compressed_with_lz4_on_postgresql(new_postgres_database):
    # pglz, PostgreSQL's default, compressed the cards' documents at a third of lz4's speed.
    database = SQLDatabase.connect(new_postgres_database())
    try:
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE kept_documents (document_id TEXT PRIMARY KEY, document TEXT NOT NULL)")
            cursor.execute("INSERT INTO kept_documents VALUES (?, ?)", ("card", '{"goal": "reduce churn"}' * 1000))
            cursor.execute("SELECT pg_column_compression(document) FROM kept_documents")
            assert cursor.fetchone()[0] == "lz4"
    finally:
        database.close()


def test_a_throwaway_cluster_runs_with_the_server_settings_it_is_given():
    # The benchmark sizes its cluster as a production server would be sized (shared buffers, log between
    # checkpoints); the settings must reach the server, or the figures describe a cluster nobody runs.
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = ThrowawayPostgres(bindir, {"shared_buffers": "48MB", "max_wal_size": "3GB"})
    cluster.start()
    try:
        with psycopg.connect(cluster.url) as connection:
            assert connection.execute("SHOW shared_buffers").fetchone()[0] == "48MB"
            assert connection.execute("SHOW max_wal_size").fetchone()[0] == "3GB"
    finally:
        cluster.stop()
