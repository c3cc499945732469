"""A synthetic organisation and its year, deterministic from a seed.

``build_org`` makes a tenant of N employees with a real management hierarchy (spans of control 5–12, 5–7
levels for a few thousand employees and up), divisions and departments. ``generate_events`` streams its
year as Kafka messages, exactly as the services' relays would publish them (same contracts, envelope, keys,
stable event ids and aggregate versions): the directory, performance and development goals with cascades
and links, check-ins at each goal's cadence with KPI trajectories and development activities, missed
periods signalled overdue, revisions, closings and a review per employee at year end. It is an iterator,
so tens of millions of events never sit in memory. ``drive_http`` loads a small organisation through the
services' HTTP APIs instead.

The JSON is written with orjson rather than through the pydantic models, for speed; the tests check that
every message decodes with ``tandem_contracts.envelope.decode`` and re-encodes to the same data.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx
import orjson

from tandem_bench import vocabulary as words
from tandem_checkins.domain.schedule import due_on
from tandem_contracts.checkins import CHECKINS_TOPIC
from tandem_contracts.directory import DIRECTORY_TOPIC
from tandem_contracts.envelope import Message, dataschema_for
from tandem_contracts.goals import GOALS_TOPIC
from tandem_contracts.reviews import REVIEWS_TOPIC

BENCH_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:bench")
# The check-ins service names a goal's schedule this way; the overdue signals carry that id.
_SCHEDULE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:checkins:schedule").bytes
_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:event-id").bytes  # the namespace of stable_event_id

GOALS_SOURCE = "/tandem/goals"
CHECKINS_SOURCE = "/tandem/checkins"
REVIEWS_SOURCE = "/tandem/reviews"
DIRECTORY_SOURCE = "/tandem/goals/directory"

MIN_SPAN, MAX_SPAN = 5, 12
DEVELOPMENT_HOURS_LIMIT = 20
ABSOLUTE_UNITS = {"EUR k", "EUR m", "count per month", "k per month"}
_DAY = 86400


# --- the organisation -------------------------------------------------------------------------------------

@dataclass(slots=True)
class Employee:
    """One person: where they sit in the hierarchy and the directory record the platform would send."""

    index: int
    employee_id: str
    display_name: str
    manager: int | None
    level: int
    division: words.Division | None
    department: str
    unit_index: int
    job_title: str
    reports: list[int] = field(default_factory=list)


@dataclass
class Org:
    """A tenant's employees, in breadth-first order (every manager comes before their reports)."""

    tenant_id: str
    seed: int
    year: int
    employees: list[Employee]

    @property
    def depth(self) -> int:
        """Levels in the hierarchy, the CEO's counted."""
        return max(e.level for e in self.employees) + 1

    def spans(self) -> list[int]:
        """The number of direct reports of every manager."""
        return [len(e.reports) for e in self.employees if e.reports]

    def team_sizes(self) -> list[int]:
        """Everyone's transitive reports, by employee index."""
        sizes = [0] * len(self.employees)
        for employee in reversed(self.employees):
            if employee.manager is not None:
                sizes[employee.manager] += sizes[employee.index] + 1
        return sizes

    def manager_with_at_least(self, reports: int) -> tuple[Employee, int]:
        """The manager with the smallest team that still has ``reports`` people in it (else the CEO)."""
        sizes = self.team_sizes()
        fitting = [(size, i) for i, size in enumerate(sizes) if size >= reports]
        size, index = min(fitting) if fitting else (sizes[0], 0)
        return self.employees[index], size

    def manager_of(self, employee: Employee) -> Employee | None:
        """The employee's manager (None for the CEO)."""
        return self.employees[employee.manager] if employee.manager is not None else None

    def active(self) -> list[Employee]:
        """Everyone still employed at the end of the year."""
        return [e for e in self.employees if departure_day(self, e) is None]

    def departments(self) -> Counter[str]:
        """Head count per department."""
        return Counter(e.department for e in self.employees)


def build_org(employees: int, *, seed: int = 7, tenant_id: str = "bench", year: int = 2025) -> Org:
    """A tenant of ``employees`` people: a CEO, division heads, departments, managers and their teams."""
    if employees < 1:
        raise ValueError("an organisation has at least one employee")
    rng = random.Random(f"{seed}:org")
    people = [Employee(0, "emp-000000", _name(rng), None, 0, None, "Executive", 0, "Chief Executive Officer")]
    frontier, remaining = [0], employees - 1
    while remaining > 0:
        spans = _spans_of_level(rng, frontier, remaining, top=frontier == [0])
        next_frontier = []
        for manager, span in zip(frontier, spans, strict=True):
            for position in range(span):
                index = len(people)
                people.append(_employee(rng, index, people[manager], position))
                people[manager].reports.append(index)
                next_frontier.append(index)
        remaining -= sum(spans)
        frontier = next_frontier
    for employee in people:
        if employee.reports and employee.level >= 2:
            employee.job_title = words.MANAGER_TITLES[min(employee.level, len(words.MANAGER_TITLES) - 1)]
    return Org(tenant_id, seed, year, people)


