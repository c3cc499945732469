"""The projections service's HTTP API on a real broker: alignment dashboards and review packets.

The goals, check-ins, reviews and projections services run in-process, each over SQLite files of its own and
with consumer groups of its own, all reading one fixed clock: Monday 15 June 2026, 09:00 UTC. Everything the
dashboards show is loaded through the three command services' HTTP APIs and travels as in production: outbox
relays publish it, and the projections service consumes it from every topic.

The organisation, in a tenant of its own (the seed's examples):

- Maria (CEO) heads Ana (Sales) and Lee (Infrastructure). Ana manages Ben, Chloe and Dev; Lee manages Sam.
- Maria's revenue goal cascades to Ana's team goal, which cascades to a conversions goal for each of Ana's reps.
- Ben's conversions have a negotiation capability gap, with a development goal linked to it. His review is
  complete: it plans data analysis for 2027, and names a gap in product demos that nothing addresses yet.
- Chloe is learning Spanish, aligned to nothing, and uses none of the hours she set aside for it.
- Sam prepares for the move to the cloud (a future-role link); his check-ins are overdue.
- Dev has never checked in.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from tandem_checkins.main import CheckInsService, CheckInsSettings
from tandem_checkins.main import build_service as build_checkins
from tandem_contracts.goals import GOALS_TOPIC
from tandem_goals.main import GoalsService, GoalsSettings
from tandem_goals.main import build_service as build_goals
from tandem_projections.main import ProjectionsService, ProjectionsSettings
from tandem_projections.main import build_service as build_projections
from tandem_projections.views import AlignmentDashboard, CascadeTree, ReviewPacket
from tandem_reviews.main import ReviewsService, ReviewsSettings
from tandem_reviews.main import build_service as build_reviews
from tandem_runtime.clock import Clock, FixedClock
from tests.support import caught_up, eventually, running

TODAY = datetime(2026, 6, 15, 9, tzinfo=UTC)
CYCLE = "2026"
CATCH_UP = 90.0  # a fresh projection first reads the topics' whole history, other tests' events included
REPLICA_TIMEOUT = 30.0
LIVE = 15.0
PROBLEM = "application/problem+json"

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


# --- the services -------------------------------------------------------------------------------------------


def projections_service(bootstrap: str, database_url: str, group: str, clock: Clock) -> ProjectionsService:
    """A projections service over ``database_url``, consuming as a group of its own from the topics' start."""
    return build_projections(ProjectionsSettings(
        database_url=database_url, kafka_bootstrap_servers=bootstrap, consumer_group=group,
    ), clock=clock)


@dataclass
class Services:
    """The four services, running in-process on one broker; each serves every tenant."""

    bootstrap: str
    goals_api: httpx.AsyncClient
    checkins_api: httpx.AsyncClient
    reviews_api: httpx.AsyncClient
    dashboards_api: httpx.AsyncClient
    goals: GoalsService
    checkins: CheckInsService
    reviews: ReviewsService
    projections: ProjectionsService

    async def published(self) -> bool:
        """Every command accepted so far is on Kafka, and so is every goal's due date (the check-ins service has
        read every goal and started or rebased its schedule)."""
        # Caught up first: a batch's goals are noted for following once it is applied.
        if not await caught_up(self.checkins.goals_feed, self.bootstrap, (GOALS_TOPIC,)) or not self.checkins.follower.idle:
            return False
        for service in (self.goals, self.checkins, self.reviews):
            recorded = await asyncio.to_thread(service.application.recorder.max_notification_id) or 0
            if (service.relay.state.position or 0) < recorded:
                return False
        return True

    async def settled(self, projections: ProjectionsService | None = None) -> bool:
        """Everything accepted is published, and the projection has applied all that is on its topics now."""
        runner = (projections or self.projections).read_side.runner
        return await self.published() and await caught_up(runner, self.bootstrap, runner.store.read_model.topics)


@asynccontextmanager
async def started(bootstrap: str, folder: Path, read_model_url: str | None = None) -> AsyncIterator[Services]:
    """Start the four services with stores under ``folder`` (the read model at ``read_model_url`` if given)."""
    group = f"test-projections-{uuid.uuid4().hex[:10]}"
    clock = FixedClock(TODAY)
    goals = build_goals(GoalsSettings(
        database_url=f"sqlite:///{folder}/goals/events.db", kafka_bootstrap_servers=bootstrap,
        directory_consumer_group=f"{group}.goals.directory", planner_consumer_group=f"{group}.goals.planner",
    ), clock=clock)
    checkins = build_checkins(CheckInsSettings(
        database_url=f"sqlite:///{folder}/checkins/events.db", kafka_bootstrap_servers=bootstrap,
        goals_consumer_group=f"{group}.checkins.goals", directory_consumer_group=f"{group}.checkins.directory",
        sweep_interval_seconds=3600,  # no overdue signals behind the tests' backs
    ), clock=clock)
    reviews = build_reviews(ReviewsSettings(
        database_url=f"sqlite:///{folder}/reviews/events.db", kafka_bootstrap_servers=bootstrap,
        consumer_group_prefix=f"{group}.reviews",
    ), clock=clock)
    projections = projections_service(
        bootstrap, read_model_url or f"sqlite:///{folder}/projections/read-model.db", f"{group}.projections", clock
    )
    async with AsyncExitStack() as stack:
        apis = [await stack.enter_async_context(running(s.http)) for s in (goals, checkins, reviews, projections)]
        yield Services(bootstrap, *apis, goals, checkins, reviews, projections)


