"""Dashboard queries over the cards: one employee, a manager's team, a department, the whole tenant.

"Overdue" is the one thing decided here, against ``today``: a check-in is overdue when the date its
goal's cadence set for the next one has passed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from tandem_projections.read_model import COUNTERS, department_rollups
from tandem_runtime.database import Cursor

MAX_TEAM_DEPTH = 64  # guards the recursive walk against a cycle in the directory's manager chain
MAX_TREE_NODES = 2000

_TEAM = (
    "WITH RECURSIVE team (employee_id, depth) AS ("
    " SELECT employee_id, 1 FROM rm_people WHERE tenant_id = ? AND manager_id = ?"
    " UNION ALL SELECT p.employee_id, t.depth + 1 FROM rm_people p JOIN team t ON p.manager_id = t.employee_id"
    " WHERE p.tenant_id = ? AND t.depth < ?)"
)


class UnknownScope(LookupError):
    """The employee, manager or department asked for is not known to the read model."""


def annotate(card: dict[str, Any], today: str) -> dict[str, Any]:
    """Mark each goal whose next check-in date has passed, and add the overdue flags."""
    overdue = 0
    for view in (*card["performance_goals"], *card["development_goals"]):
        due = view.get("next_check_in_due")
        view["overdue"] = bool(due and due < today)
        if view["overdue"]:
            overdue += 1
            card["flags"].append({"code": "check_in_overdue", "goal_id": view["goal_id"],
                                  "message": f"Check-in on “{view['title']}” was due by {due}"})
    card["counts"]["overdue_check_ins"] = overdue
    return card


def rollup(sums: tuple[Any, ...], employees: int, overdue: int) -> dict[str, Any]:
    """Counts and shares over a set of cards."""
    totals = dict(zip(COUNTERS, sums, strict=True))
    rated = totals["on_track"] + totals["at_risk"] + totals["off_track"]

    def share(part: float, whole: float) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "employees": employees,
        "performance_goals": int(totals["performance_goals"]),
        "development_goals": int(totals["development_goals"]),
        "development_support_share": share(totals["supported_performance_goals"], totals["performance_goals"]),
        "aligned_development_share": share(totals["aligned_development_goals"], totals["development_goals"]),
        "on_track_rate": share(totals["on_track"], rated),
        "on_track": int(totals["on_track"]),
        "at_risk": int(totals["at_risk"]),
        "off_track": int(totals["off_track"]),
        "overdue_check_ins": overdue,
        "gaps_without_development": int(totals["gaps_without_development"]),
        "unaligned_development_goals": int(totals["unaligned_development_goals"]),
        "capacity_over_committed": int(totals["capacity_over_committed"]),
        "capacity_unused": int(totals["capacity_unused"]),
        "hours_set_aside": round(float(totals["hours_set_aside"]), 1),
        "hours_logged": round(float(totals["hours_logged"]), 1),
    }


def name_parents(cursor: Cursor, tenant_id: str, cards: list[dict[str, Any]]) -> None:
    """Name the goal each performance goal cascades from."""
    wanted = sorted({v["parent_goal_id"] for c in cards for v in c["performance_goals"] if v.get("parent_goal_id")})
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        cursor.execute(
            "SELECT goal_id, title, employee_id, level FROM rm_goals WHERE tenant_id = ? AND goal_id IN ("
            + ",".join("?" * len(chunk)) + ")",
            (tenant_id, *chunk),
        )
        found.update({g: {"goal_id": g, "title": t, "employee_id": e, "level": lv} for g, t, e, lv in cursor.fetchall()})
    for card in cards:
        for view in card["performance_goals"]:
            parent = view.get("parent_goal_id")
            view["cascades_from"] = found.get(parent) if parent else None


def goal_version(cursor: Cursor, tenant_id: str, goal_id: str) -> int:
    """The version of a goal the read model has applied (0 for a goal it has not seen)."""
    cursor.execute("SELECT version FROM rm_goals WHERE tenant_id = ? AND goal_id = ?", (tenant_id, goal_id))
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def employee_dashboard(cursor: Cursor, tenant_id: str, employee_id: str, today: date) -> dict[str, Any]:
    """One employee's card, with overdue check-ins as of ``today``."""
    cursor.execute(
        "SELECT document FROM rm_card_documents WHERE tenant_id = ? AND employee_id = ?", (tenant_id, employee_id)
    )
    row = cursor.fetchone()
    if row is None:
        raise UnknownScope(f"employee {employee_id!r} is not known")
    card = annotate(orjson.loads(row[0]), today.isoformat())
    name_parents(cursor, tenant_id, [card])
    return {"scope": "employee", "tenant_id": tenant_id, "as_of": today.isoformat(), "employee": card}


