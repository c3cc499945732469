"""The projections service's HTTP API on a real broker: dashboards and review packets.

One organisation, in a tenant of its own, is loaded through the goals, check-ins and reviews services' own
HTTP APIs, all in-process, each over SQLite files of its own and with consumer groups of its own. Its events
travel as in production: outbox relays publish them, and the projections service consumes them from every
topic. Every service reads the same fixed clock: Monday 15 June 2026, 09:00 UTC.

The organisation (the seed's examples):

- Maria (CEO) heads Ana (Sales) and Lee (Infrastructure). Ana manages Ben, Chloe and Dev; Lee manages Sam.
- Maria's revenue goal cascades to Ana's team goal, which cascades to each of Ana's reps.
- Ben's conversions have a negotiation capability gap, with a development goal linked to it; his review is
  complete and found a second gap, in data analysis, with no development goal yet.
- Chloe is learning Spanish, aligned to nothing, and uses none of the hours she set aside for it.
- Sam prepares for the move to the cloud (a future-role link); his biweekly check-in is overdue.
- Dev has never checked in.
"""

from __future__ import annotations

import asyncio
import re
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tandem_checkins.main import CheckInsService, CheckInsSettings
from tandem_checkins.main import build_service as build_checkins
from tandem_goals.main import GoalsService, GoalsSettings
from tandem_goals.main import build_service as build_goals
from tandem_projections.main import ProjectionsService, ProjectionsSettings
from tandem_projections.main import build_service as build_projections
from tandem_reviews.main import ReviewsService, ReviewsSettings
from tandem_reviews.main import build_service as build_reviews
from tandem_runtime.clock import FixedClock
from tests.support import caught_up, eventually, running

TODAY = datetime(2026, 6, 15, 9, tzinfo=UTC)
CYCLE = "2026"
CATCH_UP = 90.0  # a fresh projection first reads the topics' whole history (other tests' events too)
REPLICA_TIMEOUT = 30.0
LIVE = 15.0

PEOPLE = [  # employee id, name, manager, department, job title
    ("ceo-maria", "Maria Okafor", None, "Executive", "Chief Executive Officer"),
    ("mgr-ana", "Ana Lima", "ceo-maria", "Sales", "Sales Manager"),
    ("rep-ben", "Ben Carter", "mgr-ana", "Sales", "Account Executive"),
    ("rep-chloe", "Chloe Martin", "mgr-ana", "Sales", "Account Executive"),
    ("rep-dev", "Dev Patel", "mgr-ana", "Sales", "Account Executive"),
    ("mgr-lee", "Lee Wong", "ceo-maria", "Infrastructure", "Infrastructure Manager"),
    ("eng-sam", "Sam Novak", "mgr-lee", "Infrastructure", "Systems Engineer"),
]
REPS = ("rep-ben", "rep-chloe", "rep-dev")
STEP_HEADINGS = (
    "1 · Review the performance goals",
    "2 · Connect performance to development",
    "3 · Review the development goals and plan ahead",
)


def conversions(baseline: str = "18", target: str = "20.7") -> dict[str, str]:
    return {"name": "new client conversion rate", "unit": "percent", "baseline": baseline, "target": target,
            "direction": "increase"}