# --- the organisation ---------------------------------------------------------------------------------------


@dataclass
class Org:
    """One tenant's people and goals, set through the services' APIs."""

    services: Services
    tenant: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    goal_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, actor: str = "mgr-ana") -> dict[str, str]:
        return {"X-Tenant-ID": self.tenant, "X-Actor-ID": actor}

    async def hire(self, employee_id: str, name: str, manager: str | None, department: str, title: str) -> None:
        answer = await self.services.goals_api.put(
            f"/v1/directory/employees/{employee_id}", headers=self.headers(),
            json={"display_name": name, "manager_id": manager, "department": department, "job_title": title},
        )
        assert answer.status_code == 202, answer.text

    async def hire_and_see(self, employee_id: str, name: str, department: str, title: str) -> None:
        """Hire someone with no manager and wait until the dashboards know them."""
        await self.hire(employee_id, name, None, department, title)

        async def known() -> bool:
            return (await self.dashboard(employee_id=employee_id)).status_code == 200

        await eventually(known, timeout=LIVE)

    async def set_goal(self, key: str, owner: str, body: dict[str, Any], actor: str = "mgr-ana") -> str:
        body = {"employee_id": owner, "cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31", **body}
        answer = await self.services.goals_api.post("/v1/goals", json=body, headers=self.headers(actor))
        assert answer.status_code == 201, answer.text
        self.goal_ids[key] = answer.json()["goal_id"]
        return self.goal_ids[key]

    async def link(self, development: str, performance: str, body: dict[str, Any], actor: str = "mgr-ana") -> None:
        answer = await self.services.goals_api.post(
            f"/v1/goals/{self.goal_ids[development]}/links", headers=self.headers(actor),
            json={"performance_goal_id": self.goal_ids[performance], **body},
        )
        assert answer.status_code == 201, answer.text

    async def check_in(self, employee: str, held_on: str, *entries: dict[str, Any]) -> None:
        """Record a check-in, once the check-ins service has its goals from the goals topic."""
        for entry in entries:
            await eventually(partial(self.schedule_known, entry["goal_id"]), timeout=REPLICA_TIMEOUT)
        answer = await self.services.checkins_api.post("/v1/check-ins", headers=self.headers(), json={
            "employee_id": employee, "held_on": held_on, "held_by": [employee, "mgr-ana"], "entries": list(entries),
        })
        assert answer.status_code == 201, answer.text

    async def schedule_known(self, goal_id: str) -> bool:
        answer = await self.services.checkins_api.get(f"/v1/goals/{goal_id}/check-in-schedule", headers=self.headers())
        return answer.status_code == 200

    def kpi(self, goal: str, value: str, status: str, unit: str = "percent", roadblocks: str = "") -> dict[str, Any]:
        return {"kind": "performance", "goal_id": self.goal_ids[goal], "kpi_value": value, "unit": unit,
                "status": status, "roadblocks": roadblocks}

    async def review(self, employee: str, performance: dict, connections: dict, development: dict) -> None:
        """A review of ``employee``'s cycle, step by step, then completed."""
        reviews_api = self.services.reviews_api

        async def started() -> httpx.Response | None:
            # The reviews service learns the directory from Kafka too: someone just hired is refused as unknown
            # until its replica has read the hiring.
            answer = await reviews_api.post("/v1/reviews", headers=self.headers(),
                                            json={"employee_id": employee, "cycle": CYCLE, "next_cycle": "2027"})
            return None if answer.status_code == 422 and "employee_in_directory" in answer.text else answer

        started_review = await eventually(started, timeout=LIVE)
        assert started_review.status_code == 201, started_review.text
        path = f"/v1/reviews/{started_review.json()['review_id']}"

        async def step_taken(step: str, body: dict) -> bool:
            # The reviews service learns goals and check-ins from Kafka: a step naming a goal its replica has
            # not seen yet is refused until it has.
            answer = await reviews_api.put(f"{path}/steps/{step}", json=body, headers=self.headers())
            assert answer.status_code in (200, 404, 422), answer.text
            return answer.status_code == 200

        for step, body in (("performance", performance), ("connections", connections), ("development", development)):
            await eventually(partial(step_taken, step, body), timeout=REPLICA_TIMEOUT, interval=0.2)
        completed = await reviews_api.post(f"{path}/complete", headers=self.headers())
        assert completed.status_code == 201, completed.text

    async def dashboard(self, api: httpx.AsyncClient | None = None, **scope: str) -> httpx.Response:
        api = api or self.services.dashboards_api
        return await api.get("/v1/dashboards/alignment", params=scope, headers={"X-Tenant-ID": self.tenant})

    async def card(self, employee_id: str, api: httpx.AsyncClient | None = None) -> dict[str, Any]:
        answer = await self.dashboard(api, employee_id=employee_id)
        assert answer.status_code == 200, answer.text
        return answer.json()["employee"]

    async def packet(self, employee_id: str, api: httpx.AsyncClient | None = None, **headers: str) -> httpx.Response:
        api = api or self.services.dashboards_api
        return await api.get(f"/v1/employees/{employee_id}/review-packet", params={"cycle": CYCLE},
                             headers={"X-Tenant-ID": self.tenant, **headers})


