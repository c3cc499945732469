"""Every goal command over HTTP, and exactly what it publishes to ``tandem.goals.v1``, on a real broker.

Each test runs the goals service in-process (its lifespan: outbox relay, directory feed) over an event
store of its own, in a tenant of its own, so what the tenant's keys show on the topic is what the test did.
"Published" is read only once the relay has caught up with the event store: every event recorded is on
Kafka by then, so a count is final and "nothing published" means nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tandem_contracts.envelope import stable_event_id
from tandem_goals.main import GoalsService, GoalsSettings, build_service
from tandem_runtime.topics import GOALS
from tests.examples import CONVERSION_GOAL, conversion_goal, employee
from tests.support import assigned_consumer, eventually, running

GOAL_SET = "tandem.goal.set.v1"
GOAL_REVISED = "tandem.goal.revised.v1"
GOAL_LINKED = "tandem.goal.linked.v1"
GOAL_UNLINKED = "tandem.goal.unlinked.v1"
GOAL_CLOSED = "tandem.goal.closed.v1"

# The organisation every test starts from: Ana manages Ben and Chloe; Lee manages Sam.
ORGANISATION = {
    "mgr-ana": {"display_name": "Ana Manager", "department": "Sales", "job_title": "Sales Manager"},
    "rep-ben": {"display_name": "Ben Rep", "department": "Sales", "manager_id": "mgr-ana"},
    "rep-chloe": {"display_name": "Chloe Rep", "department": "Sales", "manager_id": "mgr-ana"},
    "mgr-lee": {"display_name": "Lee Manager", "department": "Engineering"},
    "eng-sam": {"display_name": "Sam Engineer", "department": "Engineering", "manager_id": "mgr-lee"},
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


# --- request bodies -------------------------------------------------------------------------------------

def team_goal(owner: str = "mgr-ana", **overrides: Any) -> dict:
    """A team-level performance goal: the parent of a cascade, or a goal others' development may serve."""
    return {**conversion_goal(owner), "level": "team", "title": "Sales team: +15% new client conversions", **overrides}


def development_goal(owner: str, hours: int | str | None = 8, **overrides: Any) -> dict:
    """A development goal building negotiation skills, setting ``hours`` a month aside."""
    body = {
        "employee_id": owner,
        "kind": "development",
        "cycle": "2026",
        "title": "Build negotiation skills",
        "skill": "negotiation",
        "start_date": "2026-01-01",
        "due_date": "2026-06-30",
        "activity_targets": {"training_hours": "16", "certifications": ["Negotiation Fundamentals"]},
        **overrides,
    }
    if hours is not None:
        body["capacity"] = {"hours_per_month": str(hours)}
    return body


def goal_template(body: dict) -> dict:
    """The goal part of a cascade request: a set-goal body without its owner."""
    return {name: value for name, value in body.items() if name != "employee_id"}


# --- the topic, from the moment a test starts -----------------------------------------------------------

@dataclass
class GoalsTopic:
    """``tandem.goals.v1`` read from the offsets it had when the test began, accumulating as it is drained."""

    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    records: list[ConsumerRecord] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def from_now(cls, bootstrap: str) -> AsyncIterator[GoalsTopic]:
        async with assigned_consumer(bootstrap, GOALS) as (consumer, ends):
            for partition, offset in ends.items():
                consumer.seek(partition, offset)
            yield cls(consumer, list(ends))

    async def drain(self) -> list[ConsumerRecord]:
        """Everything published since the test began, up to the topic's end now."""
        ends = await self.consumer.end_offsets(self.partitions)
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                self.records.extend(records)
        return self.records


# --- one running goals service, its tenant, and what it published ---------------------------------------

@dataclass
class Goals:
    """The goals service of one test, talking for one tenant."""

    service: GoalsService
    api: httpx.AsyncClient
    tenant: str
    topic: GoalsTopic

    def headers(self, actor: str | None = None, **extra: str) -> dict[str, str]:
        named = {"X-Tenant-ID": self.tenant, **({"X-Actor-ID": actor} if actor else {})}
        return {**named, **{name.replace("_", "-"): value for name, value in extra.items()}}

    async def hire(self, employee_id: str, **record: Any) -> None:
        answer = await self.api.put(f"/v1/directory/employees/{employee_id}", json=record, headers=self.headers())
        assert answer.status_code == 202, answer.text

    async def hire_organisation(self) -> None:
        for employee_id, record in ORGANISATION.items():
            await self.hire(employee_id, **record)

    async def set_goal(self, body: dict, actor: str | None = None, **headers: str) -> dict:
        answer = await self.api.post("/v1/goals", json=body, headers=self.headers(actor, **headers))
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def revise(self, goal_id: str, body: dict, actor: str | None = None, **headers: str) -> httpx.Response:
        return await self.api.post(f"/v1/goals/{goal_id}/revisions", json=body, headers=self.headers(actor, **headers))

    async def link(self, goal_id: str, body: dict, actor: str | None = None, **headers: str) -> httpx.Response:
        return await self.api.post(f"/v1/goals/{goal_id}/links", json=body, headers=self.headers(actor, **headers))

    async def close(self, goal_id: str, body: dict, actor: str | None = None, **headers: str) -> httpx.Response:
        return await self.api.post(f"/v1/goals/{goal_id}/close", json=body, headers=self.headers(actor, **headers))

    async def cascade(self, body: dict, actor: str | None = None, **headers: str) -> httpx.Response:
        return await self.api.post("/v1/goals:cascade", json=body, headers=self.headers(actor, **headers))

    async def goal(self, goal_id: str) -> dict:
        answer = await self.api.get(f"/v1/goals/{goal_id}", headers=self.headers())
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def work_plan(self, employee_id: str) -> dict:
        answer = await self.api.get(f"/v1/employees/{employee_id}/work-plan", headers=self.headers())
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def notification_log(self) -> int:
        return await asyncio.to_thread(self.service.application.recorder.max_notification_id) or 0

    async def relay_caught_up(self) -> bool:
        return (self.service.relay.state.position or 0) >= await self.notification_log()

    async def published(self, timeout: float = 20.0) -> list[ConsumerRecord]:
        """The tenant's messages on the topic, once every event recorded so far has been relayed."""
        await eventually(self.relay_caught_up, timeout=timeout)
        prefix = f"{self.tenant}:".encode()
        return [record for record in await self.topic.drain() if record.key.startswith(prefix)]

    async def published_for(self, goal_id: str) -> list[ConsumerRecord]:
        """The messages of one goal, in its order (one goal's messages share a key, hence a partition)."""
        return [m for m in await self.published() if header(m, "ce_subject") == f"goals/{goal_id}"]


