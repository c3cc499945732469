"""The web dashboard: server-rendered pages over the same queries as the JSON API. No build step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tandem_projections.queries import UnknownScope, name_parents, team_dashboard, tenant_dashboard
from tandem_projections.read_side import ReadSide

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _bar_width(value: float | None) -> float:
    return 0.0 if value is None else max(0.0, min(float(value), 100.0))


def _number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit in ("percent", "%"):
        return f"{text}%"
    return f"{text} {unit}" if unit else text


def _words(value: str | None) -> str:
    return "" if not value else value.replace("_", " ")


_environment.filters.update(percent=_percent, share=_share, bar=_bar_width, number=_number, words=_words)


def managers(cursor: Any, tenant_id: str) -> list[dict[str, Any]]:
    """Everyone with direct reports, with how many, for the team picker."""
    cursor.execute(
        "SELECT m.employee_id, COALESCE(m.display_name, m.employee_id), m.job_title, m.department, COUNT(*)"
        " FROM rm_people r JOIN rm_people m ON m.tenant_id = r.tenant_id AND m.employee_id = r.manager_id"
        " WHERE r.tenant_id = ? AND (r.departed_at IS NULL OR r.profile_at > r.departed_at)"
        " GROUP BY m.employee_id, m.display_name, m.job_title, m.department",
        (tenant_id,),
    )
    found = [{"employee_id": e, "display_name": n, "job_title": t, "department": d, "direct_reports": c}
             for e, n, t, d, c in cursor.fetchall()]
    return sorted(found, key=lambda m: (m["display_name"], m["employee_id"]))


def packet_cycle(card: dict[str, Any]) -> str | None:
    """The cycle a review packet link should open: the latest with a live or closed performance goal."""
    cycles = [g["cycle"] for g in card["performance_goals"] if g["status"] in ("active", "closed")]
    return max(cycles) if cycles else None


class Pages:
    """The HTML pages: the team dashboard at ``/`` and the review packet."""

    def __init__(self, read_side: ReadSide, today: Callable[[], date], default_tenant: str) -> None:
        self._read_side = read_side
        self._today = today
        self._default_tenant = default_tenant

    def render(self, template: str, **context: Any) -> str:
        return _environment.get_template(template).render(**context)

    def packet_page(self, packet: dict[str, Any]) -> HTMLResponse:
        """The review packet as a page."""
        return HTMLResponse(self.render("packet.html", packet=packet, tenant_id=packet["tenant_id"]))

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get("/", response_class=HTMLResponse)
        async def dashboard(
            manager_id: str | None = Query(default=None, max_length=128),
            tenant: str | None = Query(default=None, max_length=64),
        ) -> HTMLResponse:
            tenant_id = tenant or self._default_tenant
            today = self._today()

            def work() -> dict[str, Any]:
                with self._read_side.database.reading() as cursor:
                    people = managers(cursor, tenant_id)
                    chosen = manager_id or (people[0]["employee_id"] if people else None)
                    team = None
                    if chosen:
                        try:
                            team = team_dashboard(cursor, tenant_id, chosen, today)
                        except UnknownScope:
                            team = None
                    leads = {m["employee_id"] for m in people}
                    for person in (team or {}).get("reports", ()):
                        person["has_reports"] = person["employee_id"] in leads
                        person["packet_cycle"] = packet_cycle(person)
                    if team:
                        name_parents(cursor, tenant_id, team["reports"])
                    names = {m["employee_id"]: m["display_name"] for m in people}
                    return {"managers": people, "manager_id": chosen, "team": team, "names": names,
                            "tenant": tenant_dashboard(cursor, tenant_id, today)}

            context = await asyncio.to_thread(work)
            status = 404 if manager_id and context["team"] is None else 200
            return HTMLResponse(self.render("dashboard.html", tenant_id=tenant_id, today=today.isoformat(), **context),
                                status_code=status)

        return router