def conversions(baseline: str, target: str) -> dict[str, str]:
    return {"name": "new client conversion rate", "unit": "percent", "baseline": baseline, "target": target,
            "direction": "increase"}


async def load(org: Org) -> None:
    """The organisation of this module's docstring, through the goals, check-ins and reviews APIs."""
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
    cascaded = await org.services.goals_api.post("/v1/goals:cascade", headers=org.headers(), json={
        "parent_goal_id": org.goal_ids["team"], "manager_id": "mgr-ana",
        "goal": {"kind": "performance", "cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31",
                 "cadence": "weekly", "title": "Increase my new client conversions by 15%",
                 "kpi": conversions("18", "20.7")},
    })
    assert cascaded.status_code == 201, cascaded.text
    org.goal_ids.update({f"{g['employee_id']}:conversions": g["goal_id"] for g in cascaded.json()["goals"]})
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
                                                        roadblocks="Deals stall at the pricing conversation"))
    await org.check_in("rep-ben", "2026-06-08", org.kpi("rep-ben:conversions", "19.6", "on_track"), {
        "kind": "development", "goal_id": org.goal_ids["negotiation"],
        "training": [{"hours": "4", "course": "Advanced Negotiation Skills, module 2"}],
        "mentorship": [{"mentor_id": "mgr-ana", "minutes": 45}],
        "skill_application": {"performance_goal_id": org.goal_ids["rep-ben:conversions"],
                              "how": "Anchored on value before price with Acme; the deal closed."},
        "feedback": {"ratings": [{"source": "manager", "rating": "3.5"}]},
    })
    await org.check_in("rep-chloe", "2026-06-12", org.kpi("rep-chloe:conversions", "18.4", "off_track"))
    await org.check_in("eng-sam", "2026-05-01", org.kpi("servers", "9", "at_risk", unit="hours per quarter"))

    bens, negotiation = org.goal_ids["rep-ben:conversions"], org.goal_ids["negotiation"]
    await org.review("rep-ben", performance={"goals": [{
        "goal_id": bens, "rating": "4", "factors": "A new CRM in the spring cost two weeks of pipeline.",
        "how": "Kept every client promise and coached two newer reps on discovery calls.",
    }]}, connections={
        "capability_gaps": [
            {"skill": "data analysis", "performance_goal_id": bens, "note": "Forecasts missed by 20% twice."},
            {"skill": "product demos", "performance_goal_id": bens, "note": "Demos run long and lose the room."},
        ],
        "payoffs": [{"development_goal_id": negotiation, "performance_goal_id": bens,
                     "note": "The negotiation training closed the Acme deal at full price."}],
    }, development={
        "goals": [{"goal_id": negotiation, "applied": True, "evidence": ["Anchored on value before price with Acme"],
                   "aspirations": "Wants to lead the enterprise team within two years."}],
        "plan": [{"title": "Analyse the pipeline with data", "skill": "data analysis", "rationale": "capability_gap",
                  "performance_goal_id": bens, "evidence": "Forecasts missed by 20% twice.",
                  "start_date": "2027-01-01", "due_date": "2027-06-30", "activity_targets": {"training_hours": "20"},
                  "hours_per_month": "4", "mentor_id": "mgr-ana"}],
    })

    async def plan_set_as_a_draft() -> bool:  # the goals service sets the review's plan when the review reaches it
        answer = await org.dashboard(employee_id="rep-ben")
        return answer.status_code == 200 and any(g["cycle"] == "2027" for g in answer.json()["employee"]["development_goals"])

    # The projection reads the shared topics from their start: every earlier test's events come first.
    await eventually(plan_set_as_a_draft, timeout=CATCH_UP)


@pytest.fixture(scope="module")
async def services(kafka_bootstrap: str, tmp_path_factory) -> AsyncIterator[Services]:
    async with started(kafka_bootstrap, tmp_path_factory.mktemp("services")) as four:
        yield four


@pytest.fixture(scope="module")
async def org(services: Services) -> Org:
    """The organisation, loaded and fully projected."""
    loaded = Org(services)
    await load(loaded)
    await eventually(services.settled, timeout=CATCH_UP)
    return loaded


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def dashboards(request, org: Org) -> AsyncIterator[httpx.AsyncClient]:
    """The projections API over the SQLite store, or over a PostgreSQL store that has caught up with the topics."""
    if request.param == "sqlite":
        yield org.services.dashboards_api
        return
    database_url = request.getfixturevalue("new_postgres_database")()
    group = f"test-projections-postgres-{uuid.uuid4().hex[:10]}"
    projections = projections_service(org.services.bootstrap, database_url, group, FixedClock(TODAY))
    async with running(projections.http) as api:
        await eventually(lambda: org.services.settled(projections), timeout=CATCH_UP)
        yield api


# --- reading a PDF ------------------------------------------------------------------------------------------


def _stream(obj: bytes) -> bytes:
    found = re.search(rb"stream\r?\n(.*?)\r?\nendstream", obj, re.DOTALL)
    assert found, "a PDF object without the stream it should hold"
    return zlib.decompress(found.group(1)) if b"/FlateDecode" in obj[: found.start()] else found.group(1)


def _literal(raw: bytes) -> bytes:
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    return re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8) & 0xFF]) if m.group(1)[:1].isdigit()
                  else escapes.get(m.group(1), m.group(1)), raw, flags=re.DOTALL)


