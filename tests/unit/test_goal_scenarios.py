"""The seed's own examples, as the goals service understands them."""

from datetime import date
from decimal import Decimal

import pytest

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
    ActivityTargets,
    Capacity,
    CapacityExceeded,
    GoalAlreadyClosed,
    GoalKind,
    GoalLevel,
    GoalOutcome,
    GoalStatus,
    Kpi,
    KpiDirection,
    LinkMustServePerformance,
    LinkRationale,
    LinkTargetClosed,
    LinkToAnotherEmployeesGoal,
    LinkWouldRepeat,
    ParentWouldCycle,
    RationaleIncomplete,
)
from tandem_runtime.database import SQLiteDatabase
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext
from tests.examples import employee

TENANT = "acme"
AS_MANAGER = CommandContext.issued_by("mgr-ana")


@pytest.fixture
def goals() -> GoalsApplication:
    directory = Directory(SQLiteDatabase(":memory:"))
    directory.record(
        *(
            employee(e, manager_id=m, tenant_id=TENANT)
            for e, m in [("ceo", None), ("mgr-ana", "ceo"), ("rep-ben", "mgr-ana"), ("rep-chloe", "mgr-ana"),
                         ("mgr-lee", "ceo"), ("eng-sam", "mgr-lee")]
        )
    )
    return GoalsApplication("memory:", directory)


def performance(title: str, kpi: Kpi, level: GoalLevel = GoalLevel.INDIVIDUAL) -> GoalTemplate:
    return GoalTemplate(GoalKind.PERFORMANCE, "2026", title, "", date(2026, 1, 1), date(2026, 12, 31), level=level, kpi=kpi)


def development(title: str, skill: str, hours: str = "10", **targets) -> GoalTemplate:
    return GoalTemplate(
        GoalKind.DEVELOPMENT,
        "2026",
        title,
        "",
        date(2026, 1, 1),
        date(2026, 6, 30),
        skill=skill,
        activity_targets=ActivityTargets(**targets) if targets else ActivityTargets(training_hours=Decimal(20)),
        capacity=Capacity(Decimal(hours)),
    )


CONVERSIONS = Kpi("new client conversion rate", "percent", Decimal(20), Decimal(23), KpiDirection.INCREASE)
SERVERS = Kpi("unplanned downtime", "hours per quarter", Decimal(12), Decimal(4), KpiDirection.DECREASE)


def set_goal(goals, owner, template, parent=None):
    return goals.set_goal(SetGoal(TENANT, owner, "mgr-ana", template, parent), AS_MANAGER).outcome["goal_id"]


def goal(goals, goal_id):
    from uuid import UUID

    return goals.get_goal(TENANT, UUID(goal_id))


def test_increase_conversions_is_served_by_negotiation_training_through_a_capability_gap(goals):
    conversions = set_goal(goals, "rep-ben", performance("Increase new client conversions by 15%", CONVERSIONS))
    negotiation = set_goal(
        goals,
        "rep-ben",
        development(
            "Complete advanced negotiation training and apply three techniques a week",
            "negotiation",
            training_hours=Decimal(24),
            certifications=("Advanced Negotiation Skills",),
        ),
    )
    goals.link_goals(
        LinkGoals(TENANT, goal(goals, negotiation).id, goal(goals, conversions).id, LinkRationale.CAPABILITY_GAP,
                  "mgr-ana", evidence="conversions stuck at 18% while the team averages 20%"),
        AS_MANAGER,
    )
    [link] = goal(goals, negotiation).links.values()
    assert link.rationale is LinkRationale.CAPABILITY_GAP
    assert link.skill == "negotiation", "the gap is the skill the development goal builds"
    assert link.performance_goal_owner_id == "rep-ben"


