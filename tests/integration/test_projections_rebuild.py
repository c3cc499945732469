"""A rebuild from offset zero gives the same read model as live processing, on a real broker.

Each test writes two histories onto the topics while a live projection applies them batch by batch: the
organisation of ``test_projections_api``, through the goals, check-ins and reviews services' HTTP APIs, and
the seed story of ``tests.scenarios``, published as the services' relays publish, in a tenant of its own. A
rebuild then replays every topic into a fresh store three ways: the ``rebuild`` function, the running
service's ``POST /v1/admin/rebuilds`` (which swaps the new store in while queries keep being answered), and
``tandem-projections rebuild --offline``.

Stores are compared whole with ``read_model_snapshot``: every ``rm_*`` table and every dashboard and packet
they serve. The topics also hold other tests' tenants; all of them are compared when nothing was published
while the test compared, and the test's own tenants always.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.checkins import CheckInRecorded
from tandem_contracts.envelope import Message, encode
from tandem_contracts.goals import GoalSet
from tandem_projections.read_model import DashboardsReadModel
from tandem_projections.rebuild import StoreGenerations, rebuild, replay
from tandem_runtime.database import SQLDatabase
from tandem_runtime.kafka import make_producer
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.topics import ensure_topics
from tests.integration.test_projections_api import CATCH_UP, LIVE, TODAY, Org, Services, load, started
from tests.scenarios import SOURCES, event_id, first_difference, read_model_snapshot, seed_story
from tests.support import end_offsets, eventually

TOPICS = tuple(SOURCES)
REBUILD_TIMEOUT = 120.0


def snapshot(url: str) -> dict[str, Any]:
    with SQLDatabase.connect(url, pool_size=1) as database:
        return read_model_snapshot(database, TODAY.date())


def of_tenants(whole: dict[str, Any], tenants: set[str]) -> dict[str, Any]:
    return {
        "tables": {table: [row for row in rows if row["tenant_id"] in tenants] for table, rows in whole["tables"].items()},
        "dashboards": {tenant: views for tenant, views in whole["dashboards"].items() if tenant in tenants},
    }


def assert_same_read_model(rebuilt: dict[str, Any], live: dict[str, Any], tenants: set[str], whole_store: bool) -> None:
    """The tenants' rows and views are the same in both stores, and so is everything when ``whole_store``."""
    mine = of_tenants(live, tenants)
    assert set(mine["dashboards"]) == tenants, "a history is missing from the live store"
    difference = first_difference(of_tenants(rebuilt, tenants), mine)
    assert difference is None, difference
    if whole_store:
        difference = first_difference(rebuilt, live)
        assert difference is None, difference


def positions(url: str) -> dict[tuple[str, int], int]:
    """The offsets the store at ``url`` has applied, per partition."""
    with SQLDatabase.connect(url, pool_size=1) as database, database.reading() as cursor:
        cursor.execute("SELECT topic, kafka_partition, kafka_offset FROM tandem_projection_positions"
                       " WHERE projection = 'dashboards' AND kafka_offset >= 0")
        return {(topic, partition): offset for topic, partition, offset in cursor.fetchall()}


async def topic_ends(bootstrap: str) -> dict[tuple[str, int], int]:
    return {(topic, partition): end for topic in TOPICS for partition, end in (await end_offsets(bootstrap, topic)).items()}


def applied_everything(url: str, ends: dict[tuple[str, int], int]) -> bool:
    return positions(url) == {tp: end - 1 for tp, end in ends.items() if end}


def relayed(event: IntegrationEvent) -> Message:
    """An event as the services' relays publish it: enveloped and keyed by tenant and employee."""
    ident = event_id(event)
    return encode(event, event_id=ident, source=SOURCES[event.topic], correlation_id=ident, causation_id=ident,
                  actor=getattr(event, "actor", None) or "directory-feed")


async def publish(bootstrap: str, messages: Iterable[Message], topic: str | None = None) -> None:
    """Publish in order, to each message's topic or to ``topic``, and wait for every acknowledgement."""
    producer = make_producer(bootstrap, client_id="test-projections-rebuild")
    await producer.start()
    try:
        sent = [await producer.send(topic or m.topic, value=m.value, key=m.key, headers=m.headers) for m in messages]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def the_seed_story(tenant: str) -> list[IntegrationEvent]:
    return [event.model_copy(update={"tenant_id": tenant}) for event in seed_story().events]


async def project_the_histories(services: Services) -> tuple[Org, set[str]]:
    """Write both histories and wait until the live projection has applied them; return the organisation
    and both tenants."""
    org = Org(services)
    story_tenant = f"{org.tenant}-seed"
    await load(org)
    await publish(services.bootstrap, [relayed(event) for event in the_seed_story(story_tenant)])
    await eventually(services.settled, timeout=CATCH_UP)
    return org, {org.tenant, story_tenant}


