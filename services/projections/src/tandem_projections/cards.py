"""An employee's card: their goals joined with check-ins, links and reviews, as the dashboards show them.

Pure functions of the stored facts, with no clock: whatever is true "as of today" (an overdue check-in) is
decided at query time from the dates kept here. That is what makes a rebuild give exactly the live result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tandem_contracts.goals import attainment_percent

TREND_POINTS = 12
UNUSED_SHARE = Decimal("0.25")  # logging under a quarter of the hours set aside counts as capacity unused


@dataclass
class Facts:
    """Everything stored about a set of employees and the goals their cards show.

    ``links_to`` and ``links_from`` index ``links`` by performance and development goal (see ``index_links``).
    """

    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)
    goals_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    links: list[dict[str, Any]] = field(default_factory=list)
    links_to: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    links_from: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    kpi_checkins: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    kpi_counts: dict[str, int] = field(default_factory=dict)  # when only the latest check-ins were loaded
    development_checkins: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    missed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    due: dict[str, str] = field(default_factory=dict)  # goal id → the day its next check-in is due by (its schedule's)
    reviews: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def index_links(facts: Facts) -> None:
    """Index the links by the goals at either end, in link-id order."""
    for link in sorted(facts.links, key=lambda link: link["link_id"]):
        facts.links_to[link["performance_goal_id"]].append(link)
        facts.links_from[link["development_goal_id"]].append(link)


def number(value: Any) -> Decimal | None:
    """A decimal from the string or number an event carried, or None."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def plain(value: Decimal | None, places: int = 2) -> float | None:
    """A decimal rounded for display, as a JSON number (never a negative zero: no one reads "-0.0" as "no
    progress", and SQLite stores it as 0 where PostgreSQL keeps the sign)."""
    return None if value is None else float(round(value, places)) + 0.0


def next_check_in_due(goal: dict[str, Any], facts: Facts) -> str | None:
    """The day an active goal's next check-in is due by, as its schedule (the check-ins service) last said."""
    return facts.due.get(goal["goal_id"]) if goal["status"] == "active" else None


def attainment(kpi: dict[str, Any], actual: Decimal | None) -> Decimal | None:
    """The KPI's attainment (``attainment_percent``), or None while a figure is missing."""
    baseline, target = number(kpi.get("baseline")), number(kpi.get("target"))
    if actual is None or baseline is None or target is None:
        return None
    return attainment_percent(baseline, target, actual, kpi.get("direction") or "increase")


