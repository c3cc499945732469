"""Check-ins over HTTP, with the goals service and a real broker between them.

Each test runs the goals service and the check-ins service in-process, each over a SQLite event store of
its own, in a tenant of its own. Goals travel as they do in production: set through the goals service's
HTTP API, published to ``tandem.goals.v1`` by its outbox relay, and consumed into the check-ins service's
goals replica. The check-ins service's clock stands still at 09:00 UTC on the day a test is on; the goals
start on Monday 5 January 2026, so their weeks run Monday to Sunday. "Published" is read from
``tandem.checkins.v1`` only once the check-ins relay has caught up with its event store, so counts are final.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tandem_checkins.main import CheckInsService, CheckInsSettings
from tandem_checkins.main import build_service as build_checkins
from tandem_goals.main import GoalsSettings
from tandem_goals.main import build_service as build_goals
from tandem_runtime.clock import FixedClock
from tandem_runtime.topics import CHECKINS
from tests.examples import conversion_goal
from tests.support import assigned_consumer, eventually, running

RECORDED = "tandem.checkin.recorded.v1"
OVERDUE = "tandem.checkin.overdue.v1"
MONDAY = date(2026, 1, 5)
REPLICA_TIMEOUT = 30.0


def sales_goal(owner: str) -> dict:
    """The seed's performance goal, checked in weekly: the new client conversion rate, in percent."""
    return {**conversion_goal(owner), "start_date": MONDAY.isoformat(), "due_date": "2026-12-31", "cadence": "weekly"}


def negotiation_goal(owner: str) -> dict:
    """The seed's development goal, checked in monthly, with a behavioural target to rate."""
    return {
        "employee_id": owner,
        "kind": "development",
        "cycle": "2026",
        "title": "Complete advanced negotiation training",
        "skill": "negotiation",
        "start_date": MONDAY.isoformat(),
        "due_date": "2026-06-30",
        "cadence": "monthly",
        "activity_targets": {"training_hours": "24", "certifications": ["Advanced Negotiation Skills"]},
        "behavioural_target": {"competency": "negotiation", "target_rating": "4"},
        "capacity": {"hours_per_month": "6"},
    }


def kpi(goal_id: str, value: str, unit: str = "percent") -> dict:
    return {"kind": "performance", "goal_id": goal_id, "kpi_value": value, "unit": unit, "status": "on_track"}


def header(message: ConsumerRecord, name: str) -> str | None:
    value = dict(message.headers).get(name)
    return None if value is None else value.decode()


@dataclass
class CheckInsTopic:
    """``tandem.checkins.v1`` from the offsets it had when the test began, accumulating as it is drained."""

    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    records: list[ConsumerRecord] = field(default_factory=list)

    async def drain(self) -> list[ConsumerRecord]:
        ends = await self.consumer.end_offsets(self.partitions)
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                self.records.extend(records)
        return self.records