@dataclass
class Services:
    """The four services of one tenant, in-process over real HTTP semantics, and the parts tests reach into."""

    tenant: str
    bootstrap: str
    goals_api: httpx.AsyncClient
    checkins_api: httpx.AsyncClient
    reviews_api: httpx.AsyncClient
    dashboards_api: httpx.AsyncClient
    goals: GoalsService
    checkins: CheckInsService
    reviews: ReviewsService
    projections: ProjectionsService
    goal_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, actor: str = "mgr-ana") -> dict[str, str]:
        return {"X-Tenant-ID": self.tenant, "X-Actor-ID": actor}

    async def hire(self, employee_id: str, name: str, manager: str | None, department: str, title: str) -> None:
        answer = await self.goals_api.put(
            f"/v1/directory/employees/{employee_id}", headers=self.headers(),
            json={"display_name": name, "manager_id": manager, "department": department, "job_title": title},
        )
        assert answer.status_code == 202, answer.text

    async def set_goal(self, key: str, owner: str, body: dict[str, Any], actor: str = "mgr-ana") -> str:
        body = {"employee_id": owner, "cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31", **body}
        answer = await self.goals_api.post("/v1/goals", json=body, headers=self.headers(actor))
        assert answer.status_code == 201, answer.text
        self.goal_ids[key] = answer.json()["goal_id"]
        return self.goal_ids[key]

    async def link(self, development: str, performance: str, body: dict[str, Any], actor: str = "mgr-ana") -> None:
        answer = await self.goals_api.post(
            f"/v1/goals/{self.goal_ids[development]}/links", headers=self.headers(actor),
            json={"performance_goal_id": self.goal_ids[performance], **body},
        )
        assert answer.status_code == 201, answer.text

    async def check_in(self, employee: str, held_on: str, *entries: dict[str, Any]) -> None:
        """Record a check-in, once the check-ins service has its goals from the goals topic."""
        for entry in entries:
            await eventually(lambda: self.schedule_known(entry["goal_id"]), timeout=REPLICA_TIMEOUT)
        answer = await self.checkins_api.post("/v1/check-ins", headers=self.headers(), json={
            "employee_id": employee, "held_on": held_on, "held_by": [employee, "mgr-ana"], "entries": list(entries),
        })
        assert answer.status_code == 201, answer.text

    async def schedule_known(self, goal_id: str) -> bool:
        answer = await self.checkins_api.get(f"/v1/goals/{goal_id}/check-in-schedule", headers=self.headers())
        return answer.status_code == 200

    def kpi(self, goal: str, value: str, status: str, roadblocks: str = "") -> dict[str, Any]:
        return {"kind": "performance", "goal_id": self.goal_ids[goal], "kpi_value": value, "unit": "percent",
                "status": status, "roadblocks": roadblocks}

    async def dashboard(self, **scope: str) -> httpx.Response:
        return await self.dashboards_api.get("/v1/dashboards/alignment", params=scope, headers=self.headers())

    async def card(self, employee_id: str) -> dict[str, Any]:
        answer = await self.dashboard(employee_id=employee_id)
        assert answer.status_code == 200, answer.text
        return answer.json()["employee"]

    async def settled(self) -> bool:
        """Every command so far is published, and the projection has applied everything on its topics."""
        for service in (self.goals, self.checkins, self.reviews):
            recorded = await asyncio.to_thread(service.application.recorder.max_notification_id) or 0
            if (service.relay.state.position or 0) < recorded:
                return False
        read_side = self.projections.read_side
        return await caught_up(read_side.runner, self.bootstrap, read_side.runner.store.read_model.topics)


@pytest.fixture(scope="module")
async def org(kafka_bootstrap: str, tmp_path_factory) -> AsyncIterator[Services]:
    """The organisation above, loaded through the services' APIs and fully projected."""
    folder = tmp_path_factory.mktemp("org")
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    group = f"test-projections-api-{tenant}"
    clock = FixedClock(TODAY)
    goals = build_goals(GoalsSettings(
        database_url=f"sqlite:///{folder}/goals/events.db", kafka_bootstrap_servers=kafka_bootstrap,
        directory_consumer_group=f"{group}.goals.directory", planner_consumer_group=f"{group}.goals.planner",
    ), clock=clock)
    checkins = build_checkins(CheckInsSettings(
        database_url=f"sqlite:///{folder}/checkins/events.db", kafka_bootstrap_servers=kafka_bootstrap,
        goals_consumer_group=f"{group}.checkins.goals", directory_consumer_group=f"{group}.checkins.directory",
        sweep_interval_seconds=3600,
    ), clock=clock)
    reviews = build_reviews(ReviewsSettings(
        database_url=f"sqlite:///{folder}/reviews/events.db", kafka_bootstrap_servers=kafka_bootstrap,
        consumer_group_prefix=f"{group}.reviews",
    ), clock=clock)
    projections = build_projections(ProjectionsSettings(
        database_url=f"sqlite:///{folder}/projections/read-model.db", kafka_bootstrap_servers=kafka_bootstrap,
        consumer_group=f"{group}.projections",
    ), clock=clock)
    async with AsyncExitStack() as stack:
        services = Services(
            tenant, kafka_bootstrap,
            await stack.enter_async_context(running(goals.http)),
            await stack.enter_async_context(running(checkins.http)),
            await stack.enter_async_context(running(reviews.http)),
            await stack.enter_async_context(running(projections.http)),
            goals, checkins, reviews, projections,
        )
        await load(services)
        await eventually(services.settled, timeout=CATCH_UP)
        yield services


