"""HTTP entry points of the read side."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tandem_projections.alignment import employee_dashboard
from tandem_runtime.database import SQLDatabase
from tandem_runtime.http import PROBLEM_RESPONSES, tenant_header

def dashboards_router(database: SQLDatabase, default_tenant: str) -> APIRouter:
    """The dashboard routes over one read-model database."""
    router = APIRouter(prefix="/v1", tags=["dashboards"], responses=PROBLEM_RESPONSES)
    # A dependency as default: these annotations are strings, and closure names do not resolve from them.
    tenant = Depends(tenant_header(default_tenant))

    def read_employee(tenant_id: str, employee_id: str) -> dict[str, Any]:
        with database.reading() as cursor:
            return employee_dashboard(cursor, tenant_id, employee_id)

    @router.get("/dashboards/alignment")
    async def alignment(
        employee_id: Annotated[str, Query(min_length=1, max_length=128)],
        tenant_id: str = tenant,
    ) -> dict[str, Any]:
        """An employee's alignment dashboard: their performance goals and development goals."""
        return await asyncio.to_thread(read_employee, tenant_id, employee_id)

    return router