def test_managing_the_servers_today_is_served_by_cloud_training_for_the_future_role(goals):
    servers = set_goal(goals, "eng-sam", performance("Efficiently manage the current server infrastructure", SERVERS))
    cloud = set_goal(goals, "eng-sam", development("Complete AWS Cloud Practitioner", "cloud infrastructure",
                                                   certifications=("AWS Certified Cloud Practitioner",)))
    goals.link_goals(
        LinkGoals(TENANT, goal(goals, cloud).id, goal(goals, servers).id, LinkRationale.FUTURE_ROLE, "mgr-lee",
                  future_role="cloud infrastructure engineer for the move to the cloud"),
        AS_MANAGER,
    )
    [link] = goal(goals, cloud).links.values()
    assert link.future_role.startswith("cloud infrastructure engineer") and link.evidence is None


def test_a_capability_gap_needs_the_evidence_of_the_shortfall(goals):
    conversions = set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS))
    negotiation = set_goal(goals, "rep-ben", development("Negotiation", "negotiation"))
    with pytest.raises(RationaleIncomplete):
        goals.link_goals(LinkGoals(TENANT, goal(goals, negotiation).id, goal(goals, conversions).id,
                                   LinkRationale.CAPABILITY_GAP, "mgr-ana"), AS_MANAGER)


def test_only_a_development_goal_serves_and_only_a_performance_goal_is_served(goals):
    conversions = set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS))
    negotiation = set_goal(goals, "rep-ben", development("Negotiation", "negotiation"))
    presenting = set_goal(goals, "rep-ben", development("Presenting", "presenting", hours="2"))
    with pytest.raises(LinkMustServePerformance):
        goals.link_goals(LinkGoals(TENANT, goal(goals, conversions).id, goal(goals, negotiation).id,
                                   LinkRationale.FUTURE_ROLE, "mgr-ana", future_role="lead"), AS_MANAGER)
    with pytest.raises(LinkMustServePerformance):
        goals.link_goals(LinkGoals(TENANT, goal(goals, negotiation).id, goal(goals, presenting).id,
                                   LinkRationale.FUTURE_ROLE, "mgr-ana", future_role="lead"), AS_MANAGER)


def test_the_same_link_is_never_recorded_twice(goals):
    conversions = goal(goals, set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS)))
    negotiation = goal(goals, set_goal(goals, "rep-ben", development("Negotiation", "negotiation")))
    link = LinkGoals(TENANT, negotiation.id, conversions.id, LinkRationale.CAPABILITY_GAP, "mgr-ana", evidence="18%")
    goals.link_goals(link, AS_MANAGER)
    with pytest.raises(LinkWouldRepeat):
        goals.link_goals(link, AS_MANAGER)


def test_a_development_goal_cannot_be_linked_to_a_closed_performance_goal(goals):
    conversions = goal(goals, set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS)))
    negotiation = goal(goals, set_goal(goals, "rep-ben", development("Negotiation", "negotiation")))
    goals.close_goal(CloseGoal(TENANT, conversions.id, GoalOutcome.MISSED, "mgr-ana", Decimal("19.5")), AS_MANAGER)
    with pytest.raises(LinkTargetClosed):
        goals.link_goals(LinkGoals(TENANT, negotiation.id, conversions.id, LinkRationale.CAPABILITY_GAP, "mgr-ana",
                                   evidence="missed"), AS_MANAGER)


def test_a_development_goal_may_serve_the_team_goal_but_not_a_colleagues_own_goal(goals):
    team = goal(goals, set_goal(goals, "mgr-ana", performance("Team conversions", CONVERSIONS, GoalLevel.TEAM)))
    chloes = goal(goals, set_goal(goals, "rep-chloe", performance("Chloe's conversions", CONVERSIONS)))
    negotiation = goal(goals, set_goal(goals, "rep-ben", development("Negotiation", "negotiation")))
    goals.link_goals(LinkGoals(TENANT, negotiation.id, team.id, LinkRationale.FUTURE_ROLE, "mgr-ana",
                               future_role="senior account executive"), AS_MANAGER)
    with pytest.raises(LinkToAnotherEmployeesGoal):
        goals.link_goals(LinkGoals(TENANT, negotiation.id, chloes.id, LinkRationale.FUTURE_ROLE, "mgr-ana",
                                   future_role="senior account executive"), AS_MANAGER)


