"""A review over HTTP, with the goals service and a real broker between them.

The goals service and the reviews service run in-process, each over SQLite files of its own, in a tenant of
their own, with consumer groups of their own (so services of other tests on the same broker take no
partitions from them). Employees and goals travel as in production: through the goals service's HTTP API,
onto ``tandem.directory.v1`` and ``tandem.goals.v1``, into the reviews service's replicas. The completed
review travels on ``tandem.reviews.v1`` to the goals service, whose planner sets its plan as a draft goal,
once, however often the review is delivered.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from uuid import UUID, uuid5

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord

from tandem_goals.application import PLANNED_GOAL_NAMESPACE
from tandem_goals.main import GoalsSettings
from tandem_goals.main import build_service as build_goals
from tandem_goals.reactions import NextCyclePlanner
from tandem_reviews.main import ReviewsSettings
from tandem_reviews.main import build_service as build_reviews
from tandem_runtime.clock import FixedClock
from tandem_runtime.projection import ProjectionStore
from tandem_runtime.topics import GOALS, REVIEWS
from tests.support import eventually, read_topic, running

REPLICA_TIMEOUT = 30.0
COMPLETED = "tandem.review.completed.v1"
GOAL_SET, GOAL_LINKED = "tandem.goal.set.v1", "tandem.goal.linked.v1"
SARA, ANA = "emp-sara", "mgr-ana"
GAP_EVIDENCE = "The churn analysis for the 15% target had to wait three weeks for the data team"


def header(message: ConsumerRecord, name: str) -> str | None:
    value = dict(message.headers).get(name)
    return None if value is None else value.decode()


def performance_goal(title: str, cycle: str, kpi: dict) -> dict:
    return {"employee_id": SARA, "kind": "performance", "cycle": cycle, "title": title,
            "start_date": f"{cycle}-01-05", "due_date": f"{cycle}-12-31", "kpi": kpi}


SATISFACTION = performance_goal("Increase customer satisfaction by 10%", "2026", {
    "name": "customer satisfaction increase", "unit": "percent", "baseline": "0", "target": "10", "direction": "increase"})
ALPHA = performance_goal("Deliver Project Alpha on time", "2026", {
    "name": "days behind schedule", "unit": "days", "baseline": "20", "target": "0", "direction": "decrease"})
NEXT_YEAR = performance_goal("Increase customer satisfaction by 15%", "2027", {
    "name": "customer satisfaction increase", "unit": "percent", "baseline": "0", "target": "15", "direction": "increase"})
COURSE = {
    "employee_id": SARA, "kind": "development", "cycle": "2026", "title": "Complete a project-management course",
    "skill": "project management", "start_date": "2026-01-05", "due_date": "2026-12-31",
    "activity_targets": {"training_hours": "40", "certifications": ["PRINCE2 Foundation"]},
    "capacity": {"hours_per_month": "4"},
}


async def test_a_completed_review_is_published_once_and_its_plan_becomes_one_draft_goal(kafka_bootstrap, tmp_path):
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    groups = f"test-reviews-{tenant}"
    headers = {"X-Tenant-ID": tenant, "X-Actor-ID": ANA}
    goals = build_goals(GoalsSettings(
        database_url=f"sqlite:///{tmp_path}/goals/events.db", kafka_bootstrap_servers=kafka_bootstrap,
        directory_consumer_group=f"{groups}.goals.directory", planner_consumer_group=f"{groups}.goals.planner",
    ))
    reviews = build_reviews(
        ReviewsSettings(database_url=f"sqlite:///{tmp_path}/reviews/events.db", kafka_bootstrap_servers=kafka_bootstrap,
                        consumer_group_prefix=f"{groups}.reviews"),
        clock=FixedClock(datetime(2026, 12, 10, 9, tzinfo=UTC)),
    )

    async with running(goals.http) as goals_api, running(reviews.http) as reviews_api:
        for employee_id, record in ((ANA, {}), (SARA, {"manager_id": ANA})):
            hired = await goals_api.put(f"/v1/directory/employees/{employee_id}",
                                        json={"display_name": employee_id, **record}, headers=headers)
            assert hired.status_code == 202, hired.text
        ids = {}
        for name, body in (("satisfaction", SATISFACTION), ("alpha", ALPHA), ("course", COURSE), ("next_year", NEXT_YEAR)):
            answer = await goals_api.post("/v1/goals", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["goal_id"]

        async def replicas_have_them() -> bool:
            known = await asyncio.to_thread(reviews.goals.goals, tenant, [UUID(goal_id) for goal_id in ids.values()])
            sara = await asyncio.to_thread(reviews.directory.employee, tenant, SARA)
            return len(known) == len(ids) and sara is not None

        await eventually(replicas_have_them, timeout=REPLICA_TIMEOUT)

        started = await reviews_api.post("/v1/reviews", json={"employee_id": SARA, "cycle": "2026", "next_cycle": "2027"},
                                         headers=headers)
        assert started.status_code == 201, started.text
        review_id = started.json()["review_id"]
        steps = {
            "performance": {"goals": [
                {"goal_id": ids["satisfaction"], "actual": "12", "rating": "4.5", "how": "Listened to every escalation",
                 "factors": "You achieved a 12% increase in customer satisfaction, which was 2% above target"},
                {"goal_id": ids["alpha"], "actual": "0", "rating": "4", "factors": "Re-planned when the vendor slipped",
                 "how": "Calm under pressure"},
            ]},
            "connections": {
                "capability_gaps": [{"skill": "data analysis", "performance_goal_id": ids["next_year"]}],
                "payoffs": [{"development_goal_id": ids["course"], "performance_goal_id": ids["alpha"],
                             "note": "The project-management course paid off in Project Alpha"}],
            },
            "development": {
                "goals": [{"goal_id": ids["course"], "applied": True,
                           "evidence": ["Re-planned the critical path in March", "Ran the weekly vendor risk review"]}],
                "plan": [{
                    "title": "Build data analysis skills", "skill": "data analysis", "rationale": "capability_gap",
                    "performance_goal_id": ids["next_year"], "evidence": GAP_EVIDENCE,
                    "start_date": "2027-01-04", "due_date": "2027-06-30",
                    "activity_targets": {"training_hours": "30"}, "hours_per_month": "6",
                    "budget": {"amount": "1200", "currency": "EUR"}, "mentor_id": "emp-dana",
                }],
            },
        }
        for step in ("performance", "connections"):
            answer = await reviews_api.put(f"/v1/reviews/{review_id}/steps/{step}", json=steps[step], headers=headers)
            assert answer.status_code == 200, answer.text
        early = await reviews_api.post(f"/v1/reviews/{review_id}/complete", headers=headers)
        assert early.status_code == 422, early.text
        assert early.json()["errors"][0]["field"] == "steps.development"
        answer = await reviews_api.put(f"/v1/reviews/{review_id}/steps/development", json=steps["development"],
                                       headers=headers)
        assert answer.status_code == 200, answer.text
        [result] = [r for r in answer.json()["performance"] if r["goal_id"] == ids["alpha"]]
        assert result["attainment_percent"] == "100.0"
        completed = await reviews_api.post(f"/v1/reviews/{review_id}/complete", headers=headers)
        assert completed.status_code == 201, completed.text

        # The review is published once, keyed by the employee.
        async def relayed(service) -> bool:
            recorded = await asyncio.to_thread(service.application.recorder.max_notification_id) or 0
            return (service.relay.state.position or 0) >= recorded

        await eventually(lambda: relayed(reviews), timeout=20)
        key = f"{tenant}:{SARA}".encode()
        [review] = [m for m in await read_topic(kafka_bootstrap, REVIEWS) if m.key == key]
        assert header(review, "ce_type") == COMPLETED
        assert header(review, "ce_subject") == f"reviews/{review_id}"
        assert (header(review, "ce_tenantid"), header(review, "ce_actor")) == (tenant, ANA)
        data = orjson.loads(review.value)
        assert (data["review_id"], data["cycle"], data["next_cycle"], data["reviewer_id"]) == (review_id, "2026", "2027", ANA)
        assert [p["performance_goal_id"] for p in data["plan"]] == [ids["next_year"]]
        review_ce_id = header(review, "ce_id")

        # The goals service sets the plan as a draft goal, linked to the 2027 goal, caused by the review.
        draft_id = str(uuid5(PLANNED_GOAL_NAMESPACE, f"{review_id}:0"))

        async def draft() -> dict | None:
            answer = await goals_api.get(f"/v1/goals/{draft_id}", headers=headers)
            assert answer.status_code in (200, 404), answer.text
            return answer.json() if answer.status_code == 200 else None

        goal = await eventually(draft, timeout=REPLICA_TIMEOUT)
        assert (goal["employee_id"], goal["kind"], goal["status"], goal["cycle"], goal["title"]) == (
            SARA, "development", "draft", "2027", "Build data analysis skills"
        )
        assert goal["capacity"] == {"hours_per_month": "6", "budget": {"amount": "1200", "currency": "EUR"},
                                    "mentor_id": "emp-dana"}
        [link] = goal["links"]
        assert (link["performance_goal_id"], link["rationale"], link["evidence"]) == (
            ids["next_year"], "capability_gap", GAP_EVIDENCE
        )

        async def sara_on_goals_topic() -> list[ConsumerRecord]:
            await eventually(lambda: relayed(goals), timeout=20)
            return [m for m in await read_topic(kafka_bootstrap, GOALS) if m.key == key]

        def drafts(messages: list[ConsumerRecord]) -> list[ConsumerRecord]:
            return [m for m in messages
                    if header(m, "ce_type") == GOAL_SET and orjson.loads(m.value)["status"] == "draft"]

        published = await sara_on_goals_topic()
        of_draft = [m for m in published if header(m, "ce_subject") == f"goals/{draft_id}"]
        assert [(header(m, "ce_type"), header(m, "ce_sequence")) for m in of_draft] == [(GOAL_SET, "1"), (GOAL_LINKED, "2")]
        assert all(header(m, "ce_causationid") == review_ce_id for m in of_draft)
        assert drafts(published) == of_draft[:1]
        events_before = await asyncio.to_thread(goals.application.recorder.max_notification_id)

        # The same review, delivered again: the very same record once more.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            again = await producer.send_and_wait(REVIEWS, value=review.value, key=review.key,
                                                 headers=list(review.headers), partition=review.partition)
        finally:
            await producer.stop()
        assert again.offset > review.offset
        planner = await asyncio.to_thread(ProjectionStore, goals.directory.database, NextCyclePlanner(goals.application))

        async def planner_consumed_it() -> bool:
            positions = await asyncio.to_thread(planner.positions)
            return positions.get((REVIEWS, review.partition), -1) >= again.offset

        await eventually(planner_consumed_it, timeout=REPLICA_TIMEOUT)

        assert await asyncio.to_thread(goals.application.recorder.max_notification_id) == events_before
        assert drafts(await sara_on_goals_topic()) == of_draft[:1], "still exactly one draft"
        assert len((await goals_api.get(f"/v1/goals/{draft_id}", headers=headers)).json()["links"]) == 1
