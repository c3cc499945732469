"""The review packet: one employee's cycle, in the three steps of the review, assembled only from events.

1. Performance goals against their targets, with the check-in history behind each result.
2. The connections: capability gaps and development that paid off, with the review's questions put to the data.
3. Development goals (activities, feedback, evidence the skill was applied) and suggested next-cycle goals
   for the gaps still open.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tandem_projections.cards import Facts, build_card, development_view, number, performance_view, plain
from tandem_projections.queries import UnknownScope
from tandem_projections.read_model import load_facts
from tandem_runtime.database import Cursor


def _first_name(person: dict[str, Any], employee_id: str) -> str:
    return (person.get("display_name") or employee_id).split(" ")[0]


def _quantity(value: float | None, unit: str | None) -> str:
    if value is None:
        return "no value"
    shown = f"{value:g}"
    return f"{shown}%" if unit in ("percent", "%") else f"{shown} {unit or ''}".strip()


def _result_sentence(name: str, view: dict[str, Any]) -> str:
    kpi = view["kpi"]
    if view["actual"] is None:
        return f"No {kpi['name']} value was checked in for “{view['title']}”."
    # Above or below as the numbers stand, whichever way the KPI should move: attainment says how well it went.
    gap = view["actual"] - (kpi["target"] or 0)
    relation = "above" if gap > 0 else "below" if gap < 0 else "exactly on"
    points = f"{abs(round(gap, 2)):g} percentage points" if kpi["unit"] in ("percent", "%") else None
    distance = "" if gap == 0 else f"{points or _quantity(abs(round(gap, 2)), kpi['unit'])} "
    return (
        f"{name} moved {kpi['name']} from {_quantity(kpi['baseline'], kpi['unit'])} to "
        f"{_quantity(view['actual'], kpi['unit'])}, {distance}{relation} the target of "
        f"{_quantity(kpi['target'], kpi['unit'])} ({view['attainment']:g}% attainment)."
    )


def _effective_review(facts: Facts, employee_id: str, cycle: str) -> dict[str, Any] | None:
    reviews = [r for r in facts.reviews.get(employee_id, []) if r["cycle"] == cycle]
    corrected = {r.get("corrects_review_id") for r in reviews}
    latest = [r for r in reviews if r["review_id"] not in corrected]
    return max(latest, key=lambda r: r["occurred_at"]) if latest else None


def review_packet(cursor: Cursor, tenant_id: str, employee_id: str, cycle: str, today: date) -> dict[str, Any]:
    """The packet for ``employee_id``'s review of ``cycle``."""
    facts = load_facts(cursor, tenant_id, [employee_id])
    person = facts.people.get(employee_id) or {}
    own = [facts.goals[g] for g in facts.goals_of.get(employee_id, ())]
    in_cycle = [g for g in own if g["cycle"] == cycle and not (g["status"] == "closed" and g.get("outcome") == "abandoned")]
    if not in_cycle and not person:
        raise UnknownScope(f"employee {employee_id!r} has nothing in cycle {cycle!r}")
    card, _ = build_card(tenant_id, employee_id, facts)
    review = _effective_review(facts, employee_id, cycle)
    name = _first_name(person, employee_id)
    performance_ids = {g["goal_id"] for g in in_cycle if g["kind"] == "performance"}
    development_ids = {g["goal_id"] for g in in_cycle if g["kind"] == "development"}
    card_performance = {v["goal_id"]: v for v in card["performance_goals"]}
    card_development = {v["goal_id"]: v for v in card["development_goals"]}

    results = {str(r["goal_id"]): r for r in (review or {}).get("performance", ())}
    step1 = []
    for goal in sorted((g for g in in_cycle if g["kind"] == "performance"), key=lambda g: (g["title"], g["goal_id"])):
        view = card_performance.get(goal["goal_id"]) or performance_view(goal, facts)
        history = facts.kpi_checkins.get(goal["goal_id"], [])
        roadblocks = [f"{c['held_on']}: {c['roadblocks']}" for c in history if c["roadblocks"]]
        resources = [f"{c['held_on']}: {c['resources_needed']}" for c in history if c["resources_needed"]]
        reviewed = results.get(goal["goal_id"])
        step1.append({
            **{k: view[k] for k in ("goal_id", "title", "status", "outcome", "kpi", "actual", "attainment", "health",
                                    "due_date", "cadence", "missed_check_ins")},
            "result": _result_sentence(name, view),
            "check_in_history": [
                {"held_on": c["held_on"], "kpi_value": plain(number(c["kpi_value"])), "status": c["status"],
                 "roadblocks": c["roadblocks"], "resources_needed": c["resources_needed"]}
                for c in history
            ],
            "why": {
                "prompt": "What external factors (challenges, unexpected resources) influenced the results?",
                "roadblocks_raised": roadblocks,
                "resources_asked_for": resources,
                "answer": reviewed["factors"] if reviewed else None,
            },
            "how": {
                "prompt": f"Did {name} demonstrate the company's values and core competencies while pursuing this goal?",
                "answer": reviewed["how"] if reviewed else None,
            },
            "rating": plain(number(reviewed["rating"])) if reviewed else None,
        })

    gaps, payoffs = [], []
    for view in (card_performance[g] for g in sorted(performance_ids) if g in card_performance):
        for gap in view["capability_gaps"]:
            gaps.append({
                "skill": gap["skill"], "performance_goal_id": view["goal_id"], "performance_goal": view["title"],
                "source": gap["source"], "note": gap.get("note") or "", "covered_by": gap["covered_by"],
                "prompt": f"What skills or knowledge, if {name} had possessed them, would have made achieving "
                          f"“{view['title']}” easier or faster?",
                "answer": f"{gap['skill']}" + (f": {gap['note']}" if gap.get("note") else ""),
            })
        if view["health"] in ("at_risk", "off_track") and not view["capability_gaps"]:
            gaps.append({
                "skill": None, "performance_goal_id": view["goal_id"], "performance_goal": view["title"],
                "source": "check-ins", "note": f"last checked in as {view['health'].replace('_', ' ')}",
                "covered_by": [],
                "prompt": f"What skills or knowledge, if {name} had possessed them, would have made achieving "
                          f"“{view['title']}” easier or faster?",
                "answer": None,
            })
    for item in (review or {}).get("payoffs", ()):
        development = facts.goals.get(str(item["development_goal_id"]), {})
        target = facts.goals.get(str(item["performance_goal_id"]), {})
        payoffs.append({"development_goal_id": item["development_goal_id"], "development_goal": development.get("title"),
                        "performance_goal_id": item["performance_goal_id"], "performance_goal": target.get("title"),
                        "source": "review", "evidence": [item.get("note") or ""]})
    recorded = {(p["development_goal_id"], p["performance_goal_id"]) for p in payoffs}
    for goal_id in sorted(development_ids):
        view = card_development.get(goal_id)
        if not view:
            continue
        for application in view["applications"]:
            pair = (goal_id, application["performance_goal_id"])
            target = facts.goals.get(application["performance_goal_id"], {})
            if pair in recorded:
                continue
            recorded.add(pair)
            payoffs.append({
                "development_goal_id": goal_id, "development_goal": view["title"],
                "performance_goal_id": application["performance_goal_id"], "performance_goal": target.get("title"),
                "source": "check-ins",
                "evidence": [f"{a['held_on']}: {a['how']}" for a in view["applications"]
                             if a["performance_goal_id"] == application["performance_goal_id"]],
            })
    for payoff in payoffs:
        payoff["prompt"] = (f"Did “{payoff['development_goal']}” pay off in “{payoff['performance_goal']}”? "
                            "Name the result it led to.")

    developed = {str(r["goal_id"]): r for r in (review or {}).get("development", ())}
    step3 = []
    for goal_id in sorted(development_ids, key=lambda g: facts.goals[g]["title"]):
        view = card_development.get(goal_id) or development_view(facts.goals[goal_id], facts)
        reviewed = developed.get(goal_id)
        courses = sorted({t["course"] for e in facts.development_checkins.get(goal_id, []) for t in e.get("training", ())})
        finished = courses[-1] if courses else view["title"]
        step3.append({
            **{k: view[k] for k in ("goal_id", "title", "status", "outcome", "skill", "activities", "progress",
                                    "behavioural", "applications", "capacity")},
            "aligned_to": view.get("aligned_to", []),
            "courses": courses,
            "feedback": view["behavioural"],
            "applied": reviewed["applied"] if reviewed else bool(view["applications"]),
            "evidence": list(reviewed.get("evidence", ())) if reviewed else [a["how"] for a in view["applications"]],
            "aspirations": reviewed.get("aspirations") if reviewed else None,
            "prompt": f"You worked on “{finished}”—tell me two specific situations where you used "
                      f"{view['skill'] or 'the skill'}.",
        })

    planned_skills = {item["skill"].casefold() for item in (review or {}).get("plan", ())}
    suggested = []
    for gap in gaps:
        if gap["skill"] is None:
            continue
        covering = [card_development.get(g) or facts.goals.get(g) or {} for g in gap["covered_by"]]
        closed_well = any(c.get("outcome") == "achieved" or c.get("applications") for c in covering)
        already_planned = any(c.get("status") == "draft" for c in covering) or gap["skill"].casefold() in planned_skills
        if closed_well or already_planned:
            continue
        suggested.append({
            "title": f"Build {gap['skill']} for “{gap['performance_goal']}”",
            "skill": gap["skill"],
            "rationale": "capability_gap",
            "performance_goal_id": gap["performance_goal_id"],
            "evidence": gap["note"] or f"capability gap behind “{gap['performance_goal']}”",
            "why": "still open: no development goal for it has been applied or achieved"
            if covering else "no development goal addresses it yet",
        })
    next_cycle = (review or {}).get("next_cycle")
    planned = [
        {k: item.get(k) for k in ("title", "skill", "rationale", "performance_goal_id", "evidence", "future_role",
                                   "start_date", "due_date", "hours_per_month", "mentor_id", "budget")}
        for item in (review or {}).get("plan", ())
    ]

    return {
        "tenant_id": tenant_id,
        "cycle": cycle,
        "as_of": today.isoformat(),
        "employee": {"employee_id": employee_id, "display_name": card["display_name"], "job_title": card["job_title"],
                     "department": card["department"], "manager_id": card["manager_id"]},
        "review": None if review is None else {
            "review_id": review["review_id"], "reviewer_id": review["reviewer_id"],
            "completed_at": review["occurred_at"], "next_cycle": next_cycle,
            "rating_scale_max": plain(number(review["rating_scale_max"])),
            "corrects_review_id": review.get("corrects_review_id"),
        },
        "steps": {
            "performance": {"title": "Review the performance goals", "goals": step1},
            "connections": {"title": "Connect performance to development", "capability_gaps": gaps, "payoffs": payoffs},
            "development": {
                "title": "Review the development goals and plan ahead",
                "goals": step3,
                "suggested_next_cycle": suggested,
                "planned_next_cycle": planned,
            },
        },
    }
