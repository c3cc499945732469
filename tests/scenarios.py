"""Event histories for the read side's tests: the seed's story, and small random organisations.

A history is a list of contracts events in the order the services published them. Goal events carry
versions 1..n per goal, check-ins and reviews version 1, overdue signals the version of their check-in
schedule, and directory events none, as the services publish them. ``HistoryBuilder`` keeps those counts
and the goal rules the services enforce, so every history is one the services could have produced.

``seed_story`` tells the seed article's two examples as one organisation's first months of 2026;
``random_history`` tells a small random organisation's, reproducibly from a seed.

``deliveries`` turns events into what the projection consumer hands a read model (each event encoded,
decoded, on the partition its key hashes to, at the next offset there); ``apply_deliveries`` and ``feed``
apply them through a ``ProjectionStore`` in batches (``feed`` also replays batches, or rebuilds), and
``ReadSide`` keeps a read model fed across calls. ``read_model_snapshot`` reads back everything the read
model holds and serves, and ``first_difference`` says where two snapshots part.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import cycle
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson

from tandem_checkins.domain import schedule as checkin_schedule
from tandem_contracts.base import AggregateEvent, IntegrationEvent
from tandem_contracts.checkins import (
    CHECKINS_TOPIC,
    BehaviouralFeedback,
    Certification,
    CheckInOverdue,
    CheckInRecorded,
    CheckInScheduled,
    DevelopmentEntry,
    MentorshipSession,
    PerformanceEntry,
    RatingSummary,
    SkillApplication,
    Training,
)
from tandem_contracts.directory import (
    DIRECTORY_TOPIC,
    EmployeeDeparted,
    EmployeeUpserted,
)
from tandem_contracts.envelope import decode_data, encode, stable_event_id
from tandem_contracts.goals import (
    GOALS_TOPIC,
    ActivityTargets,
    BehaviouralTarget,
    Budget,
    Capacity,
    GoalChanges,
    GoalClosed,
    GoalLinked,
    GoalRevised,
    GoalSet,
    GoalUnlinked,
    Kpi,
)
from tandem_contracts.reviews import (
    REVIEWS_TOPIC,
    CapabilityGapFound,
    DevelopmentPayoff,
    DevelopmentResult,
    PerformanceResult,
    PlannedDevelopmentGoal,
    ReviewCompleted,
)
from tandem_projections.packet import review_packet
from tandem_projections.queries import (
    cascade_tree,
    department_dashboard,
    employee_dashboard,
    team_dashboard,
    tenant_dashboard,
)
from tandem_projections.read_model import DashboardsReadModel, refresh_all_cards
from tandem_runtime.database import Cursor, SQLDatabase
from tandem_runtime.projection import Delivery, ProjectionStore
from tandem_runtime.topics import DEFAULT_PARTITIONS

PARTITIONS = DEFAULT_PARTITIONS
SOURCES = {GOALS_TOPIC: "/tandem/goals", CHECKINS_TOPIC: "/tandem/checkins", REVIEWS_TOPIC: "/tandem/reviews",
           DIRECTORY_TOPIC: "/tandem/directory"}
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:tests:scenarios")
_REVISABLE = tuple(GoalChanges.model_fields)
_CADENCE_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 30, "quarterly": 91}


# --- building histories ---------------------------------------------------------------------------------


@dataclass
class GoalState:
    """What the builder knows of one goal: enough to version its events and keep the goal rules."""

    goal_id: UUID
    owner_id: str
    kind: str
    cycle: str
    fields: dict[str, Any]
    version: int = 1
    closed: bool = False
    links: dict[UUID, UUID] = field(default_factory=dict)  # link id → performance goal id

    @property
    def level(self) -> str:
        return self.fields["level"]

    @property
    def status(self) -> str:
        return "closed" if self.closed else self.fields["status"]


class HistoryBuilder:
    """Records the events the services would publish for a story told command by command.

    Every event gets a distinct ``occurred_at`` on the day it is told for, a second later in the day than
    the event told before it, so the directory's "latest wins" is never a tie. ``jitter`` adds random
    microseconds (sometimes none) and writes some times at another UTC offset, as the clocks of different
    publishers do.
    """

    def __init__(self, tenant_id: str, *, jitter: random.Random | None = None, schedules: bool = True) -> None:
        """``schedules=False`` leaves out the check-ins service's schedule events, for tests of other events' order."""
        self.tenant_id = tenant_id
        self._publish_schedules = schedules
        self.events: list[IntegrationEvent] = []
        self.goals: dict[UUID, GoalState] = {}
        self._jitter = jitter
        self._told = 0
        self._drained = 0
        self._ids = 0
        self._schedules: dict[UUID, int] = {}
        self._tracked: dict[UUID, dict[str, Any]] = {}  # each active goal's schedule, as the check-ins service keeps it

    # ids and time

    def new_id(self, name: str | None = None) -> UUID:
        """A reproducible id: named ones are the same in every history of the tenant."""
        if name is None:
            self._ids += 1
            name = f"#{self._ids}"
        return uuid5(_NAMESPACE, f"{self.tenant_id}/{name}")

    def _stamp(self, on: date) -> datetime:
        self._told += 1
        stamp = datetime.combine(on, time(9), tzinfo=UTC) + timedelta(seconds=self._told)
        if self._jitter is not None and self._jitter.random() < 0.7:
            stamp = stamp.replace(microsecond=self._jitter.randrange(1, 1_000_000))
        if self._jitter is not None and self._jitter.random() < 0.3:
            stamp = stamp.astimezone(timezone(timedelta(hours=self._jitter.choice((-5, 2, 9)))))
        return stamp

    def drain(self) -> list[IntegrationEvent]:
        """The events recorded since the last drain: what the services published since then."""
        fresh, self._drained = self.events[self._drained :], len(self.events)
        return fresh

    def _emit(self, event: IntegrationEvent) -> None:
        self.events.append(event)

    # directory

    def employee(self, employee_id: str, display_name: str, *, on: date, manager_id: str | None = None,
                 department: str | None = None, job_title: str | None = None) -> None:
        """The directory joins or updates an employee."""
        self._emit(EmployeeUpserted(
            tenant_id=self.tenant_id, employee_id=employee_id, occurred_at=self._stamp(on), display_name=display_name,
            email=f"{employee_id}@{self.tenant_id}.example", manager_id=manager_id, department=department,
            job_title=job_title,
        ))

    def departed(self, employee_id: str, *, on: date, reason: str | None = None) -> None:
        """The directory says the employee left on ``on``."""
        self._emit(EmployeeDeparted(tenant_id=self.tenant_id, employee_id=employee_id, occurred_at=self._stamp(on),
                                    departed_on=on, reason=reason))

    # goals

    def set_goal(self, owner_id: str, title: str, *, on: date, kind: str, set_by: str | None = None,
                 cycle: str = "2026", start: date | None = None, due: date | None = None, cadence: str | None = None,
                 level: str = "individual", parent: UUID | None = None, kpi: Kpi | None = None,
                 skill: str | None = None, activity_targets: ActivityTargets | None = None,
                 behavioural_target: BehaviouralTarget | None = None, capacity: Capacity | None = None,
                 status: str = "active", description: str = "", goal_id: UUID | None = None) -> UUID:
        """A goal is set (version 1 of its stream)."""
        goal_id = goal_id or self.new_id()
        fields = {
            "title": title, "description": description, "start_date": start or on,
            "due_date": due or date(int(cycle[:4]), 12, 31),
            "cadence": cadence or ("weekly" if kind == "performance" else "monthly"),
            "parent_goal_id": parent, "level": level, "status": status, "kpi": kpi, "skill": skill,
            "activity_targets": activity_targets, "behavioural_target": behavioural_target, "capacity": capacity,
        }
        self._emit(GoalSet(tenant_id=self.tenant_id, employee_id=owner_id, occurred_at=self._stamp(on), version=1,
                           actor=set_by or owner_id, goal_id=goal_id, kind=kind, set_by=set_by or owner_id,
                           cycle=cycle, **fields))
        self.goals[goal_id] = GoalState(goal_id, owner_id, kind, cycle, fields)
        if status == "active":
            self._follow(self.goals[goal_id], on)
        return goal_id

    def performance_goal(self, owner_id: str, title: str, kpi: Kpi, *, on: date, **options: Any) -> UUID:
        """A performance goal measured by ``kpi``."""
        return self.set_goal(owner_id, title, on=on, kind="performance", kpi=kpi, **options)

    def development_goal(self, owner_id: str, title: str, skill: str, *, on: date, hours_per_month: Decimal | int,
                         mentor_id: str | None = None, budget: Budget | None = None, **options: Any) -> UUID:
        """A development goal building ``skill``, with the monthly hours set aside for it."""
        capacity = Capacity(hours_per_month=Decimal(hours_per_month), mentor_id=mentor_id, budget=budget)
        return self.set_goal(owner_id, title, on=on, kind="development", skill=skill, capacity=capacity, **options)

    def _next(self, goal_id: UUID) -> GoalState:
        goal = self.goals[goal_id]
        if goal.closed:
            raise ValueError(f"goal {goal_id} is closed and never changes again")
        goal.version += 1
        return goal

    def _goal_event(self, cls: type[AggregateEvent], goal: GoalState, on: date, actor: str | None, **data: Any) -> None:
        self._emit(cls(tenant_id=self.tenant_id, employee_id=goal.owner_id, occurred_at=self._stamp(on),
                       version=goal.version, actor=actor or goal.owner_id, goal_id=goal.goal_id, **data))

    def revise(self, goal_id: UUID, *, on: date, reason: str, actor: str | None = None, **changes: Any) -> None:
        """The goal is revised: ``changes`` name fields of ``GoalChanges`` and their new values."""
        unknown = set(changes) - set(_REVISABLE)
        if unknown:
            raise ValueError(f"not revisable: {sorted(unknown)}")
        goal = self._next(goal_id)
        previous = {name: goal.fields[name] for name in changes}
        goal.fields.update(changes)
        self._goal_event(GoalRevised, goal, on, actor, reason=reason, changed_fields=tuple(sorted(changes)),
                         changes=GoalChanges(**changes), previous=GoalChanges(**previous))
        if goal.fields["status"] == "active":
            self._follow(goal, on)

    def link(self, development_goal_id: UUID, performance_goal_id: UUID, *, on: date, rationale: str,
             skill: str | None = None, evidence: str | None = None, future_role: str | None = None,
             actor: str | None = None, link_id: UUID | None = None) -> UUID:
        """A development goal is aligned to a performance goal, with the reason why."""
        target = self.goals[performance_goal_id]
        development = self.goals[development_goal_id]
        if development.kind != "development" or target.kind != "performance" or target.closed:
            raise ValueError("a development goal is linked to an open performance goal")
        if target.owner_id != development.owner_id and target.level == "individual":
            raise ValueError("another employee's goal is served only if it is an organisation or team goal")
        if performance_goal_id in development.links.values():
            raise ValueError("the goals are linked already")
        goal = self._next(development_goal_id)
        link_id = link_id or self.new_id()
        if rationale == "capability_gap":
            skill, future_role = skill or goal.fields["skill"], None
        goal.links[link_id] = performance_goal_id
        self._goal_event(GoalLinked, goal, on, actor, link_id=link_id, performance_goal_id=performance_goal_id,
                         performance_goal_owner_id=target.owner_id, rationale=rationale, skill=skill,
                         evidence=evidence, future_role=future_role)
        return link_id

    def unlink(self, development_goal_id: UUID, link_id: UUID, *, on: date, reason: str = "",
               actor: str | None = None) -> None:
        """An alignment is removed."""
        goal = self._next(development_goal_id)
        performance_goal_id = goal.links.pop(link_id)
        self._goal_event(GoalUnlinked, goal, on, actor, link_id=link_id, performance_goal_id=performance_goal_id,
                         reason=reason)

    def close(self, goal_id: UUID, *, on: date, outcome: str, final_value: Decimal | None = None, note: str = "",
              actor: str | None = None) -> None:
        """The goal is closed with its outcome (and, for a performance goal, the KPI's final value)."""
        goal = self._next(goal_id)
        goal.closed = True
        self._goal_event(GoalClosed, goal, on, actor, outcome=outcome, final_value=final_value, note=note)

    # check-ins

    def kpi_entry(self, goal_id: UUID, value: Decimal | str, status: str, *, roadblocks: str = "",
                  resources_needed: str = "") -> PerformanceEntry:
        """A performance goal discussed in a check-in, in its KPI's unit."""
        return PerformanceEntry(goal_id=goal_id, kpi_value=Decimal(value), unit=self.goals[goal_id].fields["kpi"].unit,
                                status=status, roadblocks=roadblocks, resources_needed=resources_needed)

    def check_in(self, employee_id: str, *, on: date, entries: Sequence[PerformanceEntry | DevelopmentEntry],
                 held_by: Sequence[str] | None = None) -> UUID:
        """A check-in is held on ``on`` about some of the employee's own open goals."""
        for entry in entries:
            goal = self.goals.get(entry.goal_id)
            if goal is None or goal.owner_id != employee_id or goal.closed or goal.kind != entry.kind:
                raise ValueError(f"goal {entry.goal_id} cannot be checked in by {employee_id} with a {entry.kind} entry")
        checkin_id = self.new_id()
        self._emit(CheckInRecorded(tenant_id=self.tenant_id, employee_id=employee_id, occurred_at=self._stamp(on),
                                   version=1, actor=employee_id, checkin_id=checkin_id, held_on=on,
                                   held_by=tuple(held_by or (employee_id,)), entries=tuple(entries)))
        for entry in entries:
            self._follow(self.goals[entry.goal_id], on, checked_in=True)
        return checkin_id

    def _follow(self, goal: GoalState, on: date, *, checked_in: bool = False) -> None:
        """The check-ins service's schedule of the goal follows its cadence and start (and counts a check-in
        held ``on``); when the day the next check-in is due by changes, it publishes it, by its own rule."""
        if not self._publish_schedules:
            return
        cadence, first_day = goal.fields["cadence"], goal.fields["start_date"]
        tracked = self._tracked.setdefault(goal.goal_id, {"from": on, "check_ins": [], "rhythm": (cadence, first_day),
                                                          "due": None})
        if tracked["rhythm"] != (cadence, first_day):
            tracked.update({"from": on, "rhythm": (cadence, first_day)})
        if checked_in:
            tracked["check_ins"].append(on)
        due = checkin_schedule.due_on(cadence, first_day, tracked["from"], tracked["check_ins"])
        if due == tracked["due"]:
            return
        tracked["due"] = due
        self._schedules[goal.goal_id] = self._schedules.get(goal.goal_id, 1) + 1
        self._emit(CheckInScheduled(
            tenant_id=self.tenant_id, employee_id=goal.owner_id, occurred_at=self._stamp(on),
            version=self._schedules[goal.goal_id], actor=goal.owner_id,
            schedule_id=uuid5(_NAMESPACE, f"{self.tenant_id}/schedule/{goal.goal_id}"), goal_id=goal.goal_id,
            cadence=cadence, first_day=first_day, due_on=due,
            last_check_in_on=max(tracked["check_ins"]) if tracked["check_ins"] else None,
        ))

    def overdue(self, goal_id: UUID, *, period_start: date, period_end: date,
                last_check_in_on: date | None = None) -> None:
        """The cadence sweep signals, the day after, a period that ended without a check-in."""
        goal = self.goals[goal_id]
        schedule_id = uuid5(_NAMESPACE, f"{self.tenant_id}/schedule/{goal_id}")
        self._schedules[goal_id] = self._schedules.get(goal_id, 1) + 1
        self._emit(CheckInOverdue(
            tenant_id=self.tenant_id, employee_id=goal.owner_id, occurred_at=self._stamp(period_end + timedelta(days=1)),
            version=self._schedules[goal_id], actor="cadence-sweep", schedule_id=schedule_id, goal_id=goal_id,
            cadence=goal.fields["cadence"], period_start=period_start, period_end=period_end,
            last_check_in_on=last_check_in_on,
        ))

    # reviews

    def review(self, employee_id: str, *, on: date, reviewer_id: str, cycle: str, next_cycle: str,
               performance: Sequence[PerformanceResult], capability_gaps: Sequence[CapabilityGapFound] = (),
               payoffs: Sequence[DevelopmentPayoff] = (), development: Sequence[DevelopmentResult] = (),
               plan: Sequence[PlannedDevelopmentGoal] = (), corrects: UUID | None = None,
               rating_scale_max: Decimal = Decimal(5), review_id: UUID | None = None) -> UUID:
        """A review is completed with its three steps; ``corrects`` names the completed review it corrects."""
        review_id = review_id or self.new_id()
        self._emit(ReviewCompleted(
            tenant_id=self.tenant_id, employee_id=employee_id, occurred_at=self._stamp(on), version=1,
            actor=reviewer_id, review_id=review_id, cycle=cycle, next_cycle=next_cycle, reviewer_id=reviewer_id,
            rating_scale_max=rating_scale_max, performance=tuple(performance), capability_gaps=tuple(capability_gaps),
            payoffs=tuple(payoffs), development=tuple(development), plan=tuple(plan), corrects_review_id=corrects,
        ))
        return review_id

    def result(self, goal_id: UUID, actual: Decimal | str, *, rating: Decimal | int, factors: str,
               how: str) -> PerformanceResult:
        """Step 1 of a review for one performance goal, with its KPI as it stands now."""
        goal = self.goals[goal_id]
        measure: Kpi = goal.fields["kpi"]
        reached = (Decimal(actual) - measure.baseline) / (measure.target - measure.baseline) * 100
        return PerformanceResult(goal_id=goal_id, title=goal.fields["title"], kpi_name=measure.name, unit=measure.unit,
                                 direction=measure.direction, baseline=measure.baseline, target=measure.target,
                                 actual=Decimal(actual), attainment_percent=round(reached, 1), rating=Decimal(rating),
                                 factors=factors, how=how)


def kpi(name: str, unit: str, baseline: int | str, target: int | str, direction: str | None = None) -> Kpi:
    """A KPI from ``baseline`` to ``target``; the direction follows from them unless given."""
    start, end = Decimal(baseline), Decimal(target)
    return Kpi(name=name, unit=unit, baseline=start, target=end,
               direction=direction or ("increase" if end > start else "decrease"))


def peer_feedback(competency: str, *, self_rating: str, manager_rating: str, peer_average: str,
                  peers: int) -> BehaviouralFeedback:
    """360 feedback as the check-ins service publishes it: peers only as an average of three or more."""
    return BehaviouralFeedback(competency=competency, sources=(
        RatingSummary(source="self", count=1, average=Decimal(self_rating), ratings=(Decimal(self_rating),)),
        RatingSummary(source="manager", count=1, average=Decimal(manager_rating), ratings=(Decimal(manager_rating),)),
        RatingSummary(source="peer", count=peers, average=Decimal(peer_average) if peers >= 3 else None),
    ))


# --- the seed's story -----------------------------------------------------------------------------------

SEED_TENANT = "acme"
SEED_AS_OF = date(2026, 4, 20)  # a Monday: the day the dashboards are looked at
CONVERSIONS = "Increase new client conversions by 15%"
SERVER_INFRASTRUCTURE = "Efficiently manage the current server infrastructure"
AWS_TRAINING = "Complete AWS Certified Cloud Practitioner training"
NEGOTIATION_TRAINING = (
    "Complete Advanced Negotiation Skills training and apply three techniques in client meetings each week")
AWS_CERTIFICATION = "AWS Certified Cloud Practitioner"


@dataclass(frozen=True)
class Story:
    """A history, the names of what is in it, and its builder to tell what happens next."""

    tenant_id: str
    as_of: date
    events: list[IntegrationEvent]
    goals: dict[str, UUID]
    links: dict[str, UUID]
    reviews: dict[str, UUID]
    builder: HistoryBuilder


def _mondays(first: date, count: int, step_weeks: int = 1) -> list[date]:
    return [first + timedelta(weeks=step_weeks * n) for n in range(count)]


def course(hours: int | str, name: str) -> tuple[Training, ...]:
    """Training logged in a development check-in: ``hours`` of the course ``name``."""
    return (Training(hours=Decimal(hours), course=name),)


def seed_story() -> Story:
    """The seed article's two examples as one organisation's first months of 2026.

    Sales: the CEO's organisation goal "Increase new client conversions by 15%" cascades to Maya's team and
    to her account executives Ben, Chloe and Diego (conversion rate, percent, 10 → 15); Tom, a fourth, left
    in February and his goal was abandoned. Ben lacks negotiation: his development goal is linked to his
    conversions as a capability gap; weekly KPI check-ins climb from 10.2% to 14.2%, monthly development
    check-ins log training, mentorship, 360 feedback and, in April, the skill applied to a sale. His review
    of cycle 2026 (all three steps and a plan) finds a second gap, data analysis, that no goal covers yet.
    Chloe stopped checking in after 2 March, and her public-speaking goal serves nothing. Diego's
    objection-handling goal serves Maya's team goal, and he logged more development hours in April than he
    set aside.

    Infrastructure: Lena's "Efficiently manage the current server infrastructure" counts unplanned
    incidents a month (8 → 3, revised to 2; a KPI to decrease); her development goal "Complete AWS Certified
    Cloud Practitioner training" is linked to it for the future role the cloud move needs, and she obtained
    the certification on 10 April.
    """
    b = HistoryBuilder(SEED_TENANT)
    goals: dict[str, UUID] = {}
    links: dict[str, UUID] = {}
    reviews: dict[str, UUID] = {}
    hired = date(2026, 1, 2)
    b.employee("ceo", "Grace Okafor", on=hired, department="Executive", job_title="Chief Executive Officer")
    b.employee("maya", "Maya Patel", on=hired, manager_id="ceo", department="Sales", job_title="Sales Manager")
    for employee_id, name in (("ben", "Ben Carter"), ("chloe", "Chloe Nguyen"), ("diego", "Diego Alvarez"),
                              ("tom", "Tom Reed")):
        b.employee(employee_id, name, on=hired, manager_id="maya", department="Sales", job_title="Account Executive")
    b.employee("ivan", "Ivan Petrov", on=hired, manager_id="ceo", department="Infrastructure",
               job_title="Infrastructure Manager")
    b.employee("lena", "Lena Fischer", on=hired, manager_id="ivan", department="Infrastructure",
               job_title="Infrastructure Engineer")

    conversions = kpi("conversion rate", "percent", 10, 15)
    set_on = date(2026, 1, 5)
    options = {"on": set_on, "start": set_on, "due": date(2026, 12, 31)}
    goals["org"] = b.performance_goal("ceo", CONVERSIONS, conversions, level="organisation", cadence="biweekly",
                                      goal_id=b.new_id("org"), **options)
    goals["team"] = b.performance_goal("maya", f"Sales team: {CONVERSIONS[0].lower()}{CONVERSIONS[1:]}", conversions,
                                       level="team", parent=goals["org"], cadence="biweekly", set_by="maya",
                                       goal_id=b.new_id("team"), **options)
    for rep in ("ben", "chloe", "diego", "tom"):
        goals[f"{rep}.conversions"] = b.performance_goal(rep, CONVERSIONS, conversions, parent=goals["team"],
                                                         set_by="maya", goal_id=b.new_id(f"{rep}.conversions"), **options)
    goals["lena.infrastructure"] = b.performance_goal(
        "lena", SERVER_INFRASTRUCTURE, kpi("unplanned incidents a month", "incidents", 8, 3), set_by="ivan",
        cadence="biweekly", goal_id=b.new_id("lena.infrastructure"),
        description="Keep the on-premises servers running with fewer unplanned incidents while the cloud move is planned.",
        **options)

    dev_start = date(2026, 1, 12)
    goals["ben.negotiation"] = b.development_goal(
        "ben", NEGOTIATION_TRAINING, "negotiation", on=dev_start, start=dev_start, due=date(2026, 6, 30),
        hours_per_month=10, mentor_id="maya", budget=Budget(amount=Decimal(1200), currency="EUR"), set_by="maya",
        activity_targets=ActivityTargets(training_hours=Decimal(20), mentorship_sessions=4),
        behavioural_target=BehaviouralTarget(competency="Negotiation", target_rating=Decimal(4)),
        goal_id=b.new_id("ben.negotiation"))
    links["ben.negotiation"] = b.link(
        goals["ben.negotiation"], goals["ben.conversions"], on=dev_start, rationale="capability_gap",
        skill="negotiation", evidence="6 of the 10 opportunities lost in Q4 stalled at the pricing negotiation",
        actor="maya", link_id=b.new_id("link.ben.negotiation"))
    goals["lena.aws"] = b.development_goal(
        "lena", AWS_TRAINING, "cloud computing", on=dev_start, start=dev_start, due=date(2026, 6, 30),
        hours_per_month=8, set_by="ivan", activity_targets=ActivityTargets(
            training_hours=Decimal(30), certifications=(AWS_CERTIFICATION,)),
        goal_id=b.new_id("lena.aws"))
    links["lena.aws"] = b.link(
        goals["lena.aws"], goals["lena.infrastructure"], on=dev_start, rationale="future_role",
        future_role="Cloud infrastructure engineer for the move to cloud-based systems", actor="ivan",
        link_id=b.new_id("link.lena.aws"))
    later = date(2026, 1, 19)
    goals["chloe.speaking"] = b.development_goal(
        "chloe", "Present with confidence at client events", "public speaking", on=later, start=later,
        due=date(2026, 9, 30), hours_per_month=8, activity_targets=ActivityTargets(training_hours=Decimal(12)),
        goal_id=b.new_id("chloe.speaking"))
    goals["diego.objections"] = b.development_goal(
        "diego", "Handle pricing objections", "objection handling", on=later, start=later, due=date(2026, 6, 30),
        hours_per_month=4, mentor_id="maya", set_by="maya",
        activity_targets=ActivityTargets(training_hours=Decimal(10), mentorship_sessions=2),
        goal_id=b.new_id("diego.objections"))
    links["diego.objections"] = b.link(
        goals["diego.objections"], goals["team"], on=later, rationale="capability_gap", skill="objection handling",
        evidence="The team loses most late-stage deals at the first pricing objection", actor="maya",
        link_id=b.new_id("link.diego.objections"))

    # Weekly KPI check-ins on Mondays; Ben's monthly development check-in is held in the same meeting.
    weeks = _mondays(date(2026, 1, 12), 14)
    ben = ["10.2", "10.0", "10.6", "10.9", "11.3", "11.2", "11.8", "12.1", "12.4", "12.9", "13.0", "13.4", "13.9", "14.2"]
    ben_roadblocks = {0: ("Prospects stall as soon as pricing comes up", ""),
                      1: ("Lost two deals to a competitor discounting 20%", "A pricing playbook from marketing"),
                      3: ("Pricing objections in late-stage calls", "")}
    chloe = ["10.4", "10.1", "9.9", "9.8", "9.7", "9.6", "9.5", "9.4"]
    chloe_roadblocks = {1: "Few qualified leads from the January events", 4: "Territory change: lost two key accounts"}
    diego = ["11.0", "11.4", "11.9", "12.3", "12.6", "13.0", "13.3", "13.7", "14.0", "14.3", "14.6", "14.8", "15.0", "15.2"]
    with_maya = (MentorshipSession(mentor_id="maya", minutes=60),)
    ben_development = {
        date(2026, 2, 2): DevelopmentEntry(
            goal_id=goals["ben.negotiation"], training=course(6, "Advanced Negotiation Skills: module 1"),
            mentorship=with_maya, notes="Practised anchoring in role-plays"),
        date(2026, 3, 2): DevelopmentEntry(
            goal_id=goals["ben.negotiation"], training=course(6, "Advanced Negotiation Skills: module 2"),
            mentorship=with_maya,
            feedback=peer_feedback("Negotiation", self_rating="3.0", manager_rating="3.5", peer_average="3.00", peers=3)),
        # The seed's question, answered: how did the new skill help you hit your sales target?
        date(2026, 4, 6): DevelopmentEntry(
            goal_id=goals["ben.negotiation"], training=course(6, "Advanced Negotiation Skills: module 3"),
            mentorship=with_maya,
            skill_application=SkillApplication(
                performance_goal_id=goals["ben.conversions"],
                how="Anchored on value and held silence after the price in three discovery calls;"
                    " two prospects signed at list price"),
            feedback=peer_feedback("Negotiation", self_rating="3.5", manager_rating="4.0", peer_average="3.75", peers=4),
            notes="Three techniques in client meetings every week now"),
    }
    for index, day in enumerate(weeks):
        roadblocks, resources = ben_roadblocks.get(index, ("", ""))
        entries: list[PerformanceEntry | DevelopmentEntry] = [b.kpi_entry(
            goals["ben.conversions"], ben[index], "at_risk" if index < 4 else "on_track", roadblocks=roadblocks,
            resources_needed=resources)]
        if day in ben_development:
            entries.append(ben_development[day])
        b.check_in("ben", on=day, entries=entries, held_by=("ben", "maya"))
        if index < len(chloe):
            status = "on_track" if index == 0 else "at_risk" if index < 4 else "off_track"
            chloe_entries: list[PerformanceEntry | DevelopmentEntry] = [b.kpi_entry(
                goals["chloe.conversions"], chloe[index], status, roadblocks=chloe_roadblocks.get(index, ""))]
            if day == date(2026, 1, 26):
                chloe_entries.append(DevelopmentEntry(goal_id=goals["chloe.speaking"],
                                                      training=course(2, "Toastmasters: icebreaker speech")))
            if day == date(2026, 3, 2):
                chloe_entries.append(DevelopmentEntry(goal_id=goals["chloe.speaking"],
                                                      training=course(1, "Toastmasters: vocal variety")))
            b.check_in("chloe", on=day, entries=chloe_entries, held_by=("chloe", "maya"))
        diego_entries: list[PerformanceEntry | DevelopmentEntry] = [
            b.kpi_entry(goals["diego.conversions"], diego[index], "on_track")]
        if day == date(2026, 2, 2):
            diego_entries.append(DevelopmentEntry(goal_id=goals["diego.objections"],
                                                  training=course(3, "Objection handling fundamentals")))
        if day == date(2026, 4, 6):
            diego_entries.append(DevelopmentEntry(goal_id=goals["diego.objections"],
                                                  training=course(8, "Objection Handling Bootcamp"), mentorship=with_maya))
        b.check_in("diego", on=day, entries=diego_entries, held_by=("diego", "maya"))
        if index < 2:
            b.check_in("tom", on=day, entries=[b.kpi_entry(goals["tom.conversions"], ("9.8", "9.6")[index], "at_risk")])
        if day == date(2026, 2, 2):
            b.close(goals["tom.conversions"], on=date(2026, 2, 6), outcome="abandoned", note="Tom left the company",
                    actor="maya")
            b.departed("tom", on=date(2026, 2, 6), reason="resigned")
        if day == date(2026, 2, 16):
            b.revise(goals["lena.infrastructure"], on=day, actor="ivan",
                     reason="The monitoring upgrade makes two incidents a month reachable",
                     kpi=kpi("unplanned incidents a month", "incidents", 8, 2))

    # Chloe's missed periods (weekly from 5 January; monthly from 19 January), each signalled the day after.
    for start in _mondays(date(2026, 3, 9), 6):
        b.overdue(goals["chloe.conversions"], period_start=start, period_end=start + timedelta(days=6),
                  last_check_in_on=date(2026, 3, 2))
    b.overdue(goals["chloe.speaking"], period_start=date(2026, 3, 19), period_end=date(2026, 4, 18),
              last_check_in_on=date(2026, 3, 2))

    fortnights = _mondays(date(2026, 1, 19), 7, step_weeks=2)
    for day, team, org in zip(fortnights, ("10.5", "10.7", "11.0", "11.4", "11.8", "12.3", "12.6"),
                              ("10.3", "10.6", "10.9", "11.2", "11.6", "11.9", "12.2"), strict=True):
        asked = "A pricing playbook" if day.month == 1 else ""
        b.check_in("maya", on=day, entries=[b.kpi_entry(goals["team"], team, "at_risk", resources_needed=asked)])
        b.check_in("ceo", on=day, entries=[b.kpi_entry(goals["org"], org, "on_track")])

    for index, (day, incidents) in enumerate(zip(fortnights, ("8", "7", "6", "5", "4", "4", "3"), strict=True)):
        blocked = "The legacy storage array fails under backup load" if day.month == 1 else ""
        b.check_in("lena", on=day, held_by=("lena", "ivan"), entries=[b.kpi_entry(
            goals["lena.infrastructure"], incidents, "at_risk" if index < 2 else "on_track", roadblocks=blocked)])
    for day in (date(2026, 2, 9), date(2026, 3, 9)):
        b.check_in("lena", on=day, entries=[DevelopmentEntry(
            goal_id=goals["lena.aws"], training=course(8, "AWS Cloud Practitioner Essentials"))])
    certified = date(2026, 4, 10)
    b.check_in("lena", on=certified, entries=[DevelopmentEntry(
        goal_id=goals["lena.aws"], training=course(6, "AWS Cloud Practitioner exam preparation"),
        certifications=(Certification(name=AWS_CERTIFICATION, issuer="Amazon Web Services", obtained_on=certified),),
        skill_application=SkillApplication(
            performance_goal_id=goals["lena.infrastructure"],
            how="Moved the nightly backups to S3 with lifecycle rules, which ended the storage incidents"))])

    reviews["ben.2026"] = b.review(
        "ben", on=date(2026, 4, 16), reviewer_id="maya", cycle="2026", next_cycle="2027",
        review_id=b.new_id("review.ben.2026"),
        performance=[b.result(
            goals["ben.conversions"], "14.2", rating=4,
            factors="A competitor discounting 20% entered the mid-market in January;"
                    " the pricing playbook arrived in March",
            how="Shared objection notes with the team and kept the CRM current")],
        capability_gaps=[
            CapabilityGapFound(skill="negotiation", performance_goal_id=goals["ben.conversions"],
                               note="Deals stalled at the pricing stage"),
            CapabilityGapFound(skill="data analysis", performance_goal_id=goals["ben.conversions"],
                               note="To hit the 15% target next year, you'll need stronger data analysis skills"),
        ],
        payoffs=[DevelopmentPayoff(
            development_goal_id=goals["ben.negotiation"], performance_goal_id=goals["ben.conversions"],
            note="The negotiation course led to two list-price closes in April")],
        development=[DevelopmentResult(
            goal_id=goals["ben.negotiation"], title=NEGOTIATION_TRAINING, applied=True,
            evidence=("Anchored on value in the Contoso renewal", "Held silence after the price in the Fabrikam call"),
            aspirations="Move into key-account management")],
        plan=[PlannedDevelopmentGoal(
            title="Sales analytics fundamentals", skill="data analysis", rationale="capability_gap",
            performance_goal_id=goals["ben.conversions"], evidence="Forecasts missed the February slump",
            start_date=date(2027, 1, 1), due_date=date(2027, 6, 30),
            activity_targets=ActivityTargets(training_hours=Decimal(16)), hours_per_month=Decimal(6), mentor_id="maya",
            budget=Budget(amount=Decimal(400), currency="EUR"))],
    )
    return Story(SEED_TENANT, SEED_AS_OF, b.drain(), goals, links, reviews, b)


# --- random histories -----------------------------------------------------------------------------------

_SKILLS = ("negotiation", "data analysis", "cloud computing", "public speaking", "coaching", "python")
_DEPARTMENTS = ("Sales", "Infrastructure", "Finance")
_UNITS = ("percent", "count", "EUR")


def random_history(seed: int, employees: int = 6, *, tenant_id: str = "rnd",
                   steps: int | None = None) -> list[IntegrationEvent]:
    """A small organisation's history with every kind of event, reproducible from ``seed``.

    Told in time order with the services' rules kept: goals cascade only from older goals (no cycles), links
    serve open performance goals of the owner or team and organisation goals of others, check-ins cover
    the owner's open goals in their KPI's unit, reviews only the employee's own goals, and a second review
    of a cycle corrects the latest. Some employees change manager or leave, some come back. ``steps`` is
    how many things happen after everyone joins (eight per employee unless given).
    """
    rng = random.Random(seed)
    b = HistoryBuilder(tenant_id, jitter=rng)
    people = [f"e{n}" for n in range(employees)]
    day = date(2026, 1, 2)
    for n, person in enumerate(people):
        b.employee(person, f"Person {n}", on=day, manager_id=rng.choice(people[:n]) if n else None,
                   department=rng.choice(_DEPARTMENTS), job_title=rng.choice(("Engineer", "Account Executive", "Analyst")))
    order: list[UUID] = []  # goals in the order they were set: parents are always older
    signalled: set[tuple[UUID, date]] = set()
    reviewed: dict[tuple[str, str], UUID] = {}

    def open_goals(owner: str | None = None, kind: str | None = None) -> list[GoalState]:
        return [g for g in (b.goals[i] for i in order)
                if not g.closed and (owner is None or g.owner_id == owner) and (kind is None or g.kind == kind)]

    def random_kpi() -> Kpi:
        unit = rng.choice(_UNITS)
        baseline = rng.randint(5, 60)
        step = rng.randint(1, 30)
        target = min(baseline + step, 100) if rng.random() < 0.6 else max(baseline - step, 0)
        return kpi(rng.choice(("conversion rate", "incidents", "revenue")), unit, baseline, target)

    def value_for(goal: GoalState) -> Decimal:
        measure: Kpi = goal.fields["kpi"]
        low, high = sorted((measure.baseline, measure.target))
        value = max(Decimal(rng.randint(int(low) * 10 - 50, int(high) * 10 + 50)) / 10, Decimal(0))
        return min(value, Decimal(100)) if measure.unit == "percent" else value

    def set_goal(owner: str) -> None:
        start = day - timedelta(days=rng.randint(0, 20))
        due = start + timedelta(days=rng.randint(30, 300))
        status = "draft" if rng.random() < 0.1 else "active"
        cycle = rng.choice(("2026", "2026", "2027"))
        if rng.random() < 0.55:
            parents = [g for g in open_goals(kind="performance") if g.level != "individual"]
            parent = rng.choice(parents).goal_id if parents and rng.random() < 0.6 else None
            level = rng.choices(("individual", "team", "organisation"), weights=(6, 2, 1))[0]
            goal_id = b.performance_goal(owner, f"Goal {len(order)}", random_kpi(), on=day, start=start, due=due,
                                         level=level, parent=parent, cadence=rng.choice(("weekly", "biweekly")),
                                         status=status, cycle=cycle)
        else:
            targets = ActivityTargets(
                training_hours=Decimal(rng.choice((8, 12, 20))) if rng.random() < 0.8 else None,
                certifications=("Certificate A",) if rng.random() < 0.3 else (),
                mentorship_sessions=rng.choice((None, 2, 4)))
            behavioural = (BehaviouralTarget(competency="Collaboration", target_rating=Decimal(rng.choice((3, 4))))
                           if rng.random() < 0.4 else None)
            if targets.training_hours is None and not targets.certifications and targets.mentorship_sessions is None:
                targets = ActivityTargets(training_hours=Decimal(10))
            goal_id = b.development_goal(owner, f"Goal {len(order)}", rng.choice(_SKILLS), on=day, start=start, due=due,
                                         hours_per_month=rng.choice((0, 2, 4, 8, 10)), activity_targets=targets,
                                         behavioural_target=behavioural, cadence=rng.choice(("monthly", "quarterly")),
                                         status=status, cycle=cycle)
        order.append(goal_id)

    def revise(goal: GoalState) -> None:
        choice = rng.randrange(5)
        if choice == 0:
            b.revise(goal.goal_id, on=day, reason="Renamed", title=f"{goal.fields['title']} (revised)")
        elif choice == 1 and goal.kind == "performance":
            b.revise(goal.goal_id, on=day, reason="Target moved", kpi=random_kpi())
        elif choice == 1:
            hours = goal.fields["capacity"].hours_per_month + rng.choice((-2, 2, 4))
            b.revise(goal.goal_id, on=day, reason="More time", capacity=Capacity(hours_per_month=max(hours, Decimal(0))))
        elif choice == 2:
            cadences = ("weekly", "biweekly") if goal.kind == "performance" else ("monthly", "quarterly")
            other = next(c for c in cadences if c != goal.fields["cadence"])
            b.revise(goal.goal_id, on=day, reason="Different rhythm", cadence=other)
        elif choice == 3 and goal.fields["status"] == "draft":
            b.revise(goal.goal_id, on=day, reason="Agreed", status="active")
        elif goal.kind == "performance":
            older = [g for g in order[: order.index(goal.goal_id)] if b.goals[g].kind == "performance"]
            parent = rng.choice(older) if older and rng.random() < 0.7 else None
            if parent != goal.fields["parent_goal_id"]:
                b.revise(goal.goal_id, on=day, reason="Re-cascaded", parent_goal_id=parent)
        else:
            b.revise(goal.goal_id, on=day, reason="Due later", due_date=goal.fields["due_date"] + timedelta(days=30))

    def link(goal: GoalState) -> None:
        targets = [g for g in open_goals(kind="performance")
                   if (g.owner_id == goal.owner_id or g.level != "individual") and g.goal_id not in goal.links.values()]
        if not targets:
            return
        target = rng.choice(targets)
        if rng.random() < 0.6:
            b.link(goal.goal_id, target.goal_id, on=day, rationale="capability_gap", evidence="Fell short",
                   skill=rng.choice((None, goal.fields["skill"], rng.choice(_SKILLS))))
        else:
            b.link(goal.goal_id, target.goal_id, on=day, rationale="future_role", future_role="Cloud engineer")

    def check_in(owner: str) -> None:
        mine = open_goals(owner)
        if not mine:
            return
        entries: list[PerformanceEntry | DevelopmentEntry] = []
        known = [b.goals[g] for g in order if b.goals[g].kind == "performance"]
        for goal in rng.sample(mine, k=min(len(mine), rng.randint(1, 3))):
            if goal.kind == "performance":
                entries.append(b.kpi_entry(goal.goal_id, value_for(goal), rng.choice(("on_track", "at_risk", "off_track")),
                                           roadblocks=rng.choice(("", "", "Short of leads")),
                                           resources_needed=rng.choice(("", "", "Budget"))))
                continue
            behavioural = goal.fields["behavioural_target"]
            entries.append(DevelopmentEntry(
                goal_id=goal.goal_id,
                training=tuple(Training(hours=Decimal(rng.randint(1, 12)), course=rng.choice(("Course A", "Course B")))
                               for _ in range(rng.randint(0, 2))),
                certifications=(Certification(name="Certificate A", issuer="Issuer", obtained_on=day),)
                if rng.random() < 0.15 else (),
                mentorship=tuple(MentorshipSession(mentor_id=rng.choice(people), minutes=rng.choice((30, 45, 60)))
                                 for _ in range(rng.randint(0, 2))),
                skill_application=SkillApplication(performance_goal_id=rng.choice(known).goal_id, how="Used it")
                if known and rng.random() < 0.3 else None,
                feedback=peer_feedback(behavioural.competency, self_rating=str(rng.randint(1, 5)),
                                       manager_rating=str(rng.randint(1, 5)), peer_average=f"{rng.uniform(1, 5):.2f}",
                                       peers=rng.randint(0, 5))
                if behavioural and rng.random() < 0.5 else None,
                notes=rng.choice(("", "", "Practised it with a mentor"))))
        b.check_in(owner, on=day, entries=entries)

    def overdue(goal: GoalState) -> None:
        length = timedelta(days=_CADENCE_DAYS[goal.fields["cadence"]])
        end = day - timedelta(days=1)
        if (goal.goal_id, end) not in signalled:
            signalled.add((goal.goal_id, end))
            b.overdue(goal.goal_id, period_start=end - length + timedelta(days=1), period_end=end)

    def review(person: str) -> None:
        mine = [b.goals[g] for g in order if b.goals[g].owner_id == person]
        performance = [g for g in mine if g.kind == "performance"]
        if not performance:
            return
        cycle = rng.choice(sorted({g.cycle for g in performance}))
        performance = [g for g in performance if g.cycle == cycle]
        development = [g for g in mine if g.kind == "development" and g.cycle == cycle]
        earlier = reviewed.get((person, cycle))
        review_id = b.review(
            person, on=day, reviewer_id=people[0], cycle=cycle, next_cycle=str(int(cycle[:4]) + 1),
            performance=[b.result(g.goal_id, value_for(g), rating=rng.randint(1, 5), factors="Market", how="Well")
                         for g in performance],
            capability_gaps=[CapabilityGapFound(skill=rng.choice(_SKILLS), note=rng.choice(("", "Slow")),
                                                performance_goal_id=rng.choice(performance).goal_id)
                             for _ in range(rng.randint(0, 2))],
            payoffs=[DevelopmentPayoff(development_goal_id=g.goal_id, performance_goal_id=p, note="Paid off")
                     for g in development for p in g.links.values()][:1],
            development=[DevelopmentResult(goal_id=g.goal_id, title=g.fields["title"], applied=rng.random() < 0.5,
                                           evidence=("Once",) if rng.random() < 0.5 else ()) for g in development],
            plan=[PlannedDevelopmentGoal(title="Next", skill=rng.choice(_SKILLS), rationale="capability_gap",
                                         performance_goal_id=g.goal_id, evidence="Gap", start_date=date(2027, 1, 1),
                                         due_date=date(2027, 6, 30), hours_per_month=Decimal(4))
                  for g in performance if not g.closed][:1],
            corrects=earlier)
        reviewed[(person, cycle)] = review_id

    def directory_change(person: str) -> None:
        n = people.index(person)
        # Sometimes the platform corrects a record minutes later: close times are where clocks disagree.
        for _ in range(rng.choice((1, 1, 2))):
            b.employee(person, f"Person {n}{rng.choice(('', ' Jr'))}", on=day,
                       manager_id=rng.choice(people[:n]) if n else None, department=rng.choice(_DEPARTMENTS),
                       job_title=rng.choice(("Engineer", "Senior Engineer", "Manager")))

    actions = ("set", "revise", "link", "unlink", "close", "check_in", "overdue", "review", "directory", "departed")
    weights = (5, 2, 3, 1, 1, 8, 1, 1, 1, 0.4)
    gone: set[str] = set()
    for _ in range(steps if steps is not None else employees * 8):
        day += timedelta(days=rng.randint(0, 4))
        action = rng.choices(actions, weights=weights)[0]
        # Someone who left only comes back through the directory.
        here = [p for p in people if p not in gone] or people
        person = rng.choice(people if action == "directory" else here)
        goals_open = open_goals()
        if action == "set" or not goals_open and action in ("revise", "link", "unlink", "close", "overdue"):
            set_goal(person)
        elif action == "revise":
            revise(rng.choice(goals_open))
        elif action == "link":
            development = open_goals(kind="development")
            if development:
                link(rng.choice(development))
        elif action == "unlink":
            linked = [g for g in open_goals(kind="development") if g.links]
            if linked:
                goal = rng.choice(linked)
                b.unlink(goal.goal_id, rng.choice(sorted(goal.links)), on=day, reason="No longer relevant")
        elif action == "close":
            goal = rng.choice(goals_open)
            outcome = rng.choice(("achieved", "partially_achieved", "missed", "abandoned"))
            final = value_for(goal) if goal.kind == "performance" and outcome != "abandoned" else None
            b.close(goal.goal_id, on=day, outcome=outcome, final_value=final)
        elif action == "check_in":
            check_in(person)
        elif action == "overdue":
            overdue(rng.choice(goals_open))
        elif action == "review":
            review(person)
        elif action == "directory":
            directory_change(person)
            gone.discard(person)
        elif person not in gone:
            b.departed(person, on=day)
            gone.add(person)
    return b.events


# --- delivering them ------------------------------------------------------------------------------------


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    """The partition a key lands on: a stable hash of it, as Kafka's keyed producer does."""
    return zlib.crc32(key.encode()) % partitions


def event_id(event: IntegrationEvent) -> str:
    """The CloudEvents id: the same for the same event every time it is (re)published."""
    if isinstance(event, AggregateEvent):
        return stable_event_id(event.subject_id, event.version)
    return str(uuid5(_NAMESPACE, f"{event.event_type}/{event.subject}/{event.occurred_at.isoformat()}"))


def deliveries(events: Iterable[IntegrationEvent], *, partitions: int = PARTITIONS,
               next_offsets: dict[tuple[str, int], int] | None = None) -> list[Delivery]:
    """The events as the consumer hands them to the read model, in the order given.

    Each event is encoded into its envelope, decoded to plain data as the read model's decoder does, and
    placed on the partition of its key at the next offset there. Pass ``next_offsets`` to continue a feed:
    it is updated in place. The same event given twice is a relay duplicate: same id, new offset.
    """
    offsets = next_offsets if next_offsets is not None else {}
    delivered = []
    for event in events:
        identity = event_id(event)
        message = encode(event, event_id=identity, source=SOURCES[event.topic],
                         actor=getattr(event, "actor", None) or "directory-feed", correlation_id=identity,
                         causation_id=identity)
        envelope, data = decode_data(message.headers, message.value)
        place = (event.topic, partition_of(event.partition_key, partitions))
        offset = offsets.get(place, 0)
        offsets[place] = offset + 1
        delivered.append(Delivery(place[0], place[1], offset, envelope, data))
    return delivered


def batches(items: Sequence[Any], sizes: int | Iterable[int]) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``items``, of ``sizes`` (one size, or sizes taken in turn and repeated)."""
    turns = cycle([sizes] if isinstance(sizes, int) else list(sizes) or [1])
    start = 0
    while start < len(items):
        size = max(1, next(turns))
        yield items[start : start + size]
        start += size


def consumed(batch: Iterable[Delivery]) -> dict[tuple[str, int], int]:
    """The last offset a batch holds on each partition: what the consumer records with it."""
    last: dict[tuple[str, int], int] = {}
    for delivery in batch:
        place = (delivery.topic, delivery.partition)
        last[place] = max(last.get(place, -1), delivery.offset)
    return last


def apply_deliveries(store: ProjectionStore, delivered: Sequence[Delivery],
                     sizes: int | Iterable[int] = 50) -> tuple[int, int]:
    """Apply deliveries through ``store`` in batches, each in one transaction; returns (applied, skipped)."""
    applied = skipped = 0
    for batch in batches(delivered, sizes):
        new, seen = store.apply_batch(batch, consumed(batch))
        applied += new
        skipped += seen
    return applied, skipped


def republished(events: Sequence[IntegrationEvent], copies: Iterable[tuple[int, int]]) -> list[IntegrationEvent]:
    """``events`` with relay duplicates: for each (index, later), event ``index`` again ``later`` places after it."""
    result = list(events)
    for index, later in copies:
        original = events[index]
        position = next(n for n, e in enumerate(result) if e is original)
        result.insert(min(position + later, len(result)), original)
    return result


def feed(database: SQLDatabase, delivered: Sequence[Delivery], *, sizes: int | Iterable[int] = 1,
         replays: Iterable[tuple[int, int]] = (), defer_cards: bool = False) -> None:
    """Apply deliveries to a fresh dashboards read model as the consumer would, batch by batch.

    For each (k, j) in ``replays``, batch j (or k, if j comes later) is applied again right after batch k,
    as after a crash between the read model's commit and Kafka's. With ``defer_cards`` facts are stored
    first and every card is computed at the end, as a rebuild does.
    """
    side = ReadSide(database, defer_cards=defer_cards)
    done: list[Sequence[Delivery]] = []
    replays = list(replays)
    for index, batch in enumerate(batches(delivered, sizes)):
        side.store.apply_batch(batch, consumed(batch))
        done.append(batch)
        for after, again in replays:
            if after == index:
                replayed = done[min(again, index)]
                side.store.apply_batch(replayed, consumed(replayed))
    if defer_cards:
        # As a rebuild does: the cards of everyone the replayed events named, which is everyone with a fact.
        named = sorted(side.store.read_model.deferred)
        with database.transaction() as cursor:
            assert named == everyone_with_a_card(cursor)
            refresh_all_cards(cursor, named)


def everyone_with_a_card(cursor: Cursor) -> list[tuple[str, str]]:
    """Everyone in the directory and everyone any stored fact is about: who a rebuild must make cards for."""
    cursor.execute(
        "SELECT tenant_id, employee_id FROM rm_people UNION SELECT tenant_id, employee_id FROM rm_goals"
        " UNION SELECT tenant_id, employee_id FROM rm_kpi_checkins UNION SELECT tenant_id, employee_id FROM rm_reviews"
        " UNION SELECT tenant_id, employee_id FROM rm_development_checkins"
        " UNION SELECT tenant_id, employee_id FROM rm_missed_checkins"
        " UNION SELECT tenant_id, employee_id FROM rm_checkin_schedules"
        " UNION SELECT tenant_id, performance_owner_id FROM rm_links"
        " UNION SELECT tenant_id, development_owner_id FROM rm_links"
        " UNION SELECT tenant_id, employee_id FROM rm_pending_goal_events"
    )
    return sorted(cursor.fetchall())


class ReadSide:
    """The dashboards read model on one database, fed as the projection consumer feeds it."""

    def __init__(self, database: SQLDatabase, *, defer_cards: bool = False) -> None:
        self.database = database
        self.store = ProjectionStore(database, DashboardsReadModel(defer_cards=defer_cards))
        self._next_offsets: dict[tuple[str, int], int] = {}

    def publish(self, events: Iterable[IntegrationEvent], batch_size: int | Iterable[int] = 10) -> None:
        """Deliver ``events`` after everything published before, in batches."""
        apply_deliveries(self.store, deliveries(events, next_offsets=self._next_offsets), batch_size)


# --- reading back -----------------------------------------------------------------------------------------


def _columns(cursor: Any, database: SQLDatabase) -> dict[str, list[str]]:
    """The read model's tables (``rm_*``) and their columns, in order."""
    if database.is_sqlite:
        cursor.execute("SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c"
                       " WHERE m.type = 'table' ORDER BY m.name, c.cid")
    else:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns"
                       " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
    tables: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        if table.startswith("rm_"):
            tables.setdefault(table, []).append(column)
    return tables


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("{", "[")):
        return orjson.loads(value)
    return value


