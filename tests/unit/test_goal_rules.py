"""The goal aggregate's rules, in memory."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from tandem_goals.domain import (
    ActivityTargets,
    BehaviouralTarget,
    Cadence,
    CadenceNotAllowed,
    Capacity,
    DueBeforeStart,
    Goal,
    GoalKind,
    GoalLevel,
    GoalStatus,
    Kpi,
    KpiDirection,
    KpiTargetAgainstDirection,
    MeasureDoesNotFitKind,
    RatingAboveScale,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONVERSIONS = Kpi("new client conversions", "percent", Decimal(10), Decimal(15), KpiDirection.INCREASE)


def set_goal(**overrides):
    fields = dict(
        goal_id=uuid4(),
        tenant_id="acme",
        owner_id="e-1",
        set_by="m-1",
        kind=GoalKind.PERFORMANCE,
        cycle="2026",
        title="Increase new client conversions by 15%",
        description="",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
        cadence=None,
        parent_goal_id=None,
        level=GoalLevel.INDIVIDUAL,
        kpi=CONVERSIONS,
        skill=None,
        activity_targets=None,
        behavioural_target=None,
        capacity=None,
        status=GoalStatus.ACTIVE,
        occurred_at=NOW,
    )
    fields.update(overrides)
    return Goal.set(**fields)


def development(**overrides):
    fields = dict(
        kind=GoalKind.DEVELOPMENT,
        kpi=None,
        skill="negotiation",
        activity_targets=ActivityTargets(training_hours=Decimal(20), certifications=("Advanced Negotiation",)),
        capacity=Capacity(hours_per_month=Decimal(10)),
    )
    fields.update(overrides)
    return set_goal(**fields)


def test_performance_goal_defaults_to_weekly_check_ins():
    assert set_goal().cadence is Cadence.WEEKLY


def test_development_goal_defaults_to_monthly_check_ins():
    assert development().cadence is Cadence.MONTHLY


def test_performance_goal_may_be_checked_in_biweekly():
    assert set_goal(cadence=Cadence.BIWEEKLY).cadence is Cadence.BIWEEKLY


@pytest.mark.parametrize("cadence", [Cadence.MONTHLY, Cadence.QUARTERLY])
def test_performance_goal_refuses_development_cadences(cadence):
    with pytest.raises(CadenceNotAllowed):
        set_goal(cadence=cadence)


@pytest.mark.parametrize("cadence", [Cadence.WEEKLY, Cadence.BIWEEKLY])
def test_development_goal_refuses_performance_cadences(cadence):
    with pytest.raises(CadenceNotAllowed):
        development(cadence=cadence)


def test_performance_goal_needs_a_kpi():
    with pytest.raises(MeasureDoesNotFitKind) as refused:
        set_goal(kpi=None)
    assert refused.value.field == "kpi"


def test_performance_goal_cannot_carry_development_targets():
    with pytest.raises(MeasureDoesNotFitKind) as refused:
        set_goal(skill="negotiation")
    assert refused.value.field == "skill"


def test_development_goal_needs_the_skill_it_builds():
    with pytest.raises(MeasureDoesNotFitKind) as refused:
        development(skill=None)
    assert refused.value.field == "skill"


def test_development_goal_needs_activity_or_behavioural_targets():
    with pytest.raises(MeasureDoesNotFitKind) as refused:
        development(activity_targets=ActivityTargets())
    assert refused.value.field == "activity_targets"


def test_development_goal_may_be_measured_by_behaviour_alone():
    goal = development(activity_targets=None, behavioural_target=BehaviouralTarget("negotiation", Decimal(4)))
    assert goal.behavioural_target.target_rating == Decimal(4)


def test_behavioural_target_must_fit_its_rating_scale():
    with pytest.raises(RatingAboveScale):
        development(behavioural_target=BehaviouralTarget("negotiation", Decimal(6), Decimal(5)))


def test_development_goal_cannot_carry_a_kpi():
    with pytest.raises(MeasureDoesNotFitKind) as refused:
        development(kpi=CONVERSIONS)
    assert refused.value.field == "kpi"


def test_due_date_cannot_precede_start_date():
    with pytest.raises(DueBeforeStart):
        set_goal(start_date=date(2026, 6, 1), due_date=date(2026, 5, 31))


def test_kpi_to_increase_needs_a_target_above_its_baseline():
    with pytest.raises(KpiTargetAgainstDirection):
        set_goal(kpi=Kpi("conversions", "percent", Decimal(15), Decimal(10), KpiDirection.INCREASE))


def test_kpi_to_decrease_needs_a_target_below_its_baseline():
    goal = set_goal(kpi=Kpi("ticket backlog", "count", Decimal(120), Decimal(40), KpiDirection.DECREASE))
    assert goal.kpi.direction is KpiDirection.DECREASE


def test_a_set_goal_records_one_event_with_who_set_it():
    goal = set_goal()
    events = goal.collect_events()
    assert [type(e).__name__ for e in events] == ["Set"]
    assert events[0].set_by == "m-1" and events[0].occurred_at == NOW
    assert goal.version == 1
