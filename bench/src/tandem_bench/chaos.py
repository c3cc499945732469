"""`make chaos`: the fault matrix. A bounded load tells the product's story while every process is crashed once.

The load is a synthetic organisation (``synthetic_org``) told through the HTTP APIs, phase by phase: the directory
(the goals service's pass-through), performance and development goals level by level down the hierarchy (so
cascades find their parents), the links between them, weeks of check-ins, and a three-step review per employee,
a third of them with a plan for the next cycle (which the goals service turns into draft goals). Each phase
runs on a few concurrent workers. At set points of the phases a process is killed with SIGKILL (goals and
projections during the goals phase, check-ins and then the broker during the check-ins phase, reviews during
the reviews phase), kept down for a moment, and started again on its data and its port. Requests retry with
the same ``Idempotency-Key`` through transport errors and 503s until they get an answer.

What is checked afterwards, and what "exactly once" means here:

- **On the topic at least once, one event per command.** Every accepted command's answer names its aggregate
  and version; its event's CloudEvents ``ce_id`` is ``stable_event_id(aggregate, version)``, the same on every
  republish. Each must be on its topic; copies (the relay republishes after a crash: at-least-once) must carry
  the same data; and the tenant's topics hold no other event than those and the reactions (draft goals caused by
  a review, overdue signals), so a retried command never made a second event. The directory pass-through keeps
  no state and takes no key: each accepted upsert must be on its topic at least once.
- **Counted once.** Each review's plan became exactly as many draft goals as it planned, however often the
  review was delivered; the read model holds one row per distinct goal, link, check-in and review event.
- **The read model equals a rebuild** from offset 0 (``tandem_projections.rebuild``), compared whole with
  ``read_model_snapshot``.
- **No 5xx but 503, and that only while a dependency was down**: between a kill and the restarted process
  being ready, plus a grace period for clients to reconnect. Transport errors likewise.
- **Retries get the first answer.** Every accepted command is sent again with its key: 200, replayed, the same
  ids (a goal that moved on since is shown at its current version: counted and printed, not failed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from tandem_bench.kafka_io import EVENT_TOPICS, LocalKafka, end_offsets, read_all
from tandem_bench.processes import BIN, ServiceProcess
from tandem_bench.synthetic_org import Employee, Org, PlannedGoal, build_org, check_in_entries, goal_body, plan_goals
from tandem_contracts.envelope import stable_event_id
from tandem_projections.rebuild import StoreGenerations, rebuild
from tandem_projections.snapshot import first_difference, read_model_snapshot
from tandem_runtime.clock import Clock
from tandem_runtime.database import SQLDatabase
from tandem_runtime.loopback import free_ports
from tandem_runtime.topics import CHECKINS, DIRECTORY, GOALS, REVIEWS

SERVICES = ("goals", "checkins", "reviews", "projections")
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Fault:
    """Kill ``target`` (a service, or ``kafka``) with SIGKILL when ``phase`` is ``at`` (a share) done."""

    target: str
    phase: str
    at: float


FAULTS = (
    Fault("goals", "goals", 0.3),
    Fault("projections", "goals", 0.7),
    Fault("checkins", "check-ins", 0.3),
    Fault("kafka", "check-ins", 0.6),
    Fault("reviews", "reviews", 0.3),
)


@dataclass
class ChaosSettings:
    """The size of the run: ``employees`` (a few hundred for ``make chaos``, fewer inside ``make test``)."""

    employees: int = 300
    seed: int = 11
    weeks: int = 4
    workers: int = 6
    down_seconds: float = 1.5  # how long a killed process stays down before it is started again
    grace_seconds: float = 30.0  # after a restart, how long clients may still see 503s or refused connections
    command_timeout: float = 180.0
    settle_timeout: float = 240.0
    work: Path | None = None  # where stores and logs go (a temporary folder, removed after a clean run)


@dataclass
class Command:
    """One HTTP command of the story, and what became of it."""

    service: str
    method: str
    path: str
    body: dict[str, Any]
    actor: str
    key: str | None  # None for the directory pass-through, which takes no key
    waits_for_feed: bool = False  # 404/422 mean "not learnt from Kafka yet": retried until the deadline
    answer: dict[str, Any] | None = None
    refused: str | None = None
    replayed_on_retry: bool = False


@dataclass
class Window:
    """A fault: from the kill until the process was ready again."""

    target: str
    began: float
    ended: float = float("inf")


@dataclass
class Findings:
    """What the run did and found; ``failures`` empty means the run passed."""

    seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    retried_commands: int = 0
    replayed_on_retry: int = 0
    windows: list[Window] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    copies: int = 0
    reactions: int = 0
    resent: int = 0
    replays_at_a_later_version: int = 0  # the replay names the same aggregate but shows its current version
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Record a failure (printed at the end; the run exits non-zero)."""
        self.failures.append(message)