async def answer(org: Org, scope: dict[str, str]) -> tuple[int, Any]:
    response = await org.dashboard(**scope)
    return response.status_code, response.json()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_store(request, tmp_path):
    """Makes URLs of fresh, empty read-model stores: SQLite files, or PostgreSQL databases."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path}/read-model-{uuid.uuid4().hex[:8]}.db"
    return request.getfixturevalue("new_postgres_database")


async def test_a_rebuild_from_offset_zero_equals_the_live_read_model(kafka_bootstrap, tmp_path, new_store):
    live_url = new_store()
    async with started(kafka_bootstrap, tmp_path, live_url) as services:
        _, tenants = await project_the_histories(services)
    ends = await topic_ends(kafka_bootstrap)

    # A generation, as the service rebuilds into (on PostgreSQL, a schema), replayed by two processes.
    rebuilt_url = StoreGenerations(new_store()).next()
    report = await rebuild(rebuilt_url, kafka_bootstrap, workers=2)

    assert report.events > 0 and report.cards > 0
    quiet = applied_everything(live_url, ends) and await topic_ends(kafka_bootstrap) == ends
    assert_same_read_model(snapshot(rebuilt_url), snapshot(live_url), tenants, whole_store=quiet)
    assert_analyzed(rebuilt_url)


def assert_analyzed(url: str) -> None:
    """On PostgreSQL, a rebuild leaves every table of the new generation with statistics for the planner."""
    with SQLDatabase.connect(url, pool_size=1) as database:
        if database.is_sqlite:
            return
        with database.reading() as cursor:
            cursor.execute(
                "SELECT c.relname, s.last_analyze IS NOT NULL FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_stat_user_tables s ON s.relid = c.oid"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
            tables = cursor.fetchall()
    assert {name for name, _ in tables} >= {"rm_goals", "rm_kpi_checkins", "rm_cards"}
    assert [name for name, analyzed in tables if not analyzed] == []


async def test_a_rebuild_on_the_running_service_swaps_in_an_equal_store_and_answers_every_query_meanwhile(
    kafka_bootstrap, tmp_path
):
    base_url = f"sqlite:///{tmp_path}/projections/read-model.db"
    async with started(kafka_bootstrap, tmp_path, base_url) as services:
        org, tenants = await project_the_histories(services)
        dashboards = services.dashboards_api
        read_side = services.projections.read_side
        old_url = read_side.url
        live = snapshot(old_url)
        ends = await topic_ends(kafka_bootstrap)
        quiet_before = applied_everything(old_url, ends)
        queries = [{"employee_id": "rep-ben"}, {"manager_id": "mgr-ana"}, {"department": "Sales"}, {}]
        before = [await answer(org, scope) for scope in queries]

        started_rebuild = await dashboards.post("/v1/admin/rebuilds")
        assert started_rebuild.status_code == 202, started_rebuild.text
        job = started_rebuild.json()
        assert job["state"] == "replaying" and job["error"] is None
        second = await dashboards.post("/v1/admin/rebuilds")
        assert second.status_code == 409 and second.json()["detail"] == "a rebuild is already running"

        answers_meanwhile: list[tuple[int, Any]] = []
        done = asyncio.Event()

        async def keep_asking() -> None:
            while not done.is_set():
                for scope in queries:
                    answers_meanwhile.append(await answer(org, scope))

        async def finished() -> dict[str, Any] | None:
            progress = (await dashboards.get(f"/v1/admin/rebuilds/{job['rebuild_id']}")).json()
            assert progress["state"] != "failed", progress
            return progress if progress["state"] == "done" else None

        asking = asyncio.create_task(keep_asking())
        try:
            job = await eventually(finished, timeout=REBUILD_TIMEOUT)
        finally:
            done.set()
            await asking
        for scope in queries:  # and right after the swap
            answers_meanwhile.append(await answer(org, scope))

        assert len(answers_meanwhile) >= 2 * len(queries)
        assert {status for status, _ in answers_meanwhile} == {200}
        assert all(seen in before for seen in answers_meanwhile), "a query saw something else during the swap"
        assert job["events_applied"] > 0 and job["seconds"] is not None and job["finished_at"] is not None
        assert (await dashboards.get(f"/v1/admin/rebuilds/{uuid.uuid4()}")).status_code == 404

        new_url = read_side.url
        assert new_url != old_url and StoreGenerations(base_url).current() == new_url
        base, new_file = Path(f"{tmp_path}/projections/read-model.db"), Path(StoreGenerations(new_url).parsed.path)
        assert not base.exists() and not Path(f"{base}-wal").exists(), "the old generation is still on disk"
        assert new_file.exists() and Path(f"{base}.current").read_text().strip() == new_file.name

        quiet = quiet_before and await topic_ends(kafka_bootstrap) == ends
        assert_same_read_model(snapshot(new_url), live, tenants, whole_store=quiet)

        goal_id = await org.set_goal("after-the-swap", "rep-chloe", {
            "kind": "development", "title": "Shadow Ben in three pricing conversations", "skill": "negotiation",
            "activity_targets": {"mentorship_sessions": 3}, "capacity": {"hours_per_month": "2"},
        })

        async def shown() -> bool:
            card = (await answer(org, {"employee_id": "rep-chloe"}))[1]["employee"]
            return goal_id in {g["goal_id"] for g in card["development_goals"]}

        await eventually(shown, timeout=LIVE)


async def test_the_offline_rebuild_command_shows_its_progress_and_leaves_a_store_equal_to_the_live_one(
    kafka_bootstrap, tmp_path
):
    base_url = f"sqlite:///{tmp_path}/projections/read-model.db"
    async with started(kafka_bootstrap, tmp_path, base_url) as services:
        _, tenants = await project_the_histories(services)
    live = snapshot(base_url)
    ends = await topic_ends(kafka_bootstrap)
    quiet_before = applied_everything(base_url, ends)

    env = {**os.environ, "TANDEM_PROJECTIONS_DATABASE_URL": base_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    command = [str(Path(sys.executable).parent / "tandem-projections"), "rebuild", "--offline"]
    finished = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=REBUILD_TIMEOUT, check=False
    )

    assert finished.returncode == 0, finished.stderr
    assert re.search(r"events\s+\[#{32}\]\s+100\.0%", finished.stderr), finished.stderr
    last_line = finished.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"rebuilt [\d,]+ events and [\d,]+ cards in \d+\.\d s", last_line), last_line
    new_url = StoreGenerations(base_url).current()
    assert new_url != base_url and not Path(f"{tmp_path}/projections/read-model.db").exists()
    quiet = quiet_before and await topic_ends(kafka_bootstrap) == ends
    assert_same_read_model(snapshot(new_url), live, tenants, whole_store=quiet)


class OnATopicOfItsOwn(DashboardsReadModel):
    """The dashboards read model reading one private topic, so that a poison message stays off the shared ones
    (where it would be in every later rebuild's way)."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topics = (topic,)


def check_in_without_entries(story: list[Message]) -> Message:
    """Poison that fails as its event is read into rows."""
    check_in = next(m for m in story if dict(m.headers)["ce_type"] == CheckInRecorded.event_type.encode())
    return replace(check_in, value=orjson.dumps({**orjson.loads(check_in.value), "entries": None}))


def goal_without_a_title(story: list[Message]) -> Message:
    """Poison that fails only when its goal is written, with the rest of its batch."""
    goal_set = next(m for m in story if dict(m.headers)["ce_type"] == GoalSet.event_type.encode())
    data = {**orjson.loads(goal_set.value), "goal_id": str(uuid.uuid4())}
    del data["title"]
    return replace(goal_set, value=orjson.dumps(data))


@pytest.mark.parametrize("poisoned", [check_in_without_entries, goal_without_a_title])
async def test_a_message_the_live_projection_dead_lettered_does_not_stop_a_rebuild(kafka_bootstrap, tmp_path, poisoned):
    topic = f"test.rebuild.poison.{uuid.uuid4().hex[:10]}"
    await ensure_topics(kafka_bootstrap, topics=(topic,))
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    story = [relayed(event) for event in the_seed_story(tenant)]
    await publish(kafka_bootstrap, [*story[:40], poisoned(story), *story[40:]], topic=topic)

    with SQLDatabase.connect(f"sqlite:///{tmp_path}/live.db") as live_database, \
            SQLDatabase.connect(f"sqlite:///{tmp_path}/rebuilt.db") as rebuilt_database:
        live = ProjectionStore(live_database, OnATopicOfItsOwn(topic))
        await project_live(live, kafka_bootstrap, topic)
        await replay(ProjectionStore(rebuilt_database, OnATopicOfItsOwn(topic)), kafka_bootstrap)

        assert_same_read_model(read_model_snapshot(rebuilt_database, TODAY.date()),
                               read_model_snapshot(live_database, TODAY.date()), {tenant}, whole_store=True)


async def project_live(store: ProjectionStore, bootstrap: str, topic: str) -> None:
    """Run a live projection runner over ``topic`` until it has applied (or dead-lettered) all that is on it."""
    runner = ProjectionRunner(store=store, bootstrap_servers=bootstrap, group_id=f"test-{topic}")
    dead_letters = make_producer(bootstrap, client_id="test-projections-rebuild")
    await dead_letters.start()
    await runner.start(dead_letters)
    running_live = asyncio.create_task(runner.run())
    try:
        ends = {(topic, p): end for p, end in (await end_offsets(bootstrap, topic)).items() if end}
        await eventually(lambda: store.positions() == {tp: end - 1 for tp, end in ends.items()}, timeout=CATCH_UP)
    finally:
        running_live.cancel()
        await asyncio.gather(running_live, return_exceptions=True)
        await runner.stop()
        await dead_letters.stop()