def _to_unicode(cmap: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for low, high, first in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                mapping[int(low, 16) + offset] = chr(int(first, 16) + offset)
    return mapping


def pdf_lines(document: bytes) -> list[str]:
    """The lines of text a PDF's pages draw, decoded through each font's ToUnicode map.

    Enough of PDF for what fpdf2 writes: numbered objects, Flate-compressed or plain streams, ``Tf`` font
    switches and ``Tj``/``TJ`` strings, two bytes per glyph with embedded fonts, one byte with the core fonts.
    """
    objects = {int(number): body for number, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", document, re.DOTALL)}
    fonts: dict[bytes, dict[int, str] | None] = {}
    for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", document):
        cmap = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(number)])
        fonts[name] = _to_unicode(_stream(objects[int(cmap.group(1))])) if cmap else None
    string = rb"\((?:\\.|[^\\)])*\)"
    shows = re.compile(rb"/(F\d+) [\d.]+ Tf|(" + string + rb" ?Tj|\[(?:" + string + rb"|[^\]])*\] ?TJ)", re.DOTALL)
    lines = []
    for number in re.findall(rb"/Contents (\d+) 0 R", document):
        font: dict[int, str] | None = None
        for name, shown in shows.findall(_stream(objects[int(number)])):
            if name:
                font = fonts[name]
                continue
            data = b"".join(_literal(raw[1:-1]) for raw in re.findall(string, shown, re.DOTALL))
            if font is None:
                lines.append(data.decode("latin-1"))
            else:
                lines.append("".join(font.get(int.from_bytes(data[i : i + 2], "big"), "\ufffd")
                                     for i in range(0, len(data), 2)))
    return lines


# --- dashboards ---------------------------------------------------------------------------------------------


async def test_an_employees_dashboard_shows_each_performance_goal_with_attainment_and_the_development_behind_it(org):
    ben = await org.card("rep-ben")
    assert (ben["display_name"], ben["department"], ben["manager_id"]) == ("Ben Carter", "Sales", "mgr-ana")
    [conversions_goal] = ben["performance_goals"]
    assert conversions_goal["goal_id"] == org.goal_ids["rep-ben:conversions"]
    assert conversions_goal["kpi"] == {
        "name": "new client conversion rate", "unit": "percent", "direction": "increase", "baseline": 18, "target": 20.7}
    assert (conversions_goal["actual"], conversions_goal["attainment"], conversions_goal["health"]) == (19.6, 59.3, "on_track")
    assert conversions_goal["trend"] == [18.9, 19.6]
    assert (conversions_goal["last_check_in_on"], conversions_goal["overdue"]) == ("2026-06-08", False)
    assert conversions_goal["cascades_from"]["goal_id"] == org.goal_ids["team"]

    supporters = {s["goal_id"]: s for s in conversions_goal["supported_by"]}
    negotiation = supporters[org.goal_ids["negotiation"]]
    assert negotiation["link"]["rationale"] == "capability_gap" and negotiation["link"]["skill"] == "negotiation"
    assert negotiation["link"]["evidence"].startswith("Conversions stuck at 18%")
    assert negotiation["activities"]["training_hours"] == {"done": 4, "target": 24}
    assert negotiation["activities"]["mentorship_sessions"] == {"done": 1, "target": 6}
    assert negotiation["progress"] == 11.1  # training 4/24, certification 0/1, mentoring 1/6
    assert negotiation["behavioural"]["latest_rating"] == 3.5
    [planned] = [s for s in supporters.values() if s["status"] == "draft"]
    assert (planned["title"], planned["link"]["skill"]) == ("Analyse the pipeline with data", "data analysis")

    capacity = ben["capacity"]
    assert (capacity["hours_per_month_set_aside"], capacity["hours_logged"]) == (6, 4.75)  # 4 h training, 45 min mentoring
    assert (capacity["reference_month"], capacity["over_committed"], capacity["unused"]) == ("2026-06", False, False)
    assert [(f["code"], f["goal_id"]) for f in ben["flags"]] == [
        ("capability_gap_without_development", org.goal_ids["rep-ben:conversions"])]
    assert "product demos" in ben["flags"][0]["message"]


async def test_attainment_is_direction_aware_and_a_future_role_link_names_the_role(org):
    sam = await org.card("eng-sam")
    [servers] = sam["performance_goals"]
    assert (servers["kpi"]["direction"], servers["actual"], servers["attainment"]) == ("decrease", 9, 37.5)
    [cloud] = servers["supported_by"]
    assert cloud["goal_id"] == org.goal_ids["cloud"]
    assert cloud["link"]["rationale"] == "future_role"
    assert cloud["link"]["future_role"] == "Cloud infrastructure engineer for the move to AWS"
    [development] = sam["development_goals"]
    assert [a["goal_id"] for a in development["aligned_to"]] == [org.goal_ids["servers"]]