def team_dashboard_json(cursor: Cursor, tenant_id: str, manager_id: str, today: date) -> bytes:
    """A manager's reports, transitively: each report's summary and the team's roll-up, as JSON.

    The summaries are stored JSON joined as they are, so a team of a thousand costs no parsing; what is
    overdue today is listed once, as ``overdue_goal_ids``.
    """
    iso = today.isoformat()
    team = (tenant_id, manager_id, tenant_id, MAX_TEAM_DEPTH)
    # CROSS JOIN fixes the join order in SQLite: walk the team first, then look each member up by key. The
    # team is walked once for both halves (a CTE used twice is materialised): the reports' summaries and
    # counters (kind 0), then their goals overdue today (kind 1).
    members = _TEAM + ", members (employee_id) AS (SELECT DISTINCT employee_id FROM team)"
    cursor.execute(
        members + " SELECT 0, c.display_name, c.employee_id, d.summary, " + ", ".join(f"c.{name}" for name in COUNTERS)
        + " FROM members m CROSS JOIN rm_cards c CROSS JOIN rm_card_summaries d"
        " WHERE c.tenant_id = ? AND c.employee_id = m.employee_id AND d.tenant_id = c.tenant_id"
        " AND d.employee_id = c.employee_id AND c.active = 1"
        " UNION ALL SELECT 1, g.goal_id, NULL, NULL, " + ", ".join("NULL" for _ in COUNTERS)
        + " FROM members m CROSS JOIN rm_cards c CROSS JOIN rm_goal_figures g"
        " WHERE c.tenant_id = ? AND c.employee_id = m.employee_id AND c.active = 1 AND g.tenant_id = c.tenant_id"
        " AND g.employee_id = c.employee_id AND g.status = 'active' AND g.next_check_in_due < ?",
        (*team, tenant_id, tenant_id, iso),
    )
    found = cursor.fetchall()
    # Sorted here, not by the database, so SQLite and PostgreSQL list a team alike (their collations differ).
    rows = sorted((row[1:] for row in found if row[0] == 0), key=lambda row: (row[0], row[1]))
    overdue = sorted(row[1] for row in found if row[0] == 1)
    summaries = [row[2] for row in rows]
    sums = [sum(column) for column in zip(*(row[3:] for row in rows), strict=True)] if rows else [0] * len(COUNTERS)
    employees = len(rows)
    cursor.execute(
        "SELECT display_name, job_title, department FROM rm_people WHERE tenant_id = ? AND employee_id = ?",
        (tenant_id, manager_id),
    )
    manager_row = cursor.fetchone()
    if manager_row is None and not summaries:
        raise UnknownScope(f"manager {manager_id!r} is not known")
    name, title, department = manager_row or (manager_id, None, None)
    head = {
        "scope": "team",
        "tenant_id": tenant_id,
        "as_of": iso,
        "manager": {"employee_id": manager_id, "display_name": name or manager_id, "job_title": title,
                    "department": department},
        "rollup": rollup(tuple(sums), employees, len(overdue)),
        "overdue_goal_ids": overdue,
    }
    return orjson.dumps(head)[:-1] + b',"reports":[' + ",".join(summaries).encode() + b"]}"


