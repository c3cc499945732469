"""The review packet, specified on the seed's story: the three steps of a review, assembled from events.

Ben's review of 2026 is complete (Maya, 16 April). Lena has none yet, so her packet shows what the
check-ins alone can say. Chloe stopped checking in while her conversions were off track.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tandem_contracts.reviews import CapabilityGapFound
from tandem_projections.packet import review_packet
from tandem_projections.queries import UnknownScope
from tandem_runtime.database import SQLiteDatabase
from tests.scenarios import (
    AWS_CERTIFICATION,
    CONVERSIONS,
    NEGOTIATION_TRAINING,
    SEED_AS_OF,
    SEED_TENANT,
    ReadSide,
    Story,
    kpi,
    seed_story,
)

TENANT = SEED_TENANT
CAPABILITY_PROMPT = (
    "What skills or knowledge, if Ben had possessed them, would have made achieving "
    f"“{CONVERSIONS}” easier or faster?"
)




def packet(side: ReadSide, employee_id: str, cycle: str = "2026") -> dict[str, Any]:
    with side.database.reading() as cursor:
        return review_packet(cursor, TENANT, employee_id, cycle, SEED_AS_OF)


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def correct_bens_review(story: Story, on: date = date(2026, 4, 18), **changes: Any) -> Any:
    """Maya corrects Ben's review on ``on``: the same steps, with ``changes``."""
    b = story.builder
    steps: dict[str, Any] = {
        "performance": [b.result(story.goals["ben.conversions"], "14.2", rating=3,
                                 factors="The discounting competitor, and a slow February",
                                 how="Shared objection notes with the team")],
        "capability_gaps": [CapabilityGapFound(skill="data analysis", performance_goal_id=story.goals["ben.conversions"],
                                               note="Forecasts missed the February slump")],
    }
    steps.update(changes)
    return b.review("ben", on=on, reviewer_id="maya", cycle="2026", next_cycle="2027",
                    corrects=story.reviews["ben.2026"], **steps)


# --- step 1: performance goals against their targets ------------------------------------------------------


def test_step_one_shows_each_performance_goal_against_its_target(seeded, story):
    conversions = only(packet(seeded, "ben")["steps"]["performance"]["goals"])

    assert conversions["goal_id"] == str(story.goals["ben.conversions"])
    assert (conversions["kpi"]["baseline"], conversions["kpi"]["target"]) == (10.0, 15.0)
    assert (conversions["actual"], conversions["attainment"]) == (14.2, 84.0)
    assert conversions["result"] == (
        "Ben moved conversion rate from 10% to 14.2%, 0.8 percentage points below the target of 15% (84% attainment).")


def test_step_one_says_a_kpi_to_decrease_is_still_above_a_target_it_has_not_come_down_to(seeded):
    infrastructure = only(packet(seeded, "lena")["steps"]["performance"]["goals"])

    assert infrastructure["result"].startswith("Lena moved unplanned incidents a month from 8 incidents to 3 incidents")
    assert "above the target of 2 incidents (83.3% attainment)" in infrastructure["result"]


def test_step_one_carries_the_check_in_history_behind_the_result(seeded):
    history = only(packet(seeded, "ben")["steps"]["performance"]["goals"])["check_in_history"]

    assert len(history) == 14
    assert [c["held_on"] for c in history] == sorted(c["held_on"] for c in history)
    assert history[0] == {"held_on": "2026-01-12", "kpi_value": 10.2, "status": "at_risk",
                          "roadblocks": "Prospects stall as soon as pricing comes up", "resources_needed": ""}
    assert (history[-1]["kpi_value"], history[-1]["status"]) == (14.2, "on_track")


def test_step_one_asks_why_with_the_roadblocks_raised_in_check_ins_and_the_reviews_answer(seeded):
    why = only(packet(seeded, "ben")["steps"]["performance"]["goals"])["why"]

    assert why["prompt"] == "What external factors (challenges, unexpected resources) influenced the results?"
    assert why["roadblocks_raised"] == [
        "2026-01-12: Prospects stall as soon as pricing comes up",
        "2026-01-19: Lost two deals to a competitor discounting 20%",
        "2026-02-02: Pricing objections in late-stage calls",
    ]
    assert why["resources_asked_for"] == ["2026-01-19: A pricing playbook from marketing"]
    assert why["answer"].startswith("A competitor discounting 20% entered the mid-market")


def test_step_one_takes_the_how_and_the_rating_from_the_completed_review(seeded, story):
    ben = packet(seeded, "ben")
    conversions = only(ben["steps"]["performance"]["goals"])

    assert conversions["how"] == {
        "prompt": "Did Ben demonstrate the company's values and core competencies while pursuing this goal?",
        "answer": "Shared objection notes with the team and kept the CRM current"}
    assert conversions["rating"] == 4.0
    assert ben["review"]["review_id"] == str(story.reviews["ben.2026"])
    review = ben["review"]
    assert (review["reviewer_id"], review["next_cycle"], review["rating_scale_max"]) == ("maya", "2027", 5.0)