async def test_the_flags_name_unaligned_development_unused_capacity_and_overdue_check_ins(org):
    chloe, sam, dev = await org.card("rep-chloe"), await org.card("eng-sam"), await org.card("rep-dev")
    assert sorted((f["code"], f["goal_id"]) for f in chloe["flags"]) == sorted([
        ("development_aligned_to_nothing", org.goal_ids["spanish"]),
        ("capacity_unused", None),
        ("check_in_overdue", org.goal_ids["spanish"]),  # monthly from 1 January, never checked in
    ])
    assert sorted((f["code"], f["goal_id"]) for f in sam["flags"]) == sorted([
        ("capacity_unused", None),
        ("check_in_overdue", org.goal_ids["servers"]),  # biweekly; last checked in on 1 May
        ("check_in_overdue", org.goal_ids["cloud"]),
    ])
    assert [(f["code"], f["goal_id"]) for f in dev["flags"]] == [("check_in_overdue", org.goal_ids["rep-dev:conversions"])]
    assert [g["overdue"] for g in dev["performance_goals"]] == [True]
    assert (chloe["counts"]["overdue_check_ins"], sam["counts"]["overdue_check_ins"]) == (1, 2)


async def test_a_managers_team_dashboard_holds_every_report_below_them_with_the_teams_roll_up(org):
    ana = (await org.dashboard(manager_id="mgr-ana")).json()
    assert ana["scope"] == "team" and ana["manager"]["display_name"] == "Ana Lima"
    assert [r["display_name"] for r in ana["reports"]] == ["Ben Carter", "Chloe Martin", "Dev Patel"]
    assert ana["rollup"] == {
        "employees": 3, "performance_goals": 3, "development_goals": 2,
        "development_support_share": 0.3333, "aligned_development_share": 0.5, "on_track_rate": 0.5,
        "on_track": 1, "at_risk": 0, "off_track": 1, "overdue_check_ins": 2, "gaps_without_development": 1,
        "unaligned_development_goals": 1, "capacity_over_committed": 0, "capacity_unused": 1,
        "hours_set_aside": 10.0, "hours_logged": 4.8,
    }
    assert sorted(ana["overdue_goal_ids"]) == sorted([org.goal_ids["spanish"], org.goal_ids["rep-dev:conversions"]])
    [ben] = [r for r in ana["reports"] if r["employee_id"] == "rep-ben"]
    [conversions_goal] = ben["performance_goals"]
    assert (conversions_goal["attainment"], conversions_goal["health"]) == (59.3, "on_track")
    assert {s["link"]["skill"] for s in conversions_goal["supported_by"]} == {"negotiation", "data analysis"}

    maria = (await org.dashboard(manager_id="ceo-maria")).json()
    assert [r["display_name"] for r in maria["reports"]] == [
        "Ana Lima", "Ben Carter", "Chloe Martin", "Dev Patel", "Lee Wong", "Sam Novak"]
    assert maria["rollup"]["employees"] == 6


async def test_a_department_dashboard_lists_its_people_with_their_counts(org):
    sales = (await org.dashboard(department="Sales")).json()
    assert (sales["scope"], sales["department"]) == ("department", "Sales")
    assert [e["display_name"] for e in sales["employees"]] == ["Ana Lima", "Ben Carter", "Chloe Martin", "Dev Patel"]
    overdue = {e["employee_id"]: e["counts"]["overdue_check_ins"] for e in sales["employees"]}
    assert overdue == {"mgr-ana": 1, "rep-ben": 0, "rep-chloe": 1, "rep-dev": 1}
    assert (sales["rollup"]["employees"], sales["rollup"]["performance_goals"]) == (4, 4)
    assert sales["rollup"]["overdue_check_ins"] == 3


async def test_the_tenant_dashboard_rolls_up_every_department_and_the_organisation_goals_cascade(org):
    tenant = (await org.dashboard()).json()
    assert (tenant["scope"], tenant["tenant_id"], tenant["as_of"]) == ("tenant", org.tenant, "2026-06-15")
    assert [(d["department"], d["employees"]) for d in tenant["departments"]] == [
        ("Executive", 1), ("Infrastructure", 2), ("Sales", 4)]
    rollup = tenant["rollup"]
    assert (rollup["employees"], rollup["performance_goals"], rollup["development_goals"]) == (7, 6, 3)
    assert rollup["overdue_check_ins"] == 6
    [root] = tenant["cascade"]
    assert (root["goal_id"], root["title"], root["children"]) == (
        org.goal_ids["revenue"], "Grow new-business revenue by 20%", 1)


async def test_a_goals_cascade_is_a_tree_down_to_each_reps_goal(org):
    answer = await org.services.dashboards_api.get(
        f"/v1/goals/{org.goal_ids['revenue']}/cascade", headers={"X-Tenant-ID": org.tenant})
    assert answer.status_code == 200, answer.text
    root = answer.json()["tree"]
    assert (root["level"], root["depth"]) == ("organisation", 0)
    [team] = root["children"]
    assert (team["goal_id"], team["employee_id"], team["depth"]) == (org.goal_ids["team"], "mgr-ana", 1)
    assert sorted((g["employee_id"], g["depth"]) for g in team["children"]) == [(rep, 2) for rep in REPS]
    [bens] = [g for g in team["children"] if g["employee_id"] == "rep-ben"]
    assert (bens["attainment"], bens["health"]) == (59.3, "on_track")


# --- the documents OpenAPI declares -------------------------------------------------------------------------


DECLARED = {"dashboard": TypeAdapter(AlignmentDashboard), "cascade": TypeAdapter(CascadeTree),
            "packet": TypeAdapter(ReviewPacket)}


