"""Properties no sequence of goal commands may break, checked with hypothesis.

Each property drives a ``GoalsApplication`` (in memory, unless it says otherwise) with a generated
sequence of commands, refusals included, and checks after every step that the invariant still holds.
A small model of what the commands should do says which of them must succeed, so a service that
refused too much fails as surely as one that allowed too much.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tandem_goals.application import (
    CascadeGoal,
    CloseGoal,
    GoalsApplication,
    GoalTemplate,
    LinkGoals,
    ReviseGoal,
    SetGoal,
    UnlinkGoals,
)
from tandem_goals.domain import (
    ALLOWED_CADENCES,
    ActivityTargets,
    BehaviouralTarget,
    Budget,
    Cadence,
    Capacity,
    Goal,
    GoalKind,
    GoalLevel,
    GoalOutcome,
    GoalRuleBroken,
    GoalStatus,
    Kpi,
    KpiDirection,
    LinkRationale,
    ParentWouldCycle,
)
from tandem_runtime.clock import FixedClock
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext
from tests.examples import employee

TENANT = "acme"
PEOPLE = ("e-1", "e-2", "m-1")
CONTEXT = CommandContext.issued_by("m-1")
LIMIT = Decimal(20)
CONVERSIONS = Kpi("new client conversions", "percent", Decimal(10), Decimal(15), KpiDirection.INCREASE)


# --- building blocks ----------------------------------------------------------------------------------


def directory() -> Directory:
    replica = Directory(SQLiteDatabase(":memory:"))
    replica.record(*(employee(e, tenant_id=TENANT) for e in PEOPLE))
    return replica


def goals_app(url: str = "memory:", clock: FixedClock | None = None, replica: Directory | None = None) -> GoalsApplication:
    return GoalsApplication(url, replica or directory(), clock=clock)


def performance(level: GoalLevel = GoalLevel.INDIVIDUAL) -> GoalTemplate:
    return GoalTemplate(
        kind=GoalKind.PERFORMANCE,
        cycle="2026",
        title="Increase new client conversions by 15%",
        description="",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
        level=level,
        kpi=CONVERSIONS,
    )


def development(capacity: Capacity | None = None, status: GoalStatus = GoalStatus.ACTIVE) -> GoalTemplate:
    return GoalTemplate(
        kind=GoalKind.DEVELOPMENT,
        cycle="2026",
        title="Complete Advanced Negotiation Skills training",
        description="",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 6, 30),
        skill="negotiation",
        activity_targets=ActivityTargets(training_hours=Decimal(20)),
        capacity=capacity,
        status=status,
    )


def set_goal(app: GoalsApplication, owner: str, template: GoalTemplate, parent: UUID | None = None) -> UUID:
    command = SetGoal(TENANT, owner, "m-1", template, parent_goal_id=parent)
    app.set_goal(command, CONTEXT)
    return command.goal_id


def reparent(app: GoalsApplication, goal_id: UUID, parent: UUID | None) -> None:
    app.revise_goal(ReviseGoal(TENANT, goal_id, {"parent_goal_id": parent}, "the cascade moved", "m-1"), CONTEXT)


def abandon(app: GoalsApplication, goal_id: UUID) -> None:
    app.close_goal(CloseGoal(TENANT, goal_id, GoalOutcome.ABANDONED, "m-1"), CONTEXT)


def accepted(command: Any) -> bool:
    """Run a command: True if it was carried out, False if the goal domain refused it."""
    try:
        command()
    except GoalRuleBroken:
        return False
    return True


def exact(value: Any) -> Any:
    """``value`` as nested tuples naming every type, so ``"active"`` differs from ``GoalStatus.ACTIVE``,
    a list from a tuple, and ``Decimal("1.0")`` from ``Decimal("1")``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple((f.name, exact(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return ("dict", tuple((exact(k), exact(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(exact(v) for v in value))
    if isinstance(value, Enum):
        return (type(value).__name__, value.value)
    if isinstance(value, Decimal | datetime | date):
        return (type(value).__name__, str(value))
    return (type(value).__name__, value)


GOAL_STATE = (
    "id",
    "version",
    "tenant_id",
    "owner_id",
    "set_by",
    "kind",
    "cycle",
    "title",
    "description",
    "start_date",
    "due_date",
    "cadence",
    "parent_goal_id",
    "level",
    "status",
    "kpi",
    "skill",
    "activity_targets",
    "behavioural_target",
    "capacity",
    "set_at",
    "links",
    "target_history",
    "revisions",
    "outcome",
    "final_value",
    "closed_at",
)


def state_of(goal: Goal, *extra: str) -> dict[str, Any]:
    """Everything a reader of the goal can see, typed exactly."""
    return {name: exact(getattr(goal, name)) for name in (*GOAL_STATE, *extra)}


def replayed(app: GoalsApplication, goal_id: UUID) -> Goal:
    """The goal folded from its stored events, one by one."""
    goal = None
    for domain_event in app.events.get(goal_id):
        goal = domain_event.mutate(goal)
    assert isinstance(goal, Goal)
    return goal


# --- strategies ---------------------------------------------------------------------------------------

texts = st.text(max_size=12)
dates = st.dates(date(2025, 1, 1), date(2027, 12, 31))
decimals = st.one_of(
    st.decimals(min_value=-1000, max_value=1000, places=0),
    st.decimals(min_value=-1000, max_value=1000, places=2),
    st.decimals(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
)
positive = st.decimals(min_value=Decimal("0.01"), max_value=500, places=2)
hours = st.one_of(st.decimals(min_value=0, max_value=25, places=0), st.decimals(min_value=0, max_value=25, places=1))
rationales = st.sampled_from(LinkRationale)
maybe_words = st.sampled_from([None, "", "missed two renewals in Q4"])


@st.composite
def valid_kpis(draw: st.DrawFn) -> Kpi:
    baseline, delta, direction = draw(decimals), draw(positive), draw(st.sampled_from(KpiDirection))
    target = baseline + delta if direction is KpiDirection.INCREASE else baseline - delta
    return Kpi(draw(texts), draw(texts), baseline, target, direction, draw(st.none() | positive))


any_kpis = st.builds(Kpi, texts, texts, decimals, decimals, st.sampled_from(KpiDirection), st.none() | decimals)
activity_targets = st.builds(
    ActivityTargets,
    training_hours=st.none() | positive,
    certifications=st.lists(texts, max_size=2).map(tuple),
    mentorship_sessions=st.none() | st.integers(0, 40),
)
some_activity_targets = st.one_of(
    st.builds(ActivityTargets, positive, st.lists(texts, max_size=2).map(tuple), st.none() | st.integers(0, 40)),
    st.builds(ActivityTargets, st.none(), st.lists(texts, min_size=1, max_size=2).map(tuple), st.none() | st.integers(0, 40)),
    st.builds(ActivityTargets, st.none(), st.just(()), st.integers(0, 40)),
)
behavioural_targets = st.one_of(
    st.builds(BehaviouralTarget, texts, st.decimals(min_value=1, max_value=5, places=1)),
    st.builds(BehaviouralTarget, texts, decimals, decimals),
)
capacities = st.builds(
    Capacity,
    hours_per_month=hours,
    budget=st.none() | st.builds(Budget, positive, st.sampled_from(["EUR", "USD"])),
    mentor_id=st.sampled_from([None, "m-1"]),
)
revision_changes = st.fixed_dictionaries(
    {},
    optional={
        "title": texts,
        "description": texts,
        "start_date": dates,
        "due_date": dates,
        "cadence": st.sampled_from(Cadence),
        "level": st.sampled_from(GoalLevel),
        "status": st.sampled_from(GoalStatus),
        "kpi": st.none() | valid_kpis() | any_kpis,
        "skill": st.none() | texts,
        "activity_targets": st.none() | activity_targets,
        "behavioural_target": st.none() | behavioural_targets,
        "capacity": st.none() | capacities,
    },
)


def plausible_changes(kind: GoalKind) -> st.SearchStrategy[dict[str, Any]]:
    """One to three changes a manager might make to a goal of ``kind``, mostly ones its rules allow."""
    values: dict[str, st.SearchStrategy[Any]] = {
        "title": st.text(min_size=1, max_size=12),
        "description": texts,
        "start_date": dates,
        "due_date": dates,
        "cadence": st.sampled_from(ALLOWED_CADENCES[kind]),
        "level": st.sampled_from(GoalLevel),
        "status": st.just(GoalStatus.ACTIVE),
    }
    if kind is GoalKind.PERFORMANCE:
        values["kpi"] = valid_kpis()
    else:
        values.update(
            skill=st.text(min_size=1, max_size=12),
            activity_targets=some_activity_targets,
            behavioural_target=st.builds(BehaviouralTarget, texts, st.decimals(min_value=1, max_value=5, places=1)),
            capacity=capacities,
        )
    fields = st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=3, unique=True)
    return fields.flatmap(lambda names: st.fixed_dictionaries({name: values[name] for name in names}))


def any_changes(kind: GoalKind) -> st.SearchStrategy[dict[str, Any]]:
    """Plausible changes, mostly; now and then anything at all."""
    return st.one_of(plausible_changes(kind), plausible_changes(kind), revision_changes)


@st.composite
def goal_templates(draw: st.DrawFn) -> GoalTemplate:
    """A SMART goal of either kind, as a manager might set it."""
    kind = draw(st.sampled_from(GoalKind))
    start = draw(dates)
    common: dict[str, Any] = dict(
        kind=kind,
        cycle="2026",
        title=draw(texts),
        description=draw(texts),
        start_date=start,
        due_date=start + timedelta(days=draw(st.integers(0, 400))),
        cadence=draw(st.none() | st.sampled_from(ALLOWED_CADENCES[kind])),
        level=draw(st.sampled_from(GoalLevel)),
        status=draw(st.sampled_from([GoalStatus.DRAFT, GoalStatus.ACTIVE])),
    )
    if kind is GoalKind.PERFORMANCE:
        return GoalTemplate(**common, kpi=draw(valid_kpis()))
    activities = draw(st.none() | some_activity_targets)
    behaviour = draw(st.builds(BehaviouralTarget, texts, st.decimals(min_value=1, max_value=5, places=1)))
    return GoalTemplate(
        **common,
        skill=draw(st.text(min_size=1, max_size=12)),
        activity_targets=activities,
        behavioural_target=behaviour if activities is None else draw(st.none() | st.just(behaviour)),
        capacity=draw(st.none() | st.builds(Capacity, st.decimals(min_value=0, max_value=10, places=1))),
    )


# --- 1. the cascade never becomes a cycle --------------------------------------------------------------


@dataclass(frozen=True)
class Reparent:
    goal: int
    parent: int | None


@dataclass(frozen=True)
class Close:
    goal: int


cascade_steps = st.lists(
    st.one_of(
        st.builds(Reparent, st.integers(0, 5), st.none() | st.integers(0, 5)),
        st.builds(Reparent, st.integers(0, 5), st.integers(0, 5)),
        st.builds(Close, st.integers(0, 5)),
    ),
    max_size=25,
)


def chain_above(parent_of: dict[int, int | None], start: int | None) -> list[int]:
    chain: list[int] = []
    while start is not None:
        chain.append(start)
        start = parent_of[start]
    return chain


@settings(max_examples=120, deadline=None)
@given(initial_parents=st.lists(st.none() | st.integers(0, 5), min_size=2, max_size=6), steps=cascade_steps)
def test_no_sequence_of_parent_changes_ever_makes_the_cascade_a_cycle(initial_parents, steps):
    app = goals_app()
    ids: list[UUID] = []
    parent_of: dict[int, int | None] = {}
    for index, wanted in enumerate(initial_parents):
        parent = wanted if wanted is not None and wanted < index else None
        ids.append(set_goal(app, "e-1", performance(), ids[parent] if parent is not None else None))
        parent_of[index] = parent
    index_of = {goal_id: index for index, goal_id in enumerate(ids)}
    closed: set[int] = set()

    for step in steps:
        goal = step.goal % len(ids)
        if isinstance(step, Close):
            expected = goal not in closed
            done = accepted(lambda: abandon(app, ids[goal]))
            if done:
                closed.add(goal)
        else:
            new = step.parent % len(ids) if step.parent is not None else None
            would_loop = new is not None and goal in chain_above(parent_of, new)
            expected = (
                goal not in closed and new != parent_of[goal] and (new is None or new not in closed) and not would_loop
            )
            done = accepted(lambda: reparent(app, ids[goal], ids[new] if new is not None else None))
            if done:
                parent_of[goal] = new
        assert done == expected, f"{step} was {'carried out' if done else 'refused'}"

        stored = {index: app.get_goal(TENANT, goal_id).parent_goal_id for index, goal_id in enumerate(ids)}
        for start in stored:
            seen: list[UUID] = []
            current: UUID | None = ids[start]
            while current is not None:
                assert current not in seen, f"the cascade loops: {[index_of[g] for g in (*seen, current)]}"
                seen.append(current)
                current = stored[index_of[current]]
        assert {i: index_of[p] if p is not None else None for i, p in stored.items()} == parent_of


@pytest.mark.parametrize(
    "depth",
    [
        1,
        2,
        63,
        64,
        100,
    ],
)
def test_the_top_of_a_cascade_of_any_depth_cannot_cascade_from_its_bottom(depth):
    app = goals_app()
    chain = [set_goal(app, "e-1", performance(GoalLevel.ORGANISATION))]
    for _ in range(depth):
        chain.append(set_goal(app, "e-1", performance(), chain[-1]))
    with pytest.raises(ParentWouldCycle):
        reparent(app, chain[0], chain[-1])


# --- 2. a development goal is linked at most once to each performance goal ------------------------------


@dataclass(frozen=True)
class LinkStep:
    goal: int
    target: int
    rationale: LinkRationale
    evidence: str | None
    future_role: str | None


@dataclass(frozen=True)
class UnlinkStep:
    goal: int
    link: int


@dataclass(frozen=True)
class ClosePerformance:
    target: int


@dataclass(frozen=True)
class Relevel:
    target: int
    level: GoalLevel


# The targets a development goal may be asked to serve: (owner, kind, level); the last is no goal at all.
TARGETS = (
    ("e-1", GoalKind.PERFORMANCE, GoalLevel.INDIVIDUAL),
    ("e-1", GoalKind.PERFORMANCE, GoalLevel.TEAM),
    ("e-2", GoalKind.PERFORMANCE, GoalLevel.INDIVIDUAL),
    ("e-2", GoalKind.PERFORMANCE, GoalLevel.TEAM),
    ("m-1", GoalKind.PERFORMANCE, GoalLevel.ORGANISATION),
    ("e-1", GoalKind.DEVELOPMENT, GoalLevel.INDIVIDUAL),
    (None, None, None),
)
target_index = st.integers(0, len(TARGETS) - 1)
link_steps = st.lists(
    st.one_of(
        st.builds(LinkStep, st.integers(0, 1), target_index, rationales, maybe_words, maybe_words),
        st.builds(LinkStep, st.integers(0, 1), target_index, st.just(LinkRationale.CAPABILITY_GAP), st.just("lost deals"), st.none()),
        st.builds(UnlinkStep, st.integers(0, 1), st.integers(0, 12)),
        st.builds(ClosePerformance, st.integers(0, 4)),
        st.builds(Relevel, st.integers(0, 4), st.sampled_from(GoalLevel)),
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(steps=link_steps)
def test_a_development_goal_serves_each_performance_goal_through_at_most_one_link(steps):
    app = goals_app()
    developing = [set_goal(app, "e-1", development()) for _ in range(2)]
    targets: list[UUID] = []
    for owner, kind, level in TARGETS:
        if kind is GoalKind.PERFORMANCE:
            targets.append(set_goal(app, owner, performance(level)))
        elif kind is GoalKind.DEVELOPMENT:
            targets.append(set_goal(app, owner, development()))
        else:
            targets.append(uuid4())
    levels = {index: level for index, (_, _, level) in enumerate(TARGETS)}
    closed: set[int] = set()
    links: dict[int, dict[UUID, int]] = {0: {}, 1: {}}
    issued: list[UUID] = []

    for step in steps:
        if isinstance(step, LinkStep):
            owner, kind, _ = TARGETS[step.target]
            complete = bool(step.evidence) if step.rationale is LinkRationale.CAPABILITY_GAP else bool(step.future_role)
            expected = (
                kind is GoalKind.PERFORMANCE
                and step.target not in closed
                and step.target not in links[step.goal].values()
                and (owner == "e-1" or levels[step.target] is not GoalLevel.INDIVIDUAL)
                and complete
            )
            command = LinkGoals(
                TENANT,
                developing[step.goal],
                targets[step.target],
                step.rationale,
                "m-1",
                evidence=step.evidence,
                future_role=step.future_role,
            )
            answers: list[dict[str, Any]] = []
            done = accepted(lambda: answers.append(app.link_goals(command, CONTEXT).outcome))
            if done:
                link_id = UUID(answers[0]["link_id"])
                links[step.goal][link_id] = step.target
                issued.append(link_id)
        elif isinstance(step, UnlinkStep):
            link_id = issued[step.link] if step.link < len(issued) else uuid4()
            expected = link_id in links[step.goal]
            done = accepted(
                lambda: app.unlink_goals(UnlinkGoals(TENANT, developing[step.goal], link_id, "m-1", "no longer needed"), CONTEXT)
            )
            if done:
                del links[step.goal][link_id]
        elif isinstance(step, ClosePerformance):
            expected = step.target not in closed
            done = accepted(lambda: abandon(app, targets[step.target]))
            if done:
                closed.add(step.target)
        else:
            expected = step.target not in closed and step.level is not levels[step.target]
            command = ReviseGoal(TENANT, targets[step.target], {"level": step.level}, "reorganised", "m-1")
            done = accepted(lambda: app.revise_goal(command, CONTEXT))
            if done:
                levels[step.target] = step.level
        assert done == expected, f"{step} was {'carried out' if done else 'refused'}"

        for index, goal_id in enumerate(developing):
            goal = app.get_goal(TENANT, goal_id)
            served = Counter(link.performance_goal_id for link in goal.links.values())
            assert all(count == 1 for count in served.values()), f"development goal {index} links twice: {served}"
            assert {i: link.performance_goal_id for i, link in goal.links.items()} == {
                i: targets[t] for i, t in links[index].items()
            }
            assert all(link.performance_goal_owner_id == TARGETS[links[index][i]][0] for i, link in goal.links.items())


# --- 3. a closed goal never changes --------------------------------------------------------------------


@dataclass(frozen=True)
class Revise:
    changes: dict[str, Any]
    reparent: str  # "keep", "other" (an open goal), "clear"
    reason: str


@dataclass(frozen=True)
class LinkTo:
    target: int
    rationale: LinkRationale
    evidence: str | None
    future_role: str | None


@dataclass(frozen=True)
class UnlinkAny:
    pick: int


@dataclass(frozen=True)
class CloseWith:
    outcome: GoalOutcome
    final_value: Decimal | None


@dataclass(frozen=True)
class UseAsParent:
    cascade: bool


@dataclass(frozen=True)
class ServeIt:
    pass


outcomes = st.sampled_from(GoalOutcome)
closings = st.builds(CloseWith, outcomes, st.none() | decimals)


def commands_on(kind: GoalKind, closing: bool = True) -> st.SearchStrategy[Any]:
    """Any command on a goal of ``kind``: revisions (mostly plausible ones), links, unlinks, and closing."""
    reasons = st.sampled_from(["market shrank"] * 6 + ["", " "])
    revisions = st.builds(Revise, any_changes(kind), st.sampled_from(["keep", "keep", "other", "clear"]), reasons)
    return st.one_of(
        revisions,
        revisions,
        st.builds(Revise, st.just({}), st.sampled_from(["other", "clear"]), reasons),
        st.builds(LinkTo, st.integers(0, 1), rationales, maybe_words, maybe_words),
        st.builds(LinkTo, st.integers(0, 1), st.just(LinkRationale.FUTURE_ROLE), st.none(), st.just("team lead")),
        st.builds(UnlinkAny, st.integers(0, 2)),
        *([closings] if closing else []),
    )


def command_for(app: GoalsApplication, goal_id: UUID, command: Any, world: dict[str, Any]) -> Any:
    """The application call that carries out a generated command on ``goal_id``."""
    if isinstance(command, Revise):
        changes = dict(command.changes)
        if command.reparent == "other":
            changes["parent_goal_id"] = world["parent"]
        elif command.reparent == "clear":
            changes["parent_goal_id"] = None
        return lambda: app.revise_goal(ReviseGoal(TENANT, goal_id, changes, command.reason, "m-1"), CONTEXT)
    if isinstance(command, LinkTo):
        link = LinkGoals(
            TENANT,
            goal_id,
            world["targets"][command.target],
            command.rationale,
            "m-1",
            evidence=command.evidence,
            future_role=command.future_role,
        )
        return lambda: app.link_goals(link, CONTEXT)
    if isinstance(command, UnlinkAny):
        link_id = world["links"][command.pick] if command.pick < len(world["links"]) else uuid4()
        return lambda: app.unlink_goals(UnlinkGoals(TENANT, goal_id, link_id, "m-1", "done"), CONTEXT)
    close = CloseGoal(TENANT, goal_id, command.outcome, "m-1", final_value=command.final_value)
    return lambda: app.close_goal(close, CONTEXT)


@settings(max_examples=100, deadline=None)
@given(victim=st.sampled_from(GoalKind), outcome=outcomes, final_value=decimals, data=st.data())
def test_a_closed_goal_refuses_every_command_and_never_changes(victim, outcome, final_value, data):
    attempts = data.draw(
        st.lists(commands_on(victim) | st.builds(UseAsParent, st.booleans()) | st.just(ServeIt()), min_size=1, max_size=12),
        label="attempts",
    )
    app = goals_app()
    parent = set_goal(app, "m-1", performance(GoalLevel.ORGANISATION))
    served = set_goal(app, "e-1", performance(), parent)
    team = set_goal(app, "e-2", performance(GoalLevel.TEAM))
    developing = set_goal(app, "e-1", development(Capacity(Decimal(8))), parent)
    links = []
    for target in (served, team):
        link = LinkGoals(TENANT, developing, target, LinkRationale.FUTURE_ROLE, "m-1", future_role="lead")
        links.append(UUID(app.link_goals(link, CONTEXT).outcome["link_id"]))
    goal_id = served if victim is GoalKind.PERFORMANCE else developing
    app.close_goal(
        CloseGoal(TENANT, goal_id, outcome, "m-1", final_value=final_value if victim is GoalKind.PERFORMANCE else None),
        CONTEXT,
    )
    before = state_of(app.get_goal(TENANT, goal_id), "modified_on")
    stored_events = len(list(app.events.get(goal_id)))
    plan = app.work_plan(TENANT, "e-1")
    assert plan[0] == (0 if victim is GoalKind.DEVELOPMENT else 8)
    world = {"parent": parent, "targets": [served, team], "links": links}

    for attempt in attempts:
        if isinstance(attempt, UseAsParent):
            template = performance()
            if attempt.cascade:
                command = lambda: app.cascade_goal(CascadeGoal(TENANT, goal_id, "m-1", template, ("e-2",)), CONTEXT)  # noqa: E731
            else:
                command = lambda: set_goal(app, "e-2", template, goal_id)  # noqa: E731
        elif isinstance(attempt, ServeIt):
            link = LinkGoals(TENANT, developing, goal_id, LinkRationale.FUTURE_ROLE, "m-1", future_role="lead")
            command = lambda: app.link_goals(link, CONTEXT)  # noqa: E731
        else:
            command = command_for(app, goal_id, attempt, world)
        assert not accepted(command), f"{attempt} changed a closed goal"
        assert state_of(app.get_goal(TENANT, goal_id), "modified_on") == before
        assert len(list(app.events.get(goal_id))) == stored_events
        assert app.work_plan(TENANT, "e-1") == plan


# --- 4. replaying the stored events gives the same goal -------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    template: GoalTemplate
    commands: list[Any]
    closing: list[CloseWith]


scenarios = goal_templates().flatmap(
    lambda template: st.builds(
        Scenario,
        st.just(template),
        st.lists(commands_on(template.kind, closing=False), min_size=1, max_size=12),
        st.lists(closings, max_size=2),
    )
)


def play(app: GoalsApplication, clock: FixedClock, scenario: Scenario) -> tuple[UUID, Goal]:
    """Carry out the scenario through the application and, for each command it accepts, on a goal that is
    never stored; return the goal's id and that live goal."""
    parent = set_goal(app, "m-1", performance(GoalLevel.ORGANISATION))
    targets = [set_goal(app, "e-1", performance()), set_goal(app, "e-2", performance(GoalLevel.TEAM))]
    command = SetGoal(TENANT, "e-1", "m-1", scenario.template)
    app.set_goal(command, CONTEXT)
    template = scenario.template
    live = Goal.set(
        goal_id=command.goal_id,
        tenant_id=TENANT,
        owner_id="e-1",
        set_by="m-1",
        parent_goal_id=None,
        occurred_at=clock.now(),
        **{f.name: getattr(template, f.name) for f in dataclasses.fields(template)},
    )
    world: dict[str, Any] = {"parent": parent, "targets": targets, "links": []}
    carried_out = 0
    for step in [*scenario.commands, *scenario.closing]:
        clock.advance(timedelta(hours=7, microseconds=123_457))
        results: list[Any] = []
        run = command_for(app, command.goal_id, step, world)
        if not accepted(lambda: results.append(run())):
            continue
        carried_out += 1
        at = clock.now()
        if isinstance(step, Revise):
            changes = dict(step.changes)
            if step.reparent != "keep":
                changes["parent_goal_id"] = parent if step.reparent == "other" else None
            live.revise(changes=changes, reason=step.reason, revised_by="m-1", occurred_at=at)
        elif isinstance(step, LinkTo):
            link_id = UUID(results[0].outcome["link_id"])
            world["links"].append(link_id)
            live.link(
                link_id=link_id,
                target=app.get_goal(TENANT, targets[step.target]).as_link_target,
                rationale=step.rationale,
                skill=None,
                evidence=step.evidence,
                future_role=step.future_role,
                linked_by="m-1",
                occurred_at=at,
            )
        elif isinstance(step, UnlinkAny):
            live.unlink(link_id=world["links"][step.pick], reason="done", unlinked_by="m-1", occurred_at=at)
        else:
            live.close(outcome=step.outcome, final_value=step.final_value, note="", closed_by="m-1", occurred_at=at)
        assert state_of(replayed(app, command.goal_id)) == state_of(live), f"replay differs after {step}"
    event(f"{template.kind} goal, commands carried out: {min(carried_out, 4)}{'+' if carried_out >= 4 else ''}")
    return command.goal_id, live


@settings(max_examples=120, deadline=None)
@given(scenario=scenarios)
def test_replaying_a_goals_stored_events_gives_the_goal_its_commands_made(scenario):
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    app = goals_app(clock=clock)
    goal_id, live = play(app, clock, scenario)
    assert state_of(replayed(app, goal_id)) == state_of(live)
    assert state_of(app.get_goal(TENANT, goal_id)) == state_of(live)


@settings(max_examples=25, deadline=None)
@given(scenario=scenarios)
def test_a_goal_read_back_from_the_sqlite_store_by_another_process_is_the_same_goal(scenario):
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    replica = directory()
    with tempfile.TemporaryDirectory(prefix="tandem-goal-properties-") as tmp:
        url = f"sqlite:///{Path(tmp).resolve()}/events.db"
        writer = goals_app(url, clock=clock, replica=replica)
        reader = None
        try:
            goal_id, live = play(writer, clock, scenario)
            reader = goals_app(url, clock=clock, replica=replica)
            read = reader.get_goal(TENANT, goal_id)
            assert state_of(read) == state_of(live)
            assert state_of(read, "created_on", "modified_on") == state_of(
                writer.get_goal(TENANT, goal_id), "created_on", "modified_on"
            )
            assert reader.work_plan(TENANT, "e-1") == writer.work_plan(TENANT, "e-1")
        finally:
            writer.close()
            if reader is not None:
                reader.close()


# --- 5. the work plan never exceeds the limit ----------------------------------------------------------


@dataclass(frozen=True)
class SetDevelopment:
    hours: Decimal | None
    status: GoalStatus


@dataclass(frozen=True)
class ReviseHours:
    pick: int
    hours: Decimal | None
    mentor_id: str | None


@dataclass(frozen=True)
class CloseDevelopment:
    pick: int


@dataclass(frozen=True)
class CascadeDevelopment:
    hours: Decimal | None
    with_e2: bool


capacity_steps = st.lists(
    st.one_of(
        st.builds(SetDevelopment, st.none() | hours, st.sampled_from([GoalStatus.DRAFT, GoalStatus.ACTIVE])),
        st.builds(ReviseHours, st.integers(0, 20), st.none() | hours, st.sampled_from([None, "m-1"])),
        st.builds(CloseDevelopment, st.integers(0, 20)),
        st.builds(CascadeDevelopment, st.none() | hours, st.booleans()),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps=capacity_steps)
def test_the_work_plan_commits_exactly_the_open_development_hours_and_never_more_than_the_limit(steps):
    app = goals_app()
    parent = set_goal(app, "m-1", performance(GoalLevel.ORGANISATION))
    # Per employee, goal -> its capacity; closed goals leave the model.
    open_goals: dict[str, dict[UUID, Capacity | None]] = {"e-1": {}, "e-2": {}}
    every_goal: list[UUID] = []

    def committed(employee_id: str) -> Decimal:
        return sum((c.hours_per_month for c in open_goals[employee_id].values() if c), Decimal(0))

    for step in steps:
        if isinstance(step, SetDevelopment | CascadeDevelopment):
            capacity = Capacity(step.hours) if step.hours is not None else None
            more = capacity.hours_per_month if capacity else Decimal(0)
            if isinstance(step, SetDevelopment):
                owners = ["e-1"]
                command = SetGoal(TENANT, "e-1", "m-1", development(capacity, step.status))
                run = lambda: app.set_goal(command, CONTEXT)  # noqa: E731
            else:
                owners = ["e-1", "e-2"] if step.with_e2 else ["e-1"]
                cascade = CascadeGoal(TENANT, parent, "m-1", development(capacity), tuple(owners))
                run = lambda: app.cascade_goal(cascade, CONTEXT)  # noqa: E731
            expected = all(committed(owner) + more <= LIMIT for owner in owners)
            results: list[Any] = []
            done = accepted(lambda: results.append(run()))
            if done:
                new = (
                    {"e-1": command.goal_id}
                    if isinstance(step, SetDevelopment)
                    else {g["employee_id"]: UUID(g["goal_id"]) for g in results[0].outcome["goals"]}
                )
                for owner, goal_id in new.items():
                    open_goals[owner][goal_id] = capacity
                    every_goal.append(goal_id)
        elif not every_goal:
            continue
        elif isinstance(step, ReviseHours):
            goal_id = every_goal[step.pick % len(every_goal)]
            goal = app.get_goal(TENANT, goal_id)
            capacity = Capacity(step.hours, mentor_id=step.mentor_id) if step.hours is not None else None
            owner = goal.owner_id
            if goal_id in open_goals[owner]:
                old = open_goals[owner][goal_id]
                total = committed(owner) - (old.hours_per_month if old else 0) + (capacity.hours_per_month if capacity else 0)
                expected = capacity != old and total <= LIMIT
            else:
                expected = False
            command = ReviseGoal(TENANT, goal_id, {"capacity": capacity}, "more time for practice", "m-1")
            done = accepted(lambda: app.revise_goal(command, CONTEXT))
            if done:
                open_goals[owner][goal_id] = capacity
        else:
            goal_id = every_goal[step.pick % len(every_goal)]
            owner = app.get_goal(TENANT, goal_id).owner_id
            expected = goal_id in open_goals[owner]
            done = accepted(lambda: abandon(app, goal_id))
            if done:
                del open_goals[owner][goal_id]
        assert done == expected, f"{step} was {'carried out' if done else 'refused'}"

        goals = [app.get_goal(TENANT, goal_id) for goal_id in every_goal]
        for employee_id, model in open_goals.items():
            total, limit, commitments = app.work_plan(TENANT, employee_id)
            assert limit == LIMIT
            assert total <= limit, f"{employee_id} has {total} development hours a month committed"
            held = sum((g.committed_hours_per_month for g in goals if g.owner_id == employee_id), Decimal(0))
            assert total == held == committed(employee_id)
            assert commitments == {
                goal_id: c.hours_per_month for goal_id, c in model.items() if c is not None and c.hours_per_month != 0
            }


def test_closing_a_development_goal_gives_its_hours_back_even_after_the_limit_was_lowered():
    limit = {"acme": Decimal(20)}
    app = GoalsApplication("memory:", directory(), development_hours_limit=limit.__getitem__)
    first = set_goal(app, "e-1", development(Capacity(Decimal(10))))
    set_goal(app, "e-1", development(Capacity(Decimal(10))))
    limit["acme"] = Decimal(5)
    abandon(app, first)
    assert app.work_plan(TENANT, "e-1")[0] == 10