class Log:
    """Timestamped lines to stdout, from the start of the run."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


# --- the stack: a broker and the four services, each of which can be crashed and started again ------------


class Stack:
    """A broker of its own and the four services on free loopback ports, with stores under ``work``."""

    def __init__(self, work: Path, log: Log) -> None:
        self.work = work
        self.log = log
        self.kafka = LocalKafka(own=True)
        self.services: dict[str, ServiceProcess] = {}

    def start(self) -> None:
        """Start the broker, then the services; wait until all are ready."""
        bootstrap = self.kafka.start()
        self.log(f"Kafka at {bootstrap} (state in {self.kafka.state})")
        stores = {"goals": "goals/events.db", "checkins": "checkins/events.db", "reviews": "reviews/events.db",
                  "projections": "projections/read-model.db"}
        for name, port in zip(SERVICES, free_ports(len(SERVICES)), strict=True):
            prefix = f"TANDEM_{name.upper()}_"
            (self.work / name).mkdir(parents=True, exist_ok=True)
            environment = {f"{prefix}DATABASE_URL": f"sqlite:///{self.work / stores[name]}",
                           # the run checks that nothing but its own commands and their reactions are on the topics
                           "TANDEM_CHECKINS_SWEEP_INTERVAL_SECONDS": "86400"}
            self.services[name] = ServiceProcess(name, [str(BIN / f"tandem-{name}")], prefix,
                                                 self.work / "logs" / f"{name}.log", environment, port=port)
        for service in self.services.values():
            service.start(bootstrap)
        for service in self.services.values():
            service.wait_ready(timeout=120)
        self.log("goals, checkins, reviews and projections ready")

    @property
    def read_model_url(self) -> str:
        """The projections service's configured store (its current generation is looked up from it)."""
        return self.services["projections"].environment["TANDEM_PROJECTIONS_DATABASE_URL"]

    async def crash_and_restart(self, target: str, down_seconds: float) -> None:
        """SIGKILL ``target``, keep it down a moment, start it again on its data; return once it is ready."""
        if target == "kafka":
            self.kafka.kill()
            await asyncio.sleep(down_seconds)
            await asyncio.to_thread(self.kafka.start)
            return
        service = self.services[target]
        service.kill()
        await asyncio.sleep(down_seconds)
        service.start(self.kafka.bootstrap)
        await asyncio.to_thread(service.wait_ready, 120)

    def stop(self) -> None:
        """Stop every service and the broker (by their pids) and delete the broker's data."""
        for service in self.services.values():
            service.stop()
        self.kafka.stop()


# --- the story, told over HTTP with retries ------------------------------------------------------------------


