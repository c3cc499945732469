"""Load the demo organisation through the public HTTP API (idempotent: safe to run twice).

The seed's examples: a sales team whose conversion target has a negotiation capability gap, and an
infrastructure engineer preparing for the move to the cloud (a future-role development goal).
"""

from __future__ import annotations

import argparse
import sys

import httpx

TENANT = "demo"
CYCLE = "2026"


def goal(key: str, body: dict, parent: str | None = None) -> tuple[str, dict]:
    body = {"cycle": CYCLE, "start_date": "2026-01-01", "due_date": "2026-12-31", **body}
    if parent:
        body["parent_goal_id"] = parent
    return key, body


def load(goals_url: str) -> list[dict]:
    """Post the demo goals; return them as the service answered."""
    posted: list[dict] = []
    with httpx.Client(base_url=goals_url, headers={"X-Tenant-ID": TENANT}, timeout=10) as client:

        def post(key: str, body: dict) -> str:
            response = client.post("/v1/goals", json=body, headers={"Idempotency-Key": f"demo-{key}"})
            if response.status_code not in (200, 201):
                sys.exit(f"demo goal {key} refused: {response.status_code} {response.text}")
            posted.append(response.json())
            return response.json()["goal_id"]

        revenue = post(*goal("org-revenue", {
            "employee_id": "ceo-maria", "kind": "performance", "title": "Grow new-business revenue by 20%",
            "description": "Organisation goal for 2026.",
            "kpi": {"name": "new-business revenue", "unit": "EUR k", "baseline": "5000", "target": "6000", "direction": "increase"},
        }))
        conversions = post(*goal("sales-conversions", {
            "employee_id": "mgr-ana", "kind": "performance", "title": "Increase new client conversions by 15%",
            "description": "Sales team goal, cascaded from the revenue goal.",
            "kpi": {"name": "new client conversion rate", "unit": "percent", "baseline": "20", "target": "23", "direction": "increase"},
        }, parent=revenue))
        for rep in ("rep-ben", "rep-chloe"):
            post(*goal(f"{rep}-conversions", {
                "employee_id": rep, "kind": "performance", "set_by": "mgr-ana",
                "title": "Increase my new client conversions by 15%",
                "kpi": {"name": "new client conversion rate", "unit": "percent", "baseline": "18", "target": "20.7", "direction": "increase"},
            }, parent=conversions))
        post(*goal("rep-ben-negotiation", {
            "employee_id": "rep-ben", "kind": "development", "set_by": "mgr-ana",
            "title": "Complete Advanced Negotiation Skills training and apply three techniques in client meetings each week",
            "skill": "negotiation", "due_date": "2026-06-30",
            "activity_targets": {"training_hours": "24", "certifications": ["Advanced Negotiation Skills"], "mentorship_sessions": 6},
            "behavioural_target": {"competency": "negotiation", "target_rating": "4"},
            "capacity": {"hours_per_month": "6", "budget": {"amount": "1500", "currency": "EUR"}, "mentor_id": "mgr-ana"},
        }))
        post(*goal("eng-sam-servers", {
            "employee_id": "eng-sam", "kind": "performance", "set_by": "mgr-lee", "cadence": "biweekly",
            "title": "Efficiently manage the current server infrastructure",
            "kpi": {"name": "unplanned downtime", "unit": "hours per quarter", "baseline": "12", "target": "4", "direction": "decrease"},
        }))
        post(*goal("eng-sam-cloud", {
            "employee_id": "eng-sam", "kind": "development", "set_by": "mgr-lee", "cadence": "quarterly",
            "title": "Complete AWS Certified Cloud Practitioner training",
            "skill": "cloud infrastructure",
            "activity_targets": {"training_hours": "40", "certifications": ["AWS Certified Cloud Practitioner"]},
            "capacity": {"hours_per_month": "8", "budget": {"amount": "300", "currency": "EUR"}},
        }))
    return posted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--goals", default="http://127.0.0.1:8001")
    args = parser.parse_args()
    posted = load(args.goals)
    owners = sorted({g["employee_id"] for g in posted})
    print(f"demo organisation loaded: {len(posted)} goals for {', '.join(owners)} (tenant {TENANT})")


if __name__ == "__main__":
    main()