def team_dashboard(cursor: Cursor, tenant_id: str, manager_id: str, today: date) -> dict[str, Any]:
    """``team_dashboard_json`` parsed, with each report's goals marked overdue or not."""
    team = orjson.loads(team_dashboard_json(cursor, tenant_id, manager_id, today))
    overdue = set(team["overdue_goal_ids"])
    for report in team["reports"]:
        for goal in (*report["performance_goals"], *report["development_goals"]):
            goal["overdue"] = goal["goal_id"] in overdue
    return team


def department_dashboard(cursor: Cursor, tenant_id: str, department: str, today: date) -> dict[str, Any]:
    """A department's roll-up and a line per employee."""
    cursor.execute(
        "SELECT employee_id, display_name, manager_id, " + ", ".join(COUNTERS)
        + " FROM rm_cards WHERE tenant_id = ? AND department = ? AND active = 1",
        (tenant_id, department),
    )
    rows = cursor.fetchall()
    if not rows:
        raise UnknownScope(f"department {department!r} is not known")
    cursor.execute(
        "SELECT g.employee_id, COUNT(*) FROM rm_goal_figures g JOIN rm_cards c ON c.tenant_id = g.tenant_id"
        " AND c.employee_id = g.employee_id WHERE g.tenant_id = ? AND c.department = ? AND c.active = 1"
        " AND g.status = 'active' AND g.next_check_in_due < ? GROUP BY g.employee_id",
        (tenant_id, department, today.isoformat()),
    )
    overdue = dict(cursor.fetchall())
    employees = []
    sums = [0] * len(COUNTERS)
    for employee_id, name, manager_id, *counts in rows:
        for index, value in enumerate(counts):
            sums[index] += value
        employees.append({"employee_id": employee_id, "display_name": name, "manager_id": manager_id,
                          "counts": {**dict(zip(COUNTERS, counts, strict=True)),
                                     "overdue_check_ins": overdue.get(employee_id, 0)}})
    employees.sort(key=lambda e: (e["display_name"], e["employee_id"]))
    return {
        "scope": "department",
        "tenant_id": tenant_id,
        "department": department,
        "as_of": today.isoformat(),
        "rollup": rollup(tuple(sums), len(rows), sum(overdue.values())),
        "employees": employees,
    }


def tenant_dashboard(cursor: Cursor, tenant_id: str, today: date) -> dict[str, Any]:
    """The whole tenant: its roll-up, one per department, and the organisation goals' cascade."""
    departments = department_rollups(cursor, tenant_id)
    # Only the goals of people still here, as every other figure of the roll-up: every overdue goal, read from
    # its covering index, less those of the few who have left (joined goal by goal instead, 63,000 overdue
    # goals of 100,000 people took 130 ms).
    iso = today.isoformat()
    cursor.execute(
        "SELECT COUNT(*) FROM rm_goal_figures WHERE tenant_id = ? AND next_check_in_due < ? AND status = 'active'",
        (tenant_id, iso),
    )
    overdue_total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT COUNT(*) FROM rm_cards c CROSS JOIN rm_goal_figures g WHERE c.tenant_id = ? AND c.active = 0"
        " AND g.tenant_id = c.tenant_id AND g.employee_id = c.employee_id AND g.next_check_in_due < ? AND g.status = 'active'",
        (tenant_id, iso),
    )
    overdue_total -= cursor.fetchone()[0]
    totals = [0] * len(COUNTERS)
    employees = 0
    breakdown = []
    for department, count, *sums in departments:
        employees += count
        for index, value in enumerate(sums):
            totals[index] += value
        breakdown.append({"department": department, **rollup(tuple(sums), count, 0)})
    for entry in breakdown:
        del entry["overdue_check_ins"]  # counted per tenant only: per department it costs a join over every goal
    breakdown.sort(key=lambda d: (d["department"] is None, d["department"] or ""))
    return {
        "scope": "tenant",
        "tenant_id": tenant_id,
        "as_of": today.isoformat(),
        "rollup": rollup(tuple(totals), employees, overdue_total),
        "departments": breakdown,
        "cascade": cascade_roots(cursor, tenant_id),
    }