class Story:
    """The synthetic organisation's commands, sent phase by phase while faults strike."""

    def __init__(self, stack: Stack, settings: ChaosSettings, findings: Findings, log: Log) -> None:
        self.stack = stack
        self.settings = settings
        self.findings = findings
        self.log = log
        self.today = Clock().now().date()
        self.tenant = f"chaos-{uuid.uuid4().hex[:8]}"
        self.org: Org = build_org(settings.employees, seed=settings.seed, tenant_id=self.tenant, year=self.today.year)
        self.planned = plan_goals(self.org)
        self.ids = {e.employee_id: f"chaos-{e.employee_id[4:]}" for e in self.org.employees}
        self.goal_ids: dict[str, str] = {}  # planned goal id → the id the goals service gave it
        self.commands: list[Command] = []
        self.last_kpi: dict[str, str] = {}  # service goal id → the last KPI value checked in
        self.fault_lock = asyncio.Lock()
        self.restores: list[asyncio.Task[None]] = []
        self.clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """HTTP clients to the four services, in the story's tenant."""
        headers = {"X-Tenant-ID": self.tenant}
        self.clients = {name: httpx.AsyncClient(base_url=s.url, headers=headers, timeout=30)
                        for name, s in self.stack.services.items()}
        try:
            yield
        finally:
            for client in self.clients.values():
                await client.aclose()

    async def tell(self) -> None:
        """Send the whole story; faults strike at their points; return once every restart is done."""
        async with self.connected():
            employees = self.org.employees
            await self.phase("directory", [employees], self.hire)
            levels = sorted({e.level for e in employees})
            await self.phase("goals", [[e for e in employees if e.level == level] for level in levels], self.set_goals)
            await self.wait_for_schedules()
            await self.phase("check-ins", [employees], self.check_in)
            await self.phase("reviews", [[e for e in employees if self.performance_goals(e)]], self.review)

    async def phase(self, name: str, batches: Sequence[Sequence[Employee]], work: Callable[[Employee], Awaitable[None]]) -> None:
        """Run ``work`` for every employee, batch after batch, on concurrent workers; fire this phase's faults
        when their share of it is done, and wait for their restarts at the end."""
        total = sum(len(batch) for batch in batches)
        faults = [f for f in FAULTS if f.phase == name]
        done = 0
        began = time.monotonic()
        self.log(f"phase {name}: {total} employees")
        for batch in batches:
            queue = list(batch)

            async def worker(queue: list[Any] = queue) -> None:
                nonlocal done
                while queue:
                    await work(queue.pop(0))
                    done += 1
                    while faults and done >= faults[0].at * total:
                        self.restores.append(asyncio.create_task(self.strike(faults.pop(0))))

            await asyncio.gather(*(worker() for _ in range(self.settings.workers)))
        await asyncio.gather(*self.restores)
        self.restores.clear()
        self.log(f"phase {name} done in {time.monotonic() - began:.1f}s")

    async def strike(self, fault: Fault) -> None:
        """One fault at a time: a restart must not meet the next kill (a service cannot start without Kafka)."""
        async with self.fault_lock:
            window = Window(fault.target, time.monotonic())
            self.findings.windows.append(window)
            self.log(f"kill -9 {fault.target} ({fault.phase} phase {fault.at:.0%} done)")
            await self.stack.crash_and_restart(fault.target, self.settings.down_seconds)
            window.ended = time.monotonic()
            self.log(f"{fault.target} restarted on its data and ready after {window.ended - window.began:.1f}s")

    async def send(self, command: Command) -> dict[str, Any] | None:
        """Send until answered: transport errors and 5xx are retried with the same key (and 404/422 while the
        service learns from Kafka); returns the answer, or None when refused or never answered."""
        self.commands.append(command)
        self.findings.commands[f"{command.service} {command.method} {_route(command.path)}"] += 1
        client = self.clients[command.service]
        headers = {"X-Actor-ID": command.actor} | ({"Idempotency-Key": command.key} if command.key else {})
        deadline = time.monotonic() + self.settings.command_timeout
        delay, attempts = 0.1, 0
        while True:
            attempts += 1
            try:
                response = await client.request(command.method, command.path, json=command.body, headers=headers)
            except httpx.TransportError as error:
                self.note_transport_error(command.service, error)
            else:
                self.note_status(command.service, response.status_code)
                if response.status_code < 300:
                    command.answer = response.json()
                    command.replayed_on_retry = attempts > 1 and response.headers.get(REPLAYED) == "true"
                    self.findings.retried_commands += attempts > 1
                    self.findings.replayed_on_retry += command.replayed_on_retry
                    return command.answer
                retry = response.status_code >= 500 or (command.waits_for_feed and response.status_code in (404, 422))
                if not retry:
                    command.refused = f"{response.status_code} {response.text[:300]}"
                    self.findings.fail(f"{command.method} {command.path} refused: {command.refused}")
                    return None
            if time.monotonic() > deadline:
                command.refused = f"no answer after {attempts} attempts in {self.settings.command_timeout:.0f}s"
                self.findings.fail(f"{command.method} {command.path}: {command.refused}")
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def in_fault(self, at: float) -> bool:
        """True while a fault was on, or within the grace period after its restart."""
        return any(w.began <= at <= w.ended + self.settings.grace_seconds for w in self.findings.windows)

    def note_status(self, service: str, status: int) -> None:
        self.findings.statuses[(service, status)] += 1
        if status >= 500 and not (status == 503 and self.in_fault(time.monotonic())):
            self.findings.fail(f"{service} answered {status} {'outside a fault' if status == 503 else '(a bug)'}")

    def note_transport_error(self, service: str, error: Exception) -> None:
        self.findings.transport_errors[service] += 1
        if not self.in_fault(time.monotonic()):
            self.findings.fail(f"{service}: {type(error).__name__} outside a fault: {error}")

    # --- the phases' work, per employee ---

    def manager_of(self, employee: Employee) -> str | None:
        manager = self.org.manager_of(employee)
        return self.ids[manager.employee_id] if manager else None

    def performance_goals(self, employee: Employee) -> list[PlannedGoal]:
        return [g for g in self.planned[employee.employee_id] if g.kind == "performance" and g.goal_id in self.goal_ids]

    async def hire(self, employee: Employee) -> None:
        body = {"display_name": employee.display_name, "department": employee.department, "job_title": employee.job_title,
                "organization": "Chaos Corp", "manager_id": self.manager_of(employee)}
        await self.send(Command("goals", "PUT", f"/v1/directory/employees/{self.ids[employee.employee_id]}", body,
                                "directory", None))

    async def set_goals(self, employee: Employee) -> None:
        owner = self.ids[employee.employee_id]
        goals = self.planned[employee.employee_id]
        for goal in goals:
            body = goal_body(goal, owner, self.org.year, self.goal_ids)
            body["due_date"] = f"{self.org.year}-12-31"  # every goal open until the year ends: check-ins land up to today
            answer = await self.send(Command("goals", "POST", "/v1/goals", body, self.ids.get(goal.set_by, owner),
                                             f"{self.tenant}-goal-{goal.goal_id}"))
            if answer is not None:
                self.goal_ids[goal.goal_id] = answer["goal_id"]
        for goal in goals:
            for link in goal.links:
                if goal.goal_id not in self.goal_ids or link.performance_goal_id not in self.goal_ids:
                    continue
                body = {"performance_goal_id": self.goal_ids[link.performance_goal_id], "rationale": link.rationale}
                body |= {"skill": link.skill, "evidence": link.evidence} if link.rationale == "capability_gap" else {"future_role": link.future_role}
                await self.send(Command("goals", "POST", f"/v1/goals/{self.goal_ids[goal.goal_id]}/links", body, owner,
                                        f"{self.tenant}-link-{link.link_id}"))

    async def wait_for_schedules(self) -> None:
        """Check-ins are refused on goals the check-ins service has not yet read from Kafka: wait for all."""
        began = time.monotonic()
        waiting = list(self.goal_ids.values())
        while waiting:
            try:
                answer = await self.clients["checkins"].get(f"/v1/goals/{waiting[-1]}/check-in-schedule")
                if answer.status_code == 200:
                    waiting.pop()
                    continue
            except httpx.TransportError:
                pass
            if time.monotonic() - began > self.settings.settle_timeout:
                self.findings.fail(f"the check-ins service never learnt {len(waiting)} goals from Kafka")
                return
            await asyncio.sleep(0.2)
        self.log(f"the check-ins service knows all {len(self.goal_ids)} goals after {time.monotonic() - began:.1f}s")

    async def check_in(self, employee: Employee) -> None:
        owner = self.ids[employee.employee_id]
        manager = self.manager_of(employee)
        goals = [g for g in self.planned[employee.employee_id] if g.goal_id in self.goal_ids]
        rng = random.Random(f"{self.org.seed}:{employee.employee_id}:check-ins")
        for weeks_ago in range(self.settings.weeks - 1, -1, -1):
            held_on = self.today - timedelta(weeks=weeks_ago)
            if held_on.year != self.org.year:
                continue  # the goals start on the first of January
            entries = check_in_entries(goals, self.goal_ids, held_on, weeks_ago, rng)
            if not entries:
                continue
            body = {"employee_id": owner, "held_on": held_on.isoformat(),
                    "held_by": [owner, manager] if manager else [owner], "entries": entries}
            if await self.send(Command("checkins", "POST", "/v1/check-ins", body, manager or owner,
                                       f"{self.tenant}-checkin-{employee.employee_id}-{held_on}")):
                self.last_kpi.update({e["goal_id"]: e["kpi_value"] for e in entries if e["kind"] == "performance"})

    async def review(self, employee: Employee) -> None:
        """The three steps and the completion; a third of the reviews plan a development goal for next year."""
        owner = self.ids[employee.employee_id]
        reviewer = self.manager_of(employee) or owner
        key = f"{self.tenant}-review-{employee.employee_id}"
        year = self.org.year

        def step(method: str, path: str, name: str, body: dict[str, Any]) -> Command:
            return Command("reviews", method, path, body, reviewer, f"{key}-{name}", waits_for_feed=True)

        started = await self.send(step("POST", "/v1/reviews", "start",
                                       {"employee_id": owner, "cycle": str(year), "next_cycle": str(year + 1)}))
        if started is None:
            return
        path = f"/v1/reviews/{started['review_id']}"
        performance = [self.goal_ids[g.goal_id] for g in self.performance_goals(employee)]
        development = [self.goal_ids[g.goal_id] for g in self.planned[employee.employee_id]
                       if g.kind == "development" and g.goal_id in self.goal_ids]
        assessments = [{"goal_id": g, "actual": self.last_kpi.get(g) or "0", "rating": "3",
                        "factors": "A steady quarter; two large deals slipped.", "how": "Coached the newer colleagues."}
                       for g in performance]
        plan = [{"title": "Analyse the pipeline with data", "skill": "data analysis", "rationale": "capability_gap",
                 "performance_goal_id": performance[0], "evidence": "Forecasts missed twice.",
                 "start_date": f"{year + 1}-01-01", "due_date": f"{year + 1}-06-30",
                 "activity_targets": {"training_hours": "10"}, "hours_per_month": "2"}] if employee.index % 3 == 0 else []
        for name, body in (
            ("performance", {"goals": assessments}),
            ("connections", {"capability_gaps": [{"skill": "data analysis", "performance_goal_id": performance[0],
                                                  "note": "Reads the pipeline by feel."}], "payoffs": []}),
            ("development", {"goals": [{"goal_id": g, "applied": True, "evidence": ["Used it with a client"]}
                                       for g in development], "plan": plan}),
        ):
            if await self.send(step("PUT", f"{path}/steps/{name}", name, body)) is None:
                return
        await self.send(step("POST", f"{path}/complete", "complete", {}))


