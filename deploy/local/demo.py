"""Load the demo organisation through the public HTTP API (idempotent: safe to run again on kept data).

The seed's examples: a sales team whose conversion target has a negotiation capability gap, and an
infrastructure engineer preparing for the move to the cloud (a future-role development goal), under an
organisation goal cascaded to the sales team.

A second run adds nothing: every command carries an ``Idempotency-Key`` and the same body as the first time
(check-in dates count back from the day of the first load, read from the check-ins service), so it is
answered with the first answer; directory records already in the goals service's replica are not sent again
(the pass-through keeps no state and would publish them twice).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

import httpx

TENANT = "demo"
CYCLE = "2026"

PEOPLE = [
    ("ceo-maria", "Maria Okafor", None, "Executive", "Chief Executive Officer"),
    ("mgr-ana", "Ana Lima", "ceo-maria", "Sales", "Sales Manager"),
    ("rep-ben", "Ben Carter", "mgr-ana", "Sales", "Account Executive"),
    ("rep-chloe", "Chloe Martin", "mgr-ana", "Sales", "Account Executive"),
    ("rep-dev", "Dev Patel", "mgr-ana", "Sales", "Account Executive"),
    ("mgr-lee", "Lee Wong", "ceo-maria", "Infrastructure", "Infrastructure Manager"),
    ("eng-sam", "Sam Novak", "mgr-lee", "Infrastructure", "Systems Engineer"),
]


class Demo:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.goals: list[dict] = []
        self.hired = 0
        self.added = 0  # commands that took effect now (not replayed from an earlier run)

    def call(self, method: str, path: str, key: str, **kwargs) -> dict:
        headers = {"Idempotency-Key": f"demo-{key}", **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code not in (200, 201, 202):
            sys.exit(f"demo step {key} refused: {response.status_code} {response.text}")
        self.added += response.headers.get("Idempotent-Replayed") != "true"
        return response.json()

    def goal(self, key: str, owner: str, body: dict, parent: str | None = None, actor: str | None = None) -> str:
        body = {"cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31", "employee_id": owner, **body}
        if parent:
            body["parent_goal_id"] = parent
        goal = self.call("POST", "/v1/goals", key, json=body, headers={"X-Actor-ID": actor or owner})
        self.goals.append(goal)
        return goal["goal_id"]

    def link(self, key: str, development: str, performance: str, body: dict, actor: str) -> None:
        self.call("POST", f"/v1/goals/{development}/links", key, json={"performance_goal_id": performance, **body},
                  headers={"X-Actor-ID": actor})


def load(goals_url: str) -> tuple[Demo, dict[str, str]]:
    """Hire the people, set and link the goals; return what was done (the goals as the service answered), and
    the key goals."""
    with httpx.Client(base_url=goals_url, headers={"X-Tenant-ID": TENANT}, timeout=30) as client:
        demo = Demo(client)
        for employee_id, name, manager, department, title in PEOPLE:
            record = {"display_name": name, "manager_id": manager, "department": department, "job_title": title,
                      "organization": "Demo Corp"}
            known = client.get(f"/v1/directory/employees/{employee_id}")
            if known.status_code == 200 and record.items() <= known.json().items():
                continue
            client.put(f"/v1/directory/employees/{employee_id}", json=record).raise_for_status()
            demo.hired += 1

        revenue = demo.goal("org-revenue", "ceo-maria", {
            "kind": "performance", "level": "organisation", "title": "Grow new-business revenue by 20%",
            "kpi": {"name": "new-business revenue", "unit": "EUR k", "baseline": "5000", "target": "6000", "direction": "increase"},
        })
        team = demo.goal("sales-conversions", "mgr-ana", {
            "kind": "performance", "level": "team", "title": "Increase new client conversions by 15%",
            "description": "Sales team goal, cascaded from the revenue goal.",
            "kpi": {"name": "new client conversion rate", "unit": "percent", "baseline": "20", "target": "23", "direction": "increase"},
        }, parent=revenue)
        cascade = demo.call("POST", "/v1/goals:cascade", "sales-cascade", json={
            "parent_goal_id": team, "manager_id": "mgr-ana",
            "goal": {"kind": "performance", "cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31",
                     "title": "Increase my new client conversions by 15%",
                     "kpi": {"name": "new client conversion rate", "unit": "percent", "baseline": "18",
                             "target": "20.7", "direction": "increase"}},
        }, headers={"X-Actor-ID": "mgr-ana"})
        bens = next(g["goal_id"] for g in cascade["goals"] if g["employee_id"] == "rep-ben")
        negotiation = demo.goal("rep-ben-negotiation", "rep-ben", {
            "kind": "development",
            "title": "Complete Advanced Negotiation Skills training and apply three techniques in client meetings each week",
            "skill": "negotiation",
            "activity_targets": {"training_hours": "24", "certifications": ["Advanced Negotiation Skills"], "mentorship_sessions": 6},
            "behavioural_target": {"competency": "negotiation", "target_rating": "4"},
            "capacity": {"hours_per_month": "6", "budget": {"amount": "1500", "currency": "EUR"}, "mentor_id": "mgr-ana"},
        }, actor="mgr-ana")
        demo.link("rep-ben-gap", negotiation, bens, {
            "rationale": "capability_gap",
            "evidence": "Conversions stuck at 18% while the team averages 20%; deals stall at the pricing conversation.",
        }, actor="mgr-ana")
        chloes = next(g["goal_id"] for g in cascade["goals"] if g["employee_id"] == "rep-chloe")
        devs = next(g["goal_id"] for g in cascade["goals"] if g["employee_id"] == "rep-dev")
        demo.goal("rep-chloe-public-speaking", "rep-chloe", {
            "kind": "development", "cadence": "quarterly", "title": "Give two talks at regional industry meetups",
            "skill": "public speaking", "activity_targets": {"training_hours": "8", "mentorship_sessions": 2},
            "capacity": {"hours_per_month": "2"},
        })
        prospecting = demo.goal("rep-dev-prospecting", "rep-dev", {
            "kind": "development", "title": "Complete the Prospecting Fundamentals course",
            "skill": "prospecting", "activity_targets": {"training_hours": "12"}, "capacity": {"hours_per_month": "4"},
        }, actor="mgr-ana")
        demo.link("rep-dev-gap", prospecting, devs, {
            "rationale": "capability_gap", "skill": "prospecting",
            "evidence": "Pipeline is half the team average: too few first meetings booked.",
        }, actor="mgr-ana")
        demo.call("POST", f"/v1/goals/{prospecting}/close", "rep-dev-prospecting-close",
                  json={"outcome": "abandoned", "note": "The course was cancelled by the provider."},
                  headers={"X-Actor-ID": "mgr-ana"})
        servers = demo.goal("eng-sam-servers", "eng-sam", {
            "kind": "performance", "cadence": "biweekly", "title": "Efficiently manage the current server infrastructure",
            "kpi": {"name": "unplanned downtime", "unit": "hours per quarter", "baseline": "12", "target": "4", "direction": "decrease"},
        }, actor="mgr-lee")
        cloud = demo.goal("eng-sam-cloud", "eng-sam", {
            "kind": "development", "cadence": "quarterly", "title": "Complete AWS Certified Cloud Practitioner training",
            "skill": "cloud infrastructure",
            "activity_targets": {"training_hours": "40", "certifications": ["AWS Certified Cloud Practitioner"]},
            "capacity": {"hours_per_month": "8", "budget": {"amount": "300", "currency": "EUR"}},
        }, actor="mgr-lee")
        demo.link("eng-sam-future", cloud, servers, {
            "rationale": "future_role", "future_role": "Cloud infrastructure engineer for the move to AWS",
        }, actor="mgr-lee")
        key_goals = {"bens_conversions": bens, "bens_negotiation": negotiation, "sams_servers": servers, "team": team,
                     "chloes_conversions": chloes, "devs_conversions": devs, "sams_cloud": cloud}
        demo.goals += [{"goal_id": g["goal_id"], "employee_id": g["employee_id"]} for g in cascade["goals"]]
        return demo, key_goals


BENS_WEEKS = 12  # Ben checks in weekly for 12 weeks: the first check-in is 11 weeks before the day of the load


def first_loaded_on(client: httpx.Client) -> date | None:
    """The day the demo was first loaded, from Ben's earliest check-in; None before any."""
    answer = client.get("/v1/employees/rep-ben/check-ins", params={"limit": 500})
    held = [date.fromisoformat(c["held_on"]) for c in answer.json()] if answer.status_code == 200 else []
    return min(held) + timedelta(weeks=BENS_WEEKS - 1) if held else None