def _sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: orjson.dumps(row, option=orjson.OPT_SORT_KEYS))


def read_model_snapshot(database: SQLDatabase, today: date) -> dict[str, Any]:
    """Everything the dashboards read model holds and serves, in a form that compares whole.

    Every ``rm_*`` table (rows sorted, JSON documents parsed), and for each tenant its dashboard, every
    department's, every employee's, every manager's team, every review packet and the cascade below
    every organisation and team goal, as of ``today``.
    """
    snapshot: dict[str, Any] = {"tables": {}, "dashboards": {}}
    with database.reading() as cursor:
        for table, names in _columns(cursor, database).items():
            cursor.execute(f"SELECT {', '.join(names)} FROM {table}")
            rows = [{name: _cell(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()]
            snapshot["tables"][table] = _sorted_rows(rows)
        cursor.execute("SELECT DISTINCT tenant_id FROM rm_cards")
        for (tenant,) in sorted(cursor.fetchall()):
            views: dict[str, Any] = {"tenant": tenant_dashboard(cursor, tenant, today)}
            cursor.execute("SELECT employee_id, manager_id, department FROM rm_cards WHERE tenant_id = ?", (tenant,))
            cards = sorted(cursor.fetchall(), key=lambda row: row[0])
            cursor.execute("SELECT DISTINCT employee_id, cycle FROM rm_goals WHERE tenant_id = ?", (tenant,))
            cycles = sorted(cursor.fetchall())
            views["employees"] = {e: employee_dashboard(cursor, tenant, e, today) for e, _, _ in cards}
            managers = sorted({m for _, m, _ in cards if m} | {e for e, _, _ in cards})
            views["teams"] = {}
            for manager in managers:
                cursor.execute("SELECT 1 FROM rm_people WHERE tenant_id = ? AND manager_id = ?", (tenant, manager))
                if cursor.fetchone():
                    views["teams"][manager] = team_dashboard(cursor, tenant, manager, today)
            views["departments"] = {}
            for department in sorted({d for _, _, d in cards if d}):
                cursor.execute("SELECT 1 FROM rm_cards WHERE tenant_id = ? AND department = ? AND active = 1",
                               (tenant, department))
                if cursor.fetchone():
                    views["departments"][department] = department_dashboard(cursor, tenant, department, today)
            views["packets"] = {f"{e}/{c}": review_packet(cursor, tenant, e, c, today) for e, c in cycles}
            cursor.execute("SELECT goal_id FROM rm_goals WHERE tenant_id = ? AND level <> 'individual'", (tenant,))
            views["cascades"] = {g: cascade_tree(cursor, tenant, g) for (g,) in sorted(cursor.fetchall())}
            snapshot["dashboards"][tenant] = views
    return snapshot


def first_difference(actual: Any, expected: Any, path: str = "") -> str | None:
    """Where two snapshots first differ, and how, or None when they are equal."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected), key=str):
            if key not in actual or key not in expected:
                return f"{path}/{key}: only in {'expected' if key in expected else 'actual'}"
            found = first_difference(actual[key], expected[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(actual, list) and isinstance(expected, list):
        for index, (left, right) in enumerate(zip(actual, expected, strict=False)):  # lengths compared after
            found = first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        if len(actual) != len(expected):
            return f"{path}: {len(actual)} items, expected {len(expected)}"
        return None
    if actual != expected or type(actual) is not type(expected):
        return f"{path}: {actual!r}, expected {expected!r}"
    return None