@asynccontextmanager
async def goals_service(bootstrap: str, database_url: str) -> AsyncIterator[Goals]:
    async with GoalsTopic.from_now(bootstrap) as topic:
        service = build_service(GoalsSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap))
        async with running(service.http) as api:
            yield Goals(service, api, f"t-{uuid.uuid4().hex[:10]}", topic)


@pytest.fixture
async def goals(kafka_bootstrap: str, tmp_path) -> AsyncIterator[Goals]:
    """The goals service over a SQLite event store, with an empty directory for a fresh tenant."""
    async with goals_service(kafka_bootstrap, f"sqlite:///{tmp_path}/goals.db") as service:
        yield service


@pytest.fixture
async def org(goals: Goals) -> Goals:
    """The goals service with the organisation hired through the directory pass-through."""
    await goals.hire_organisation()
    return goals


# --- reading what was published -------------------------------------------------------------------------

def header(message: ConsumerRecord, name: str) -> str | None:
    value = dict(message.headers).get(name)
    return None if value is None else value.decode()


def types_of(messages: list[ConsumerRecord]) -> list[str]:
    return [header(m, "ce_type") for m in messages]


def assert_published(
    message: ConsumerRecord,
    *,
    goals: Goals,
    event_type: str,
    owner: str,
    goal_id: str,
    version: int,
    actor: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
) -> dict:
    """A goal event in its CloudEvents envelope: keyed by tenant and owner, one goal's version. Returns the data."""
    headers = {name: value.decode() for name, value in message.headers}
    assert message.key == f"{goals.tenant}:{owner}".encode()
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == event_type
    assert headers["ce_id"] == stable_event_id(uuid.UUID(goal_id), version)
    assert headers["ce_source"] == "/tandem/goals"
    assert headers["ce_subject"] == f"goals/{goal_id}"
    assert headers["ce_sequence"] == str(version)
    assert headers["ce_tenantid"] == goals.tenant
    assert headers["ce_partitionkey"] == f"{goals.tenant}:{owner}"
    assert headers["ce_actor"] == actor
    assert headers["ce_dataschema"] == f"urn:tandem:schema:{event_type}"
    assert headers["content-type"] == "application/json"
    if correlation_id is not None:
        assert headers["ce_correlationid"] == correlation_id
    else:
        assert headers["ce_correlationid"]  # a new correlation starts with a request that names none
    assert headers["ce_causationid"] == (causation_id or headers["ce_correlationid"])
    assert headers.get("traceparent") == traceparent
    data = orjson.loads(message.value)
    assert data["tenant_id"] == goals.tenant
    assert data["employee_id"] == owner
    assert data["goal_id"] == goal_id
    assert data["version"] == version
    assert data["actor"] == actor
    assert datetime.fromisoformat(data["occurred_at"]) == datetime.fromisoformat(headers["ce_time"])
    return data