@pytest.mark.parametrize("kind, path, params", [
    ("dashboard", "/v1/dashboards/alignment", {"employee_id": "rep-ben"}),
    ("dashboard", "/v1/dashboards/alignment", {"employee_id": "eng-sam"}),
    ("dashboard", "/v1/dashboards/alignment", {"employee_id": "rep-chloe"}),
    ("dashboard", "/v1/dashboards/alignment", {"manager_id": "ceo-maria"}),
    ("dashboard", "/v1/dashboards/alignment", {"department": "Sales"}),
    ("dashboard", "/v1/dashboards/alignment", {}),
    ("cascade", "/v1/goals/{revenue}/cascade", {}),
    ("packet", "/v1/employees/rep-ben/review-packet", {"cycle": CYCLE}),
    ("packet", "/v1/employees/eng-sam/review-packet", {"cycle": CYCLE}),
    ("packet", "/v1/employees/rep-ben/review-packet", {"cycle": "2027"}),
], ids=["employee-reviewed", "employee-future-role", "employee-unaligned", "team", "department", "tenant", "cascade",
        "packet-reviewed", "packet-unreviewed", "packet-next-cycle"])
async def test_every_dashboard_and_packet_served_is_exactly_the_document_openapi_declares(org, kind, path, params):
    answer = await org.services.dashboards_api.get(path.format(**org.goal_ids), params=params,
                                                   headers={"X-Tenant-ID": org.tenant})
    assert answer.status_code == 200, answer.text
    # Strict, and the views forbid fields they do not name: a field added, renamed, retyped or dropped fails here.
    DECLARED[kind].validate_json(answer.content, strict=True)


async def test_openapi_declares_the_dashboards_packets_and_their_problems(org):
    document = (await org.services.dashboards_api.get("/openapi.json")).json()
    packet = document["paths"]["/v1/employees/{employee_id}/review-packet"]["get"]["responses"]
    assert packet["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ReviewPacket"}
    assert set(packet["200"]["content"]) == {"application/json", "text/html", "application/pdf"}
    assert packet["404"]["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    alignment = document["paths"]["/v1/dashboards/alignment"]["get"]["responses"]["200"]["content"]
    assert alignment["application/json"]["schema"]["discriminator"]["propertyName"] == "scope"
    assert {"Problem", "FieldError", "Card", "CascadeTree"} <= set(document["components"]["schemas"])


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, params", [
    ("/v1/dashboards/alignment", {"employee_id": "nobody-here"}),
    ("/v1/dashboards/alignment", {"manager_id": "nobody-here"}),
    ("/v1/dashboards/alignment", {"department": "nobody-here"}),
    (f"/v1/goals/{uuid.UUID(int=404)}/cascade", {}),
    ("/v1/employees/nobody-here/review-packet", {"cycle": CYCLE}),
    ("/v1/employees/nobody-here/review-packet.pdf", {"cycle": CYCLE}),
], ids=["employee", "manager", "department", "goal", "packet", "packet-pdf"])
async def test_an_unknown_employee_manager_department_or_goal_is_a_404_problem(org, path, params):
    answer = await org.services.dashboards_api.get(path, params=params, headers={"X-Tenant-ID": org.tenant})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == 404 and problem["title"] == "Not found"
    assert "nobody-here" in problem["detail"] or str(uuid.UUID(int=404)) in problem["detail"]


@pytest.mark.parametrize("path, params, field", [
    ("/v1/dashboards/alignment", {"employee_id": "rep-ben", "manager_id": "mgr-ana"}, "manager_id"),
    ("/v1/dashboards/alignment", {"manager_id": "mgr-ana", "department": "Sales"}, "department"),
    ("/v1/dashboards/alignment", {"employee_id": ""}, "employee_id"),
    ("/v1/dashboards/alignment", {"manager_id": "m" * 129}, "manager_id"),
    ("/v1/dashboards/alignment", {"department": ""}, "department"),
    ("/v1/employees/rep-ben/review-packet", {"cycle": CYCLE, "format": "docx"}, "format"),
    ("/v1/employees/rep-ben/review-packet", {}, "cycle"),
    ("/v1/employees/rep-ben/review-packet.pdf", {"cycle": ""}, "cycle"),
    ("/v1/dashboards/alignment", {"employee_id": "rep-ben", "wait_for_version": "2"}, "wait_for_goal"),
    ("/v1/dashboards/alignment", {"wait_for_goal": "g", "wait_for_version": "0"}, "wait_for_version"),
    ("/v1/dashboards/alignment", {"wait_for_goal": "g", "wait_seconds": "31"}, "wait_seconds"),
    ("/v1/dashboards/alignment", {"wait_for_goal": "g", "wait_seconds": "0"}, "wait_seconds"),
], ids=["employee-and-manager", "manager-and-department", "empty-employee", "long-manager", "empty-department",
        "bad-format", "no-cycle", "empty-cycle", "version-without-goal", "version-zero", "wait-too-long",
        "no-wait"])
async def test_bad_query_parameters_are_a_422_naming_the_field(org, path, params, field):
    answer = await org.services.dashboards_api.get(path, params=params, headers={"X-Tenant-ID": org.tenant})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [error["field"] for error in answer.json()["errors"]] == [field]