def test_an_unlinked_goal_can_be_linked_again(goals):
    conversions = goal(goals, set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS)))
    negotiation = goal(goals, set_goal(goals, "rep-ben", development("Negotiation", "negotiation")))
    link = LinkGoals(TENANT, negotiation.id, conversions.id, LinkRationale.CAPABILITY_GAP, "mgr-ana", evidence="18%")
    link_id = goals.link_goals(link, AS_MANAGER).outcome["link_id"]
    from uuid import UUID

    goals.unlink_goals(UnlinkGoals(TENANT, negotiation.id, UUID(link_id), "mgr-ana", "wrong goal"), AS_MANAGER)
    assert goal(goals, negotiation.id.hex).links == {}
    goals.link_goals(link, AS_MANAGER)
    assert len(goal(goals, negotiation.id.hex).links) == 1


def test_organisation_goals_cascade_to_the_team_and_its_people(goals):
    revenue = set_goal(goals, "ceo", performance("Grow revenue 20%", CONVERSIONS, GoalLevel.ORGANISATION))
    team = set_goal(goals, "mgr-ana", performance("Team conversions +15%", CONVERSIONS, GoalLevel.TEAM), parent=goal(goals, revenue).id)
    cascaded = goals.cascade_goal(
        CascadeGoal(TENANT, goal(goals, team).id, "mgr-ana", performance("My conversions +15%", CONVERSIONS), manager_id="mgr-ana"),
        AS_MANAGER,
    ).outcome
    assert sorted(g["employee_id"] for g in cascaded["goals"]) == ["rep-ben", "rep-chloe"]
    assert all(goal(goals, g["goal_id"]).parent_goal_id == goal(goals, team).id for g in cascaded["goals"])


def test_a_cascade_never_turns_into_a_cycle(goals):
    revenue = goal(goals, set_goal(goals, "ceo", performance("Revenue", CONVERSIONS, GoalLevel.ORGANISATION)))
    team = goal(goals, set_goal(goals, "mgr-ana", performance("Team", CONVERSIONS, GoalLevel.TEAM), parent=revenue.id))
    mine = goal(goals, set_goal(goals, "rep-ben", performance("Mine", CONVERSIONS), parent=team.id))
    with pytest.raises(ParentWouldCycle):
        goals.revise_goal(ReviseGoal(TENANT, revenue.id, {"parent_goal_id": mine.id}, "reorg", "ceo"), AS_MANAGER)


def test_a_revised_target_keeps_its_history(goals):
    conversions = goal(goals, set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS)))
    stretch = Kpi(CONVERSIONS.name, CONVERSIONS.unit, CONVERSIONS.baseline, Decimal(24), CONVERSIONS.direction)
    goals.revise_goal(ReviseGoal(TENANT, conversions.id, {"kpi": stretch}, "a strong first quarter", "mgr-ana"), AS_MANAGER)
    revised = goal(goals, conversions.id.hex)
    assert revised.kpi.target == Decimal(24)
    [change] = revised.target_history
    assert (change.previous_target, change.target, change.reason) == (Decimal(23), Decimal(24), "a strong first quarter")


def test_development_hours_are_part_of_the_work_plan_and_have_a_limit(goals):
    set_goal(goals, "rep-ben", development("Negotiation", "negotiation", hours="12"))
    with pytest.raises(CapacityExceeded):
        set_goal(goals, "rep-ben", development("Spanish", "spanish", hours="9"))
    set_goal(goals, "rep-ben", development("Presenting", "presenting", hours="8"))
    assert goals.work_plan(TENANT, "rep-ben")[0] == Decimal(20)