@dataclass
class Stack:
    """Both services of one test, talking for one tenant, and the check-ins service's clock."""

    goals_api: httpx.AsyncClient
    checkins_api: httpx.AsyncClient
    checkins: CheckInsService
    clock: FixedClock
    tenant: str
    topic: CheckInsTopic

    def headers(self, actor: str = "mgr-ana") -> dict[str, str]:
        return {"X-Tenant-ID": self.tenant, "X-Actor-ID": actor}

    def on(self, day: date) -> Stack:
        self.clock.set(datetime.combine(day, time(9), tzinfo=UTC))
        return self

    async def hire(self, employee_id: str, **record: Any) -> None:
        answer = await self.goals_api.put(
            f"/v1/directory/employees/{employee_id}", json={"display_name": employee_id, **record}, headers=self.headers()
        )
        assert answer.status_code == 202, answer.text

    async def set_goal(self, body: dict) -> str:
        """Set a goal through the goals service; return its id once the check-ins service knows it."""
        answer = await self.goals_api.post("/v1/goals", json=body, headers=self.headers())
        assert answer.status_code == 201, answer.text
        goal_id = answer.json()["goal_id"]
        await eventually(lambda: self.knows(goal_id), timeout=REPLICA_TIMEOUT)
        return goal_id

    async def knows(self, goal_id: str) -> bool:
        answer = await self.checkins_api.get(f"/v1/goals/{goal_id}/check-in-schedule", headers=self.headers())
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code == 200

    async def close_goal(self, goal_id: str) -> None:
        """Close a goal through the goals service; return once the check-ins service's replica has it closed."""
        answer = await self.goals_api.post(
            f"/v1/goals/{goal_id}/close", json={"outcome": "achieved", "final_value": "16"}, headers=self.headers()
        )
        assert answer.status_code == 201, answer.text
        replica = self.checkins.goals

        async def closed() -> bool:
            facts = await asyncio.to_thread(replica.goal, self.tenant, uuid.UUID(goal_id))
            return facts is not None and not facts.is_open

        await eventually(closed, timeout=REPLICA_TIMEOUT)

    async def check_in(self, employee: str, *entries: dict, held_on: date | None = None) -> httpx.Response:
        body = {
            "employee_id": employee,
            "held_on": (held_on or self.clock.now().date()).isoformat(),
            "held_by": [employee, "mgr-ana"],
            "entries": list(entries),
        }
        return await self.checkins_api.post("/v1/check-ins", json=body, headers=self.headers())

    async def recorded(self, employee: str, *entries: dict) -> dict:
        answer = await self.check_in(employee, *entries)
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def sweep(self) -> int:
        answer = await self.checkins_api.post("/v1/check-in-schedules:sweep", headers=self.headers())
        assert answer.status_code == 200, answer.text
        return answer.json()["overdue_signalled"]

    async def relay_caught_up(self) -> bool:
        application = self.checkins.application
        recorded = await asyncio.to_thread(application.recorder.max_notification_id) or 0
        return (self.checkins.relay.state.position or 0) >= recorded

    async def published(self, event_type: str | None = None) -> list[ConsumerRecord]:
        """The tenant's messages on ``tandem.checkins.v1``, once everything recorded so far is relayed."""
        await eventually(self.relay_caught_up, timeout=20)
        prefix = f"{self.tenant}:".encode()
        mine = [record for record in await self.topic.drain() if record.key.startswith(prefix)]
        return [record for record in mine if event_type is None or header(record, "ce_type") == event_type]


@asynccontextmanager
async def stack(bootstrap: str, tmp_path) -> AsyncIterator[Stack]:
    async with assigned_consumer(bootstrap, CHECKINS) as (consumer, ends):
        for partition, offset in ends.items():
            consumer.seek(partition, offset)
        topic = CheckInsTopic(consumer, list(ends))
        clock = FixedClock(datetime.combine(MONDAY, time(9), tzinfo=UTC))
        goals = build_goals(
            GoalsSettings(database_url=f"sqlite:///{tmp_path}/goals/events.db", kafka_bootstrap_servers=bootstrap)
        )
        checkins = build_checkins(
            CheckInsSettings(
                database_url=f"sqlite:///{tmp_path}/checkins/events.db",
                kafka_bootstrap_servers=bootstrap,
                sweep_interval_seconds=3600,  # the test sweeps when it means to
            ),
            clock=clock,
        )
        async with running(goals.http) as goals_api, running(checkins.http) as checkins_api:
            yield Stack(goals_api, checkins_api, checkins, clock, f"t-{uuid.uuid4().hex[:10]}", topic)


@pytest.fixture
async def ben(kafka_bootstrap: str, tmp_path) -> AsyncIterator[tuple[Stack, str, str]]:
    """Ben, a sales rep managed by Ana, with the seed's two goals, both known to the check-ins service."""
    async with stack(kafka_bootstrap, tmp_path) as services:
        await services.hire("mgr-ana", department="Sales", job_title="Sales Manager")
        await services.hire("rep-ben", department="Sales", manager_id="mgr-ana")
        sales = await services.set_goal(sales_goal("rep-ben"))
        negotiation = await services.set_goal(negotiation_goal("rep-ben"))
        yield services, sales, negotiation


def assert_envelope(message: ConsumerRecord, services: Stack, *, event_type: str, subject: str, actor: str) -> dict:
    """A check-ins event in its CloudEvents envelope, keyed by tenant and employee. Returns the data."""
    data = orjson.loads(message.value)
    assert message.key == f"{services.tenant}:rep-ben".encode()
    assert header(message, "ce_type") == event_type
    assert header(message, "ce_subject") == subject
    assert header(message, "ce_tenantid") == services.tenant
    assert header(message, "ce_sequence") == str(data["version"])
    assert header(message, "ce_actor") == actor
    assert header(message, "ce_source") == "/tandem/checkins"
    assert (data["tenant_id"], data["employee_id"]) == (services.tenant, "rep-ben")
    return data


