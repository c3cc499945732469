"""The benchmark's synthetic organisation: deterministic, shaped like a real company, and on the contracts."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest

from tandem_bench.synthetic_org import build_org, generate_events
from tandem_contracts.checkins import CheckInRecorded, DevelopmentEntry, FeedbackSource, PerformanceEntry
from tandem_contracts.envelope import decode, encode, stable_event_id
from tandem_contracts.goals import GoalLinked, GoalSet, LinkRationale
from tandem_contracts.reviews import ReviewCompleted


@pytest.fixture(scope="module")
def decoded():
    org = build_org(120, seed=11, tenant_id="acme")
    messages = list(generate_events(org))
    return org, messages, [decode(m.headers, m.value) for m in messages]


def as_tuples(messages):
    return [(m.topic, m.key, m.value, m.headers) for m in messages]


def test_the_same_seed_gives_the_same_events_and_another_seed_other_events():
    first = as_tuples(generate_events(build_org(40, seed=3)))
    again = as_tuples(generate_events(build_org(40, seed=3)))
    other = as_tuples(generate_events(build_org(40, seed=4)))
    assert first == again
    assert first != other


@pytest.mark.parametrize("employees", [3_000, 20_000, 100_000])
def test_the_hierarchy_has_spans_of_five_to_twelve_and_five_to_seven_levels(employees):
    org = build_org(employees)
    assert len(org.employees) == employees
    assert all(5 <= span <= 12 for span in org.spans())
    assert 5 <= org.depth <= 7
    assert all(e.manager is not None and e.manager < e.index for e in org.employees[1:])
    assert len(org.departments()) > 8


def test_a_big_organisation_has_a_manager_of_a_thousand():
    manager, size = build_org(100_000).manager_with_at_least(1_000)
    assert 1_000 <= size < 5_000
    assert manager.reports


def test_every_message_decodes_and_is_what_the_contracts_would_encode(decoded):
    _, messages, events = decoded
    for message, (envelope, event) in zip(messages, events, strict=True):
        again = encode(
            event,
            event_id=envelope.id,
            source=envelope.source,
            actor=envelope.actor,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        )
        assert (message.topic, message.key, message.headers) == (again.topic, again.key, again.headers)
        assert orjson.loads(message.value) == orjson.loads(again.value)


def test_versions_rise_per_stream_and_goal_streams_are_one_to_n(decoded):
    _, _, events = decoded
    versions: dict[str, list[int]] = defaultdict(list)
    first_of_goal: dict[str, str] = {}
    for envelope, event in events:
        if envelope.sequence is None:
            continue
        versions[envelope.subject].append(envelope.sequence)
        assert envelope.id == stable_event_id(event.subject_id, envelope.sequence)
        first_of_goal.setdefault(envelope.subject, envelope.type)
    for subject, seen in versions.items():
        if subject.startswith("goals/"):
            assert seen == list(range(1, len(seen) + 1)), subject
            assert first_of_goal[subject] == "tandem.goal.set.v1"
        else:  # schedules and reviews publish some of their aggregate's events, so gaps are expected
            assert seen == sorted(set(seen)), subject


def test_the_year_has_realistic_proportions(decoded):
    org, _, events = decoded
    types = Counter(envelope.type for envelope, _ in events)
    # Without the schedules' due dates, published with most check-ins (one per goal whose due date moved).
    per_employee = (len(events) - types["tandem.checkin.scheduled.v1"]) / len(org.employees)
    assert 60 <= per_employee <= 130
    assert types["tandem.checkin.scheduled.v1"] >= types["tandem.checkin.recorded.v1"]
    assert types["tandem.employee.upserted.v1"] >= len(org.employees)
    assert types["tandem.review.completed.v1"] >= 0.95 * len(org.employees)
    goals = {e.goal_id: e for _, e in events if isinstance(e, GoalSet)}
    performance = [g for g in goals.values() if g.kind == "performance"]
    development = [g for g in goals.values() if g.kind == "development"]
    assert 2 <= len(performance) / len(org.employees) <= 4
    assert 1 <= len(development) / len(org.employees) <= 2
    assert all(g.kpi is not None for g in performance)
    assert all(g.skill and (g.activity_targets or g.behavioural_target) and g.capacity for g in development)
    cascaded = [g for g in performance if g.parent_goal_id is not None]
    assert len(cascaded) >= 0.5 * len(org.employees)
    assert all(g.parent_goal_id in goals for g in cascaded)
    assert {g.level for g in performance} == {"organisation", "team", "individual"}
    linked = {e.goal_id for _, e in events if isinstance(e, GoalLinked)}
    assert 0.75 <= len(linked) / len(development) < 1.0  # most are aligned; the rest are flagged


def test_links_go_from_development_to_performance_goals_with_a_complete_rationale(decoded):
    _, _, events = decoded
    goals = {e.goal_id: e for _, e in events if isinstance(e, GoalSet)}
    links = [e for _, e in events if isinstance(e, GoalLinked)]
    assert {link.rationale for link in links} == {LinkRationale.CAPABILITY_GAP, LinkRationale.FUTURE_ROLE}
    for link in links:
        assert goals[link.goal_id].kind == "development"
        served = goals[link.performance_goal_id]
        assert served.kind == "performance"
        assert served.employee_id == link.performance_goal_owner_id
        assert served.employee_id == link.employee_id or served.level in ("team", "organisation")
        if link.rationale == LinkRationale.CAPABILITY_GAP:
            assert link.skill and link.evidence and link.future_role is None
        else:
            assert link.future_role and link.evidence is None


def test_check_ins_respect_units_cadences_and_anonymity(decoded):
    _, _, events = decoded
    goals = {e.goal_id: e for _, e in events if isinstance(e, GoalSet)}
    check_ins = [e for _, e in events if isinstance(e, CheckInRecorded)]
    anonymous = (FeedbackSource.PEER, FeedbackSource.DIRECT_REPORT)
    rated = 0
    for check_in in check_ins:
        cadences = {goals[entry.goal_id].cadence for entry in check_in.entries}
        assert len(cadences) == 1, "one check-in covers the goals due at one cadence"
        for entry in check_in.entries:
            goal = goals[entry.goal_id]
            assert goal.employee_id == check_in.employee_id
            if isinstance(entry, PerformanceEntry):
                assert goal.kind == "performance" and entry.unit == goal.kpi.unit
                if entry.unit == "percent":
                    assert 0 <= entry.kpi_value <= 100
            else:
                assert isinstance(entry, DevelopmentEntry) and goal.kind == "development"
                for summary in entry.feedback.sources if entry.feedback else ():
                    rated += 1
                    if summary.source in anonymous:
                        assert summary.ratings == ()
                        assert (summary.average is not None) == (summary.count >= 3)
    assert rated > 0


def test_reviews_cover_the_year_in_three_steps(decoded):
    _, _, events = decoded
    reviews = [e for _, e in events if isinstance(e, ReviewCompleted)]
    assert all(review.performance for review in reviews)
    assert any(review.capability_gaps and review.plan for review in reviews)
    assert any(review.payoffs for review in reviews)