def test_closing_a_development_goal_gives_its_hours_back(goals):
    negotiation = goal(goals, set_goal(goals, "rep-ben", development("Negotiation", "negotiation", hours="12")))
    goals.close_goal(CloseGoal(TENANT, negotiation.id, GoalOutcome.ACHIEVED, "mgr-ana"), AS_MANAGER)
    assert goals.work_plan(TENANT, "rep-ben")[0] == 0
    set_goal(goals, "rep-ben", development("Spanish", "spanish", hours="20"))


def test_a_closed_goal_refuses_every_change(goals):
    conversions = goal(goals, set_goal(goals, "rep-ben", performance("Conversions", CONVERSIONS)))
    goals.close_goal(CloseGoal(TENANT, conversions.id, GoalOutcome.ACHIEVED, "mgr-ana", Decimal("23.4")), AS_MANAGER)
    closed = goal(goals, conversions.id.hex)
    assert (closed.status, closed.outcome, closed.final_value) == (GoalStatus.CLOSED, GoalOutcome.ACHIEVED, Decimal("23.4"))
    with pytest.raises(GoalAlreadyClosed):
        goals.revise_goal(ReviseGoal(TENANT, conversions.id, {"title": "Other"}, "why not", "mgr-ana"), AS_MANAGER)
    with pytest.raises(GoalAlreadyClosed):
        goals.close_goal(CloseGoal(TENANT, conversions.id, GoalOutcome.MISSED, "mgr-ana", Decimal(1)), AS_MANAGER)
    assert goal(goals, conversions.id.hex).version == closed.version


def test_a_draft_goal_from_the_review_is_activated_by_a_revision(goals):
    draft = goal(goals, set_goal(goals, "rep-ben", GoalTemplate(
        GoalKind.DEVELOPMENT, "2027", "Data analysis", "", date(2027, 1, 1), date(2027, 6, 30), skill="data analysis",
        activity_targets=ActivityTargets(training_hours=Decimal(16)), status=GoalStatus.DRAFT)))
    goals.revise_goal(ReviseGoal(TENANT, draft.id, {"status": GoalStatus.ACTIVE}, "agreed in the review", "mgr-ana"), AS_MANAGER)
    assert goal(goals, draft.id.hex).status is GoalStatus.ACTIVE


def test_two_re_parentings_at_the_same_moment_cannot_make_a_cycle(goals):
    from eventsourcing.persistence import IntegrityError

    a = goal(goals, set_goal(goals, "mgr-ana", performance("A", CONVERSIONS, GoalLevel.TEAM)))
    b = goal(goals, set_goal(goals, "mgr-lee", performance("B", CONVERSIONS, GoalLevel.TEAM)))
    # Each decides before the other saves: both see a cascade without the other's change.
    a_under_b = goals.get_goal(TENANT, a.id)
    b_under_a = goals.get_goal(TENANT, b.id)
    ledger_seen_by_first = goals._cascade_ledger(TENANT)
    ledger_seen_by_second = goals._cascade_ledger(TENANT)
    a_under_b.revise(changes={"parent_goal_id": b.id}, reason="reorg", revised_by="ceo", occurred_at=a.set_at)
    b_under_a.revise(changes={"parent_goal_id": a.id}, reason="reorg", revised_by="ceo", occurred_at=a.set_at)
    ledger_seen_by_first.record_parent_change(a.id, b.id)
    ledger_seen_by_second.record_parent_change(b.id, a.id)
    goals.save(a_under_b, ledger_seen_by_first, context=AS_MANAGER)
    with pytest.raises(IntegrityError):  # the commands turn this into a 409 "retry"
        goals.save(b_under_a, ledger_seen_by_second, context=AS_MANAGER)
    assert goal(goals, b.id.hex).parent_goal_id is None, "the second re-parenting left nothing behind"