def check_in(checkins_url: str, goals: dict[str, str]) -> tuple[int, int]:
    """Three months of the seed's rhythm: weekly KPI check-ins for the reps, bi-weekly for Sam, and monthly
    development check-ins. Dev's check-ins stop three weeks ago, so his are overdue. Returns how many
    check-ins were sent, and how many of them were new (not replayed from an earlier run)."""
    with httpx.Client(base_url=checkins_url, headers={"X-Tenant-ID": TENANT}, timeout=30) as client:
        today = first_loaded_on(client) or date.today()
        deadline = time.monotonic() + 60
        for goal in (goals["bens_negotiation"], goals["sams_cloud"], goals["devs_conversions"]):
            while client.get(f"/v1/goals/{goal}/check-in-schedule").status_code != 200:
                if time.monotonic() > deadline:
                    sys.exit("the check-ins service never saw the demo goals on Kafka")
                time.sleep(0.2)
        recorded = added = 0

        def record(key: str, employee: str, weeks_ago: int, entries: list[dict], manager: str) -> None:
            nonlocal recorded, added
            held_on = (today - timedelta(weeks=weeks_ago)).isoformat()
            response = client.post("/v1/check-ins", json={
                "employee_id": employee, "held_on": held_on, "held_by": [employee, manager], "entries": entries,
            }, headers={"Idempotency-Key": f"demo-checkin-{key}-{weeks_ago}", "X-Actor-ID": manager})
            if response.status_code not in (200, 201):
                sys.exit(f"demo check-in refused: {response.status_code} {response.text}")
            recorded += 1
            added += response.headers.get("Idempotent-Replayed") != "true"

        ben = ("18.0", "18.1", "17.9", "18.2", "18.4", "18.2", "18.6", "18.9", "19.1", "19.3", "19.4", "19.6")
        chloe = ("19.0", "19.4", "19.6", "19.9", "20.1", "20.2", "20.4", "20.6", "20.8", "21.0", "21.1", "21.3")
        dev = ("17.0", "16.8", "16.9", "16.5", "16.6", "16.2", "16.1", "15.9", "15.8")
        for index, weeks_ago in enumerate(range(BENS_WEEKS - 1, -1, -1)):
            entries = [{"kind": "performance", "goal_id": goals["bens_conversions"], "kpi_value": ben[index],
                        "unit": "percent", "status": "on_track" if float(ben[index]) >= 18.9 else "at_risk",
                        "roadblocks": "" if weeks_ago < 6 else "Deals stall at the pricing conversation"}]
            if weeks_ago in (8, 4, 0):
                entries.append({
                    "kind": "development", "goal_id": goals["bens_negotiation"],
                    "training": [{"hours": "6", "course": f"Advanced Negotiation Skills, module {3 - weeks_ago // 4}"}],
                    "mentorship": [{"mentor_id": "mgr-ana", "minutes": 45}],
                    "skill_application": {"performance_goal_id": goals["bens_conversions"],
                                          "how": "Anchored on value before price with Acme; the deal closed at full price."}
                    if weeks_ago == 0 else None,
                    "feedback": {"ratings": [{"source": "self", "rating": "3"}, {"source": "manager", "rating": "3.5"},
                                             {"source": "peer", "rating": "4"}, {"source": "peer", "rating": "3"},
                                             {"source": "peer", "rating": "3.5"}]},
                })
            record("ben", "rep-ben", weeks_ago, entries, "mgr-ana")
            record("chloe", "rep-chloe", weeks_ago, [{
                "kind": "performance", "goal_id": goals["chloes_conversions"], "kpi_value": chloe[index],
                "unit": "percent", "status": "on_track"}], "mgr-ana")
            if weeks_ago >= 3:
                record("dev", "rep-dev", weeks_ago, [{
                    "kind": "performance", "goal_id": goals["devs_conversions"], "kpi_value": dev[index],
                    "unit": "percent", "status": "off_track" if float(dev[index]) < 16.5 else "at_risk",
                    "roadblocks": "Too few first meetings; most of the week goes to renewals.",
                    "resources_needed": "Time for prospecting blocks; a prospecting course."}], "mgr-ana")
        downtime = ("11", "10", "9.5", "8", "7", "6")
        for index, weeks_ago in enumerate(range(10, -1, -2)):
            entries = [{"kind": "performance", "goal_id": goals["sams_servers"], "kpi_value": downtime[index],
                        "unit": "hours per quarter", "status": "on_track" if index >= 3 else "at_risk"}]
            if weeks_ago in (8, 0):
                entries.append({
                    "kind": "development", "goal_id": goals["sams_cloud"],
                    "training": [{"hours": "10" if weeks_ago else "12", "course": "AWS Cloud Practitioner Essentials"}],
                    "certifications": [{"name": "AWS Certified Cloud Practitioner", "issuer": "Amazon Web Services",
                                        "obtained_on": (today - timedelta(weeks=weeks_ago, days=2)).isoformat()}]
                    if weeks_ago == 0 else [],
                    "skill_application": {"performance_goal_id": goals["sams_servers"],
                                          "how": "Moved the backup jobs to S3: two fewer outages this quarter."}
                    if weeks_ago == 0 else None,
                })
            record("sam", "eng-sam", weeks_ago, entries, "mgr-lee")
        return recorded, added