def _latest_reviews(reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed reviews not corrected by a later one."""
    corrected = {r.get("corrects_review_id") for r in reviews if r.get("corrects_review_id")}
    return sorted((r for r in reviews if r["review_id"] not in corrected), key=lambda r: (r["cycle"], r["occurred_at"]))


def _basics(goal: dict[str, Any]) -> dict[str, Any]:
    return {name: goal.get(name) for name in ("goal_id", "employee_id", "title", "cycle", "status", "outcome")}


def performance_view(goal: dict[str, Any], facts: Facts) -> dict[str, Any]:
    """A performance goal with its KPI attainment, health and check-in freshness (no links)."""
    history = facts.kpi_checkins.get(goal["goal_id"], [])
    kpi = goal.get("kpi") or {}
    latest = history[-1] if history else None
    actual = number(goal.get("final_value")) if goal["status"] == "closed" and goal.get("final_value") else None
    if actual is None and latest:
        actual = number(latest["kpi_value"])
    reached = attainment(kpi, actual)
    last_on = latest["held_on"] if latest else None
    return {
        **_basics(goal),
        "level": goal.get("level") or "individual",
        "parent_goal_id": goal.get("parent_goal_id"),
        "start_date": goal["start_date"],
        "due_date": goal["due_date"],
        "cadence": goal["cadence"],
        "kpi": {
            "name": kpi.get("name"),
            "unit": kpi.get("unit"),
            "direction": kpi.get("direction"),
            "baseline": plain(number(kpi.get("baseline"))),
            "target": plain(number(kpi.get("target"))),
        },
        "actual": plain(actual),
        "attainment": plain(reached, 1),
        "health": latest["status"] if latest else None,
        "check_ins": facts.kpi_counts.get(goal["goal_id"], len(history)),
        "trend": [plain(number(c["kpi_value"])) for c in history[-TREND_POINTS:]],
        "last_check_in_on": last_on,
        "next_check_in_due": next_check_in_due(goal, facts),
        "missed_check_ins": len(facts.missed.get(goal["goal_id"], [])),
    }


def development_view(goal: dict[str, Any], facts: Facts) -> dict[str, Any]:
    """A development goal with activity progress against its targets, 360 ratings and applications of the skill."""
    entries = facts.development_checkins.get(goal["goal_id"], [])
    targets = goal.get("activity_targets") or {}
    training = sum((number(t["hours"]) or Decimal(0) for e in entries for t in e.get("training", ())), Decimal(0))
    obtained = sorted({c["name"] for e in entries for c in e.get("certifications", ())})
    sessions = sum(len(e.get("mentorship", ())) for e in entries)
    shares: list[Decimal] = []
    target_hours = number(targets.get("training_hours"))
    if target_hours:
        shares.append(min(training / target_hours, Decimal(1)))
    wanted = [name for name in targets.get("certifications") or () if name]
    if wanted:
        have = {name.casefold() for name in obtained}
        shares.append(Decimal(sum(1 for name in wanted if name.casefold() in have)) / len(wanted))
    target_sessions = targets.get("mentorship_sessions")
    if target_sessions:
        shares.append(min(Decimal(sessions) / target_sessions, Decimal(1)))
    progress = sum(shares, Decimal(0)) / len(shares) * 100 if shares else None
    last_on = entries[-1]["held_on"] if entries else None
    capacity = goal.get("capacity") or {}
    return {
        **_basics(goal),
        "skill": goal.get("skill"),
        "start_date": goal["start_date"],
        "due_date": goal["due_date"],
        "cadence": goal["cadence"],
        "capacity": {
            "hours_per_month": plain(number(capacity.get("hours_per_month"))),
            "budget": capacity.get("budget"),
            "mentor_id": capacity.get("mentor_id"),
        },
        "activities": {
            "training_hours": {"done": plain(training), "target": plain(target_hours)},
            "certifications": {"done": obtained, "target": wanted},
            "mentorship_sessions": {"done": sessions, "target": target_sessions},
        },
        "progress": plain(progress, 1),
        "behavioural": _behavioural(goal, entries),
        "applications": [
            {"held_on": e["held_on"], "performance_goal_id": e["skill_application"]["performance_goal_id"],
             "how": e["skill_application"]["how"]}
            for e in entries if e.get("skill_application")
        ],
        "notes": [{"held_on": e["held_on"], "notes": e["notes"]} for e in entries if e.get("notes")],
        "check_ins": len(entries),
        "last_check_in_on": last_on,
        "next_check_in_due": next_check_in_due(goal, facts),
        "missed_check_ins": len(facts.missed.get(goal["goal_id"], [])),
    }


def _behavioural(goal: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    target = goal.get("behavioural_target")
    rated = [e for e in entries if e.get("feedback")]
    if not target and not rated:
        return None
    sources = rated[-1]["feedback"]["sources"] if rated else []
    values: list[Decimal] = []
    shown = []
    for source in sources:
        average = number(source.get("average"))
        if average is None and source.get("ratings"):
            ratings = [number(r) or Decimal(0) for r in source["ratings"]]
            average = sum(ratings, Decimal(0)) / len(ratings)
        if average is not None:
            values.append(average)
        shown.append({"source": source["source"], "count": source.get("count", 0), "average": plain(average)})
    return {
        "competency": (target or {}).get("competency") or (rated[-1]["feedback"].get("competency") if rated else None),
        "target_rating": plain(number((target or {}).get("target_rating"))),
        "scale_max": plain(number((target or {}).get("rating_scale_max"))),
        "latest_rating": plain(sum(values, Decimal(0)) / len(values)) if values else None,
        "rated_on": rated[-1]["held_on"] if rated else None,
        "sources": shown,
    }


def _link_view(link: dict[str, Any]) -> dict[str, Any]:
    return {
        "link_id": link["link_id"],
        "rationale": link["rationale"],
        "skill": link.get("skill"),
        "evidence": link.get("evidence"),
        "future_role": link.get("future_role"),
        "linked_on": link["linked_on"],
    }


def capability_gaps(goal_id: str, reviews: list[dict[str, Any]], supporters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The capability gaps known behind a performance goal, and whether a live development goal covers each.

    Gaps come from completed reviews and from capability-gap links. A gap is covered by a development
    goal linked for the same skill that is not closed short of its aim.
    """
    def live(supporter: dict[str, Any]) -> bool:
        return supporter["status"] != "closed" or supporter.get("outcome") == "achieved"

    gaps: dict[str, dict[str, Any]] = {}
    for review in reviews:
        for gap in review.get("capability_gaps", ()):
            if gap["performance_goal_id"] == goal_id:
                gaps.setdefault(gap["skill"].casefold(), {"skill": gap["skill"], "source": "review",
                                                          "review_id": review["review_id"], "note": gap.get("note", "")})
    for supporter in supporters:
        if supporter["link"]["rationale"] == "capability_gap":
            skill = supporter["link"].get("skill") or supporter.get("skill") or ""
            gaps.setdefault(skill.casefold(), {"skill": skill, "source": "link", "note": supporter["link"].get("evidence") or ""})
    for key, gap in gaps.items():
        gap["covered_by"] = [
            s["goal_id"] for s in supporters
            if live(s) and s["link"]["rationale"] == "capability_gap"
            and key in {(s["link"].get("skill") or "").casefold(), (s.get("skill") or "").casefold()}
        ]
    return sorted(gaps.values(), key=lambda g: g["skill"])


def build_card(tenant_id: str, employee_id: str, facts: Facts) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card document of one employee, and the counters the roll-ups sum."""
    person = facts.people.get(employee_id) or {}
    own = [facts.goals[g] for g in facts.goals_of.get(employee_id, ())]
    own = [g for g in own if not (g["status"] == "closed" and g.get("outcome") == "abandoned")]
    reviews = _latest_reviews(facts.reviews.get(employee_id, []))
    performance = {g["goal_id"]: performance_view(g, facts) for g in own if g["kind"] == "performance"}
    development = {g["goal_id"]: development_view(g, facts) for g in own if g["kind"] == "development"}

    for view in performance.values():
        supporters = []
        for link in facts.links_to.get(view["goal_id"], ()):
            goal = facts.goals.get(link["development_goal_id"])
            # The employee's own goals were viewed just above: views depend only on the goal and the facts.
            summary = development.get(goal["goal_id"]) or development_view(goal, facts) if goal else {
                "goal_id": link["development_goal_id"], "employee_id": link["development_owner_id"],
                "title": None, "status": "unknown", "skill": None, "progress": None}
            supporters.append({
                "goal_id": summary["goal_id"], "employee_id": summary["employee_id"], "title": summary["title"],
                "status": summary["status"], "outcome": summary.get("outcome"), "skill": summary.get("skill"),
                "progress": summary.get("progress"), "behavioural": summary.get("behavioural"),
                "activities": summary.get("activities"), "link": _link_view(link),
            })
        view["supported_by"] = sorted(supporters, key=lambda s: (s["status"] == "closed", s["title"] or "", s["goal_id"]))
        view["capability_gaps"] = capability_gaps(view["goal_id"], reviews, supporters)

    for view in development.values():
        aligned = []
        for link in facts.links_from.get(view["goal_id"], ()):
            goal = facts.goals.get(link["performance_goal_id"])
            target = performance.get(goal["goal_id"]) or performance_view(goal, facts) if goal else None
            aligned.append({
                "goal_id": link["performance_goal_id"], "employee_id": link["performance_owner_id"],
                "title": target["title"] if target else None, "status": target["status"] if target else "unknown",
                "attainment": target["attainment"] if target else None, "health": target["health"] if target else None,
                "link": _link_view(link),
            })
        view["aligned_to"] = sorted(aligned, key=lambda a: (a["title"] or "", a["goal_id"]))

    identity = {
        "display_name": person.get("display_name") or employee_id,
        "job_title": person.get("job_title"),
        "department": person.get("department"),
        "manager_id": person.get("manager_id"),
        "active": not person.get("departed_at") or (person.get("profile_at") or "") > person["departed_at"],
        "in_directory": bool(person.get("profile_at")),
    }
    return assemble_card(tenant_id, employee_id, identity, performance, development,
                         _capacity(employee_id, development, facts))


def with_new_performance_goals(card: dict[str, Any], goals: list[dict[str, Any]],
                               reviews: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stored card with performance goals added that nothing else names yet: no check-in, missed check-in
    or link of theirs is stored. Their views then depend only on themselves and the owner's reviews, and
    they change no other view, nor the capacity (a performance goal sets no hours aside, and without check-ins
    it moves no month). So the card is ``build_card``'s over all the facts, at a fraction of the cost.

    ``reviews``: at least the owner's reviews that name any of ``goals`` (no other review says anything of them).
    """
    performance = {view["goal_id"]: view for view in card["performance_goals"]}
    development = {view["goal_id"]: view for view in card["development_goals"]}
    latest = _latest_reviews(reviews)
    nothing_else = Facts()
    for goal in goals:
        view = performance_view(goal, nothing_else)
        view["supported_by"] = []
        view["capability_gaps"] = capability_gaps(goal["goal_id"], latest, [])
        performance[goal["goal_id"]] = view
    identity = {name: card[name] for name in _IDENTITY}
    return assemble_card(card["tenant_id"], card["employee_id"], identity, performance, development, card["capacity"])


_IDENTITY = ("display_name", "job_title", "department", "manager_id", "active", "in_directory")


def assemble_card(tenant_id: str, employee_id: str, identity: dict[str, Any], performance: dict[str, dict[str, Any]],
                  development: dict[str, dict[str, Any]], capacity: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card of one employee from their goals' views (links and gaps joined in), and its counters."""
    flags = _flags(performance, development, capacity)
    active_performance = [v for v in performance.values() if v["status"] == "active"]
    active_development = [v for v in development.values() if v["status"] == "active"]
    by_title = lambda v: (v["status"] != "active", v["cycle"], v["title"], v["goal_id"])  # noqa: E731
    counts = {
        "performance_goals": len(active_performance),
        "supported_performance_goals": sum(1 for v in active_performance if any(
            s["status"] in ("active", "draft") for s in v["supported_by"])),
        "development_goals": len(active_development),
        "aligned_development_goals": sum(1 for v in active_development if v["aligned_to"]),
        "on_track": sum(1 for v in active_performance if v["health"] == "on_track"),
        "at_risk": sum(1 for v in active_performance if v["health"] == "at_risk"),
        "off_track": sum(1 for v in active_performance if v["health"] == "off_track"),
        "gaps_without_development": sum(1 for f in flags if f["code"] == "capability_gap_without_development"),
        "unaligned_development_goals": sum(1 for f in flags if f["code"] == "development_aligned_to_nothing"),
        "capacity_over_committed": int(any(f["code"] == "capacity_over_committed" for f in flags)),
        "capacity_unused": int(any(f["code"] == "capacity_unused" for f in flags)),
        "hours_set_aside": capacity["hours_per_month_set_aside"] or 0.0,
        "hours_logged": capacity["hours_logged"] or 0.0,
    }
    card = {
        "tenant_id": tenant_id,
        "employee_id": employee_id,
        **{name: identity[name] for name in _IDENTITY},
        "performance_goals": sorted(performance.values(), key=by_title),
        "development_goals": sorted(development.values(), key=by_title),
        "capacity": capacity,
        "flags": flags,
        "counts": counts,
    }
    return card, counts


def _capacity(employee_id: str, development: dict[str, dict[str, Any]], facts: Facts) -> dict[str, Any]:
    set_aside = sum(
        (number(v["capacity"]["hours_per_month"]) or Decimal(0) for v in development.values() if v["status"] == "active"),
        Decimal(0),
    )
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    months_seen: set[str] = set()
    for goal_id in facts.goals_of.get(employee_id, ()):
        for entry in facts.development_checkins.get(goal_id, ()):
            month = entry["held_on"][:7]
            months_seen.add(month)
            by_month[month] += sum((number(t["hours"]) or Decimal(0) for t in entry.get("training", ())), Decimal(0))
            by_month[month] += Decimal(sum(m["minutes"] for m in entry.get("mentorship", ()))) / 60
        history = facts.kpi_checkins.get(goal_id)
        if history:
            months_seen.add(history[-1]["held_on"][:7])  # histories are in date order: the last is the latest
    # The month of the latest check-in of any kind: a fact, so the figure does not drift with the clock.
    reference = max(months_seen) if months_seen else None
    logged = by_month.get(reference, Decimal(0)) if reference else Decimal(0)
    return {
        "hours_per_month_set_aside": plain(set_aside),
        "reference_month": reference,
        "hours_logged": plain(logged),
        "by_month": {month: plain(hours) for month, hours in sorted(by_month.items())[-6:]},
        "over_committed": bool(logged > set_aside and logged > 0),
        "unused": bool(set_aside > 0 and logged < set_aside * UNUSED_SHARE),
    }


def _flags(performance: dict[str, dict[str, Any]], development: dict[str, dict[str, Any]],
           capacity: dict[str, Any]) -> list[dict[str, Any]]:
    flags = []
    for view in sorted(performance.values(), key=lambda v: v["goal_id"]):
        if view["status"] != "active":
            continue
        for gap in view["capability_gaps"]:
            if not gap["covered_by"]:
                flags.append({"code": "capability_gap_without_development", "goal_id": view["goal_id"],
                              "message": f"Capability gap in {gap['skill']} behind “{view['title']}” has no development goal"})
    for view in sorted(development.values(), key=lambda v: v["goal_id"]):
        if view["status"] in ("active", "draft") and not view["aligned_to"]:
            flags.append({"code": "development_aligned_to_nothing", "goal_id": view["goal_id"],
                          "message": f"“{view['title']}” is not aligned to any performance goal"})
    if capacity["over_committed"]:
        flags.append({"code": "capacity_over_committed", "goal_id": None,
                      "message": f"{capacity['hours_logged']} h of development logged in {capacity['reference_month']},"
                                 f" over the {capacity['hours_per_month_set_aside']} h set aside"})
    if capacity["unused"]:
        flags.append({"code": "capacity_unused", "goal_id": None,
                      "message": f"Only {capacity['hours_logged']} h of the {capacity['hours_per_month_set_aside']} h"
                                 f" set aside were used" + (f" in {capacity['reference_month']}" if capacity["reference_month"] else "")})
    return flags


def _pick(source: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: source.get(name) for name in names}


def summarize(card: dict[str, Any]) -> dict[str, Any]:
    """The part of a card a team dashboard shows per report: live goals, their support, capacity and flags.

    Stored beside the card so a team of a thousand is answered by joining stored JSON, not rebuilding it.
    """
    live = ("active", "draft")
    return {
        # No counters: the team's roll-up sums them, and each employee's card has its own.
        **_pick(card, "employee_id", "display_name", "job_title", "department", "manager_id", "flags"),
        "capacity": _pick(card["capacity"], "hours_per_month_set_aside", "reference_month", "hours_logged",
                          "over_committed", "unused"),
        "performance_goals": [
            {
                **_pick(goal, "goal_id", "title", "cycle", "status", "level", "parent_goal_id", "cadence", "actual",
                        "attainment", "health", "last_check_in_on", "next_check_in_due", "missed_check_ins"),
                "kpi": _pick(goal["kpi"], "name", "unit", "baseline", "target"),
                "supported_by": [
                    {
                        **_pick(support, "goal_id", "employee_id", "title", "status", "skill", "progress", "activities"),
                        "behavioural": _pick(support.get("behavioural") or {}, "competency", "latest_rating", "scale_max"),
                        "link": _pick(support["link"], "rationale", "skill", "future_role"),
                    }
                    for support in goal["supported_by"] if support["status"] in live
                ],
            }
            for goal in card["performance_goals"] if goal["status"] == "active"
        ],
        "development_goals": [
            {
                **_pick(goal, "goal_id", "title", "cycle", "status", "skill", "progress", "next_check_in_due",
                        "missed_check_ins"),
                "aligned_to": [_pick(target, "goal_id", "employee_id", "title") for target in goal["aligned_to"]],
            }
            for goal in card["development_goals"] if goal["status"] in live
        ],
    }
