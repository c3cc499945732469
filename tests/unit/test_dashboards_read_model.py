"""The alignment dashboards, specified on the seed's story as the read model serves it from SQLite.

The story (``tests.scenarios.seed_story``) is looked at on Monday 20 April 2026: Ben closing the negotiation
gap behind his conversions, Chloe gone quiet, Diego over his development hours, Lena certified for the
cloud move. Tests that change the story publish what happens next after it, as the services would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tandem_contracts.checkins import CheckInScheduled
from tandem_contracts.directory import EmployeeDeparted, EmployeeUpserted
from tandem_contracts.goals import ActivityTargets
from tandem_contracts.reviews import CapabilityGapFound
from tandem_projections import read_model
from tandem_projections.cards import attainment, plain
from tandem_projections.facts import MalformedEvent, NewFacts
from tandem_projections.queries import (
    UnknownScope,
    cascade_tree,
    department_dashboard,
    employee_dashboard,
    team_dashboard,
    tenant_dashboard,
)
from tandem_runtime.database import SQLiteDatabase
from tests.scenarios import (
    AWS_CERTIFICATION,
    CONVERSIONS,
    SEED_AS_OF,
    SEED_TENANT,
    HistoryBuilder,
    ReadSide,
    consumed,
    deliveries,
    feed,
    first_difference,
    kpi,
    read_model_snapshot,
)

TENANT = SEED_TENANT
TODAY = SEED_AS_OF




@pytest.fixture
def empty(tmp_path) -> Iterator[ReadSide]:
    """A read side nothing was published to yet."""
    side = ReadSide(SQLiteDatabase(str(tmp_path / "read.db")))
    yield side
    side.database.close()


def card(side: ReadSide, employee_id: str, today: date = TODAY) -> dict[str, Any]:
    with side.database.reading() as cursor:
        return employee_dashboard(cursor, TENANT, employee_id, today)["employee"]


def team(side: ReadSide, manager_id: str, today: date = TODAY) -> dict[str, Any]:
    with side.database.reading() as cursor:
        return team_dashboard(cursor, TENANT, manager_id, today)


def department(side: ReadSide, name: str, today: date = TODAY) -> dict[str, Any]:
    with side.database.reading() as cursor:
        return department_dashboard(cursor, TENANT, name, today)


def tenant(side: ReadSide, today: date = TODAY) -> dict[str, Any]:
    with side.database.reading() as cursor:
        return tenant_dashboard(cursor, TENANT, today)


def goal(view: dict[str, Any], goal_id: Any) -> dict[str, Any]:
    """One goal of a card, performance or development."""
    found = [g for g in (*view["performance_goals"], *view["development_goals"]) if g["goal_id"] == str(goal_id)]
    assert len(found) == 1, f"goal {goal_id} is on the card {len(found)} times"
    return found[0]


def flags(view: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((f["code"], f["goal_id"]) for f in view["flags"])


def members(dashboard: dict[str, Any]) -> set[str]:
    return {report["employee_id"] for report in dashboard["reports"]}


# --- an employee's performance goals ---------------------------------------------------------------------


def test_attainment_is_the_share_of_the_way_from_baseline_to_target(seeded, story):
    ben = goal(card(seeded, "ben"), story.goals["ben.conversions"])
    diego = goal(card(seeded, "diego"), story.goals["diego.conversions"])

    assert ben["kpi"] == {"name": "conversion rate", "unit": "percent", "direction": "increase",
                          "baseline": 10.0, "target": 15.0}
    assert (ben["actual"], ben["attainment"]) == (14.2, 84.0)  # 4.2 of the 5 points from 10% to 15%
    assert (diego["actual"], diego["attainment"]) == (15.2, 104.0)


def test_attainment_of_a_kpi_to_decrease_counts_each_fall_as_progress(seeded, story):
    lena = goal(card(seeded, "lena"), story.goals["lena.infrastructure"])

    assert lena["kpi"]["direction"] == "decrease"
    assert (lena["kpi"]["baseline"], lena["kpi"]["target"], lena["actual"]) == (8.0, 2.0, 3.0)
    assert lena["attainment"] == 83.3  # 5 of the 6 incidents a month it set out to remove


def test_a_kpi_moving_away_from_its_target_has_negative_attainment(seeded, story):
    chloe = goal(card(seeded, "chloe"), story.goals["chloe.conversions"])

    assert (chloe["actual"], chloe["attainment"]) == (9.4, -12.0)


def test_a_kpi_back_at_its_baseline_shows_zero_attainment_never_negative_zero():
    # (60 - 60) / (40 - 60) is a negative zero: SQLite would store 0 and PostgreSQL -0.0.
    shown = plain(attainment({"baseline": "60", "target": "40", "direction": "decrease"}, Decimal("60")), 1)

    assert shown == 0 and math.copysign(1.0, shown) == 1.0


def test_health_and_last_check_in_come_from_the_latest_check_in(seeded, story):
    ben = goal(card(seeded, "ben"), story.goals["ben.conversions"])
    chloe = goal(card(seeded, "chloe"), story.goals["chloe.conversions"])

    assert (ben["health"], ben["last_check_in_on"], ben["check_ins"]) == ("on_track", "2026-04-13", 14)
    assert ben["trend"] == [10.6, 10.9, 11.3, 11.2, 11.8, 12.1, 12.4, 12.9, 13.0, 13.4, 13.9, 14.2]
    assert (chloe["health"], chloe["last_check_in_on"]) == ("off_track", "2026-03-02")


def test_next_check_in_is_due_by_the_end_of_the_period_after_the_last_one_checked_in(seeded, story):
    ben = card(seeded, "ben")
    lena = card(seeded, "lena")

    # As the check-ins service published it: weekly periods from Monday 5 January, checked in the week of 13 April.
    assert goal(ben, story.goals["ben.conversions"])["next_check_in_due"] == "2026-04-26"
    assert goal(ben, story.goals["ben.negotiation"])["next_check_in_due"] == "2026-05-11"  # monthly, from 12 January
    assert goal(lena, story.goals["lena.infrastructure"])["next_check_in_due"] == "2026-05-10"  # bi-weekly
    assert not any(g["overdue"] for g in (*ben["performance_goals"], *ben["development_goals"]))


def test_a_check_in_is_overdue_the_day_after_it_was_due(seeded, story):
    tomorrow = card(seeded, "ben", date(2026, 4, 27))

    assert goal(tomorrow, story.goals["ben.conversions"])["overdue"] is True
    assert ("check_in_overdue", str(story.goals["ben.conversions"])) in flags(tomorrow)
    assert tomorrow["counts"]["overdue_check_ins"] == 1


def test_a_check_in_past_its_due_date_is_flagged_overdue_with_the_periods_missed(seeded, story):
    chloe = card(seeded, "chloe")
    conversions = goal(chloe, story.goals["chloe.conversions"])
    speaking = goal(chloe, story.goals["chloe.speaking"])

    assert (conversions["next_check_in_due"], conversions["overdue"]) == ("2026-03-15", True)
    assert (speaking["next_check_in_due"], speaking["overdue"]) == ("2026-04-18", True)
    assert (conversions["missed_check_ins"], speaking["missed_check_ins"]) == (6, 1)
    overdue = [f for f in chloe["flags"] if f["code"] == "check_in_overdue"]
    assert sorted(f["goal_id"] for f in overdue) == sorted(str(story.goals[g])
                                                           for g in ("chloe.conversions", "chloe.speaking"))
    assert chloe["counts"]["overdue_check_ins"] == 2


def test_a_goal_never_checked_in_is_due_by_the_end_of_its_first_period(unfolding):
    story, side = unfolding
    goal_id = story.builder.performance_goal("ivan", "Cut mean time to recovery", kpi("MTTR", "hours", 6, 2),
                                             on=date(2026, 4, 1), start=date(2026, 4, 1))
    side.publish(story.builder.drain())

    ivan = card(side, "ivan")
    assert goal(ivan, goal_id)["next_check_in_due"] == "2026-04-07"
    assert goal(ivan, goal_id)["overdue"] is True
    assert goal(card(side, "ivan", date(2026, 4, 7)), goal_id)["overdue"] is False


# --- the development goals that support them ------------------------------------------------------------


def test_a_performance_goal_shows_the_development_goals_linked_to_it_with_their_rationale(seeded, story):
    ben = goal(card(seeded, "ben"), story.goals["ben.conversions"])
    lena = goal(card(seeded, "lena"), story.goals["lena.infrastructure"])

    [negotiation] = ben["supported_by"]
    assert negotiation["goal_id"] == str(story.goals["ben.negotiation"])
    assert negotiation["link"]["rationale"] == "capability_gap"
    assert negotiation["link"]["skill"] == "negotiation"
    assert "stalled at the pricing negotiation" in negotiation["link"]["evidence"]
    assert negotiation["progress"] == 82.5  # training 18 of 20 hours and mentorship 3 of 4 sessions, averaged
    [aws] = lena["supported_by"]
    assert aws["link"]["rationale"] == "future_role"
    assert aws["link"]["future_role"] == "Cloud infrastructure engineer for the move to cloud-based systems"
    assert aws["progress"] == 86.7  # training 22 of 30 hours, and the one certification


def test_a_development_goal_shows_the_performance_goal_it_serves(seeded, story):
    negotiation = goal(card(seeded, "ben"), story.goals["ben.negotiation"])

    [served] = negotiation["aligned_to"]
    assert served["goal_id"] == str(story.goals["ben.conversions"])
    assert (served["title"], served["attainment"], served["health"]) == (CONVERSIONS, 84.0, "on_track")


def test_development_activities_are_counted_against_their_targets(seeded, story):
    negotiation = goal(card(seeded, "ben"), story.goals["ben.negotiation"])
    aws = goal(card(seeded, "lena"), story.goals["lena.aws"])

    assert negotiation["activities"]["training_hours"] == {"done": 18.0, "target": 20.0}
    assert negotiation["activities"]["mentorship_sessions"] == {"done": 3, "target": 4}
    assert aws["activities"]["certifications"] == {"done": [AWS_CERTIFICATION], "target": [AWS_CERTIFICATION]}
    assert aws["activities"]["training_hours"] == {"done": 22.0, "target": 30.0}


def test_the_behavioural_rating_is_the_latest_360_feedback_against_its_target(seeded, story):
    behavioural = goal(card(seeded, "ben"), story.goals["ben.negotiation"])["behavioural"]

    assert behavioural["competency"] == "Negotiation"
    assert (behavioural["target_rating"], behavioural["scale_max"]) == (4.0, 5.0)
    assert (behavioural["rated_on"], behavioural["latest_rating"]) == ("2026-04-06", 3.75)  # of 3.5, 4.0 and 3.75
    assert {s["source"]: (s["count"], s["average"]) for s in behavioural["sources"]} == {
        "self": (1, 3.5), "manager": (1, 4.0), "peer": (4, 3.75)}


def test_a_skill_applied_to_the_performance_goal_is_shown_with_the_development_goal(seeded, story):
    negotiation = goal(card(seeded, "ben"), story.goals["ben.negotiation"])

    [applied] = negotiation["applications"]
    assert applied["held_on"] == "2026-04-06"
    assert applied["performance_goal_id"] == str(story.goals["ben.conversions"])
    assert "two prospects signed at list price" in applied["how"]


def test_capacity_counts_the_latest_months_development_hours_against_the_hours_set_aside(seeded):
    capacity = card(seeded, "ben")["capacity"]

    assert capacity["hours_per_month_set_aside"] == 10.0
    assert capacity["reference_month"] == "2026-04"
    assert capacity["hours_logged"] == 7.0  # 6 hours of training and an hour of mentorship
    assert capacity["by_month"] == {"2026-02": 7.0, "2026-03": 7.0, "2026-04": 7.0}
    assert (capacity["over_committed"], capacity["unused"]) == (False, False)


# --- flags --------------------------------------------------------------------------------------------------


def test_a_capability_gap_found_in_a_review_without_a_development_goal_is_flagged(seeded, story):
    ben = card(seeded, "ben")
    gaps = {g["skill"]: g for g in goal(ben, story.goals["ben.conversions"])["capability_gaps"]}

    assert gaps["data analysis"]["source"] == "review"
    assert gaps["data analysis"]["covered_by"] == []
    assert gaps["negotiation"]["covered_by"] == [str(story.goals["ben.negotiation"])]
    assert flags(ben) == [("capability_gap_without_development", str(story.goals["ben.conversions"]))]
    assert "data analysis" in ben["flags"][0]["message"]


def test_a_development_goal_aligned_to_nothing_is_flagged(seeded, story):
    chloe = card(seeded, "chloe")

    assert goal(chloe, story.goals["chloe.speaking"])["aligned_to"] == []
    assert ("development_aligned_to_nothing", str(story.goals["chloe.speaking"])) in flags(chloe)
    assert chloe["counts"]["unaligned_development_goals"] == 1


def test_more_development_hours_than_set_aside_are_flagged_over_committed(seeded):
    diego = card(seeded, "diego")

    assert (diego["capacity"]["hours_logged"], diego["capacity"]["hours_per_month_set_aside"]) == (9.0, 4.0)
    assert flags(diego) == [("capacity_over_committed", None)]


def test_hours_set_aside_but_hardly_used_are_flagged_unused(seeded):
    chloe = card(seeded, "chloe")

    assert chloe["capacity"]["reference_month"] == "2026-03"  # her last check-in of any kind
    assert (chloe["capacity"]["hours_logged"], chloe["capacity"]["hours_per_month_set_aside"]) == (1.0, 8.0)
    assert ("capacity_unused", None) in flags(chloe)


def test_an_employee_on_track_with_aligned_development_has_no_flags(seeded):
    assert card(seeded, "lena")["flags"] == []


# --- links across owners, unlinking, closing, revising ------------------------------------------------


def test_a_development_goal_serving_a_team_goal_shows_on_both_owners_cards(seeded, story):
    team_goal = goal(card(seeded, "maya"), story.goals["team"])
    objections = goal(card(seeded, "diego"), story.goals["diego.objections"])

    [support] = team_goal["supported_by"]
    assert (support["goal_id"], support["employee_id"]) == (str(story.goals["diego.objections"]), "diego")
    assert support["link"]["skill"] == "objection handling"
    [served] = objections["aligned_to"]
    assert (served["goal_id"], served["employee_id"], served["attainment"]) == (str(story.goals["team"]), "maya", 52.0)


def test_unlinking_removes_the_alignment_from_both_cards(unfolding):
    story, side = unfolding
    story.builder.unlink(story.goals["diego.objections"], story.links["diego.objections"], on=date(2026, 4, 17),
                         reason="The team goal is covered by the pricing playbook", actor="maya")
    side.publish(story.builder.drain())

    maya, diego = card(side, "maya"), card(side, "diego")
    assert goal(maya, story.goals["team"])["supported_by"] == []
    assert goal(maya, story.goals["team"])["capability_gaps"] == []
    assert goal(diego, story.goals["diego.objections"])["aligned_to"] == []
    assert ("development_aligned_to_nothing", str(story.goals["diego.objections"])) in flags(diego)


def test_a_closed_goal_shows_its_final_value_and_needs_no_more_check_ins(unfolding):
    story, side = unfolding
    story.builder.close(story.goals["ben.conversions"], on=date(2026, 4, 17), outcome="achieved",
                        final_value=Decimal("15.5"), actor="maya")
    side.publish(story.builder.drain())

    later = date(2026, 6, 1)
    ben = card(side, "ben", later)
    conversions = goal(ben, story.goals["ben.conversions"])
    assert (conversions["status"], conversions["outcome"]) == ("closed", "achieved")
    assert (conversions["actual"], conversions["attainment"]) == (15.5, 110.0)
    assert (conversions["next_check_in_due"], conversions["overdue"]) == (None, False)
    assert ben["counts"]["performance_goals"] == 0
    assert not any(code == "capability_gap_without_development" for code, _ in flags(ben))


def test_an_abandoned_goal_leaves_the_card(seeded):
    tom = card(seeded, "tom")

    assert tom["performance_goals"] == []
    assert tom["active"] is False


def test_revising_the_kpi_target_changes_attainment(unfolding):
    story, side = unfolding
    story.builder.revise(story.goals["ben.conversions"], on=date(2026, 4, 17), actor="maya",
                         reason="The market shrank", kpi=kpi("conversion rate", "percent", 10, 13))
    side.publish(story.builder.drain())

    conversions = goal(card(side, "ben"), story.goals["ben.conversions"])
    assert conversions["kpi"]["target"] == 13.0
    assert conversions["attainment"] == 140.0  # 4.2 points of 3


def test_a_check_in_and_a_link_arriving_before_their_goals_count_once_the_goals_arrive(empty):
    b = HistoryBuilder(TENANT, schedules=False)
    conversions = b.performance_goal("ben", CONVERSIONS, kpi("conversion rate", "percent", 10, 15), on=date(2026, 1, 5))
    negotiation = b.development_goal("ben", "Negotiation training", "negotiation", on=date(2026, 1, 5), hours_per_month=6,
                                     activity_targets=ActivityTargets(training_hours=Decimal(10)))
    b.link(negotiation, conversions, on=date(2026, 1, 6), rationale="capability_gap", evidence="Lost at pricing")
    b.check_in("ben", on=date(2026, 1, 12), entries=[b.kpi_entry(conversions, "12", "on_track")])
    goal_set, development_set, linked, checked_in = b.drain()

    empty.publish([checked_in, linked])
    early = card(empty, "ben")
    empty.publish([goal_set, development_set])

    assert early["performance_goals"] == []
    conversions_view = goal(card(empty, "ben"), conversions)
    assert (conversions_view["actual"], conversions_view["attainment"]) == (12.0, 40.0)
    assert [s["goal_id"] for s in conversions_view["supported_by"]] == [str(negotiation)]


# --- a goal set: added to the stored card, not recomputed ------------------------------------------------


@pytest.fixture
def recomputed(monkeypatch) -> list[tuple[str, str]]:
    """Everyone whose card is recomputed whole from here on (the rest are updated in place, or untouched)."""
    seen: list[tuple[str, str]] = []
    whole = read_model.refresh_cards

    def refresh(cursor: Any, employees: Any) -> int:
        employees = sorted(employees)
        seen.extend(employees)
        return whole(cursor, employees)

    monkeypatch.setattr(read_model, "refresh_cards", refresh)
    return seen


def rebuilt(events: list[Any], tmp_path: Path) -> dict[str, Any]:
    """The read model a rebuild makes of ``events``: every fact stored, then every card computed whole."""
    database = SQLiteDatabase(str(tmp_path / "rebuilt.db"))
    try:
        feed(database, deliveries(events), defer_cards=True)
        return read_model_snapshot(database, TODAY)
    finally:
        database.close()


def test_a_new_goal_is_added_to_its_owners_card_exactly_as_a_recomputation_makes_it(unfolding, recomputed, tmp_path):
    story, side = unfolding
    retention = story.builder.performance_goal("ben", "Retention", kpi("retained", "percent", 80, 90), on=date(2026, 4, 17),
                                               cadence="monthly", parent=story.goals["team"])
    told = story.builder.drain()
    # The goal's schedule comes from the check-ins topic, in a later batch.
    side.publish(event for event in told if not isinstance(event, CheckInScheduled))

    assert recomputed == []  # the card was updated in place
    side.publish(event for event in told if isinstance(event, CheckInScheduled))
    assert recomputed == []  # and so was its due date
    ben = card(side, "ben")
    assert goal(ben, retention)["title"] == "Retention"
    assert goal(ben, retention)["next_check_in_due"] == "2026-05-16"  # monthly from 17 April, never checked in
    assert ben["counts"]["performance_goals"] == 2
    assert first_difference(read_model_snapshot(side.database, TODAY), rebuilt(story.builder.events, tmp_path)) is None


def test_a_gap_reviewed_before_its_goal_arrives_shows_once_the_goal_is_set(empty, recomputed, tmp_path):
    b = HistoryBuilder(TENANT, schedules=False)
    b.employee("ben", "Ben Okafor", on=date(2026, 1, 2))
    empty.publish(b.drain())
    conversions = b.performance_goal("ben", CONVERSIONS, kpi("conversion rate", "percent", 10, 15), on=date(2026, 1, 5))
    b.review("ben", on=date(2026, 3, 30), reviewer_id="maya", cycle="2026-Q1", next_cycle="2026-Q2", performance=(),
             capability_gaps=[CapabilityGapFound(skill="negotiation", performance_goal_id=conversions)])
    goal_set, reviewed = b.drain()
    empty.publish([reviewed])
    recomputed.clear()
    empty.publish([goal_set])

    assert recomputed == []
    ben = card(empty, "ben")
    assert [g["skill"] for g in goal(ben, conversions)["capability_gaps"]] == ["negotiation"]
    assert ("capability_gap_without_development", str(conversions)) in flags(ben)
    assert first_difference(read_model_snapshot(empty.database, TODAY), rebuilt(b.events, tmp_path)) is None


def test_a_goal_set_that_releases_its_held_back_close_has_its_owners_card_recomputed(empty, recomputed, tmp_path):
    b = HistoryBuilder(TENANT, schedules=False)
    b.employee("ben", "Ben Okafor", on=date(2026, 1, 2))
    empty.publish(b.drain())
    conversions = b.performance_goal("ben", CONVERSIONS, kpi("conversion rate", "percent", 10, 15), on=date(2026, 1, 5))
    b.close(conversions, on=date(2026, 3, 31), outcome="achieved", final_value=Decimal(15))
    retention = b.performance_goal("ben", "Retention", kpi("retained", "percent", 80, 90), on=date(2026, 4, 1))
    conversions_set, closed, retention_set = b.drain()
    empty.publish([closed])  # held back until its goal is set
    recomputed.clear()
    empty.publish([conversions_set, retention_set])  # one batch: a new goal, and a goal set and closed at once

    assert recomputed == [(TENANT, "ben")]
    ben = card(empty, "ben")
    assert (goal(ben, conversions)["status"], goal(ben, retention)["status"]) == ("closed", "active")
    assert first_difference(read_model_snapshot(empty.database, TODAY), rebuilt(b.events, tmp_path)) is None


def test_a_new_goal_with_a_check_in_already_stored_has_its_card_recomputed(empty, recomputed):
    b = HistoryBuilder(TENANT, schedules=False)
    b.employee("ben", "Ben Okafor", on=date(2026, 1, 2))
    empty.publish(b.drain())
    conversions = b.performance_goal("ben", CONVERSIONS, kpi("conversion rate", "percent", 10, 15), on=date(2026, 1, 5))
    b.check_in("ben", on=date(2026, 1, 12), entries=[b.kpi_entry(conversions, "12", "on_track")])
    goal_set, checked_in = b.drain()
    empty.publish([checked_in])
    recomputed.clear()
    empty.publish([goal_set])

    assert recomputed == [(TENANT, "ben")]
    assert goal(card(empty, "ben"), conversions)["attainment"] == 40.0


def test_the_latest_directory_record_wins_whatever_utc_offset_its_time_is_written_in(empty):
    paris = timezone(timedelta(hours=2))
    empty.publish([
        EmployeeUpserted(tenant_id=TENANT, employee_id="ben", display_name="Ben Carter", job_title="Account Executive",
                         occurred_at=datetime(2026, 4, 1, 11, 0, tzinfo=paris)),  # 09:00 UTC
        EmployeeUpserted(tenant_id=TENANT, employee_id="ben", display_name="Ben Carter",
                         job_title="Senior Account Executive", occurred_at=datetime(2026, 4, 1, 9, 30, tzinfo=UTC)),
        EmployeeUpserted(tenant_id=TENANT, employee_id="ben", display_name="Ben Carter",
                         job_title="Account Executive, EMEA", occurred_at=datetime(2026, 4, 1, 11, 20, tzinfo=paris)),
        EmployeeDeparted(tenant_id=TENANT, employee_id="ben", departed_on=date(2026, 4, 1),
                         occurred_at=datetime(2026, 4, 1, 9, 40, tzinfo=UTC)),
    ])

    ben = card(empty, "ben")
    assert ben["job_title"] == "Senior Account Executive"  # 09:30 UTC is later than 11:20 in Paris
    assert ben["active"] is False  # and the departure at 09:40 UTC is later still


def test_a_directory_event_with_an_unreadable_time_is_malformed_not_a_crash(empty):
    [delivery] = deliveries([EmployeeUpserted(tenant_id=TENANT, employee_id="ben", display_name="Ben Carter",
                                              occurred_at=datetime(2026, 4, 1, 9, 0, tzinfo=UTC))])
    delivery.event["occurred_at"] = "last Tuesday"  # past the fast decoder, which does not read the data's fields

    with pytest.raises(MalformedEvent):
        empty.store.apply_batch([delivery], consumed([delivery]))


def test_a_check_in_with_one_malformed_entry_gathers_nothing_of_itself():
    facts = NewFacts()
    good = {"goal_id": "g-1", "kind": "performance", "kpi_value": "18.9", "unit": "%", "status": "at_risk"}
    with pytest.raises(MalformedEvent):
        facts.add("tandem.checkin.recorded.v1", {"tenant_id": TENANT, "employee_id": "ben", "checkin_id": "c-1",
                                                 "held_on": "2026-06-01", "entries": [good, {"kind": "performance"}]})

    assert (facts.kpi_rows, facts.touched_goals, facts.named) == ([], set(), set())


def test_a_revision_that_clears_a_goals_title_or_dates_is_malformed_and_gathers_nothing():
    facts = NewFacts()
    for cleared in ("title", "due_date"):
        with pytest.raises(MalformedEvent, match=cleared):
            facts.add("tandem.goal.revised.v1", {
                "tenant_id": TENANT, "employee_id": "ben", "goal_id": "g-1", "version": 2, "reason": "r",
                "changed_fields": [cleared, "description"], "changes": {cleared: None, "description": None},
                "previous": {}, "occurred_at": "2026-06-01T09:00:00Z"})

    assert (facts.goal_events, facts.touched_goals, facts.named) == ([], set(), set())


# --- teams, departments, the tenant ------------------------------------------------------------------------


def test_a_team_is_the_managers_reports_transitively(seeded):
    ceo = team(seeded, "ceo")

    assert members(ceo) == {"maya", "ben", "chloe", "diego", "ivan", "lena"}
    assert ceo["manager"]["display_name"] == "Grace Okafor"
    assert ceo["rollup"]["employees"] == 6


def test_a_team_leaves_out_people_outside_it_and_people_who_left(seeded):
    maya = team(seeded, "maya")

    assert members(maya) == {"ben", "chloe", "diego"}  # not Tom, who left; not Lena, who is in Ivan's team


def test_a_team_shows_each_reports_missed_check_ins_as_their_card_does(seeded, story):
    members = {report["employee_id"]: report for report in team(seeded, "maya")["reports"]}
    chloe = members["chloe"]
    [conversions] = [g for g in chloe["performance_goals"] if g["goal_id"] == str(story.goals["chloe.conversions"])]
    [speaking] = [g for g in chloe["development_goals"] if g["goal_id"] == str(story.goals["chloe.speaking"])]
    assert (conversions["missed_check_ins"], speaking["missed_check_ins"]) == (6, 1)
    assert conversions["next_check_in_due"] == goal(card(seeded, "chloe"), story.goals["chloe.conversions"])["next_check_in_due"]


def test_a_team_rolls_up_its_members_goals_flags_and_hours(seeded):
    rollup = team(seeded, "maya")["rollup"]

    assert (rollup["employees"], rollup["performance_goals"], rollup["development_goals"]) == (3, 3, 3)
    assert rollup["development_support_share"] == 0.3333  # only Ben's conversions has development behind it
    assert rollup["aligned_development_share"] == 0.6667  # Chloe's public speaking serves nothing
    assert (rollup["on_track"], rollup["at_risk"], rollup["off_track"], rollup["on_track_rate"]) == (2, 0, 1, 0.6667)
    assert rollup["overdue_check_ins"] == 2
    assert (rollup["gaps_without_development"], rollup["unaligned_development_goals"]) == (1, 1)
    assert (rollup["capacity_over_committed"], rollup["capacity_unused"]) == (1, 1)
    assert (rollup["hours_set_aside"], rollup["hours_logged"]) == (22.0, 17.0)


def test_moving_to_another_manager_moves_the_card_to_that_team(unfolding):
    story, side = unfolding
    story.builder.employee("diego", "Diego Alvarez", on=date(2026, 4, 17), manager_id="ivan", department="Infrastructure",
                           job_title="Cloud Sales Engineer")
    side.publish(story.builder.drain())

    assert members(team(side, "maya")) == {"ben", "chloe"}
    assert members(team(side, "ivan")) == {"lena", "diego"}


def test_a_department_rolls_up_its_current_members(seeded):
    sales = department(seeded, "Sales")

    assert {e["employee_id"] for e in sales["employees"]} == {"maya", "ben", "chloe", "diego"}
    assert (sales["rollup"]["employees"], sales["rollup"]["performance_goals"]) == (4, 4)
    assert (sales["rollup"]["at_risk"], sales["rollup"]["overdue_check_ins"]) == (1, 2)  # Maya's team goal is at risk
    assert {e["employee_id"]: e["counts"]["overdue_check_ins"] for e in sales["employees"]}["chloe"] == 2


def test_the_tenant_rolls_up_everyone_still_employed_by_department(seeded):
    acme = tenant(seeded)

    assert acme["rollup"]["employees"] == 7
    assert (acme["rollup"]["performance_goals"], acme["rollup"]["development_goals"]) == (6, 4)
    assert acme["rollup"]["overdue_check_ins"] == 2
    assert {d["department"]: d["employees"] for d in acme["departments"]} == {
        "Executive": 1, "Infrastructure": 2, "Sales": 4}


def test_the_tenants_overdue_count_leaves_out_goals_of_people_who_left(unfolding):
    story, side = unfolding
    b = story.builder
    b.employee("sam", "Sam Okoro", on=date(2026, 3, 1), manager_id="ivan", department="Infrastructure",
               job_title="Infrastructure Engineer")
    b.performance_goal("sam", "Patch every server within a week", kpi("unpatched servers", "count", 40, 0),
                       on=date(2026, 3, 2), set_by="ivan")
    b.departed("sam", on=date(2026, 3, 20), reason="resigned")
    side.publish(b.drain())

    acme = tenant(side)
    assert acme["rollup"]["employees"] == 7
    assert acme["rollup"]["overdue_check_ins"] == 2  # Chloe's two; Sam's open goal left with him


def test_the_tenants_departments_follow_people_who_move_and_a_department_everyone_left_is_gone(unfolding):
    story, side = unfolding
    b = story.builder
    b.employee("lena", "Lena Fischer", on=date(2026, 4, 1), manager_id="ivan", department="Platform",
               job_title="Platform Engineer")
    side.publish(b.drain())
    assert {d["department"]: d["employees"] for d in tenant(side)["departments"]} == {
        "Executive": 1, "Infrastructure": 1, "Platform": 1, "Sales": 4}

    b.departed("lena", on=date(2026, 4, 20), reason="resigned")
    side.publish(b.drain())
    acme = tenant(side)
    assert {d["department"]: d["employees"] for d in acme["departments"]} == {"Executive": 1, "Infrastructure": 1, "Sales": 4}
    assert acme["rollup"]["employees"] == 6


def test_a_store_made_before_department_rollups_were_kept_gets_them_when_opened(seeded):
    before = tenant(seeded)
    with seeded.database.transaction() as cursor:
        cursor.execute("DROP TABLE rm_department_rollups")
    ReadSide(seeded.database)  # opening the store makes its schema

    assert tenant(seeded) == before


def test_the_tenant_lists_organisation_goals_with_how_their_children_are_doing(seeded, story):
    [root] = tenant(seeded)["cascade"]

    assert (root["goal_id"], root["title"], root["employee_id"]) == (str(story.goals["org"]), CONVERSIONS, "ceo")
    assert (root["attainment"], root["health"]) == (44.0, "on_track")
    assert (root["children"], root["children_attainment"], root["children_on_track"]) == (1, 52.0, 0)


def test_the_cascade_tree_follows_goals_from_the_organisation_down_to_individuals(seeded, story):
    with seeded.database.reading() as cursor:
        tree = cascade_tree(cursor, TENANT, str(story.goals["org"]))["tree"]

    [team_goal] = tree["children"]
    assert (team_goal["goal_id"], team_goal["employee_id"], team_goal["level"]) == (str(story.goals["team"]), "maya", "team")
    individuals = {child["employee_id"]: child for child in team_goal["children"]}
    assert set(individuals) == {"ben", "chloe", "diego", "tom"}
    assert (individuals["ben"]["attainment"], individuals["ben"]["depth"]) == (84.0, 2)
    assert individuals["tom"]["status"] == "closed"


@pytest.mark.parametrize(
    "ask",
    [
        lambda cursor: employee_dashboard(cursor, TENANT, "nobody", TODAY),
        lambda cursor: team_dashboard(cursor, TENANT, "nobody", TODAY),
        lambda cursor: department_dashboard(cursor, TENANT, "Legal", TODAY),
        lambda cursor: cascade_tree(cursor, TENANT, "00000000-0000-0000-0000-000000000000"),
        lambda cursor: employee_dashboard(cursor, "another-tenant", "ben", TODAY),
    ],
    ids=["employee", "manager", "department", "goal", "employee-of-another-tenant"],
)
def test_an_unknown_scope_is_refused(seeded, ask):
    with seeded.database.reading() as cursor, pytest.raises(UnknownScope):
        ask(cursor)


def test_a_manager_without_reports_has_an_empty_team(seeded):
    lena = team(seeded, "lena")

    assert lena["reports"] == []
    assert lena["rollup"]["employees"] == 0