def test_without_a_review_the_packet_asks_the_questions_and_leaves_them_open(seeded):
    lena = packet(seeded, "lena")
    infrastructure = only(lena["steps"]["performance"]["goals"])

    assert lena["review"] is None
    assert (infrastructure["why"]["answer"], infrastructure["how"]["answer"], infrastructure["rating"]) == (None, None, None)
    assert infrastructure["why"]["roadblocks_raised"] == [
        "2026-01-19: The legacy storage array fails under backup load"]
    assert lena["steps"]["development"]["planned_next_cycle"] == []


# --- step 2: connecting performance to development --------------------------------------------------------


def test_step_two_puts_the_capability_gap_question_to_the_reviews_findings(seeded, story):
    gaps = {g["skill"]: g for g in packet(seeded, "ben")["steps"]["connections"]["capability_gaps"]}

    assert set(gaps) == {"data analysis", "negotiation"}
    assert gaps["data analysis"]["prompt"] == CAPABILITY_PROMPT
    assert gaps["data analysis"]["answer"] == (
        "data analysis: To hit the 15% target next year, you'll need stronger data analysis skills")
    assert gaps["data analysis"]["covered_by"] == []
    assert gaps["negotiation"]["covered_by"] == [str(story.goals["ben.negotiation"])]


def test_a_goal_off_track_without_a_known_gap_still_puts_the_question(seeded, story):
    gap = only(packet(seeded, "chloe")["steps"]["connections"]["capability_gaps"])

    assert gap["performance_goal_id"] == str(story.goals["chloe.conversions"])
    assert (gap["skill"], gap["answer"]) == (None, None)
    assert gap["note"] == "last checked in as off track"
    assert gap["prompt"].startswith("What skills or knowledge, if Chloe had possessed them")


def test_step_two_acknowledges_development_that_paid_off_once_per_pair(seeded, story):
    payoff = only(packet(seeded, "ben")["steps"]["connections"]["payoffs"])

    assert (payoff["development_goal_id"], payoff["performance_goal_id"]) == (
        str(story.goals["ben.negotiation"]), str(story.goals["ben.conversions"]))
    assert payoff["source"] == "review"  # the check-in that applied the skill names the same pair
    assert payoff["evidence"] == ["The negotiation course led to two list-price closes in April"]
    assert payoff["prompt"] == (f"Did “{NEGOTIATION_TRAINING}” pay off in “{CONVERSIONS}”? Name the result it led to.")


def test_a_skill_applied_in_a_check_in_is_a_payoff_even_before_any_review(seeded, story):
    payoff = only(packet(seeded, "lena")["steps"]["connections"]["payoffs"])

    assert (payoff["development_goal_id"], payoff["performance_goal_id"]) == (
        str(story.goals["lena.aws"]), str(story.goals["lena.infrastructure"]))
    assert payoff["source"] == "check-ins"
    assert payoff["evidence"] == [
        "2026-04-10: Moved the nightly backups to S3 with lifecycle rules, which ended the storage incidents"]


# --- step 3: development goals, and the next cycle ----------------------------------------------------------


def test_step_three_reviews_a_development_goal_by_activities_feedback_and_application(seeded, story):
    negotiation = only(packet(seeded, "ben")["steps"]["development"]["goals"])

    assert negotiation["goal_id"] == str(story.goals["ben.negotiation"])
    assert negotiation["activities"]["training_hours"] == {"done": 18.0, "target": 20.0}
    assert negotiation["activities"]["mentorship_sessions"] == {"done": 3, "target": 4}
    assert (negotiation["feedback"]["latest_rating"], negotiation["feedback"]["target_rating"]) == (3.75, 4.0)
    assert negotiation["applied"] is True
    assert negotiation["evidence"] == ["Anchored on value in the Contoso renewal",
                                       "Held silence after the price in the Fabrikam call"]
    assert negotiation["aspirations"] == "Move into key-account management"
    assert [a["performance_goal_id"] for a in negotiation["applications"]] == [str(story.goals["ben.conversions"])]
    assert "tell me two specific situations where you used negotiation" in negotiation["prompt"]


def test_without_a_review_the_evidence_of_application_comes_from_check_ins(seeded):
    aws = only(packet(seeded, "lena")["steps"]["development"]["goals"])

    assert aws["activities"]["certifications"]["done"] == [AWS_CERTIFICATION]
    assert aws["applied"] is True
    assert aws["evidence"] == ["Moved the nightly backups to S3 with lifecycle rules, which ended the storage incidents"]
    assert only(aws["aligned_to"])["link"]["rationale"] == "future_role"