def _route(path: str) -> str:
    """A path with its ids taken out, to count commands by route."""
    parts = path.strip("/").split("/")
    return "/".join(p if p in {"v1", "goals", "links", "check-ins", "reviews", "steps", "complete", "directory", "employees",
                               "performance", "connections", "development"} else "{id}" for p in parts)


# --- the checks ------------------------------------------------------------------------------------------------


def expected_events(commands: Sequence[Command]) -> dict[str, str]:
    """The ce_id of every accepted command's event, with its topic (review steps publish nothing)."""
    expected: dict[str, str] = {}
    for command in commands:
        answer = command.answer
        if answer is None or command.key is None:
            continue
        if command.service == "goals":
            expected[stable_event_id(answer["goal_id"], answer["version"])] = GOALS
        elif command.service == "checkins":
            expected[stable_event_id(answer["checkin_id"], answer["version"])] = CHECKINS
        elif command.path.endswith("/complete"):
            expected[stable_event_id(answer["review_id"], answer["version"])] = REVIEWS
    return expected


@dataclass
class OnTopics:
    """The tenant's events on the four topics: copies by ce_id, and what each is."""

    copies: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    topic: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    subject: dict[str, str] = field(default_factory=dict)
    causation: dict[str, str] = field(default_factory=dict)
    upserted: Counter[str] = field(default_factory=Counter)  # employee id → EmployeeUpserted copies


