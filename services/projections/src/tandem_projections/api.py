"""HTTP entry points of the read side: dashboards, review packets and rebuilds."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from tandem_contracts.bounds import ID_MAX_LENGTH, ID_PATTERN
from tandem_projections.packet import review_packet
from tandem_projections.pdf import render_packet_pdf
from tandem_projections.queries import (
    UnknownScope,
    cascade_tree,
    department_dashboard,
    employee_dashboard,
    goal_version,
    team_dashboard_json,
    tenant_dashboard,
)
from tandem_projections.read_side import ReadSide, RebuildRunning
from tandem_projections.views import (
    AlignmentDashboard,
    CascadeTree,
    RebuildProgress,
    ReviewPacket,
)
from tandem_projections.web import Pages
from tandem_runtime.http import PROBLEM_RESPONSES, RequestRefused, tenant_header

Identifier = Annotated[str, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
TenantParameter = Annotated[str | None, Query(alias="tenant", min_length=1, max_length=64)]


class JSONBytes(JSONResponse):
    """JSON already serialised by orjson: large dashboards skip a second encoding pass.

    A JSONResponse, so that OpenAPI shows the route's ``response_model``; the model documents only, since FastAPI
    validates what a route returns against it unless the route returns a ``Response``.
    """

    def render(self, content: Any) -> bytes:
        return content


# The packet's other forms, for OpenAPI.
_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
_PAGE = {"text/html": {"schema": {"type": "string"}}}
_PDF_FILE = {"Content-Disposition": {"description": "With a PDF: its file name.", "schema": {"type": "string"}}}


def read_router(read_side: ReadSide, today: Callable[[], date], pages: Pages, default_tenant: str) -> APIRouter:
    """The dashboard and review-packet routes over the read side's current store."""
    router = APIRouter(prefix="/v1", tags=["dashboards"], responses=PROBLEM_RESPONSES)
    # A dependency as default: these annotations are strings, and closure names do not resolve from them.
    tenant = Depends(tenant_header(default_tenant))

    async def query(run: Callable[..., Any], *args: Any) -> Any:
        def work() -> Any:
            with read_side.database.reading() as cursor:
                return run(cursor, *args)

        try:
            return await asyncio.to_thread(work)
        except UnknownScope as error:
            raise RequestRefused(404, str(error)) from error

    async def read_when_applied(tenant_id: str, goal_id: str, version: int, seconds: float,
                                run: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """``run``'s answer once the read model holds ``version`` of the goal, or when ``seconds`` run out; and
        whether it held it. The version is checked and the answer read in one read of the store, so the answer
        shows what was checked."""
        def read_if_applied(cursor: Any, at_last: bool) -> tuple[bool, Any]:
            applied = goal_version(cursor, tenant_id, goal_id) >= version
            return applied, run(cursor, *args) if applied or at_last else None

        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            with read_side.goal_waiters.watching(tenant_id, goal_id) as signal:
                applied, answer = await query(read_if_applied, False)
                if applied:
                    return True, answer
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(signal, remaining)
                except TimeoutError:
                    break
        return await query(read_if_applied, True)

    @router.get(
        "/dashboards/alignment",
        response_class=JSONBytes,
        response_model=AlignmentDashboard,
        responses={200: {"headers": {"Tandem-Goal-Applied": {
            "description": "With ``wait_for_goal``: ``true`` if the dashboard holds that version of the goal, "
                           "``false`` if the wait ran out first (the dashboard is then as it stands).",
            "schema": {"type": "string", "enum": ["true", "false"]},
        }}}},
    )
    async def alignment(
        employee_id: Identifier | None = None,
        manager_id: Identifier | None = None,
        department: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        wait_for_goal: Annotated[str | None, Query(
            min_length=1, max_length=128,
            description="Read your own write: answer once the dashboard holds this goal (its id, as a goals "
                        "command answered it) at ``wait_for_version`` or later, or when ``wait_seconds`` run out.",
        )] = None,
        wait_for_version: Annotated[int | None, Query(
            ge=1, description="The goal's version to wait for (default 1: the goal exists).")] = None,
        wait_seconds: Annotated[float | None, Query(gt=0, le=30, description="How long to wait at most (default 5).")] = None,
        tenant_id: str = tenant,
    ) -> Response:
        """The alignment dashboard of one employee, a manager's team (transitively), a department, or, with no
        parameter, the whole tenant. With ``wait_for_goal``, it answers once the read model has applied that
        goal's command (header ``Tandem-Goal-Applied``), so a client need not poll after a command."""
        given = [name for name, value in (("employee_id", employee_id), ("manager_id", manager_id),
                                          ("department", department)) if value is not None]
        if len(given) > 1:
            raise RequestRefused(422, "give at most one of employee_id, manager_id, department",
                                 field=given[1], rule="one_scope")
        if wait_for_goal is None and (wait_for_version is not None or wait_seconds is not None):
            raise RequestRefused(422, "wait_for_version and wait_seconds go with wait_for_goal",
                                 field="wait_for_goal", rule="required_with_wait")
        run: Callable[..., Any]
        args: tuple[Any, ...]
        if employee_id is not None:
            run, args = employee_dashboard, (tenant_id, employee_id, today())
        elif manager_id is not None:
            run, args = team_dashboard_json, (tenant_id, manager_id, today())  # already JSON
        elif department is not None:
            run, args = department_dashboard, (tenant_id, department, today())
        else:
            run, args = tenant_dashboard, (tenant_id, today())
        headers = {}
        if wait_for_goal is None:
            body = await query(run, *args)
        else:
            applied, body = await read_when_applied(tenant_id, wait_for_goal, wait_for_version or 1,
                                                    wait_seconds or 5.0, run, *args)
            headers["Tandem-Goal-Applied"] = "true" if applied else "false"
        return JSONBytes(body if isinstance(body, bytes) else orjson.dumps(body), headers=headers)

    @router.get("/goals/{goal_id}/cascade", response_class=JSONBytes, response_model=CascadeTree)
    async def cascade(goal_id: str, tenant_id: str = tenant) -> Response:
        """A goal and the goals cascaded from it, as a tree with attainment and health."""
        return JSONBytes(orjson.dumps(await query(cascade_tree, tenant_id, goal_id)))

    @router.get(
        "/employees/{employee_id}/review-packet",
        response_class=JSONBytes,
        response_model=ReviewPacket,
        responses={200: {"description": "The packet as JSON, an HTML page or a PDF.",
                         "content": {**_PAGE, **_PDF}, "headers": _PDF_FILE}},
    )
    async def packet(
        request: Request,
        employee_id: str,
        cycle: Annotated[str, Query(min_length=1, max_length=32)],
        format: Annotated[str | None, Query(pattern="^(json|html|pdf)$")] = None,
        tenant_param: TenantParameter = None,
        tenant_id: str = tenant,
    ) -> Response:
        """The review packet of an employee's cycle: JSON, or HTML / PDF by ``Accept`` or ``format``.
        ``tenant`` stands in for the ``X-Tenant-ID`` header in links a browser follows."""
        return await _packet(request, employee_id, cycle, format, tenant_param or tenant_id)

    @router.get("/employees/{employee_id}/review-packet.pdf", response_class=Response,
                responses={200: {"description": "The packet as a PDF.", "content": _PDF, "headers": _PDF_FILE}})
    async def packet_pdf(
        request: Request, employee_id: str, cycle: Annotated[str, Query(min_length=1, max_length=32)],
        tenant_param: TenantParameter = None, tenant_id: str = tenant,
    ) -> Response:
        """The review packet as a PDF."""
        return await _packet(request, employee_id, cycle, "pdf", tenant_param or tenant_id)

    async def _packet(request: Request, employee_id: str, cycle: str, format: str | None, tenant_id: str) -> Response:
        body = await query(review_packet, tenant_id, employee_id, cycle, today())
        wanted = format or _negotiate(request.headers.get("accept", ""))
        if wanted == "pdf":
            document = await asyncio.to_thread(render_packet_pdf, body)
            return Response(document, media_type="application/pdf", headers={
                "Content-Disposition": _inline_file(f"review-packet-{employee_id}-{cycle}.pdf")})
        if wanted == "html":
            return pages.packet_page(body)
        return JSONBytes(orjson.dumps(body))

    return router


def _inline_file(filename: str) -> str:
    """A ``Content-Disposition`` naming the file; names beyond plain ASCII go in RFC 6266's ``filename*``."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    if plain == filename:
        return f'inline; filename="{filename}"'
    return f"inline; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _negotiate(accept: str) -> str:
    """The first of PDF, HTML or JSON the ``Accept`` header names, JSON when it names none."""
    for part in accept.split(","):
        kind = part.split(";")[0].strip().lower()
        if kind == "application/pdf":
            return "pdf"
        if kind in ("text/html", "application/xhtml+xml"):
            return "html"
        if kind in ("application/json", "*/*"):
            return "json"
    return "json"


def admin_router(read_side: ReadSide) -> APIRouter:
    """Rebuilds: replay every topic into a fresh store, then swap it in while queries keep being answered."""
    router = APIRouter(prefix="/v1/admin", tags=["operations"], responses=PROBLEM_RESPONSES)

    @router.post("/rebuilds", status_code=202, response_model=RebuildProgress)
    async def start_rebuild() -> dict[str, Any]:
        """Start a rebuild; poll its progress at the returned id."""
        try:
            return read_side.start_rebuild().view()
        except RebuildRunning as error:
            raise RequestRefused(409, str(error)) from error

    @router.get("/rebuilds/{rebuild_id}", response_model=RebuildProgress)
    async def rebuild_progress(rebuild_id: str) -> dict[str, Any]:
        """A rebuild's state and progress."""
        job = read_side.jobs.get(rebuild_id)
        if job is None:
            raise RequestRefused(404, f"rebuild {rebuild_id!r} is not known")
        return job.view()

    return router