def cascade_roots(cursor: Cursor, tenant_id: str) -> list[dict[str, Any]]:
    """The organisation goals, each with how many goals cascade from it directly and how they are doing."""
    cursor.execute(
        "SELECT f.goal_id, g.title, f.employee_id, f.status, f.attainment, f.health FROM rm_goal_figures f"
        " JOIN rm_goals g ON g.tenant_id = f.tenant_id AND g.goal_id = f.goal_id"
        " WHERE f.tenant_id = ? AND f.level = 'organisation' AND f.status <> 'closed'",
        (tenant_id,),
    )
    roots = {
        g: {"goal_id": g, "title": t, "employee_id": e, "status": s, "attainment": a, "health": h,
            "children": 0, "children_attainment": None, "children_on_track": 0}
        for g, t, e, s, a, h in cursor.fetchall()
    }
    ids = sorted(roots)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        cursor.execute(
            "SELECT parent_goal_id, COUNT(*), SUM(ROUND(attainment * 10)), COUNT(attainment),"
            " SUM(CASE WHEN health = 'on_track' THEN 1 ELSE 0 END)"
            " FROM rm_goal_figures WHERE tenant_id = ? AND parent_goal_id IN (" + ",".join("?" * len(chunk)) + ")"
            " GROUP BY parent_goal_id",
            (tenant_id, *chunk),
        )
        # Summed in whole tenths, which floats add exactly in any order: row order cannot tip the rounding.
        for parent, count, tenths, rated, on_track in cursor.fetchall():
            roots[parent].update(children=count, children_on_track=int(on_track or 0),
                                 children_attainment=round(float(tenths) / rated / 10, 1) if rated else None)
    return sorted(roots.values(), key=lambda r: (r["title"], r["goal_id"]))


def cascade_tree(cursor: Cursor, tenant_id: str, goal_id: str) -> dict[str, Any]:
    """A goal and every goal cascaded from it, as a tree (at most ``MAX_TREE_NODES`` nodes)."""
    cursor.execute(
        "WITH RECURSIVE tree (goal_id, depth) AS (SELECT goal_id, 0 FROM rm_goal_figures WHERE tenant_id = ? AND goal_id = ?"
        " UNION SELECT f.goal_id, t.depth + 1 FROM rm_goal_figures f JOIN tree t ON f.parent_goal_id = t.goal_id"
        " WHERE f.tenant_id = ? AND t.depth < ?)"
        " SELECT g.goal_id, g.parent_goal_id, g.title, g.employee_id, g.kind, g.level, g.status, f.attainment,"
        " f.health, MIN(t.depth) FROM tree t JOIN rm_goals g ON g.tenant_id = ? AND g.goal_id = t.goal_id"
        " JOIN rm_goal_figures f ON f.tenant_id = g.tenant_id AND f.goal_id = g.goal_id"
        " GROUP BY g.goal_id, g.parent_goal_id, g.title, g.employee_id, g.kind, g.level, g.status, f.attainment, f.health"
        " ORDER BY MIN(t.depth), g.title, g.goal_id LIMIT ?",
        (tenant_id, goal_id, tenant_id, MAX_TEAM_DEPTH, tenant_id, MAX_TREE_NODES + 1),
    )
    rows = cursor.fetchall()
    if not rows:
        raise UnknownScope(f"goal {goal_id!r} is not known")
    nodes: dict[str, dict[str, Any]] = {}
    for gid, parent, title, owner, kind, level, status, reached, health, depth in rows[:MAX_TREE_NODES]:
        nodes[gid] = {"goal_id": gid, "title": title, "employee_id": owner, "kind": kind, "level": level,
                      "status": status, "attainment": reached, "health": health, "children": [],
                      "parent_goal_id": parent, "depth": depth}
    root = nodes[goal_id]
    # Children in code-point order of title, as on SQLite, whatever the PostgreSQL collation.
    for node in sorted(nodes.values(), key=lambda n: (n["title"], n["goal_id"])):
        if node is not root and node["parent_goal_id"] in nodes:
            nodes[node["parent_goal_id"]]["children"].append(node)
    return {"tenant_id": tenant_id, "truncated": len(rows) > MAX_TREE_NODES, "tree": root}