async def load(org: Services) -> None:
    for person in PEOPLE:
        await org.hire(*person)
    await org.set_goal("revenue", "ceo-maria", {
        "kind": "performance", "level": "organisation", "title": "Grow new-business revenue by 20%",
        "kpi": {"name": "new-business revenue", "unit": "EUR k", "baseline": "5000", "target": "6000",
                "direction": "increase"},
    }, actor="ceo-maria")
    await org.set_goal("team", "mgr-ana", {
        "kind": "performance", "level": "team", "title": "Increase new client conversions by 15%",
        "parent_goal_id": org.goal_ids["revenue"], "kpi": conversions("20", "23"),
    })
    cascaded = await org.goals_api.post("/v1/goals:cascade", headers=org.headers(), json={
        "parent_goal_id": org.goal_ids["team"], "manager_id": "mgr-ana",
        "goal": {"kind": "performance", "cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31",
                 "cadence": "weekly", "title": "Increase my new client conversions by 15%", "kpi": conversions()},
    })
    assert cascaded.status_code == 201, cascaded.text
    for goal in cascaded.json()["goals"]:
        org.goal_ids[f"{goal['employee_id']}:conversions"] = goal["goal_id"]
    assert {f"{rep}:conversions" for rep in REPS} <= set(org.goal_ids)

    await org.set_goal("negotiation", "rep-ben", {
        "kind": "development", "cadence": "monthly",
        "title": "Complete Advanced Negotiation Skills training and apply three techniques each week",
        "skill": "negotiation",
        "activity_targets": {"training_hours": "24", "certifications": ["Advanced Negotiation Skills"],
                             "mentorship_sessions": 6},
        "behavioural_target": {"competency": "negotiation", "target_rating": "4"},
        "capacity": {"hours_per_month": "6", "mentor_id": "mgr-ana"},
    })
    await org.link("negotiation", "rep-ben:conversions", {
        "rationale": "capability_gap", "evidence": "Conversions stuck at 18%; deals stall at the pricing conversation.",
    })
    await org.set_goal("spanish", "rep-chloe", {
        "kind": "development", "title": "Reach B2 Spanish for the LATAM accounts", "skill": "Spanish",
        "activity_targets": {"training_hours": "60"}, "capacity": {"hours_per_month": "4"},
    })
    await org.set_goal("servers", "eng-sam", {
        "kind": "performance", "cadence": "biweekly", "title": "Efficiently manage the current server infrastructure",
        "kpi": {"name": "unplanned downtime", "unit": "hours per quarter", "baseline": "12", "target": "4",
                "direction": "decrease"},
    }, actor="mgr-lee")
    await org.set_goal("cloud", "eng-sam", {
        "kind": "development", "cadence": "quarterly", "title": "Complete AWS Certified Cloud Practitioner training",
        "skill": "cloud infrastructure", "activity_targets": {"training_hours": "40"},
        "capacity": {"hours_per_month": "8"},
    }, actor="mgr-lee")
    await org.link("cloud", "servers", {
        "rationale": "future_role", "future_role": "Cloud infrastructure engineer for the move to AWS",
    }, actor="mgr-lee")

    await org.check_in("rep-ben", "2026-06-01", org.kpi("rep-ben:conversions", "18.9", "at_risk",
                                                        "Deals stall at the pricing conversation"))
    await org.check_in("rep-ben", "2026-06-08", org.kpi("rep-ben:conversions", "19.6", "on_track"), {
        "kind": "development", "goal_id": org.goal_ids["negotiation"],
        "training": [{"hours": "4", "course": "Advanced Negotiation Skills, module 2"}],
        "mentorship": [{"mentor_id": "mgr-ana", "minutes": 45}],
        "skill_application": {"performance_goal_id": org.goal_ids["rep-ben:conversions"],
                              "how": "Anchored on value before price with Acme; the deal closed."},
        "feedback": {"ratings": [{"source": "manager", "rating": "3.5"}, {"source": "peer", "rating": "4"}]},
    })
    await org.check_in("rep-chloe", "2026-06-12", org.kpi("rep-chloe:conversions", "18.4", "off_track"))
    await org.check_in("eng-sam", "2026-05-01", {
        "kind": "performance", "goal_id": org.goal_ids["servers"], "kpi_value": "9", "unit": "hours per quarter",
        "status": "at_risk",
    })
    await review_ben(org)