async def test_a_dashboard_can_wait_for_the_goal_a_command_just_set_instead_of_being_polled(org):
    newcomer = Org(org.services)
    await newcomer.hire_and_see("emp-yan", "Yan Ito", "Support", "Support Engineer")

    goal_id = await newcomer.set_goal("first-reply", "emp-yan", {
        "kind": "performance", "cadence": "weekly", "title": "Answer every ticket within an hour",
        "kpi": {"name": "first replies within an hour", "unit": "percent", "baseline": "50", "target": "90",
                "direction": "increase"},
    })
    answer = await newcomer.dashboard(employee_id="emp-yan", wait_for_goal=goal_id, wait_seconds="20")
    assert answer.status_code == 200
    assert answer.headers["Tandem-Goal-Applied"] == "true"
    assert [goal["goal_id"] for goal in answer.json()["employee"]["performance_goals"]] == [goal_id]

    # A version the goal never reaches: the answer comes when the wait runs out, with the dashboard as it is;
    # meanwhile /metrics counts the waiting query.
    started = time.perf_counter()
    waiting = asyncio.create_task(newcomer.dashboard(employee_id="emp-yan", wait_for_goal=goal_id,
                                                     wait_for_version="2", wait_seconds="1.5"))

    async def counted() -> bool:
        return "tandem_waiting_reads 1.0" in (await org.services.dashboards_api.get("/metrics")).text

    await eventually(counted, timeout=1.2)
    answer = await waiting
    assert answer.status_code == 200 and time.perf_counter() - started >= 1.5
    metrics = (await org.services.dashboards_api.get("/metrics")).text
    assert "tandem_waiting_reads 0.0" in metrics
    # Every applied event's age since it was published is counted (the goal's, at the least).
    assert float(re.search(r"^tandem_projection_event_age_seconds_count (\S+)$", metrics, re.MULTILINE).group(1)) >= 1
    assert answer.headers["Tandem-Goal-Applied"] == "false"
    assert [goal["goal_id"] for goal in answer.json()["employee"]["performance_goals"]] == [goal_id]

    team = await org.dashboard(manager_id="mgr-ana", wait_for_goal=str(uuid.UUID(int=7)), wait_seconds="0.2")
    assert team.status_code == 200 and team.headers["Tandem-Goal-Applied"] == "false"
    assert "Tandem-Goal-Applied" not in (await newcomer.dashboard(employee_id="emp-yan")).headers


async def test_another_tenant_sees_none_of_the_organisation(org):
    stranger = Org(org.services)
    assert (await stranger.dashboard(employee_id="rep-ben")).status_code == 404
    assert (await stranger.dashboard(manager_id="mgr-ana")).status_code == 404
    assert (await stranger.packet("rep-ben")).status_code == 404
    assert (await stranger.dashboard()).json()["rollup"]["employees"] == 0


# --- review packets -----------------------------------------------------------------------------------------


async def test_the_review_packet_follows_the_three_steps_of_the_review(org):
    answer = await org.packet("rep-ben")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    packet = answer.json()
    assert packet["employee"]["display_name"] == "Ben Carter" and packet["cycle"] == CYCLE
    assert (packet["review"]["reviewer_id"], packet["review"]["next_cycle"]) == ("mgr-ana", "2027")
    steps = packet["steps"]

    [performance] = steps["performance"]["goals"]
    assert (performance["goal_id"], performance["rating"]) == (org.goal_ids["rep-ben:conversions"], 4)
    assert [(c["held_on"], c["kpi_value"]) for c in performance["check_in_history"]] == [
        ("2026-06-01", 18.9), ("2026-06-08", 19.6)]
    assert performance["why"]["answer"] == "A new CRM in the spring cost two weeks of pipeline."
    assert performance["why"]["roadblocks_raised"] == ["2026-06-01: Deals stall at the pricing conversation"]
    assert "Ben" in performance["result"] and "59.3% attainment" in performance["result"]

    gaps = {gap["skill"]: gap for gap in steps["connections"]["capability_gaps"]}
    assert set(gaps) == {"data analysis", "negotiation", "product demos"}
    assert gaps["negotiation"]["covered_by"] == [org.goal_ids["negotiation"]]
    assert gaps["product demos"]["covered_by"] == []
    [payoff] = steps["connections"]["payoffs"]
    assert payoff["development_goal_id"] == org.goal_ids["negotiation"]
    assert payoff["evidence"] == ["The negotiation training closed the Acme deal at full price."]

    [development] = steps["development"]["goals"]
    assert (development["goal_id"], development["applied"]) == (org.goal_ids["negotiation"], True)
    assert development["evidence"] == ["Anchored on value before price with Acme"]
    assert [p["title"] for p in steps["development"]["planned_next_cycle"]] == ["Analyse the pipeline with data"]
    assert "product demos" in {s["skill"] for s in steps["development"]["suggested_next_cycle"]}


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"])
async def test_the_review_packet_as_a_page_shows_the_three_steps_for_the_employee(org, accept):
    answer = await org.packet("rep-ben", Accept=accept)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "<h1>Review packet: Ben Carter</h1>" in page
    for heading in STEP_HEADINGS:
        assert heading in page
    assert "Complete Advanced Negotiation Skills training" in page
    assert re.search(rf'href="/v1/employees/rep-ben/review-packet\.pdf\?cycle={CYCLE}&(amp;)?tenant={org.tenant}"', page)


async def test_a_packet_link_names_its_tenant_in_the_query_instead_of_a_header(org):
    answer = await org.services.dashboards_api.get(
        "/v1/employees/rep-ben/review-packet", params={"cycle": CYCLE, "format": "html", "tenant": org.tenant})
    assert answer.status_code == 200 and "<h1>Review packet: Ben Carter</h1>" in answer.text
    elsewhere = await org.services.dashboards_api.get(
        "/v1/employees/rep-ben/review-packet", params={"cycle": CYCLE, "format": "html", "tenant": "t-elsewhere"})
    assert elsewhere.status_code == 404