async def read_topics(bootstrap: str, tenant: str) -> OnTopics:
    """Every event of ``tenant`` on the event topics now."""
    found = OnTopics()
    for record in await read_all(bootstrap, EVENT_TOPICS):
        headers = {name: value.decode() for name, value in record.headers}
        if headers.get("ce_tenantid") != tenant:
            continue
        ident = headers["ce_id"]
        found.copies[ident].append(record.value)
        found.topic[ident] = record.topic
        found.kind[ident] = headers["ce_type"]
        found.subject[ident] = headers.get("ce_subject", "")
        found.causation[ident] = headers.get("ce_causationid", "")
        if record.topic == DIRECTORY and "upserted" in headers["ce_type"]:
            found.upserted[orjson.loads(record.value)["employee_id"]] += 1
    return found


def planned_drafts(commands: Sequence[Command]) -> dict[str, int]:
    """The ce_id of every completed review's event, with how many draft goals its plan asks for."""
    plans: dict[str, int] = {}
    for command in commands:
        if command.answer and command.path.endswith("/steps/development"):
            plans[command.answer["review_id"]] = len(command.body["plan"])
    return {stable_event_id(c.answer["review_id"], c.answer["version"]): plans.get(c.answer["review_id"], 0)
            for c in commands if c.answer and c.path.endswith("/complete")}