def test_step_three_carries_the_plan_agreed_in_the_review(seeded, story):
    planned = only(packet(seeded, "ben")["steps"]["development"]["planned_next_cycle"])

    assert (planned["title"], planned["skill"], planned["rationale"]) == (
        "Sales analytics fundamentals", "data analysis", "capability_gap")
    assert planned["performance_goal_id"] == str(story.goals["ben.conversions"])
    assert (Decimal(planned["hours_per_month"]), planned["mentor_id"]) == (Decimal(6), "maya")
    assert (planned["start_date"], planned["due_date"]) == ("2027-01-01", "2027-06-30")


def test_no_next_cycle_goal_is_suggested_for_a_gap_closed_by_applied_development_or_already_planned(seeded):
    assert packet(seeded, "ben")["steps"]["development"]["suggested_next_cycle"] == []


def test_a_gap_no_development_goal_addresses_is_suggested_for_the_next_cycle(unfolding):
    story, side = unfolding
    correct_bens_review(story, plan=[])
    side.publish(story.builder.drain())

    suggested = only(packet(side, "ben")["steps"]["development"]["suggested_next_cycle"])
    assert (suggested["skill"], suggested["rationale"]) == ("data analysis", "capability_gap")
    assert suggested["performance_goal_id"] == str(story.goals["ben.conversions"])
    assert suggested["why"] == "no development goal addresses it yet"


def test_a_gap_whose_development_goal_was_never_applied_is_still_suggested(unfolding):
    story, side = unfolding
    b = story.builder
    b.link(story.goals["chloe.speaking"], story.goals["chloe.conversions"], on=date(2026, 4, 14), actor="maya",
           rationale="capability_gap", skill="public speaking", evidence="Event leads do not convert")
    b.review("chloe", on=date(2026, 4, 16), reviewer_id="maya", cycle="2026", next_cycle="2027",
             performance=[b.result(story.goals["chloe.conversions"], "9.4", rating=2, factors="Territory change",
                                   how="Kept trying")],
             capability_gaps=[CapabilityGapFound(skill="public speaking",
                                                 performance_goal_id=story.goals["chloe.conversions"])])
    side.publish(b.drain())

    suggested = only(packet(side, "chloe")["steps"]["development"]["suggested_next_cycle"])
    assert suggested["skill"] == "public speaking"
    assert suggested["why"] == "still open: no development goal for it has been applied or achieved"


# --- corrections, cycles, unknowns ------------------------------------------------------------------------


def test_a_corrected_review_replaces_the_one_it_corrects(unfolding):
    story, side = unfolding
    correction = correct_bens_review(story, plan=[])
    side.publish(story.builder.drain())

    ben = packet(side, "ben")
    conversions = only(ben["steps"]["performance"]["goals"])
    assert (ben["review"]["review_id"], ben["review"]["corrects_review_id"]) == (
        str(correction), str(story.reviews["ben.2026"]))
    assert conversions["why"]["answer"] == "The discounting competitor, and a slow February"
    assert conversions["rating"] == 3.0
    assert ben["steps"]["connections"]["payoffs"][0]["source"] == "check-ins"  # the correction names no payoff
    assert ben["steps"]["development"]["planned_next_cycle"] == []


def test_a_correction_wins_even_arriving_first_with_a_clock_behind_the_reviews(tmp_path):
    story = seed_story()
    review, *rest = [e for e in story.events if e.event_type == "tandem.review.completed.v1"]
    assert not rest
    correction = correct_bens_review(story, on=date(2026, 4, 15))  # its host's clock lags the original's
    side = ReadSide(SQLiteDatabase(str(tmp_path / "read.db")))
    try:
        side.publish([e for e in story.events if e is not review])
        side.publish([*story.builder.drain(), review])

        assert packet(side, "ben")["review"]["review_id"] == str(correction)
    finally:
        side.database.close()


def test_a_packet_holds_only_the_goals_of_the_cycle_asked_for(unfolding):
    story, side = unfolding
    next_year = story.builder.performance_goal("ben", "Grow key accounts", kpi("key accounts", "count", 3, 6),
                                               on=date(2026, 4, 17), start=date(2027, 1, 1), cycle="2027", set_by="maya")
    side.publish(story.builder.drain())

    assert [g["goal_id"] for g in packet(side, "ben")["steps"]["performance"]["goals"]] == [
        str(story.goals["ben.conversions"])]
    later = packet(side, "ben", "2027")
    assert [g["goal_id"] for g in later["steps"]["performance"]["goals"]] == [str(next_year)]
    assert later["review"] is None


def test_an_employee_the_read_model_does_not_know_has_no_packet(seeded):
    with pytest.raises(UnknownScope):
        packet(seeded, "nobody")
