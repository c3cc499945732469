"""Poison written straight onto the topics stops nobody, on a real broker.

Events the HTTP edge would refuse can still reach the topics from any producer. Each poison here (a goal at
the calendar's end, a KPI beyond a double, a session count beyond 64 bits, and more drawn by hypothesis) is
published as the relays publish, in a tenant of its own, between two events of a bystander tenant. The
projections service must apply the bystander's later event, set each poison aside on the dead-letter topic
with its error, count it, stay ready, and a rebuild from offset zero (in parallel processes, and in one)
must give the same read model as the live one.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.goals import ActivityTargets, GoalSet, Kpi
from tandem_projections.rebuild import StoreGenerations, rebuild
from tandem_runtime.clock import FixedClock
from tandem_runtime.topics import DEAD_LETTER
from tests.integration.test_projections_api import CATCH_UP, TODAY, projections_service
from tests.integration.test_projections_rebuild import (
    REBUILD_TIMEOUT,
    TOPICS,
    applied_everything,
    assert_same_read_model,
    publish,
    relayed,
    snapshot,
    topic_ends,
)
from tests.scenarios import HistoryBuilder, event_id, kpi
from tests.support import caught_up, eventually, read_topic, running

ON = date(2026, 1, 5)


def goal_of(tenant: str, owner: str, title: str, **changes) -> GoalSet:
    """A valid performance goal, then ``changes`` written over it unvalidated: what any producer can publish."""
    builder = HistoryBuilder(tenant, schedules=False)
    builder.performance_goal(owner, title, kpi("conversions", "percent", 20, 23), on=ON)
    goal = builder.events[-1]
    return goal.model_copy(update={"goal_id": uuid.uuid4(), **changes})


def the_named_poisons(tenant: str) -> list[IntegrationEvent]:
    """The attacker's poisons that still break the dashboards. (A goal due at the end of time broke them while they
    worked out due dates themselves; the check-ins service publishes those now, and refuses such a goal.)"""
    return [
        goal_of(tenant, "beyond-doubles", "A KPI no double holds", kpi=Kpi.model_construct(
            name="k", unit="u", baseline=Decimal("-1e308"), target=Decimal("1e400"), direction="increase", weight=None)),
        goal_of(tenant, "many-sessions", "Mentoring without end", kind="development", kpi=None, skill="listening",
                cadence="monthly", activity_targets=ActivityTargets.model_construct(
                    training_hours=None, certifications=(), mentorship_sessions=18446744073709551616)),
    ]


extreme = st.fixed_dictionaries({
    "baseline": st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("1e301")),
    "sessions": st.integers(min_value=2**64, max_value=2**1000),
    "field": st.sampled_from(["baseline", "sessions"]),
})


def drawn_poisons(tenant: str, count: int = 6) -> list[IntegrationEvent]:
    """Goals with one value out of every range, as hypothesis draws them (reproducibly)."""
    found: list[IntegrationEvent] = []

    @settings(max_examples=count, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(extreme)
    def draw(values) -> None:
        owner = f"drawn-{len(found)}"
        if values["field"] == "baseline":
            found.append(goal_of(tenant, owner, "drawn", kpi=Kpi.model_construct(
                name="k", unit="u", baseline=values["baseline"], target=Decimal(1), direction="increase", weight=None)))
        else:
            found.append(goal_of(tenant, owner, "drawn", kind="development", kpi=None, skill="s", cadence="monthly",
                                 activity_targets=ActivityTargets.model_construct(
                                     training_hours=None, certifications=(), mentorship_sessions=values["sessions"])))

    draw()
    return found


@pytest.mark.timeout(600)
async def test_poison_on_the_topics_is_dead_lettered_while_another_tenant_keeps_updating_and_a_rebuild_agrees(
    kafka_bootstrap, tmp_path
):
    run = uuid.uuid4().hex[:8]
    bystanders, poisoned = f"bystanders-{run}", f"poisoned-{run}"
    poisons = [*the_named_poisons(poisoned), *drawn_poisons(poisoned)]
    before = goal_of(bystanders, "rep-ben", "Before the poison")
    after = goal_of(bystanders, "rep-ben", "After the poison")
    clean_in_the_poisoned_tenant = goal_of(poisoned, "far-away", "A goal like any other")
    live_url = f"sqlite:///{tmp_path}/live.db"
    projections = projections_service(kafka_bootstrap, live_url, f"test-poison-{run}", FixedClock(TODAY))

    async with running(projections.http) as api:
        await publish(kafka_bootstrap, [relayed(before)])
        await publish(kafka_bootstrap, [relayed(event) for event in (*poisons, clean_in_the_poisoned_tenant)])
        await publish(kafka_bootstrap, [relayed(after)])

        async def both_goals_shown() -> bool:
            answer = await api.get("/v1/dashboards/alignment", params={"employee_id": "rep-ben"},
                                   headers={"X-Tenant-ID": bystanders})
            shown = {g["title"] for g in answer.json()["employee"]["performance_goals"]} if answer.status_code == 200 else set()
            return shown == {"Before the poison", "After the poison"}

        await eventually(both_goals_shown, timeout=CATCH_UP)
        runner = projections.read_side.runner
        await eventually(lambda: caught_up(runner, kafka_bootstrap, TOPICS), timeout=CATCH_UP)
        ready = await api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        victim = await api.get("/v1/dashboards/alignment", params={"employee_id": "far-away"},
                               headers={"X-Tenant-ID": poisoned})
        assert victim.status_code == 200, victim.text
        assert [g["title"] for g in victim.json()["employee"]["performance_goals"]] == ["A goal like any other"]
        metrics = (await api.get("/metrics")).text
        counted = next(line for line in metrics.splitlines()
                       if line.startswith('tandem_dead_lettered_events_total{consumer="dashboards",reason="unapplicable"}'))
        assert float(counted.rsplit(" ", 1)[1]) >= len(poisons)

    dead = {dict(m.headers)["ce_id"].decode(): dict(m.headers) for m in await read_topic(kafka_bootstrap, DEAD_LETTER)
            if dict(m.headers).get("dlq_consumer") == b"dashboards" and "ce_id" in dict(m.headers)}
    for poison in poisons:
        headers = dead.get(event_id(poison))
        assert headers is not None, f"{poison.title} is not on the dead-letter topic"
        assert headers["dlq_reason"] == b"unapplicable" and headers["dlq_error"] and headers["dlq_error_type"]
        assert headers["dlq_original_topic"] == b"tandem.goals.v1"
    assert event_id(clean_in_the_poisoned_tenant) not in dead and event_id(after) not in dead

    ends = await topic_ends(kafka_bootstrap)
    live = snapshot(live_url)
    for workers in (2, 1):  # the parallel processes, and the one-process path
        rebuilt_url = StoreGenerations(f"sqlite:///{tmp_path}/rebuilt-{workers}.db").next()
        report = await asyncio.wait_for(rebuild(rebuilt_url, kafka_bootstrap, workers=workers), REBUILD_TIMEOUT)
        assert report.skipped >= len(poisons)
        quiet = applied_everything(live_url, ends) and await topic_ends(kafka_bootstrap) == ends
        assert_same_read_model(snapshot(rebuilt_url), live, {bystanders, poisoned}, whole_store=quiet)