def missing_on_topics(found: OnTopics, expected: dict[str, str], drafts: dict[str, int]) -> int:
    """How many expected events (commands' and reactions') are not on the topics yet."""
    missing = sum(1 for ident in expected if ident not in found.copies)
    caused = Counter(found.causation[i] for i in found.copies if "goal.set" in found.kind[i])
    return missing + sum(max(0, want - caused[review]) for review, want in drafts.items())


def check_topics(found: OnTopics, commands: Sequence[Command], expected: dict[str, str], drafts: dict[str, int],
                 findings: Findings) -> None:
    """At least once on the right topic, copies identical, nothing unexplained, each plan's drafts exactly once."""
    for ident, topic in expected.items():
        if ident not in found.copies:
            findings.fail(f"an accepted command's event {ident} is not on {topic}")
        elif found.topic[ident] != topic:
            findings.fail(f"event {ident} is on {found.topic[ident]}, not {topic}")
    hired = {c.path.rsplit("/", 1)[1] for c in commands if c.key is None and c.answer is not None}
    for employee in sorted(hired):
        if found.upserted[employee] < 1:
            findings.fail(f"the directory upsert of {employee} is not on {DIRECTORY}")
    for ident, copies in found.copies.items():
        findings.events[found.kind[ident]] += 1
        findings.copies += len(copies) - 1
        if len(set(copies)) > 1:
            findings.fail(f"event {ident} is on its topic {len(copies)} times with different data")
    reactions = {i for i in found.copies if found.causation[i] in drafts and i not in expected}
    findings.reactions = len(reactions)
    for ident in found.copies:
        # The check-ins service's schedules speak for themselves: missed periods, and due dates as goals and
        # check-ins move them (their copies are checked above, and the read model against a rebuild below).
        explained = (ident in expected or ident in reactions or found.topic[ident] == DIRECTORY
                     or "overdue" in found.kind[ident] or "scheduled" in found.kind[ident])
        if not explained:
            findings.fail(f"{found.kind[ident]} {ident} (subject {found.subject[ident]}) answers no accepted command")
    caused = Counter(found.causation[i] for i in reactions if "goal.set" in found.kind[i])
    for review, want in drafts.items():
        if caused[review] != want:
            findings.fail(f"review event {review} planned {want} draft goals; the goals topic has {caused[review]}")


def check_counted_once(url: str, tenant: str, found: OnTopics, findings: Findings) -> None:
    """The read model holds each distinct goal, link, check-in and review once."""
    distinct = Counter(found.kind.values())
    wanted = {
        "goals": distinct.get("tandem.goal.set.v1", 0),
        "links": distinct.get("tandem.goal.linked.v1", 0) - distinct.get("tandem.goal.unlinked.v1", 0),
        "check-ins": distinct.get("tandem.checkin.recorded.v1", 0),
        "reviews": distinct.get("tandem.review.completed.v1", 0),
    }
    queries = {
        "goals": "SELECT COUNT(*) FROM rm_goals WHERE tenant_id = ?",
        "links": "SELECT COUNT(*) FROM rm_links WHERE tenant_id = ?",
        "check-ins": "SELECT COUNT(*) FROM (SELECT checkin_id FROM rm_kpi_checkins WHERE tenant_id = ?"
                     " UNION SELECT checkin_id FROM rm_development_checkins WHERE tenant_id = ?) AS ids",
        "reviews": "SELECT COUNT(*) FROM rm_reviews WHERE tenant_id = ?",
    }
    with SQLDatabase.connect(url, pool_size=1) as database, database.reading() as cursor:
        for what, query in queries.items():
            cursor.execute(query, (tenant,) * query.count("?"))
            held = cursor.fetchone()[0]
            if held != wanted[what]:
                findings.fail(f"the read model holds {held} {what}; the topics have {wanted[what]} distinct")