def refused(answer: httpx.Response, status: int, *, field: str | None = None, rule: str | None = None) -> dict:
    """A problem+json refusal; a 422 from a rule names the field at fault and the rule."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == status and problem["detail"]
    if field is not None:
        named = [(e["field"], e["rule"]) for e in problem["errors"]]
        assert any(f == field and (rule is None or r == rule) for f, r in named), problem
    return problem


# --- set ------------------------------------------------------------------------------------------------

async def test_setting_a_goal_publishes_one_goal_set_with_its_envelope(org: Goals):
    correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    answer = await org.api.post(
        "/v1/goals",
        json=conversion_goal("rep-ben"),
        headers=org.headers("mgr-ana", X_Correlation_ID=correlation, Idempotency_Key=key, traceparent=TRACEPARENT),
    )

    assert answer.status_code == 201, answer.text
    goal = answer.json()
    assert answer.headers["Location"] == f"/v1/goals/{goal['goal_id']}" and answer.headers["ETag"] == '"1"'
    assert (goal["employee_id"], goal["set_by"], goal["version"], goal["status"]) == ("rep-ben", "mgr-ana", 1, "active")
    assert goal["cadence"] == "weekly" and goal["kpi"]["target"] == "15"

    [message] = await org.published()
    data = assert_published(
        message, goals=org, event_type=GOAL_SET, owner="rep-ben", goal_id=goal["goal_id"], version=1,
        actor="mgr-ana", correlation_id=correlation, causation_id=key, traceparent=TRACEPARENT,
    )
    assert data["set_by"] == "mgr-ana" and data["kind"] == "performance" and data["status"] == "active"
    assert data["kpi"] == {**CONVERSION_GOAL["kpi"], "weight": None}
    assert (data["title"], data["cycle"], data["level"], data["parent_goal_id"]) == (
        CONVERSION_GOAL["title"], "2026", "individual", None
    )


async def test_a_goal_set_without_an_actor_is_set_by_its_owner(org: Goals):
    goal = await org.set_goal(development_goal("rep-chloe"))

    [message] = await org.published()
    data = assert_published(
        message, goals=org, event_type=GOAL_SET, owner="rep-chloe", goal_id=goal["goal_id"], version=1, actor="rep-chloe"
    )
    assert data["set_by"] == "rep-chloe" and data["cadence"] == "monthly"
    assert data["capacity"]["hours_per_month"] == "8" and data["skill"] == "negotiation"


# --- revise ---------------------------------------------------------------------------------------------

async def test_revising_a_kpi_target_keeps_the_target_history_and_publishes_goal_revised(org: Goals):
    goal = await org.set_goal(conversion_goal("rep-ben"))
    correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    reason = "Market grew; target raised with the sales director"

    answer = await org.revise(
        goal["goal_id"], {"reason": reason, "kpi": {"target": "18"}}, "mgr-ana",
        If_Match='"1"', X_Correlation_ID=correlation, Idempotency_Key=key,
    )

    assert answer.status_code == 201, answer.text
    revised = answer.json()
    assert answer.headers["ETag"] == '"2"' and revised["version"] == 2 and revised["revisions"] == 1
    assert revised["kpi"]["target"] == "18" and revised["kpi"]["baseline"] == "10"  # the rest of the KPI stays
    [change] = revised["target_history"]
    assert (change["previous_target"], change["target"], change["reason"]) == ("15", "18", reason)
    assert (await org.goal(goal["goal_id"]))["target_history"] == revised["target_history"]

    set_message, revised_message = await org.published_for(goal["goal_id"])
    assert header(set_message, "ce_type") == GOAL_SET
    data = assert_published(
        revised_message, goals=org, event_type=GOAL_REVISED, owner="rep-ben", goal_id=goal["goal_id"], version=2,
        actor="mgr-ana", correlation_id=correlation, causation_id=key,
    )
    assert data["reason"] == reason and data["changed_fields"] == ["kpi"]
    assert data["changes"]["kpi"]["target"] == "18" and data["previous"]["kpi"]["target"] == "15"
    assert len(await org.published()) == 2


# --- link and unlink ------------------------------------------------------------------------------------

async def test_linking_a_development_goal_publishes_goal_linked_for_a_capability_gap_and_a_future_role(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    team = await org.set_goal(team_goal("mgr-ana"))
    negotiation = await org.set_goal(development_goal("rep-ben"))
    correlation = f"corr-{uuid.uuid4()}"
    evidence = "Lost 4 of 6 late-stage deals on price in Q4"

    gap = await org.link(
        negotiation["goal_id"],
        {"performance_goal_id": conversions["goal_id"], "rationale": "capability_gap", "evidence": evidence},
        "mgr-ana", X_Correlation_ID=correlation,
    )
    assert gap.status_code == 201, gap.text
    future = await org.link(
        negotiation["goal_id"],
        {"performance_goal_id": team["goal_id"], "rationale": "future_role", "future_role": "Key account lead"},
        "mgr-ana", X_Correlation_ID=correlation, If_Match='"2"',
    )
    assert future.status_code == 201, future.text

    links = {link["link_id"]: link for link in future.json()["links"]}
    assert set(links) == {gap.headers["Link-ID"], future.headers["Link-ID"]} and future.json()["version"] == 3
    assert links[gap.headers["Link-ID"]] | {"link_id": None} == {
        "link_id": None, "performance_goal_id": conversions["goal_id"], "performance_goal_owner_id": "rep-ben",
        "rationale": "capability_gap", "skill": "negotiation", "evidence": evidence, "future_role": None,
    }
    assert links[future.headers["Link-ID"]]["performance_goal_owner_id"] == "mgr-ana"

    _, gap_message, future_message = await org.published_for(negotiation["goal_id"])
    gap_data = assert_published(
        gap_message, goals=org, event_type=GOAL_LINKED, owner="rep-ben", goal_id=negotiation["goal_id"], version=2,
        actor="mgr-ana", correlation_id=correlation,
    )
    assert gap_data["link_id"] == gap.headers["Link-ID"] and gap_data["performance_goal_id"] == conversions["goal_id"]
    assert (gap_data["rationale"], gap_data["skill"], gap_data["evidence"], gap_data["future_role"]) == (
        "capability_gap", "negotiation", evidence, None
    )
    future_data = assert_published(
        future_message, goals=org, event_type=GOAL_LINKED, owner="rep-ben", goal_id=negotiation["goal_id"], version=3,
        actor="mgr-ana", correlation_id=correlation,
    )
    assert (future_data["rationale"], future_data["future_role"], future_data["evidence"]) == (
        "future_role", "Key account lead", None
    )
    assert future_data["performance_goal_owner_id"] == "mgr-ana"
    assert types_of(await org.published()).count(GOAL_LINKED) == 2 and len(await org.published()) == 5


async def test_unlinking_removes_the_link_and_publishes_goal_unlinked(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    negotiation = await org.set_goal(development_goal("rep-ben"))
    linked = await org.link(
        negotiation["goal_id"],
        {"performance_goal_id": conversions["goal_id"], "rationale": "capability_gap", "evidence": "Low close rate"},
    )
    link_id = linked.headers["Link-ID"]
    correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"

    answer = await org.api.delete(
        f"/v1/goals/{negotiation['goal_id']}/links/{link_id}",
        params={"reason": "Closed the gap early"},
        headers=org.headers("mgr-ana", If_Match='"2"', X_Correlation_ID=correlation, Idempotency_Key=key),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["links"] == [] and answer.json()["version"] == 3 and answer.headers["ETag"] == '"3"'
    *_, message = await org.published_for(negotiation["goal_id"])
    data = assert_published(
        message, goals=org, event_type=GOAL_UNLINKED, owner="rep-ben", goal_id=negotiation["goal_id"], version=3,
        actor="mgr-ana", correlation_id=correlation, causation_id=key,
    )
    assert (data["link_id"], data["performance_goal_id"], data["reason"]) == (
        link_id, conversions["goal_id"], "Closed the gap early"
    )
    assert types_of(await org.published_for(negotiation["goal_id"])) == [GOAL_SET, GOAL_LINKED, GOAL_UNLINKED]

    again = await org.api.delete(f"/v1/goals/{negotiation['goal_id']}/links/{link_id}", headers=org.headers())
    refused(again, 422, field="link_id", rule="link_exists")
    assert len(await org.published()) == 4


# --- close ----------------------------------------------------------------------------------------------

async def test_closing_a_goal_records_its_outcome_and_publishes_goal_closed(org: Goals):
    goal = await org.set_goal(conversion_goal("rep-ben"))
    correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"

    answer = await org.close(
        goal["goal_id"], {"outcome": "achieved", "final_value": "16", "note": "Beat the target"}, "mgr-ana",
        If_Match='"1"', X_Correlation_ID=correlation, Idempotency_Key=key,
    )

    assert answer.status_code == 201, answer.text
    closed = answer.json()
    assert (closed["status"], closed["outcome"], closed["final_value"]) == ("closed", "achieved", "16")
    assert closed["version"] == 2
    assert closed["closed_at"] is not None
    _, message = await org.published_for(goal["goal_id"])
    data = assert_published(
        message, goals=org, event_type=GOAL_CLOSED, owner="rep-ben", goal_id=goal["goal_id"], version=2,
        actor="mgr-ana", correlation_id=correlation, causation_id=key,
    )
    assert (data["outcome"], data["final_value"], data["note"]) == ("achieved", "16", "Beat the target")


async def test_closing_a_development_goal_gives_its_hours_back_to_the_work_plan(org: Goals):
    goal = await org.set_goal(development_goal("rep-ben", hours=12))
    assert (await org.work_plan("rep-ben"))["committed_hours_per_month"] == "12"

    answer = await org.close(goal["goal_id"], {"outcome": "partially_achieved"})

    assert answer.status_code == 201, answer.text
    plan = await org.work_plan("rep-ben")
    assert (plan["committed_hours_per_month"], plan["available_hours_per_month"]) == ("0", "20")
    assert types_of(await org.published()) == [GOAL_SET, GOAL_CLOSED]  # the work plan stays inside the service


# --- cascade --------------------------------------------------------------------------------------------

async def test_cascading_to_a_managers_team_sets_one_child_goal_per_direct_report(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana"))
    correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    child = {**conversion_goal(), "title": "+15% conversions in my territory"}

    answer = await org.cascade(
        {"parent_goal_id": parent["goal_id"], "goal": goal_template(child), "manager_id": "mgr-ana"},
        "mgr-ana", X_Correlation_ID=correlation, Idempotency_Key=key,
    )

    assert answer.status_code == 201, answer.text
    cascade = answer.json()
    assert cascade["parent_goal_id"] == parent["goal_id"] and cascade["count"] == 2
    children = {c["employee_id"]: c["goal_id"] for c in cascade["goals"]}
    assert set(children) == {"rep-ben", "rep-chloe"}
    for owner, goal_id in children.items():
        stored = await org.goal(goal_id)
        assert (stored["employee_id"], stored["parent_goal_id"], stored["set_by"]) == (owner, parent["goal_id"], "mgr-ana")

    published = await org.published()
    assert len(published) == 3  # the parent's and one per child
    for owner, goal_id in children.items():
        [message] = [m for m in published if header(m, "ce_subject") == f"goals/{goal_id}"]
        data = assert_published(
            message, goals=org, event_type=GOAL_SET, owner=owner, goal_id=goal_id, version=1,
            actor="mgr-ana", correlation_id=correlation, causation_id=key,
        )
        assert data["parent_goal_id"] == parent["goal_id"] and data["title"] == child["title"]


async def test_cascading_to_named_employees_reaches_each_once_across_teams(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana", level="organisation", title="Company: +15% conversions"))
    correlation = f"corr-{uuid.uuid4()}"

    answer = await org.cascade(
        {
            "parent_goal_id": parent["goal_id"],
            "goal": goal_template(development_goal("-", hours=4)),
            "employee_ids": ["eng-sam", "rep-chloe", "eng-sam"],
        },
        X_Correlation_ID=correlation,
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["count"] == 2
    children = {c["employee_id"]: c["goal_id"] for c in answer.json()["goals"]}
    assert set(children) == {"eng-sam", "rep-chloe"}
    assert (await org.work_plan("eng-sam"))["committed_hours_per_month"] == "4"
    published = await org.published()
    assert len(published) == 3
    for owner, goal_id in children.items():
        [message] = [m for m in published if header(m, "ce_subject") == f"goals/{goal_id}"]
        # Without X-Actor-ID a cascade is issued by the owner of the parent goal.
        data = assert_published(
            message, goals=org, event_type=GOAL_SET, owner=owner, goal_id=goal_id, version=1,
            actor="mgr-ana", correlation_id=correlation,
        )
        assert data["kind"] == "development" and data["parent_goal_id"] == parent["goal_id"]


async def test_a_retried_cascade_answers_as_the_first_did_and_sets_nothing_more(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana"))
    body = {"parent_goal_id": parent["goal_id"], "goal": goal_template(conversion_goal()), "manager_id": "mgr-ana"}
    key = f"key-{uuid.uuid4()}"

    first = await org.cascade(body, "mgr-ana", Idempotency_Key=key)
    retry = await org.cascade(body, "mgr-ana", Idempotency_Key=key)

    assert (first.status_code, retry.status_code) == (201, 200), retry.text
    assert first.headers["content-type"] == "application/json" and "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json() and first.json()["count"] == 2
    assert [header(m, "ce_type") for m in await org.published()].count(GOAL_SET) == 3  # the parent and two children


async def test_a_cascade_skips_reports_who_have_departed(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana"))
    left = await org.api.delete("/v1/directory/employees/rep-chloe", headers=org.headers())
    assert left.status_code == 202, left.text

    answer = await org.cascade(
        {"parent_goal_id": parent["goal_id"], "goal": goal_template(conversion_goal()), "manager_id": "mgr-ana"}
    )

    assert answer.status_code == 201, answer.text
    assert [c["employee_id"] for c in answer.json()["goals"]] == ["rep-ben"]
    assert len(await org.published()) == 2


async def test_a_cascade_with_one_unknown_employee_sets_nothing_for_anyone(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana"))
    await org.published()
    log_before = await org.notification_log()

    answer = await org.cascade(
        {
            "parent_goal_id": parent["goal_id"],
            "goal": goal_template(development_goal("-", hours=6)),
            "employee_ids": ["rep-ben", "rep-chloe", "eng-sam", "nobody-known"],
        },
        "mgr-ana",
    )

    problem = refused(answer, 422, field="employee_ids", rule="employee_in_directory")
    assert "nobody-known" in problem["detail"]
    assert await org.notification_log() == log_before  # nothing stored: no goal, no work plan
    for owner in ("rep-ben", "rep-chloe", "eng-sam"):
        assert (await org.work_plan(owner))["goals"] == {}
    [only] = await org.published()
    assert header(only, "ce_subject") == f"goals/{parent['goal_id']}"


async def test_a_cascade_over_someones_capacity_sets_nothing_for_anyone(org: Goals):
    parent = await org.set_goal(team_goal("mgr-ana"))
    await org.set_goal(development_goal("rep-chloe", hours=15))
    log_before = await org.notification_log()

    answer = await org.cascade(
        {
            "parent_goal_id": parent["goal_id"],
            "goal": goal_template(development_goal("-", hours=6)),
            "manager_id": "mgr-ana",
        }
    )

    refused(answer, 422, field="capacity.hours_per_month", rule="development_hours_within_limit")
    assert await org.notification_log() == log_before
    assert (await org.work_plan("rep-ben"))["goals"] == {}
    assert (await org.work_plan("rep-chloe"))["committed_hours_per_month"] == "15"
    assert len(await org.published()) == 2


async def test_a_cascade_of_one_goal_to_5000_employees_completes_in_one_request(goals: Goals):
    team = [f"e-{n}" for n in range(5000)]
    goals.service.directory.record(
        employee("mgr", tenant_id=goals.tenant), *[employee(e, manager_id="mgr", tenant_id=goals.tenant) for e in team]
    )
    parent = await goals.set_goal(team_goal("mgr", level="organisation"))

    started = time.perf_counter()
    answer = await goals.cascade(
        {"parent_goal_id": parent["goal_id"], "goal": goal_template(conversion_goal()), "manager_id": "mgr"}, "mgr"
    )
    took = time.perf_counter() - started

    assert answer.status_code == 201, answer.text[:500]
    assert answer.json()["count"] == 5000
    print(f"\ncascade of 5,000 goals in one request: {took:.2f} s, {5000 / took:.0f} goals/s")
    children = {c["goal_id"]: c["employee_id"] for c in answer.json()["goals"]}
    assert sorted(children.values()) == sorted(team)

    parents_key = f"{goals.tenant}:mgr".encode()

    async def all_children_published() -> list[ConsumerRecord] | None:
        prefix = f"{goals.tenant}:".encode()
        messages = [m for m in await goals.topic.drain() if m.key.startswith(prefix) and m.key != parents_key]
        return messages if len(messages) >= 5000 else None

    started = time.perf_counter()
    messages = await eventually(all_children_published, timeout=60, interval=0.2)
    print(f"all 5,000 GoalSet on Kafka {time.perf_counter() - started:.2f} s after the answer")
    messages = [m for m in await goals.published(timeout=60) if m.key != parents_key]
    assert len(messages) == 5000  # exactly one each
    assert {header(m, "ce_type") for m in messages} == {GOAL_SET}
    for message in messages:
        goal_id = header(message, "ce_subject").removeprefix("goals/")
        assert message.key == f"{goals.tenant}:{children[goal_id]}".encode() and header(message, "ce_sequence") == "1"
    assert len({m.key for m in messages}) == 5000


# --- idempotency and If-Match ---------------------------------------------------------------------------

async def test_a_retried_post_with_the_same_idempotency_key_sets_one_goal_and_publishes_once(org: Goals):
    body, key = development_goal("rep-ben", hours=8), f"key-{uuid.uuid4()}"

    first = await org.api.post("/v1/goals", json=body, headers=org.headers("mgr-ana", Idempotency_Key=key))
    retry = await org.api.post("/v1/goals", json=body, headers=org.headers("mgr-ana", Idempotency_Key=key))

    assert (first.status_code, retry.status_code) == (201, 200), retry.text
    assert "Idempotent-Replayed" not in first.headers and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["goal_id"] == first.json()["goal_id"]
    plan = await org.work_plan("rep-ben")
    assert plan["committed_hours_per_month"] == "8" and list(plan["goals"]) == [first.json()["goal_id"]]
    [message] = await org.published()
    assert header(message, "ce_causationid") == key and header(message, "ce_subject") == f"goals/{first.json()['goal_id']}"


async def test_the_same_idempotency_key_with_a_different_request_is_refused(org: Goals):
    key = f"key-{uuid.uuid4()}"
    first = await org.api.post("/v1/goals", json=conversion_goal("rep-ben"), headers=org.headers(Idempotency_Key=key))
    assert first.status_code == 201, first.text

    other = await org.api.post(
        "/v1/goals",
        json={**conversion_goal("rep-ben"), "title": "Something else"},
        headers=org.headers(Idempotency_Key=key),
    )

    refused(other, 422, field="Idempotency-Key", rule="same_request_on_retry")
    assert len(await org.published()) == 1


async def test_a_retried_revision_replays_and_does_not_revise_twice(org: Goals):
    goal = await org.set_goal(conversion_goal("rep-ben"))
    body, key = {"reason": "Shorter cycle", "due_date": "2026-09-30"}, f"key-{uuid.uuid4()}"

    first = await org.revise(goal["goal_id"], body, If_Match='"1"', Idempotency_Key=key)
    retry = await org.revise(goal["goal_id"], body, If_Match='"1"', Idempotency_Key=key)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json()["version"] == 2
    assert types_of(await org.published()) == [GOAL_SET, GOAL_REVISED]


async def test_a_revision_with_a_stale_if_match_is_a_conflict_and_publishes_nothing(org: Goals):
    goal = await org.set_goal(conversion_goal("rep-ben"))
    first = await org.revise(goal["goal_id"], {"reason": "Sharper title", "title": "Win 15% more clients"}, If_Match='"1"')
    assert first.status_code == 201, first.text

    stale = await org.revise(goal["goal_id"], {"reason": "Another view", "title": "Win 20% more clients"}, If_Match='"1"')
    stale_close = await org.close(goal["goal_id"], {"outcome": "abandoned"}, If_Match='"1"')

    problem = refused(stale, 409, field="If-Match", rule="current_version")
    assert "version 2" in problem["detail"]
    refused(stale_close, 409, field="If-Match", rule="current_version")
    unreadable = await org.revise(goal["goal_id"], {"reason": "x", "title": "y"}, If_Match="two")
    refused(unreadable, 422, field="If-Match", rule="version")
    current = await org.goal(goal["goal_id"])
    assert (current["version"], current["title"], current["status"]) == (2, "Win 15% more clients", "active")
    assert types_of(await org.published()) == [GOAL_SET, GOAL_REVISED]


# --- refusals: 4xx with a clear message, and nothing published ------------------------------------------

async def test_a_closed_goal_cannot_be_revised(org: Goals):
    goal = await org.set_goal(conversion_goal("rep-ben"))
    assert (await org.close(goal["goal_id"], {"outcome": "missed", "final_value": "12"})).status_code == 201

    answer = await org.revise(goal["goal_id"], {"reason": "Too late", "title": "Another go"})

    problem = refused(answer, 422, field="goal_id", rule="closed_goal_never_changes")
    assert "closed" in problem["detail"]
    closed_again = await org.close(goal["goal_id"], {"outcome": "achieved", "final_value": "16"})
    refused(closed_again, 422, field="goal_id", rule="closed_goal_never_changes")
    assert types_of(await org.published()) == [GOAL_SET, GOAL_CLOSED]


async def test_a_performance_goal_cannot_be_the_source_of_a_link(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    team = await org.set_goal(team_goal("mgr-ana"))

    answer = await org.link(
        conversions["goal_id"], {"performance_goal_id": team["goal_id"], "rationale": "future_role", "future_role": "Lead"}
    )

    problem = refused(answer, 422, field="goal_id", rule="development_serves_performance")
    assert "development goal" in problem["detail"]
    assert types_of(await org.published()) == [GOAL_SET, GOAL_SET]


async def test_a_development_goal_serves_a_performance_goal_not_another_development_goal(org: Goals):
    negotiation = await org.set_goal(development_goal("rep-ben"))
    coaching = await org.set_goal(development_goal("rep-ben", hours=None, skill="coaching"))

    answer = await org.link(
        negotiation["goal_id"], {"performance_goal_id": coaching["goal_id"], "rationale": "capability_gap", "evidence": "e"}
    )

    refused(answer, 422, field="performance_goal_id", rule="development_serves_performance")
    assert len(await org.published()) == 2


async def test_the_same_two_goals_cannot_be_linked_twice(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    negotiation = await org.set_goal(development_goal("rep-ben"))
    link = {"performance_goal_id": conversions["goal_id"], "rationale": "capability_gap", "evidence": "Low close rate"}
    assert (await org.link(negotiation["goal_id"], link)).status_code == 201

    answer = await org.link(negotiation["goal_id"], {**link, "evidence": "Still low"})

    problem = refused(answer, 422, field="performance_goal_id", rule="no_duplicate_link")
    assert "linked already" in problem["detail"]
    assert types_of(await org.published()) == [GOAL_SET, GOAL_SET, GOAL_LINKED]


async def test_a_closed_performance_goal_cannot_be_linked_to(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    negotiation = await org.set_goal(development_goal("rep-ben"))
    assert (await org.close(conversions["goal_id"], {"outcome": "abandoned"})).status_code == 201

    answer = await org.link(
        negotiation["goal_id"],
        {"performance_goal_id": conversions["goal_id"], "rationale": "capability_gap", "evidence": "Low close rate"},
    )

    refused(answer, 422, field="performance_goal_id", rule="no_link_to_closed_goal")
    assert types_of(await org.published()) == [GOAL_SET, GOAL_SET, GOAL_CLOSED]


async def test_a_future_role_link_may_serve_another_employees_team_goal_but_not_their_individual_goal(org: Goals):
    chloes = await org.set_goal(conversion_goal("rep-chloe"))
    team = await org.set_goal(team_goal("mgr-ana"))
    negotiation = await org.set_goal(development_goal("rep-ben"))
    future_role = {"rationale": "future_role", "future_role": "Key account lead"}

    individual = await org.link(negotiation["goal_id"], {"performance_goal_id": chloes["goal_id"], **future_role})
    team_level = await org.link(negotiation["goal_id"], {"performance_goal_id": team["goal_id"], **future_role})

    problem = refused(individual, 422, field="performance_goal_id", rule="other_employees_goal_is_organisation_or_team")
    assert "organisation or team goal" in problem["detail"]
    assert team_level.status_code == 201, team_level.text
    assert types_of(await org.published_for(negotiation["goal_id"])) == [GOAL_SET, GOAL_LINKED]
    assert len(await org.published()) == 4


async def test_a_link_names_its_reason(org: Goals):
    conversions = await org.set_goal(conversion_goal("rep-ben"))
    negotiation = await org.set_goal(development_goal("rep-ben"))

    serves = {"performance_goal_id": conversions["goal_id"]}
    no_evidence = await org.link(negotiation["goal_id"], {**serves, "rationale": "capability_gap"})
    no_role = await org.link(negotiation["goal_id"], {**serves, "rationale": "future_role"})

    refused(no_evidence, 422, field="evidence", rule="rationale_complete")
    refused(no_role, 422, field="future_role", rule="rationale_complete")
    assert len(await org.published()) == 2


async def test_a_goal_cannot_cascade_from_its_own_descendant(org: Goals):
    top = await org.set_goal(team_goal("mgr-ana"))
    middle = await org.set_goal({**conversion_goal("rep-ben"), "parent_goal_id": top["goal_id"]})
    bottom = await org.set_goal({**conversion_goal("rep-ben"), "title": "Q1 push", "parent_goal_id": middle["goal_id"]})

    cycle = await org.revise(top["goal_id"], {"reason": "Reorganised", "parent_goal_id": bottom["goal_id"]})
    onto_itself = await org.revise(top["goal_id"], {"reason": "Reorganised", "parent_goal_id": top["goal_id"]})

    problem = refused(cycle, 422, field="parent_goal_id", rule="cascade_without_cycles")
    assert "cascade from itself" in problem["detail"]
    refused(onto_itself, 422, field="parent_goal_id", rule="cascade_without_cycles")
    assert (await org.goal(top["goal_id"]))["parent_goal_id"] is None
    assert types_of(await org.published()) == [GOAL_SET] * 3


async def test_an_unknown_goal_is_not_found(org: Goals):
    unknown = str(uuid.uuid4())
    known = await org.set_goal(development_goal("rep-ben"))

    answers = [
        await org.api.get(f"/v1/goals/{unknown}", headers=org.headers()),
        await org.revise(unknown, {"reason": "x", "title": "y"}),
        await org.close(unknown, {"outcome": "abandoned"}),
        await org.link(unknown, {"performance_goal_id": known["goal_id"], "rationale": "future_role", "future_role": "r"}),
        await org.api.delete(f"/v1/goals/{unknown}/links/{uuid.uuid4()}", headers=org.headers()),
        await org.api.get("/v1/goals/not-a-uuid", headers=org.headers()),
    ]

    for answer in answers:
        problem = refused(answer, 404)
        assert "not found" in problem["detail"]
    other_tenant = await org.api.get(f"/v1/goals/{known['goal_id']}", headers={"X-Tenant-ID": f"t-{uuid.uuid4().hex[:10]}"})
    refused(other_tenant, 404)  # a goal exists only in its own tenant
    to_unknown = await org.link(
        known["goal_id"], {"performance_goal_id": unknown, "rationale": "future_role", "future_role": "r"}
    )
    refused(to_unknown, 422, field="performance_goal_id")
    orphan = await org.api.post(
        "/v1/goals", json={**conversion_goal("rep-ben"), "parent_goal_id": unknown}, headers=org.headers()
    )
    refused(orphan, 422, field="parent_goal_id", rule="parent_goal_exists")
    assert len(await org.published()) == 1


async def test_a_goal_is_refused_for_an_employee_not_in_the_directory(org: Goals):
    answer = await org.api.post("/v1/goals", json=conversion_goal("rep-unknown"), headers=org.headers())

    problem = refused(answer, 422, field="employee_id", rule="employee_in_directory")
    assert "rep-unknown" in problem["detail"]
    assert await org.published() == []


async def test_a_goal_is_refused_for_an_employee_who_has_departed(org: Goals):
    await org.set_goal(conversion_goal("rep-chloe"))
    left = await org.api.delete("/v1/directory/employees/rep-chloe", params={"reason": "resigned"}, headers=org.headers())
    assert left.status_code == 202, left.text

    answer = await org.api.post("/v1/goals", json=conversion_goal("rep-chloe"), headers=org.headers())

    problem = refused(answer, 422, field="employee_id", rule="employee_active")
    assert "rep-chloe" in problem["detail"]
    assert len(await org.published()) == 1


async def test_development_hours_above_the_monthly_limit_are_refused(org: Goals):
    first = await org.set_goal(development_goal("rep-ben", hours=12))

    coaching = development_goal("rep-ben", hours=9, skill="coaching")
    over = await org.api.post("/v1/goals", json=coaching, headers=org.headers())

    problem = refused(over, 422, field="capacity.hours_per_month", rule="development_hours_within_limit")
    assert problem["errors"][0]["message"]
    plan = await org.work_plan("rep-ben")
    assert (plan["committed_hours_per_month"], plan["limit_hours_per_month"]) == ("12", "20")
    assert list(plan["goals"]) == [first["goal_id"]]
    fits = await org.api.post("/v1/goals", json={**coaching, "capacity": {"hours_per_month": "8"}}, headers=org.headers())
    assert fits.status_code == 201, fits.text  # exactly up to the limit is allowed
    raised = await org.revise(first["goal_id"], {"reason": "More practice", "capacity": {"hours_per_month": "13"}})
    refused(raised, 422, field="capacity.hours_per_month", rule="development_hours_within_limit")
    assert types_of(await org.published()) == [GOAL_SET, GOAL_SET]


# --- the same commands over PostgreSQL ------------------------------------------------------------------

@pytest.mark.postgres
async def test_set_revise_and_close_over_a_postgresql_event_store(kafka_bootstrap: str, new_postgres_database):
    async with goals_service(kafka_bootstrap, new_postgres_database()) as pg:
        await pg.hire("rep-ben", display_name="Ben Rep", manager_id="mgr-ana")
        correlation, key = f"corr-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
        goal = await pg.set_goal(conversion_goal("rep-ben"), "mgr-ana", X_Correlation_ID=correlation, Idempotency_Key=key)
        replay = await pg.api.post(
            "/v1/goals", json=conversion_goal("rep-ben"), headers=pg.headers("mgr-ana", Idempotency_Key=key)
        )
        assert replay.status_code == 200 and replay.json()["goal_id"] == goal["goal_id"]
        revised = await pg.revise(
            goal["goal_id"], {"reason": "Market grew", "kpi": {"target": "18"}}, "mgr-ana",
            If_Match='"1"', X_Correlation_ID=correlation,
        )
        assert revised.status_code == 201, revised.text
        assert revised.json()["target_history"][0]["previous_target"] == "15"
        stale = await pg.revise(goal["goal_id"], {"reason": "x", "title": "y"}, If_Match='"1"')
        refused(stale, 409, field="If-Match", rule="current_version")
        closed = await pg.close(
            goal["goal_id"], {"outcome": "achieved", "final_value": "19"}, "mgr-ana", X_Correlation_ID=correlation
        )
        assert closed.status_code == 201 and closed.json()["version"] == 3

        set_message, revised_message, closed_message = await pg.published()
        common = {
            "goals": pg, "owner": "rep-ben", "goal_id": goal["goal_id"], "actor": "mgr-ana", "correlation_id": correlation
        }
        assert_published(set_message, event_type=GOAL_SET, version=1, causation_id=key, **common)
        revised_data = assert_published(revised_message, event_type=GOAL_REVISED, version=2, **common)
        assert revised_data["changes"]["kpi"]["target"] == "18"
        assert assert_published(closed_message, event_type=GOAL_CLOSED, version=3, **common)["final_value"] == "19"