def _spans_of_level(rng: random.Random, frontier: list[int], remaining: int, top: bool) -> list[int]:
    """How many reports each person of one level gets; zero makes them an individual contributor."""
    high = 8 if top else MAX_SPAN  # an executive team is smaller than a team of individual contributors
    if remaining > high * len(frontier):
        spans = [rng.randint(MIN_SPAN, high) for _ in frontier]
        leftover = remaining - sum(spans)
        for i in range(len(spans)):  # leave enough for the next level's smallest team
            if 0 < leftover < MIN_SPAN and spans[i] > MIN_SPAN:
                take = min(spans[i] - MIN_SPAN, MIN_SPAN - leftover)
                spans[i] -= take
                leftover += take
        return spans
    # The last level: only as many managers as spans of 5–12 need, the rest stay individual contributors.
    low_count = -(-remaining // high)
    high_count = max(low_count, remaining // MIN_SPAN)
    count = min(len(frontier), max(low_count, min(high_count, round(remaining / 8.5))))
    chosen = sorted(rng.sample(range(len(frontier)), count))
    spans_of_chosen = [remaining // count + (1 if i < remaining % count else 0) for i in range(count)]
    for _ in range(count * 2):  # vary the even split, keeping every span within bounds
        a, b = rng.randrange(count), rng.randrange(count)
        if spans_of_chosen[a] > MIN_SPAN and spans_of_chosen[b] < high:
            spans_of_chosen[a] -= 1
            spans_of_chosen[b] += 1
    spans = [0] * len(frontier)
    for position, span in zip(chosen, spans_of_chosen, strict=True):
        spans[position] = span
    return spans


def _name(rng: random.Random) -> str:
    return f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"


def _employee(rng: random.Random, index: int, manager: Employee, position: int) -> Employee:
    level = manager.level + 1
    if level == 1:
        division = words.DIVISIONS[position % len(words.DIVISIONS)]
        return Employee(index, f"emp-{index:06d}", _name(rng), manager.index, level, division, division.name, 0,
                        f"VP {division.name}")
    division = manager.division
    assert division is not None
    if level == 2:
        unit = position % len(division.units)
        department = f"{division.name} {division.units[unit]}"
        title = f"Director, {division.units[unit]}"
    else:
        unit, department, title = manager.unit_index, manager.department, rng.choice(division.individual_titles)
    return Employee(index, f"emp-{index:06d}", _name(rng), manager.index, level, division, department, unit, title)


# --- the plan of one employee's year ----------------------------------------------------------------------

@dataclass(slots=True)
class Kpi:
    """A goal's KPI; values are written with the KPI's decimals."""

    name: str
    unit: str
    baseline: float
    target: float
    direction: str
    decimals: int

    def fmt(self, value: float) -> str:
        """``value`` as the contracts' decimal string."""
        return f"{value:.{self.decimals}f}"

    def as_data(self) -> dict[str, Any]:
        """The KPI as the ``kpi`` of a ``GoalSet``."""
        return {"name": self.name, "unit": self.unit, "baseline": self.fmt(self.baseline),
                "target": self.fmt(self.target), "direction": self.direction, "weight": None}


@dataclass(slots=True)
class Link:
    """A development goal's planned alignment to a performance goal."""

    link_id: str
    performance_goal_id: str
    owner_id: str
    rationale: str
    skill: str | None
    evidence: str | None
    future_role: str | None
    at: int
    unlinked_at: int | None = None


@dataclass(slots=True)
class PlannedGoal:
    """A goal as it will be set, and how its year goes: trajectory, revision, links and closing."""

    goal_id: str
    kind: str
    level: str
    title: str
    description: str
    cadence: str
    start_day: int
    due_day: int
    set_at: int
    set_by: str
    correlation_id: str
    parent_goal_id: str | None = None
    kpi: Kpi | None = None
    attainment: float = 1.0  # where the KPI ends, as a share of the way from baseline to target
    curve: float = 1.0
    skill: str | None = None
    activity_targets: dict[str, Any] | None = None
    behavioural_target: dict[str, Any] | None = None
    capacity: dict[str, Any] | None = None
    courses: tuple[str, ...] = ()
    certification: str | None = None
    links: list[Link] = field(default_factory=list)
    revised_at: int | None = None
    revised_kpi: Kpi | None = None
    revised_due_day: int | None = None
    revision_reason: str = ""
    abandoned_at: int | None = None
    # Filled while the year is played: what the review and the closing need.
    last_value: float | None = None
    hours_done: float = 0.0
    applications: list[tuple[str, str]] = field(default_factory=list)

    def target_kpi(self, at: int) -> Kpi:
        """The KPI in force at ``at``: the revised one after a revision."""
        assert self.kpi is not None
        return self.revised_kpi if self.revised_kpi is not None and self.revised_at is not None and at >= self.revised_at else self.kpi

    def open_until(self, calendar: _Calendar) -> int:
        """The last moment check-ins are held on this goal."""
        due = self.revised_due_day if self.revised_due_day is not None else self.due_day
        end = calendar.at(due, 18 * 3600)
        return min(end, self.abandoned_at) if self.abandoned_at is not None else end


@dataclass(frozen=True, slots=True)
class _TeamGoal:
    """What a report needs of a manager's goal to cascade from it or serve it."""

    goal_id: str
    owner_id: str
    kpi: Kpi
    title: str
    cascade_at: int
    correlation_id: str


class _Calendar:
    """Seconds since 1 December of the year before, and fast ISO strings for them."""

    def __init__(self, year: int) -> None:
        self.base = date(year - 1, 12, 1)
        self.year = year
        self.days = [(self.base + timedelta(days=d)).isoformat() for d in range(31 + 366 + 120)]
        self.jan1 = self.day(date(year, 1, 1))
        self.dec31 = self.day(date(year, 12, 31))
        self.month_starts = [self.day(date(year + m // 12, m % 12 + 1, 1)) for m in range(15)]

    def day(self, value: date) -> int:
        return (value - self.base).days

    def at(self, day: int, seconds: int) -> int:
        return day * _DAY + seconds

    def stamps(self, t: int) -> tuple[str, str]:
        """The data's ``occurred_at`` (pydantic writes UTC as Z) and the ``ce_time`` header (isoformat)."""
        d, s = divmod(t, _DAY)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        stamp = f"{self.days[d]}T{h:02d}:{m:02d}:{s:02d}"
        return stamp + "Z", stamp + "+00:00"

    def iso(self, day: int) -> str:
        return self.days[day]

    def periods(self, cadence: str, first_day: int, last_day: int) -> list[tuple[int, int]]:
        """The periods of a cadence from ``first_day``, as (first, last) day, that start by ``last_day``."""
        if cadence in ("weekly", "biweekly"):
            step = 7 if cadence == "weekly" else 14
            starts = list(range(first_day, last_day + 1, step))
            return [(s, s + step - 1) for s in starts]
        step = 1 if cadence == "monthly" else 3
        starts = [d for d in self.month_starts[::step] if first_day <= d <= last_day]
        return [(s, self.month_starts[self.month_starts.index(s) + step] - 1) for s in starts]


def _ids(org: Org) -> UUID:
    return uuid5(BENCH_NAMESPACE, f"{org.tenant_id}/{org.seed}")


def fast_uuid5(namespace: UUID | bytes, name: str) -> str:
    """``str(uuid5(namespace, name))`` in a third of the time: ids are most of the generator's work."""
    x = sha1((namespace.bytes if isinstance(namespace, UUID) else namespace) + name.encode()).hexdigest()
    # Version 5 in the 13th hex digit; the RFC 4122 variant in the top bits of the 17th.
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{'89ab'[int(x[16], 16) & 3]}{x[17:20]}-{x[20:32]}"


def _kpi_from(template: words.KpiTemplate, rng: random.Random, scale: float = 1.0) -> Kpi:
    baseline = rng.uniform(*template.baseline) * scale
    change = rng.uniform(*template.change)
    target = baseline * (1 + change) if template.direction == "increase" else baseline * (1 - change)
    if template.unit == "percent":
        target = min(target, 99.0)
    kpi = Kpi(template.name, template.unit, baseline, target, template.direction, template.decimals)
    return _distinct(kpi)


def _distinct(kpi: Kpi) -> Kpi:
    """Rounding must not make target equal baseline, nor put it on the wrong side."""
    step = 10.0 ** -kpi.decimals
    kpi.baseline, kpi.target = round(kpi.baseline, kpi.decimals), round(kpi.target, kpi.decimals)
    if kpi.direction == "increase" and kpi.target <= kpi.baseline:
        kpi.target = kpi.baseline + step
    if kpi.direction == "decrease" and kpi.target >= kpi.baseline:
        kpi.baseline = kpi.target + step
    return kpi


def _cascaded_kpi(parent: Kpi, rng: random.Random, share: float) -> Kpi:
    scale = share if parent.unit in ABSOLUTE_UNITS else rng.uniform(0.9, 1.1)
    baseline = parent.baseline * scale
    target = baseline + (parent.target - parent.baseline) * scale * rng.uniform(0.9, 1.15)
    if parent.unit == "percent":
        baseline, target = min(baseline, 97.0), min(target, 99.0)
    return _distinct(Kpi(parent.name, parent.unit, baseline, target, parent.direction, max(parent.decimals, 1 if scale < 1 else parent.decimals)))


def _attainment(rng: random.Random) -> float:
    """Where a KPI ends: most reach or nearly reach the target, some overshoot, a few miss badly."""
    roll = rng.random()
    if roll < 0.35:
        return rng.uniform(1.0, 1.25)
    if roll < 0.75:
        return rng.uniform(0.75, 1.0)
    if roll < 0.93:
        return rng.uniform(0.4, 0.75)
    return rng.uniform(-0.1, 0.4)


class _Planner:
    """Plans each employee's goals; remembers managers' goals for their reports' cascades and links."""

    def __init__(self, org: Org, calendar: _Calendar) -> None:
        self.org = org
        self.calendar = calendar
        self.namespace = _ids(org).bytes
        self.team_goals: dict[int, list[_TeamGoal]] = {}

    def uuid(self, name: str) -> str:
        return fast_uuid5(self.namespace, name)

    def plan(self, employee: Employee, rng: random.Random) -> list[PlannedGoal]:
        cal = self.calendar
        manager = self.org.manager_of(employee)
        parents = self.team_goals.get(manager.index, []) if manager else []
        set_by = manager.employee_id if manager else employee.employee_id
        goals: list[PlannedGoal] = []
        division = employee.division
        kpi_pool = words.EXECUTIVE_KPIS if division is None else division.kpis
        if employee.level == 0:
            level, count = "organisation", rng.randint(3, 4)
        elif employee.reports:
            level, count = "team", rng.randint(2, 3)
        else:
            level, count = "individual", rng.randint(2, 4)
        own_set_day = cal.jan1 + min(employee.level, 6) + rng.randint(0, 3)
        templates = rng.sample(kpi_pool, min(count, len(kpi_pool)))
        for n in range(count):
            goal_id = self.uuid(f"goal/{employee.employee_id}/{n}")
            cadence = "biweekly" if (level != "individual" and rng.random() < 0.6) or rng.random() < 0.45 else "weekly"
            cascade_from = parents[n % len(parents)] if parents and (n == 0 and rng.random() < 0.85 or n == 1 and rng.random() < 0.2) else None
            if cascade_from is not None:
                kpi = _cascaded_kpi(cascade_from.kpi, rng, 1 / max(1, len(manager.reports) if manager else 1))
                title = cascade_from.title if level != "individual" else f"My part: {cascade_from.title.lower()}"
                set_at, correlation = cascade_from.cascade_at, cascade_from.correlation_id
                parent_id = cascade_from.goal_id
            else:
                template = templates[n % len(templates)]
                kpi = _kpi_from(template, rng, 1.0 if level != "individual" or template.unit not in ABSOLUTE_UNITS else 0.1)
                title, parent_id = template.title, None
                set_at = cal.at(own_set_day, rng.randint(8 * 3600, 18 * 3600))
                correlation = self.uuid(f"command/{goal_id}/set")
            goal = PlannedGoal(
                goal_id=goal_id, kind="performance", level=level, title=title,
                description=f"{title}: from {kpi.fmt(kpi.baseline)} to {kpi.fmt(kpi.target)} {kpi.unit} by year end.",
                cadence=cadence, start_day=cal.jan1, due_day=cal.dec31, set_at=set_at,
                set_by=set_by if cascade_from is not None or level == "individual" else employee.employee_id,
                correlation_id=correlation, parent_goal_id=parent_id, kpi=kpi, attainment=_attainment(rng),
                curve=rng.uniform(0.7, 1.5),
            )
            if rng.random() < 0.12:
                new_target = kpi.baseline + (kpi.target - kpi.baseline) * (rng.uniform(0.6, 0.85) if rng.random() < 0.6 else rng.uniform(1.15, 1.3))
                if kpi.unit == "percent":
                    new_target = max(0.0, min(new_target, 99.5))
                revised = _distinct(Kpi(kpi.name, kpi.unit, kpi.baseline, new_target, kpi.direction, kpi.decimals))
                if revised.target != kpi.target and revised.baseline == kpi.baseline:
                    goal.revised_kpi = revised
                    goal.revised_at = cal.at(cal.jan1 + rng.randint(90, 200), rng.randint(8 * 3600, 18 * 3600))
                    goal.revision_reason = rng.choice(("Market shifted; target reset with the manager",
                                                       "Scope changed after the reorganisation",
                                                       "Ahead of plan; the target was raised"))
            if rng.random() < 0.03:
                goal.abandoned_at = cal.at(cal.jan1 + rng.randint(120, 300), rng.randint(8 * 3600, 18 * 3600))
            goals.append(goal)
        if level != "individual":
            # A manager cascades a team goal to the team a few days after setting it.
            cascade_from_day = max(g.set_at for g in goals) // _DAY + rng.randint(1, 3)
            self.team_goals[employee.index] = [
                _TeamGoal(g.goal_id, employee.employee_id, g.kpi, g.title,
                          cal.at(cascade_from_day, 9 * 3600 + n * 3600 + rng.randint(0, 3000)),
                          self.uuid(f"command/{g.goal_id}/cascade"))
                for n, g in enumerate(goals) if g.kpi is not None
            ]
        goals.extend(self._development(employee, rng, goals, parents, own_set_day))
        return goals

    def _development(
        self, employee: Employee, rng: random.Random, performance: list[PlannedGoal], parents: list[_TeamGoal], set_day: int
    ) -> list[PlannedGoal]:
        cal = self.calendar
        manager = self.org.manager_of(employee)
        division = employee.division or words.DIVISIONS[0]
        pool = words.LEADERSHIP_SKILLS if employee.reports and rng.random() < 0.5 else division.skills
        count = 2 if rng.random() < 0.45 else 1
        hours_left = DEVELOPMENT_HOURS_LIMIT
        goals = []
        for n, template in enumerate(rng.sample(pool, min(count, len(pool)))):
            goal_id = self.uuid(f"goal/{employee.employee_id}/d{n}")
            hours = min(hours_left, rng.randint(2, 8))
            hours_left -= hours
            targets: dict[str, Any] = {"training_hours": str(rng.randrange(8, 44, 4)), "certifications": [], "mentorship_sessions": None}
            if template.certification and rng.random() < 0.7:
                targets["certifications"] = [template.certification]
            if rng.random() < 0.5:
                targets["mentorship_sessions"] = rng.randint(3, 8)
            behaviour = None
            if template.competency and rng.random() < 0.7:
                behaviour = {"competency": template.competency, "target_rating": rng.choice(("3.5", "4", "4.5")), "rating_scale_max": "5"}
            mentor = manager.employee_id if manager and rng.random() < 0.4 else None
            budget = {"amount": str(rng.randrange(300, 2600, 100)), "currency": "EUR"} if rng.random() < 0.5 else None
            due = date(cal.year, 6, 30) if rng.random() < 0.4 else date(cal.year, 12, 31)
            set_at = cal.at(set_day + rng.randint(1, 10), rng.randint(8 * 3600, 18 * 3600))
            goal = PlannedGoal(
                goal_id=goal_id, kind="development", level="individual", title=template.title,
                description=f"Build {template.skill} through training, practice and feedback.",
                cadence="monthly" if rng.random() < 0.7 else "quarterly", start_day=cal.jan1, due_day=cal.day(due),
                set_at=set_at, set_by=manager.employee_id if manager else employee.employee_id,
                correlation_id=self.uuid(f"command/{goal_id}/set"), skill=template.skill,
                activity_targets=targets, behavioural_target=behaviour,
                capacity={"hours_per_month": str(hours), "budget": budget, "mentor_id": mentor},
                courses=template.courses, certification=targets["certifications"][0] if targets["certifications"] else None,
                attainment=rng.uniform(0.3, 1.2),
            )
            if due.month == 6 and rng.random() < 0.1:
                goal.revised_due_day = cal.day(date(cal.year, 9, 30))
                goal.revised_at = cal.at(cal.day(date(cal.year, 6, 1)) + rng.randint(0, 20), rng.randint(8 * 3600, 18 * 3600))
                goal.revision_reason = "More time needed: the course moved to the summer"
            self._link(goal, employee, rng, performance, parents)
            goals.append(goal)
        return goals

    def _link(self, goal: PlannedGoal, employee: Employee, rng: random.Random, performance: list[PlannedGoal], parents: list[_TeamGoal]) -> None:
        if rng.random() >= 0.88 or not performance:
            return  # some development goals are aligned to nothing: the dashboard flags them
        division = employee.division or words.DIVISIONS[0]
        own = [g for g in performance if g.abandoned_at is None]
        if not own:
            return

        def after(target_set_at: int) -> int:  # a link needs both goals set
            return max(goal.set_at, target_set_at) + rng.randint(3600, 10 * _DAY)

        if rng.random() < 0.7:
            target = rng.choice(own)
            goal.links.append(Link(self.uuid(f"link/{goal.goal_id}/0"), target.goal_id, employee.employee_id, "capability_gap",
                                   goal.skill, rng.choice(words.EVIDENCE), None, after(target.set_at)))
        else:
            served = rng.choice(parents) if parents and rng.random() < 0.4 else None
            mine = rng.choice(own)
            target_id, owner, at = (
                (served.goal_id, served.owner_id, after(served.cascade_at)) if served
                else (mine.goal_id, employee.employee_id, after(mine.set_at))
            )
            goal.links.append(Link(self.uuid(f"link/{goal.goal_id}/0"), target_id, owner, "future_role", None, None,
                                   rng.choice(division.future_roles), at))
        others = [g for g in own if g.goal_id != goal.links[0].performance_goal_id]
        if others and rng.random() < 0.08:
            target = rng.choice(others)
            goal.links.append(Link(self.uuid(f"link/{goal.goal_id}/1"), target.goal_id, employee.employee_id, "capability_gap",
                                   goal.skill, rng.choice(words.EVIDENCE), None, after(target.set_at) + 3600))
        if rng.random() < 0.04:
            goal.links[0].unlinked_at = goal.links[0].at + rng.randint(60, 200) * _DAY


# --- the events of one employee's year --------------------------------------------------------------------

@dataclass(slots=True)
class _Pending:
    t: int
    seq: int
    topic: str
    event_type: str
    source: str
    subject_kind: str
    aggregate_id: str
    data: dict[str, Any]
    header_actor: str
    correlation_id: str
    causation_id: str
    version: int | None  # None: the goal stream's next version, given when the events are ordered
    versioned: bool = True


class _Year:
    """Plays one employee's year and collects its events; ``messages`` orders and encodes them."""

    def __init__(self, generator: _Generator, employee: Employee, rng: random.Random) -> None:
        self.g = generator
        self.cal = generator.calendar
        self.employee = employee
        self.rng = rng
        self.manager = generator.org.manager_of(employee)
        self.pending: list[_Pending] = []
        self.base = {"tenant_id": generator.org.tenant_id, "employee_id": employee.employee_id}

    def add(self, t: int, topic: str, event_type: str, source: str, subject_kind: str, aggregate_id: str,
            data: dict[str, Any], actor: str, correlation: str, causation: str | None = None,
            version: int | None = None, versioned: bool = True) -> None:
        self.pending.append(_Pending(t, len(self.pending), topic, event_type, source, subject_kind, aggregate_id,
                                     {**self.base, **data}, actor, correlation, causation or correlation, version, versioned))

    def play(self, goals: list[PlannedGoal], departed_at: int | None) -> None:
        for goal in goals:
            if departed_at is not None:
                goal.abandoned_at = min(goal.abandoned_at or departed_at, departed_at)
            self.goal_events(goal)
        self.check_ins(goals)
        for goal in goals:
            self.close(goal)
        if departed_at is None:
            self.review(goals)  # in January, on the closed year

    # goals ----------------------------------------------------------------------------------------------

    def goal_events(self, goal: PlannedGoal) -> None:
        gid = goal.goal_id
        kpi = goal.kpi.as_data() if goal.kpi else None
        data = {
            "actor": goal.set_by, "goal_id": gid, "kind": goal.kind, "status": "active", "set_by": goal.set_by,
            "cycle": str(self.cal.year), "title": goal.title, "description": goal.description,
            "start_date": self.cal.iso(goal.start_day), "due_date": self.cal.iso(goal.due_day), "cadence": goal.cadence,
            "parent_goal_id": goal.parent_goal_id if goal.parent_goal_id else None, "level": goal.level,
            "kpi": kpi, "skill": goal.skill, "activity_targets": goal.activity_targets,
            "behavioural_target": goal.behavioural_target, "capacity": goal.capacity,
        }
        self.add(goal.set_at, GOALS_TOPIC, "tandem.goal.set.v1", GOALS_SOURCE, "goals", gid, data, goal.set_by,
                 goal.correlation_id)
        for link in goal.links:
            if goal.abandoned_at is not None and link.at >= goal.abandoned_at:
                continue  # a closed goal never changes again
            actor = self.employee.employee_id if self.rng.random() < 0.5 or not self.manager else self.manager.employee_id
            self.add(link.at, GOALS_TOPIC, "tandem.goal.linked.v1", GOALS_SOURCE, "goals", gid, {
                "actor": actor, "goal_id": gid, "link_id": link.link_id,
                "performance_goal_id": link.performance_goal_id, "performance_goal_owner_id": link.owner_id,
                "rationale": link.rationale, "skill": link.skill, "evidence": link.evidence, "future_role": link.future_role,
            }, actor, self.g.planner.uuid(f"command/{link.link_id}"))
            if link.unlinked_at is not None and (goal.abandoned_at is None or link.unlinked_at < goal.abandoned_at):
                self.add(link.unlinked_at, GOALS_TOPIC, "tandem.goal.unlinked.v1", GOALS_SOURCE, "goals", gid, {
                    "actor": actor, "goal_id": gid, "link_id": link.link_id,
                    "performance_goal_id": link.performance_goal_id, "reason": "The goal it served was reworked",
                }, actor, self.g.planner.uuid(f"command/{link.link_id}/unlink"))
        if goal.revised_at is not None and (goal.abandoned_at is None or goal.revised_at < goal.abandoned_at):
            if goal.revised_kpi is not None:
                changed, new, old = "kpi", goal.revised_kpi.as_data(), kpi
            else:
                changed, new, old = "due_date", self.cal.iso(goal.revised_due_day), self.cal.iso(goal.due_day)
            actor = self.manager.employee_id if self.manager else self.employee.employee_id
            self.add(goal.revised_at, GOALS_TOPIC, "tandem.goal.revised.v1", GOALS_SOURCE, "goals", gid, {
                "actor": actor, "goal_id": gid, "reason": goal.revision_reason, "changed_fields": [changed],
                "changes": _changes(**{changed: new}), "previous": _changes(**{changed: old}),
            }, actor, self.g.planner.uuid(f"command/{gid}/revise"))

    def close(self, goal: PlannedGoal) -> None:
        gid = goal.goal_id
        actor = self.manager.employee_id if self.manager else self.employee.employee_id
        if goal.abandoned_at is not None:
            at, outcome, final, note = goal.abandoned_at, "abandoned", None, "Priorities changed; the goal was dropped"
        else:
            if goal.kind == "performance":
                kpi = goal.target_kpi(goal.open_until(self.cal))
                reached = _reached(kpi, goal.last_value) if goal.last_value is not None else 0.0
                final = kpi.fmt(goal.last_value) if goal.last_value is not None else kpi.fmt(kpi.baseline)
            else:
                wanted = float(goal.activity_targets["training_hours"]) if goal.activity_targets else 1.0
                reached, final = goal.hours_done / wanted, None
            outcome = "achieved" if reached >= 1.0 else "partially_achieved" if reached >= 0.6 else "missed"
            due = goal.revised_due_day if goal.revised_due_day is not None else goal.due_day
            # Closed after the last check-in: a few days after the due date, or on New Year's Eve.
            at = self.cal.at(min(due + self.rng.randint(0, 5), self.cal.dec31), self.rng.randint(19 * 3600, 22 * 3600))
            note = ""
        self.add(at, GOALS_TOPIC, "tandem.goal.closed.v1", GOALS_SOURCE, "goals", gid, {
            "actor": actor, "goal_id": gid, "outcome": outcome, "final_value": final, "note": note,
        }, actor, self.g.planner.uuid(f"command/{gid}/close"))

    # check-ins ------------------------------------------------------------------------------------------

    def check_ins(self, goals: list[PlannedGoal]) -> None:
        rng, cal = self.rng, self.cal
        skip = 0.15 if rng.random() < 0.2 else 0.03  # a fifth of people miss check-ins often
        by_cadence: dict[str, list[PlannedGoal]] = {}
        for goal in goals:
            by_cadence.setdefault(goal.cadence, []).append(goal)
        schedules: dict[str, list[int]] = {}  # per goal: [check-ins counted, overdue signalled, last check-in day]
        actor = self.manager.employee_id if self.manager else self.employee.employee_id
        held_by = [self.employee.employee_id, self.manager.employee_id] if self.manager else [self.employee.employee_id]
        for cadence, group in by_cadence.items():
            last_open = max(g.open_until(cal) for g in group) // _DAY
            for number, (first, last) in enumerate(cal.periods(cadence, cal.jan1, min(last_open, cal.dec31))):
                held_day = first + rng.randint(0, min(4, last - first))
                held_at = cal.at(held_day, rng.randint(8 * 3600, 18 * 3600))
                due = [g for g in group if g.set_at < held_at <= g.open_until(cal)]
                if not due:
                    continue
                if rng.random() < skip:
                    self._overdue(due, cadence, first, last, schedules)
                    continue
                entries = self._check_in(f"{cadence}/{number}", due, held_at, held_day, actor, held_by, schedules)
                # A KPI in trouble gets a follow-up a few days later, while the period lasts.
                troubled = {e["goal_id"] for e in entries if e.get("status") in ("at_risk", "off_track")}
                follow_day = held_day + rng.randint(2, 4)
                if troubled and follow_day <= last and rng.random() < 0.5:
                    follow_at = cal.at(follow_day, rng.randint(8 * 3600, 18 * 3600))
                    again = [g for g in due if g.goal_id in troubled and follow_at <= g.open_until(cal)]
                    if again:
                        self._check_in(f"{cadence}/{number}/follow-up", again, follow_at, follow_day, actor, held_by, schedules)

    def _check_in(self, name: str, goals: list[PlannedGoal], at: int, day: int, actor: str, held_by: list[str],
                  schedules: dict[str, list[int]]) -> list[dict[str, Any]]:
        checkin_id = self.g.planner.uuid(f"checkin/{self.employee.employee_id}/{name}")
        entries = [self._entry(g, at, day, self.rng) for g in goals]
        self.add(at, CHECKINS_TOPIC, "tandem.checkin.recorded.v1", CHECKINS_SOURCE, "check-ins", checkin_id, {
            "version": 1, "actor": actor, "checkin_id": checkin_id, "held_on": self.cal.iso(day),
            "held_by": held_by, "entries": entries,
        }, actor, self.g.planner.uuid(f"command/{checkin_id}"), version=1)
        for goal in goals:
            # check-ins counted, overdue signalled, last check-in day, due dates published, the last one
            state = schedules.setdefault(goal.goal_id, [0, 0, -1, 0, None])
            state[0] += 1
            state[2] = day
            self._scheduled(goal, at, state)
        return entries

    def _scheduled(self, goal: PlannedGoal, at: int, state: list[Any]) -> None:
        """The schedule publishes the day the next check-in is due by when it moves, by the check-ins service's rule."""
        base = self.cal.base
        due = due_on(goal.cadence, base + timedelta(days=goal.start_day), [base + timedelta(days=state[2])])
        if due == state[4]:
            return
        state[3] += 1
        state[4] = due
        schedule_id = fast_uuid5(_SCHEDULE_NAMESPACE, f"{self.g.org.tenant_id}:{goal.goal_id}")
        version = 1 + state[0] + state[1] + state[3]
        self.add(at, CHECKINS_TOPIC, "tandem.checkin.scheduled.v1", CHECKINS_SOURCE, "check-in-schedules", schedule_id, {
            "version": version, "actor": "cadence-sweep", "schedule_id": schedule_id, "goal_id": goal.goal_id,
            "cadence": goal.cadence, "first_day": self.cal.iso(goal.start_day), "due_on": due.isoformat(),
            "last_check_in_on": self.cal.iso(state[2]),
        }, "system", schedule_id, version=version)

    def _overdue(self, goals: list[PlannedGoal], cadence: str, first: int, last: int, schedules: dict[str, list[int]]) -> None:
        cal = self.cal
        at = cal.at(last + 1, 300 + self.rng.randint(0, 600))
        for goal in goals:
            state = schedules.get(goal.goal_id)
            if state is None or at > goal.open_until(cal):
                continue  # a schedule starts with the first check-in; earlier periods are not judged
            state[1] += 1
            schedule_id = fast_uuid5(_SCHEDULE_NAMESPACE, f"{self.g.org.tenant_id}:{goal.goal_id}")
            # Started, each check-in, each due date published and each earlier signal were events of the schedule too.
            version = 1 + state[0] + state[1] + state[3]
            self.add(at, CHECKINS_TOPIC, "tandem.checkin.overdue.v1", CHECKINS_SOURCE, "check-in-schedules", schedule_id, {
                "version": version, "actor": "cadence-sweep", "schedule_id": schedule_id, "goal_id": goal.goal_id,
                "cadence": cadence, "period_start": cal.iso(first), "period_end": cal.iso(last),
                "last_check_in_on": cal.iso(state[2]) if state[2] >= 0 else None,
            }, "system", schedule_id, version=version)

    def _entry(self, goal: PlannedGoal, at: int, day: int, rng: random.Random) -> dict[str, Any]:
        progress = max(0.0, min(1.0, (day - goal.start_day) / 365))
        if goal.kind == "performance":
            kpi = goal.target_kpi(at)
            value = kpi.baseline + (kpi.target - kpi.baseline) * goal.attainment * progress ** goal.curve
            value += rng.gauss(0, 0.06) * abs(kpi.target - kpi.baseline)
            value = max(0.0, min(value, 100.0)) if kpi.unit == "percent" else max(0.0, value)
            value = round(value, kpi.decimals)
            goal.last_value = value
            reached = _reached(kpi, value)
            status = "on_track" if reached >= 0.9 * progress - 0.05 else "at_risk" if reached >= 0.65 * progress - 0.1 else "off_track"
            troubled = status != "on_track"
            return {
                "kind": "performance", "goal_id": goal.goal_id, "kpi_value": kpi.fmt(value), "unit": kpi.unit,
                "status": status, "roadblocks": rng.choice(words.ROADBLOCKS) if troubled else "",
                "resources_needed": rng.choice(words.RESOURCES) if troubled and rng.random() < 0.4 else "",
            }
        return self._development_entry(goal, at, day, progress, rng)

    def _development_entry(self, goal: PlannedGoal, at: int, day: int, progress: float, rng: random.Random) -> dict[str, Any]:
        cal = self.cal
        targets = goal.activity_targets or {}
        wanted = float(targets.get("training_hours") or 0)
        periods = 12 if goal.cadence == "monthly" else 4
        training = []
        if wanted and rng.random() < 0.8:
            hours = max(0.5, round(wanted / periods * goal.attainment * rng.uniform(0.5, 1.6) * 2) / 2)
            goal.hours_done += hours
            training.append({"hours": f"{hours:g}", "course": rng.choice(goal.courses)})
        certifications = []
        if goal.certification and goal.hours_done >= 0.7 * wanted and rng.random() < 0.5:
            certifications.append({"name": goal.certification, "issuer": "Certification body", "obtained_on": cal.iso(day)})
            goal.certification = None  # obtained once
        mentorship = []
        if targets.get("mentorship_sessions") and rng.random() < 0.6:
            mentor = (goal.capacity or {}).get("mentor_id") or (self.manager.employee_id if self.manager else "coach-external")
            mentorship.append({"mentor_id": mentor, "minutes": rng.choice((30, 45, 60))})
        application = None
        if goal.links and progress > 0.2 and rng.random() < 0.35:
            served = goal.links[0].performance_goal_id
            how = rng.choice(words.APPLICATIONS)
            goal.applications.append((served, how))
            application = {"performance_goal_id": served, "how": how}
        feedback = None
        if goal.behavioural_target and rng.random() < (0.5 if goal.cadence == "monthly" else 1.0):
            feedback = self._feedback(goal, progress, rng)
        return {
            "kind": "development", "goal_id": goal.goal_id, "training": training, "certifications": certifications,
            "mentorship": mentorship, "skill_application": application, "feedback": feedback,
            "notes": "" if rng.random() < 0.7 else "Good progress; keep the same rhythm next period",
        }

    def _feedback(self, goal: PlannedGoal, progress: float, rng: random.Random) -> dict[str, Any]:
        target = float(goal.behavioural_target["target_rating"])
        centre = 2.8 + (target * min(goal.attainment, 1.1) - 2.8) * progress

        def rating() -> float:
            return round(max(1.0, min(5.0, rng.gauss(centre, 0.45))) * 2) / 2

        sources = []
        for source in ("self", "manager"):
            if source == "manager" and not self.manager:
                continue
            value = rating()
            sources.append({"source": source, "count": 1, "average": f"{value:.2f}", "ratings": [f"{value:g}"]})
        anonymous = [("peer", rng.randint(2, 6))]
        if self.employee.reports:
            anonymous.append(("direct_report", min(len(self.employee.reports), rng.randint(2, 8))))
        for source, count in anonymous:
            values = [rating() for _ in range(count)]
            average = f"{sum(values) / count:.2f}" if count >= 3 else None  # fewer than three stay anonymous
            sources.append({"source": source, "count": count, "average": average, "ratings": []})
        return {"competency": goal.behavioural_target["competency"], "sources": sources}

    # the review -----------------------------------------------------------------------------------------

    def review(self, goals: list[PlannedGoal]) -> None:
        rng, cal = self.rng, self.cal
        reviewer = self.manager.employee_id if self.manager else "board-chair"
        review_id = self.g.planner.uuid(f"review/{self.employee.employee_id}/{cal.year}")
        at = cal.at(cal.day(date(cal.year + 1, 1, 5)) + rng.randint(0, 15), rng.randint(9 * 3600, 17 * 3600))
        performance, gaps = [], []
        for goal in goals:
            if goal.kind != "performance" or goal.abandoned_at is not None:
                continue
            kpi = goal.target_kpi(at)
            actual = goal.last_value if goal.last_value is not None else kpi.baseline
            reached = _reached(kpi, actual)
            performance.append({
                "goal_id": goal.goal_id, "title": goal.title, "kpi_name": kpi.name, "unit": kpi.unit,
                "direction": kpi.direction, "baseline": kpi.fmt(kpi.baseline), "target": kpi.fmt(kpi.target),
                "actual": kpi.fmt(actual), "attainment_percent": f"{reached * 100:.1f}",
                "rating": str(5 if reached >= 1.1 else 4 if reached >= 1.0 else 3 if reached >= 0.8 else 2 if reached >= 0.6 else 1),
                "factors": rng.choice(words.FACTORS), "how": rng.choice(words.HOWS),
            })
            if reached < 0.8:
                skills = (self.employee.division or words.DIVISIONS[0]).skills
                gaps.append({"skill": rng.choice(skills).skill, "performance_goal_id": goal.goal_id,
                             "note": "Had this skill been there, the goal would have been easier to reach"})
        development, payoffs = [], []
        for goal in goals:
            if goal.kind != "development" or goal.abandoned_at is not None:
                continue
            development.append({
                "goal_id": goal.goal_id, "title": goal.title, "applied": bool(goal.applications),
                "evidence": [how for _, how in goal.applications[:2]],
                "aspirations": rng.choice(words.ASPIRATIONS) if rng.random() < 0.5 else "",
            })
            if goal.applications:
                payoffs.append({"development_goal_id": goal.goal_id, "performance_goal_id": goal.applications[0][0],
                                "note": "The skill showed up in the result"})
        plan = [{
            "title": f"Close the {gap['skill']} gap", "skill": gap["skill"], "rationale": "capability_gap",
            "performance_goal_id": gap["performance_goal_id"], "evidence": "Named in the review as the reason for the shortfall",
            "future_role": None, "start_date": f"{cal.year + 1}-01-01", "due_date": f"{cal.year + 1}-06-30",
            "activity_targets": {"training_hours": "16", "certifications": [], "mentorship_sessions": None},
            "behavioural_target": None, "hours_per_month": "4", "budget": None,
            "mentor_id": self.manager.employee_id if self.manager else None,
        } for gap in gaps[:2]]
        self.add(at, REVIEWS_TOPIC, "tandem.review.completed.v1", REVIEWS_SOURCE, "reviews", review_id, {
            "version": 5, "actor": reviewer, "review_id": review_id, "cycle": str(cal.year), "next_cycle": str(cal.year + 1),
            "reviewer_id": reviewer, "rating_scale_max": "5", "performance": performance, "capability_gaps": gaps,
            "payoffs": payoffs, "development": development, "plan": plan, "corrects_review_id": None,
        }, reviewer, self.g.planner.uuid(f"command/{review_id}"), version=5)  # started, three steps, completed

    # ordering and encoding ------------------------------------------------------------------------------

    def messages(self) -> list[Message]:
        self.pending.sort(key=lambda p: (p.t, p.seq))
        versions: dict[str, int] = {}
        return [self.g.encode(p, versions) for p in self.pending]


def _changes(**changed: Any) -> dict[str, Any]:
    fields = ("title", "description", "start_date", "due_date", "cadence", "parent_goal_id", "level", "status", "kpi",
              "skill", "activity_targets", "behavioural_target", "capacity")
    return {name: changed.get(name) for name in fields}


def _reached(kpi: Kpi, value: float) -> float:
    """Progress from baseline to target, direction-aware: 1.0 is the target met."""
    span = kpi.target - kpi.baseline
    return (value - kpi.baseline) / span if span else 0.0


class _Generator:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.calendar = _Calendar(org.year)
        self.planner = _Planner(org, self.calendar)
        self.tenant = org.tenant_id.encode()
        self._types: dict[str, tuple[bytes, bytes, bytes]] = {}

    def encode(self, p: _Pending, versions: dict[str, int]) -> Message:
        data = p.data
        if p.versioned:
            if p.version is None:  # a goal stream: every event of the aggregate is published, so 1..n
                version = versions.get(p.aggregate_id, 0) + 1
                versions[p.aggregate_id] = version
                data["version"] = version
            else:
                version = p.version
            event_id = fast_uuid5(_EVENT_ID_NAMESPACE, f"{p.aggregate_id}/{version}")  # = stable_event_id
        else:
            version = None
            event_id = self.planner.uuid(f"event/{p.aggregate_id}/{p.seq}/{p.t}")
        occurred, header_time = self.calendar.stamps(p.t)
        data["occurred_at"] = occurred
        key = f"{self.org.tenant_id}:{data['employee_id']}".encode()
        type_b, source_b, schema_b = self._type(p.event_type, p.source)
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", event_id.encode()),
            ("ce_source", source_b),
            ("ce_type", type_b),
            ("ce_subject", f"{p.subject_kind}/{p.aggregate_id}".encode()),
            ("ce_time", header_time.encode()),
            ("ce_dataschema", schema_b),
            ("content-type", b"application/json"),
            ("ce_tenantid", self.tenant),
            ("ce_partitionkey", key),
            ("ce_actor", p.header_actor.encode()),
            ("ce_correlationid", p.correlation_id.encode()),
            ("ce_causationid", p.causation_id.encode()),
        ]
        if version is not None:
            headers.append(("ce_sequence", str(version).encode()))
        return Message(topic=p.topic, key=key, value=orjson.dumps(data), headers=headers)

    def _type(self, event_type: str, source: str) -> tuple[bytes, bytes, bytes]:
        cached = self._types.get(event_type)
        if cached is None:
            cached = self._types[event_type] = (event_type.encode(), source.encode(), dataschema_for(event_type).encode())
        return cached

    def directory(self, employee: Employee, at: int, job_title: str | None = None) -> _Pending:
        manager = self.org.manager_of(employee)
        first, _, last = employee.display_name.partition(" ")
        division = employee.division.name if employee.division else "Executive"
        data = {
            "tenant_id": self.org.tenant_id, "employee_id": employee.employee_id, "display_name": employee.display_name,
            "email": f"{first}.{last}.{employee.index}@example.com".lower(), "employee_number": str(100000 + employee.index),
            "manager_id": manager.employee_id if manager else None, "department": employee.department,
            "organization": "Synthetic Corp", "division": division,
            "cost_center": f"CC-{division[:3].upper()}-{employee.unit_index:02d}", "job_title": job_title or employee.job_title,
        }
        correlation = self.planner.uuid(f"command/directory/{employee.employee_id}/{at}")
        return _Pending(at, employee.index, DIRECTORY_TOPIC, "tandem.employee.upserted.v1", DIRECTORY_SOURCE, "employees",
                        employee.employee_id, data, "directory", correlation, correlation, None, versioned=False)


def generate_events(org: Org, stats: Counter[str] | None = None) -> Iterator[Message]:
    """The organisation's year as Kafka messages: the directory first, then each employee's year in time order.

    Per aggregate the versions rise in order, and a goal's ``GoalSet`` comes before its other events;
    employees follow one another (managers before their reports). ``stats`` counts the event types.
    """
    generator = _Generator(org)
    cal = generator.calendar
    hired = cal.at(0, 9 * 3600)
    for employee in org.employees:
        message = generator.encode(generator.directory(employee, hired), {})
        if stats is not None:
            stats["tandem.employee.upserted.v1"] += 1
        yield message
    for employee in org.employees:
        rng = random.Random(f"{org.seed}:{employee.employee_id}")
        goals = generator.planner.plan(employee, rng)
        year = _Year(generator, employee, rng)
        departure = departure_day(org, employee)
        departed_at = None
        if departure is not None:
            departed_at = cal.at(cal.jan1 + departure, 17 * 3600)
            data = {"tenant_id": org.tenant_id, "employee_id": employee.employee_id,
                    "departed_on": cal.iso(departed_at // _DAY), "reason": "resigned"}
            correlation = str(generator.planner.uuid(f"command/departed/{employee.employee_id}"))
            year.pending.append(_Pending(departed_at, -1, DIRECTORY_TOPIC, "tandem.employee.departed.v1", DIRECTORY_SOURCE,
                                         "employees", employee.employee_id, data, "directory", correlation, correlation,
                                         None, versioned=False))
        elif rng.random() < 0.03:  # a promotion: the directory sends the record again
            promoted = generator.directory(employee, cal.at(cal.jan1 + rng.randint(60, 330), 10 * 3600),
                                           job_title=f"Senior {employee.job_title}")
            year.pending.append(promoted)
        year.play(goals, departed_at)
        for message in year.messages():
            if stats is not None:
                stats[_type_of(message)] += 1
            yield message


def departure_day(org: Org, employee: Employee) -> int | None:
    """The day of the year an individual contributor leaves (a few in a thousand do), or None."""
    if employee.reports or employee.level == 0:
        return None
    rng = random.Random(f"{org.seed}:{employee.employee_id}:departure")
    return rng.randint(90, 300) if rng.random() < 0.004 else None


def _type_of(message: Message) -> str:
    return message.headers[3][1].decode()


# --- the HTTP driver --------------------------------------------------------------------------------------

def plan_goals(org: Org) -> dict[str, list[PlannedGoal]]:
    """Every employee's goals for the year (with their links), by employee id, the same for the same seed."""
    planner = _Planner(org, _Calendar(org.year))
    return {e.employee_id: planner.plan(e, random.Random(f"{org.seed}:{e.employee_id}")) for e in org.employees}


@dataclass
class DriveReport:
    """What ``drive_http`` loaded (a replayed request counts too: the loader is idempotent)."""

    employees: int = 0
    goals: int = 0
    links: int = 0
    check_ins: int = 0
    refused: list[str] = field(default_factory=list)


def drive_http(
    goals_url: str,
    checkins_url: str,
    *,
    employees: int = 30,
    seed: int = 7,
    tenant_id: str = "demo",
    reports_to: str | None = None,
    weeks: int = 6,
    prefix: str = "syn",
    timeout: float = 60.0,
) -> DriveReport:
    """Load a small synthetic organisation through the services' HTTP APIs; safe to run again.

    The directory goes through the goals service's pass-through, then goals (cascaded from the managers'
    team goals), links, and ``weeks`` weeks of check-ins up to today. Every command carries an
    ``Idempotency-Key`` derived from the seed, so a second run replays instead of adding (the directory
    pass-through keeps no state: it publishes the same records again). ``reports_to`` hangs the
    synthetic CEO under an existing manager; ``prefix`` starts every synthetic employee id.
    """
    today = date.today()
    org = build_org(employees, seed=seed, tenant_id=tenant_id, year=today.year)
    ids = {e.employee_id: f"{prefix}-{e.employee_id[4:]}" for e in org.employees}
    report = DriveReport()
    headers = {"X-Tenant-ID": tenant_id}
    key_prefix = f"synthetic-{seed}-{prefix}"
    service_ids: dict[str, str] = {}

    def call(client: httpx.Client, method: str, path: str, key: str, body: dict[str, Any], actor: str) -> dict[str, Any] | None:
        response = client.request(method, path, json=body, headers={"Idempotency-Key": f"{key_prefix}-{key}", "X-Actor-ID": actor})
        if response.status_code >= 300:
            report.refused.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    with httpx.Client(base_url=goals_url, headers=headers, timeout=30) as goals_api:
        for employee in org.employees:
            manager = org.manager_of(employee)
            body = {"display_name": employee.display_name, "department": employee.department, "job_title": employee.job_title,
                    "organization": "Synthetic Corp", "manager_id": ids[manager.employee_id] if manager else reports_to}
            if call(goals_api, "PUT", f"/v1/directory/employees/{ids[employee.employee_id]}", f"hire-{employee.employee_id}", body, "directory") is not None:
                report.employees += 1
        planned = plan_goals(org)
        for employee in org.employees:
            goals = planned[employee.employee_id]
            owner = ids[employee.employee_id]
            for goal in goals:
                body = goal_body(goal, owner, org.year, service_ids)
                actor = ids.get(goal.set_by, owner)
                answer = call(goals_api, "POST", "/v1/goals", f"goal-{goal.goal_id}", body, actor)
                if answer is not None:
                    service_ids[goal.goal_id] = answer["goal_id"]
                    report.goals += 1
            for goal in goals:
                for link in goal.links:
                    if goal.goal_id not in service_ids or link.performance_goal_id not in service_ids:
                        continue
                    body = {"performance_goal_id": service_ids[link.performance_goal_id], "rationale": link.rationale}
                    body |= {"skill": link.skill, "evidence": link.evidence} if link.rationale == "capability_gap" else {"future_role": link.future_role}
                    if call(goals_api, "POST", f"/v1/goals/{service_ids[goal.goal_id]}/links", f"link-{link.link_id}", body, owner) is not None:
                        report.links += 1
    with httpx.Client(base_url=checkins_url, headers=headers, timeout=30) as checkins_api:
        known = [g for goals in planned.values() for g in goals if g.goal_id in service_ids]
        deadline = time.monotonic() + timeout
        while known and checkins_api.get(f"/v1/goals/{service_ids[known[-1].goal_id]}/check-in-schedule").status_code != 200:
            if time.monotonic() > deadline:
                report.refused.append("the check-ins service never saw the goals on Kafka")
                return report
            time.sleep(0.2)
        for employee in org.employees:
            owner = ids[employee.employee_id]
            manager = org.manager_of(employee)
            goals = [g for g in planned[employee.employee_id] if g.goal_id in service_ids]
            rng = random.Random(f"{org.seed}:{employee.employee_id}:check-ins")
            for weeks_ago in range(weeks - 1, -1, -1):
                held_on = today - timedelta(weeks=weeks_ago)
                entries = check_in_entries(goals, service_ids, held_on, weeks_ago, rng)
                if not entries:
                    continue
                body = {"employee_id": owner, "held_on": held_on.isoformat(),
                        "held_by": [owner, ids[manager.employee_id]] if manager else [owner], "entries": entries}
                actor = ids[manager.employee_id] if manager else owner
                if call(checkins_api, "POST", "/v1/check-ins", f"checkin-{employee.employee_id}-{held_on}", body, actor) is not None:
                    report.check_ins += 1
    return report


def goal_body(goal: PlannedGoal, owner: str, year: int, service_ids: dict[str, str]) -> dict[str, Any]:
    """The ``POST /v1/goals`` body of a planned goal for ``owner``; its parent by the id the service gave it."""
    body: dict[str, Any] = {
        "employee_id": owner, "kind": goal.kind, "cycle": str(year), "title": goal.title, "description": goal.description,
        "start_date": f"{year}-01-01", "due_date": f"{year}-06-30" if goal.due_day < goal.start_day + 300 else f"{year}-12-31",
        "cadence": goal.cadence, "level": goal.level,
    }
    if goal.parent_goal_id in service_ids:
        body["parent_goal_id"] = service_ids[goal.parent_goal_id]
    if goal.kpi is not None:
        body["kpi"] = {k: v for k, v in goal.kpi.as_data().items() if v is not None}
    else:
        targets = dict(goal.activity_targets or {})
        body["skill"] = goal.skill
        body["activity_targets"] = {k: v for k, v in targets.items() if v not in (None, [])}
        if goal.behavioural_target:
            body["behavioural_target"] = goal.behavioural_target
        capacity = goal.capacity or {}
        body["capacity"] = {k: v for k, v in capacity.items() if v is not None}
    return body


def check_in_entries(goals: list[PlannedGoal], service_ids: dict[str, str], held_on: date, weeks_ago: int, rng: random.Random) -> list[dict[str, Any]]:
    """The entries of one weekly check-in over ``goals`` (KPI values on their trajectory, training every fourth week)."""
    progress = max(0.0, min(1.0, (held_on.timetuple().tm_yday - 1) / 365))
    entries: list[dict[str, Any]] = []
    for goal in goals:
        gid = service_ids[goal.goal_id]
        if goal.kpi is not None:
            if goal.cadence == "biweekly" and weeks_ago % 2:
                continue
            kpi = goal.kpi
            value = kpi.baseline + (kpi.target - kpi.baseline) * goal.attainment * progress ** goal.curve
            value = round(max(0.0, min(value, 100.0) if kpi.unit == "percent" else value), kpi.decimals)
            entries.append({"kind": "performance", "goal_id": gid, "kpi_value": kpi.fmt(value), "unit": kpi.unit,
                            "status": "on_track" if goal.attainment >= 0.9 else "at_risk"})
        elif weeks_ago % 4 == 0:
            entry: dict[str, Any] = {"kind": "development", "goal_id": gid,
                                     "training": [{"hours": "2", "course": rng.choice(goal.courses)}]}
            if goal.links and goal.links[0].performance_goal_id in service_ids and rng.random() < 0.5:
                entry["skill_application"] = {"performance_goal_id": service_ids[goal.links[0].performance_goal_id],
                                              "how": rng.choice(words.APPLICATIONS)}
            entries.append(entry)
    return entries