async def check_replays(story: Story, findings: Findings) -> None:
    """Every accepted command sent again with its key gets the first answer: 200, replayed, the same ids.

    The goals service answers a replay with the goal as it is now, so its version can be later than the first
    answer's when the goal moved on since; that is counted, not failed."""
    keyed = [c for c in story.commands if c.key and c.answer is not None]
    async with story.connected():
        for batch in range(0, len(keyed), 32):
            await asyncio.gather(*(_replay(story, c, findings) for c in keyed[batch : batch + 32]))
    findings.resent = len(keyed)


async def _replay(story: Story, command: Command, findings: Findings) -> None:
    assert command.key is not None and command.answer is not None
    headers = {"X-Actor-ID": command.actor, "Idempotency-Key": command.key}
    response = await story.clients[command.service].request(command.method, command.path, json=command.body, headers=headers)
    first = {k: v for k, v in command.answer.items() if k.endswith("_id")}
    again = response.json() if response.status_code < 300 else {}
    if response.status_code != 200 or response.headers.get(REPLAYED) != "true" or any(again.get(k) != v for k, v in first.items()):
        findings.fail(f"{command.method} {command.path} again with its key: {response.status_code} {str(again)[:200]},"
                      f" first answer {first}")
    elif again.get("version") != command.answer.get("version"):
        findings.replays_at_a_later_version += 1


async def settle(stack: Stack, story: Story, findings: Findings, log: Log) -> OnTopics:
    """Wait until every expected event is on the topics and the projection has applied everything on them."""
    expected, drafts = expected_events(story.commands), planned_drafts(story.commands)
    deadline = time.monotonic() + story.settings.settle_timeout
    found = await read_topics(stack.kafka.bootstrap, story.tenant)
    while (missing := missing_on_topics(found, expected, drafts)) and time.monotonic() < deadline:
        await asyncio.sleep(1)
        found = await read_topics(stack.kafka.bootstrap, story.tenant)
    log(f"topics: {len(found.copies)} distinct events of the tenant, {missing} expected ones missing")
    ends = {(tp.topic, tp.partition): end - 1 for tp, end in (await end_offsets(stack.kafka.bootstrap)).items() if end}
    live = StoreGenerations(stack.read_model_url).current()
    while (applied := _positions(live)) != ends and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    if applied != ends:
        findings.fail(f"the projection has not applied everything on the topics within {story.settings.settle_timeout:.0f}s")
    else:
        log("the projection has applied every event on the topics")
    return found


def _positions(url: str) -> dict[tuple[str, int], int]:
    with SQLDatabase.connect(url, pool_size=1) as database, database.reading() as cursor:
        cursor.execute("SELECT topic, kafka_partition, kafka_offset FROM tandem_projection_positions"
                       " WHERE projection = 'dashboards' AND kafka_offset >= 0")
        return {(topic, partition): offset for topic, partition, offset in cursor.fetchall()}


async def check_rebuild(stack: Stack, findings: Findings, log: Log) -> None:
    """Replay every topic from offset 0 into a fresh store; it must equal the live one, whole."""
    generations = StoreGenerations(stack.read_model_url)
    live, fresh = generations.current(), generations.next()
    report = await rebuild(fresh, stack.kafka.bootstrap, workers=1)
    today = Clock().now().date()
    with SQLDatabase.connect(live, pool_size=1) as a, SQLDatabase.connect(fresh, pool_size=1) as b:
        difference = first_difference(read_model_snapshot(b, today), read_model_snapshot(a, today))
    log(f"rebuild from offset 0: {report.events:,} events, {report.cards:,} cards in {report.seconds:.1f}s;"
        f" {'the same read model as live' if difference is None else 'DIFFERENT: ' + difference}")
    if difference is not None:
        findings.fail(f"the rebuilt read model differs from the live one: {difference}")


# --- the run ------------------------------------------------------------------------------------------------