async def test_the_review_packet_as_a_pdf_draws_the_three_steps_for_the_employee(org):
    negotiated = await org.packet("rep-ben", Accept="application/pdf")
    linked = await org.services.dashboards_api.get(
        "/v1/employees/rep-ben/review-packet.pdf", params={"cycle": CYCLE, "tenant": org.tenant})
    for answer in (negotiated, linked):
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"] == f'inline; filename="review-packet-rep-ben-{CYCLE}.pdf"'
        document = answer.content
        assert document.startswith(b"%PDF-") and document.rstrip().endswith(b"%%EOF")
        assert re.findall(rb"/Type /Page\b", document), "a PDF without a page"
        lines = pdf_lines(document)
        assert "Review packet: Ben Carter" in lines
        for heading in STEP_HEADINGS:
            assert heading in lines
        assert "Increase my new client conversions by 15%" in lines


async def test_a_packet_shows_any_name_as_text_and_names_its_file_for_any_employee_id(org):
    elsewhere = Org(org.services)
    await elsewhere.hire_and_see("emp-李雷", 'Li "Lei" <Wang>', "Support", "Engineer")
    page = await elsewhere.packet("emp-李雷", Accept="text/html")
    assert page.status_code == 200
    assert "<h1>Review packet: Li &#34;Lei&#34; &lt;Wang&gt;</h1>" in page.text
    pdf = await elsewhere.packet("emp-李雷", Accept="application/pdf")
    assert pdf.status_code == 200 and 'Review packet: Li "Lei" <Wang>' in pdf_lines(pdf.content)
    assert pdf.headers["content-disposition"] == (
        "inline; filename=\"review-packet-emp-__-2026.pdf\"; filename*=UTF-8''review-packet-emp-%E6%9D%8E%E9%9B%B7-2026.pdf")


# --- live ---------------------------------------------------------------------------------------------------


async def test_commands_to_the_three_services_show_up_in_the_dashboard_and_the_packet(org, dashboards):
    newcomer = Org(org.services)
    await newcomer.hire("emp-zoe", "Zoe Adams", None, "Support", "Support Lead")

    async def card() -> dict[str, Any] | None:
        answer = await newcomer.dashboard(dashboards, employee_id="emp-zoe")
        return answer.json()["employee"] if answer.status_code == 200 else None

    assert (await eventually(card, timeout=LIVE))["display_name"] == "Zoe Adams"

    await newcomer.set_goal("tickets", "emp-zoe", {
        "kind": "performance", "cadence": "weekly", "title": "Resolve tickets within a day",
        "kpi": {"name": "tickets resolved within a day", "unit": "percent", "baseline": "60", "target": "80",
                "direction": "increase"},
    })

    async def goal_shown() -> dict[str, Any] | None:
        goals = (await card() or {}).get("performance_goals")
        return goals[0] if goals else None

    assert (await eventually(goal_shown, timeout=LIVE))["attainment"] is None

    await newcomer.check_in("emp-zoe", "2026-06-15", newcomer.kpi("tickets", "75", "on_track"))

    async def checked_in() -> dict[str, Any] | None:
        goal = await goal_shown()
        return goal if goal and goal["check_ins"] else None

    goal = await eventually(checked_in, timeout=LIVE)
    assert (goal["actual"], goal["attainment"], goal["health"]) == (75, 75, "on_track")

    await newcomer.review("emp-zoe", performance={"goals": [{
        "goal_id": newcomer.goal_ids["tickets"], "rating": "4", "factors": "A new help desk in March.",
        "how": "Wrote the runbook the whole team uses.",
    }]}, connections={}, development={})

    async def reviewed() -> dict[str, Any] | None:
        answer = await newcomer.packet("emp-zoe", dashboards)
        return answer.json() if answer.status_code == 200 and answer.json()["review"] else None

    packet = await eventually(reviewed, timeout=LIVE)
    assert packet["steps"]["performance"]["goals"][0]["rating"] == 4


@pytest.mark.parametrize("dashboards", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_postgresql_store_answers_every_query_as_the_sqlite_store_does(org, dashboards):
    sqlite = org.services.dashboards_api
    queries = [("/v1/dashboards/alignment", {})]
    queries += [("/v1/dashboards/alignment", {"employee_id": person[0]}) for person in PEOPLE]
    queries += [("/v1/dashboards/alignment", {"manager_id": m}) for m in ("ceo-maria", "mgr-ana", "mgr-lee")]
    queries += [("/v1/dashboards/alignment", {"department": d}) for d in ("Executive", "Infrastructure", "Sales")]
    queries += [(f"/v1/goals/{org.goal_ids['revenue']}/cascade", {})]
    queries += [(f"/v1/employees/{person[0]}/review-packet", {"cycle": CYCLE}) for person in PEOPLE]
    for path, params in queries:
        on_sqlite, on_postgres = [
            await api.get(path, params=params, headers={"X-Tenant-ID": org.tenant}) for api in (sqlite, dashboards)]
        assert on_sqlite.status_code == on_postgres.status_code == 200, (path, params, on_postgres.text)
        assert on_postgres.json() == on_sqlite.json(), (path, params)