async def review_ben(org: Services) -> None:
    """Ana's review of Ben's 2026, in the three steps, with a plan for 2027."""
    conversions_id, negotiation_id = org.goal_ids["rep-ben:conversions"], org.goal_ids["negotiation"]

    async def put(path: str, body: dict[str, Any]) -> httpx.Response:
        return await org.reviews_api.put(path, json=body, headers=org.headers())

    started = await org.reviews_api.post("/v1/reviews", headers=org.headers(),
                                         json={"employee_id": "rep-ben", "cycle": CYCLE, "next_cycle": "2027"})
    assert started.status_code == 201, started.text
    review = f"/v1/reviews/{started.json()['review_id']}"
    performance = {"goals": [{
        "goal_id": conversions_id, "rating": "4",
        "factors": "A new CRM in the spring cost two weeks of pipeline.",
        "how": "Kept every client promise and coached two newer reps on discovery calls.",
    }]}

    async def performance_step_taken() -> bool:  # the reviews service learns goals and check-ins from Kafka
        answer = await put(f"{review}/steps/performance", performance)
        assert answer.status_code in (200, 404, 422), answer.text
        return answer.status_code == 200

    await eventually(performance_step_taken, timeout=REPLICA_TIMEOUT, interval=0.2)
    connections = await put(f"{review}/steps/connections", {
        "capability_gaps": [{"skill": "data analysis", "performance_goal_id": conversions_id,
                             "note": "Next year's target needs reading the pipeline data yourself."}],
        "payoffs": [{"development_goal_id": negotiation_id, "performance_goal_id": conversions_id,
                     "note": "The negotiation training closed the Acme deal at full price."}],
    })
    assert connections.status_code == 200, connections.text
    development = await put(f"{review}/steps/development", {
        "goals": [{"goal_id": negotiation_id, "applied": True,
                   "evidence": ["Anchored on value before price with Acme"],
                   "aspirations": "Wants to lead the enterprise team within two years."}],
        "plan": [{"title": "Analyse the pipeline with data", "skill": "data analysis", "rationale": "capability_gap",
                  "performance_goal_id": conversions_id, "evidence": "Forecasts missed by 20% twice.", "start_date": "2027-01-01", "due_date": "2027-06-30",
                  "activity_targets": {"training_hours": "20"}, "hours_per_month": "4", "mentor_id": "mgr-ana"}],
    })
    assert development.status_code == 200, development.text
    completed = await org.reviews_api.post(f"{review}/complete", headers=org.headers())
    assert completed.status_code == 201, completed.text