def run(settings: ChaosSettings) -> Findings:
    """Start the stack, tell the story under faults, check, stop everything; the findings."""
    log = Log()
    findings = Findings()
    work = settings.work or Path(tempfile.mkdtemp(prefix="tandem-chaos-"))
    stack = Stack(work, log)
    log(f"chaos: {settings.employees} employees (seed {settings.seed}), {settings.weeks} weeks of check-ins, "
        f"{settings.workers} workers; faults: " + ", ".join(f"{f.target} at {f.at:.0%} of {f.phase}" for f in FAULTS))
    try:
        stack.start()
        story = Story(stack, settings, findings, log)
        asyncio.run(_tell_and_check(stack, story, findings, log))
    finally:
        stack.stop()
        findings.seconds = time.monotonic() - log.started
    if settings.work is None and not findings.failures:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"stores and logs kept in {work}")
    return findings


async def _tell_and_check(stack: Stack, story: Story, findings: Findings, log: Log) -> None:
    await story.tell()
    accepted = sum(1 for c in story.commands if c.answer is not None)
    log(f"load done: {len(story.commands)} commands, {accepted} accepted, {findings.retried_commands} needed retries"
        f" ({findings.replayed_on_retry} of them answered by a replay of a lost answer)")
    found = await settle(stack, story, findings, log)
    check_topics(found, story.commands, expected_events(story.commands), planned_drafts(story.commands), findings)
    check_counted_once(StoreGenerations(stack.read_model_url).current(), story.tenant, found, findings)
    await check_replays(story, findings)
    log(f"{findings.resent} accepted commands sent again with their keys")
    await check_rebuild(stack, findings, log)


def summary(findings: Findings) -> str:
    """What was done and found, for the terminal."""
    lines = [f"chaos run: {findings.seconds:.0f}s"]
    lines.append("faults: " + ", ".join(f"{w.target} down {w.ended - w.began:.1f}s" for w in findings.windows))
    lines.append(f"commands: {sum(findings.commands.values())} (" + ", ".join(f"{k}: {v}" for k, v in sorted(findings.commands.items())) + ")")
    lines.append("answers: " + ", ".join(f"{s} {code}: {n}" for (s, code), n in sorted(findings.statuses.items())))
    lines.append("transport errors (during faults): " + (", ".join(f"{s}: {n}" for s, n in sorted(findings.transport_errors.items())) or "none"))
    lines.append(f"retried commands: {findings.retried_commands}, of which answered by a replay: {findings.replayed_on_retry}")
    lines.append(f"events of the tenant on the topics: {sum(findings.events.values())} distinct, {findings.copies} extra copies"
                 f" (republished after a crash, same ce_id, dropped by consumers), {findings.reactions} reactions")
    lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(findings.events.items())))
    lines.append(f"accepted commands sent again with their keys: {findings.resent} (same ids; {findings.replays_at_a_later_version}"
                 " answered with the aggregate's current, later version)")
    if findings.failures:
        lines.append(f"FAILED: {len(findings.failures)} problems")
        lines += [f"  - {failure}" for failure in findings.failures[:50]]
    else:
        lines.append("PASSED: every accepted command's event on its topic once by ce_id, counted once, read model = rebuild,"
                     " no 5xx but 503 during faults, retries got the first answer")
    return "\n".join(lines)


def main() -> None:
    """``tandem-chaos``: the fault matrix (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="tandem-chaos", description=main.__doc__)
    parser.add_argument("--employees", type=int, default=ChaosSettings.employees)
    parser.add_argument("--seed", type=int, default=ChaosSettings.seed)
    parser.add_argument("--weeks", type=int, default=ChaosSettings.weeks, help="weeks of check-ins, up to today")
    parser.add_argument("--workers", type=int, default=ChaosSettings.workers, help="concurrent requests")
    parser.add_argument("--work", type=Path, help="keep stores and logs here (default: a temporary folder)")
    arguments = parser.parse_args()
    settings = ChaosSettings(employees=arguments.employees, seed=arguments.seed, weeks=arguments.weeks,
                             workers=arguments.workers, work=arguments.work)
    findings = run(settings)
    print(summary(findings))
    sys.exit(1 if findings.failures else 0)


if __name__ == "__main__":
    main()
