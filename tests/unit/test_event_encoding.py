"""Stored events are written by orjson in the standard JSON transcoder's format, byte for byte."""

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from tandem_goals.application import CloseGoal, GoalsApplication, GoalTemplate, LinkGoals, SetGoal
from tandem_goals.domain import (
    ActivityTargets,
    BehaviouralTarget,
    Budget,
    Capacity,
    GoalKind,
    GoalOutcome,
    Kpi,
    KpiDirection,
    LinkRationale,
)
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext
from tandem_runtime.transcodings import OrjsonEncodingTranscoder
from tests.examples import employee

TENANT = "acme"
AS_MANAGER = CommandContext.issued_by("mgr-ana")


@pytest.fixture
def goals() -> GoalsApplication:
    directory = Directory(SQLiteDatabase(":memory:"))
    directory.record(employee("mgr-ana", tenant_id=TENANT), employee("rep-ben", manager_id="mgr-ana", tenant_id=TENANT))
    return GoalsApplication("memory:", directory)


def standard_transcoder(application: GoalsApplication) -> JSONTranscoder:
    transcoder = JSONTranscoder()
    application.register_transcodings(transcoder)
    return transcoder


def a_year_of_goals(goals: GoalsApplication) -> None:
    """A performance goal, a development goal with every kind of target and capacity, their link, a close."""
    conversions = GoalTemplate(GoalKind.PERFORMANCE, "2026", "Increase new client conversions by 15%", "",
                               date(2026, 1, 1), date(2026, 12, 31),
                               kpi=Kpi("conversions", "percent", Decimal(20), Decimal(23), KpiDirection.INCREASE))
    negotiation = GoalTemplate(
        GoalKind.DEVELOPMENT, "2026", "Advanced negotiation, applied three times a week", "",
        date(2026, 1, 1), date(2026, 6, 30), skill="negotiation",
        activity_targets=ActivityTargets(Decimal(24), ("Advanced Negotiation Skills",), 6),
        behavioural_target=BehaviouralTarget("negotiation", Decimal(4), Decimal(5)),
        capacity=Capacity(Decimal("7.5"), Budget(Decimal(1200), "EUR"), "mgr-ana"),
    )
    performance = UUID(goals.set_goal(SetGoal(TENANT, "rep-ben", "mgr-ana", conversions), AS_MANAGER).outcome["goal_id"])
    development = UUID(goals.set_goal(SetGoal(TENANT, "rep-ben", "mgr-ana", negotiation), AS_MANAGER).outcome["goal_id"])
    goals.link_goals(LinkGoals(TENANT, development, performance, LinkRationale.CAPABILITY_GAP, "mgr-ana",
                               evidence="conversions stuck at 18% while the team averages 20%"), AS_MANAGER)
    goals.close_goal(CloseGoal(TENANT, development, GoalOutcome.ACHIEVED, "mgr-ana", note="applied weekly"), AS_MANAGER)


def test_every_stored_goal_event_is_the_bytes_the_standard_encoder_writes(goals):
    a_year_of_goals(goals)
    standard = standard_transcoder(goals)
    assert isinstance(goals.mapper.transcoder, OrjsonEncodingTranscoder)

    stored = goals.recorder.select_notifications(start=1, limit=100)
    assert {n.topic.rsplit(".", 1)[-1] for n in stored} >= {"Set", "Linked", "Closed", "Committed"}
    for notification in stored:
        state = standard.decode(notification.state)
        assert notification.state == standard.encode(state), notification.topic
        assert goals.mapper.transcoder.decode(notification.state) == state


def test_values_orjson_writes_otherwise_are_left_to_the_standard_encoder(goals):
    ours, standard = goals.mapper.transcoder, standard_transcoder(goals)
    for value in ({"ratio": float("nan")}, {"ratio": float("inf")}, {"count": 2**70}, {"at": [uuid4(), date(2026, 1, 2)]}):
        assert ours.encode(value) == standard.encode(value)


def test_a_value_without_a_transcoding_is_refused_as_before(goals):
    with pytest.raises(TranscodingNotRegisteredError):
        goals.mapper.transcoder.encode({"unknown": object()})