def review(reviews_url: str, goals: dict[str, str]) -> int:
    """Ben's 2026 review by Ana, in the seed's three steps, with a plan for 2027; returns how many of its
    commands were new (not replayed from an earlier run)."""
    added = 0
    with httpx.Client(base_url=reviews_url, headers={"X-Tenant-ID": TENANT, "X-Actor-ID": "mgr-ana"}, timeout=30) as client:
        def call(method: str, path: str, key: str, body: dict | None = None) -> dict:
            nonlocal added
            response = client.request(method, path, json=body, headers={"Idempotency-Key": f"demo-review-{key}"})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{response.status_code} {response.text}")
            added += response.headers.get("Idempotent-Replayed") != "true"
            return response.json()

        review_id = call("POST", "/v1/reviews", "start", {"employee_id": "rep-ben", "cycle": CYCLE, "next_cycle": "2027"})["review_id"]
        performance = {"goals": [{
            "goal_id": goals["bens_conversions"], "rating": "4",
            "factors": "A new CRM in the spring cost two weeks of pipeline; three enterprise deals slipped into Q4.",
            "how": "Kept every client promise and coached two newer reps on discovery calls.",
        }]}
        def step(name: str, body: dict) -> None:
            deadline = time.monotonic() + 60
            while True:  # the reviews service learns goals and check-ins from Kafka: retry until it has them
                try:
                    call("PUT", f"/v1/reviews/{review_id}/steps/{name}", name, body)
                    return
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)

        step("performance", performance)
        step("connections", {
            "capability_gaps": [{"skill": "data analysis", "performance_goal_id": goals["bens_conversions"],
                                 "note": "To hit next year's target you'll need to read the pipeline data yourself."}],
            "payoffs": [{"development_goal_id": goals["bens_negotiation"], "performance_goal_id": goals["bens_conversions"],
                         "note": "The negotiation training closed the Acme deal at full price."}],
        })
        step("development", {
            "goals": [{"goal_id": goals["bens_negotiation"], "applied": True,
                       "evidence": ["Anchored on value before price with Acme", "Held the line on discount with Globex"],
                       "aspirations": "Wants to lead the enterprise team within two years."}],
            "plan": [{"title": "Analyse the pipeline with data: SQL and dashboards for sales", "skill": "data analysis",
                      "rationale": "capability_gap", "performance_goal_id": goals["bens_conversions"],
                      "evidence": "Forecasts missed by 20% twice; deals were prioritised by feel.",
                      "start_date": "2027-01-01", "due_date": "2027-06-30",
                      "activity_targets": {"training_hours": "20", "certifications": ["Data Analysis for Sales"]},
                      "hours_per_month": "4", "budget": {"amount": "900", "currency": "EUR"}, "mentor_id": "mgr-ana"}],
        })
        call("POST", f"/v1/reviews/{review_id}/complete", "complete")
        return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--goals", default="http://127.0.0.1:8001")
    parser.add_argument("--checkins", default="http://127.0.0.1:8002")
    parser.add_argument("--reviews", default="http://127.0.0.1:8003")
    args = parser.parse_args()
    demo, key_goals = load(args.goals)
    check_ins, check_ins_added = check_in(args.checkins, key_goals)
    try:
        review_added = review(args.reviews, key_goals)
    except RuntimeError as error:
        sys.exit(f"demo review refused: {error}")
    owners = sorted({g["employee_id"] for g in demo.goals})
    if demo.hired + demo.added + check_ins_added + review_added == 0:
        print(f"demo organisation already present (tenant {TENANT}): nothing added")
        return
    print(
        f"demo organisation loaded: {len(PEOPLE)} people, {len(demo.goals)} goals for {', '.join(owners)},"
        f" {check_ins} check-ins, 1 completed review with a plan for 2027 (tenant {TENANT})"
    )


if __name__ == "__main__":
    main()