async def test_weekly_kpi_check_ins_and_a_monthly_development_check_in_are_published_once_each(ben):
    services, sales, negotiation = ben
    check_ins = []
    for friday, rate in ((date(2026, 1, 9), "20.5"), (date(2026, 1, 16), "21"), (date(2026, 1, 23), "21.75")):
        check_ins.append(await services.on(friday).recorded("rep-ben", kpi(sales, rate)))
    check_ins.append(await services.recorded("rep-ben", {
        "kind": "development",
        "goal_id": negotiation,
        "training": [{"hours": "6", "course": "Advanced negotiation"}],
        "skill_application": {"performance_goal_id": sales, "how": "Anchoring on value closed two deals this week"},
        "feedback": {"ratings": [{"source": "manager", "rating": "3.5"}, {"source": "peer", "rating": "4"}]},
    }))

    published = await services.published(RECORDED)
    assert len(published) == 4
    assert sorted(header(m, "ce_subject") for m in published) == sorted(f"check-ins/{c['checkin_id']}" for c in check_ins)
    by_id = {}
    for message, check_in in zip(sorted(published, key=lambda m: m.offset), check_ins, strict=True):
        data = assert_envelope(message, services, event_type=RECORDED, subject=f"check-ins/{check_in['checkin_id']}",
                               actor="mgr-ana")
        by_id[data["checkin_id"]] = data
    assert [by_id[c["checkin_id"]]["held_on"] for c in check_ins] == ["2026-01-09", "2026-01-16", "2026-01-23", "2026-01-23"]
    assert [by_id[c["checkin_id"]]["entries"][0]["kpi_value"] for c in check_ins[:3]] == ["20.5", "21", "21.75"]
    [development] = by_id[check_ins[3]["checkin_id"]]["entries"]
    assert development["skill_application"]["performance_goal_id"] == sales
    peer = next(s for s in development["feedback"]["sources"] if s["source"] == "peer")
    assert (peer["count"], peer["average"], peer["ratings"]) == (1, None, [])

    listed = await services.checkins_api.get("/v1/employees/rep-ben/check-ins", headers=services.headers())
    assert len(listed.json()) == 4 and listed.json()[0]["held_on"] == "2026-01-23"


async def test_a_closed_goal_a_kpi_in_the_wrong_unit_and_a_future_date_are_refused(ben):
    services, sales, negotiation = ben
    services.on(date(2026, 1, 9))

    wrong_unit = await services.check_in("rep-ben", kpi(sales, "21", unit="EUR"))
    assert wrong_unit.status_code == 422 and wrong_unit.json()["errors"][0]["field"] == "entries.0.unit", wrong_unit.text
    future = await services.check_in("rep-ben", kpi(sales, "21"), held_on=date(2026, 1, 10))
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "held_on", future.text

    await services.close_goal(sales)
    closed = await services.check_in("rep-ben", kpi(sales, "21"))
    assert closed.status_code == 422, closed.text
    assert closed.json()["errors"][0] | {"message": None} == {
        "field": "entries.0.goal_id", "rule": "goal_known_open_and_owned", "message": None
    }

    assert (await services.check_in("rep-ben", {"kind": "development", "goal_id": negotiation})).status_code == 201
    [only] = await services.published(RECORDED)
    assert orjson.loads(only.value)["entries"][0]["goal_id"] == negotiation


async def test_a_skipped_week_is_published_as_overdue_exactly_once(ben):
    services, sales, negotiation = ben
    await services.on(date(2026, 1, 9)).recorded("rep-ben", kpi(sales, "20.5"))  # then nothing in the week of 12 January

    services.on(date(2026, 1, 19))
    await services.sweep()
    await services.sweep()  # the sweeps judge every tenant's goals on the shared topics: count this one's on Kafka

    [overdue] = await services.published(OVERDUE)
    schedule_id = orjson.loads(overdue.value)["schedule_id"]
    data = assert_envelope(overdue, services, event_type=OVERDUE, subject=f"check-in-schedules/{schedule_id}",
                           actor="cadence-sweep")
    assert (data["goal_id"], data["cadence"], data["period_start"], data["period_end"], data["last_check_in_on"]) == (
        sales, "weekly", "2026-01-12", "2026-01-18", "2026-01-09"
    )
    schedule = await services.checkins_api.get(f"/v1/goals/{sales}/check-in-schedule", headers=services.headers())
    assert schedule.json()["overdue_periods_signalled"] == 1
    assert (schedule.json()["next_due"], schedule.json()["overdue"]) == ("2026-01-18", True)
    assert len(await services.published(RECORDED)) == 1
