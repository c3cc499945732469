"""The directory pass-through, for platforms without a Kafka feed: HTTP in, ``tandem.directory.v1`` out.

It keeps no state of its own: it publishes the event, waits for Kafka's acknowledgement, then writes the
same event into this service's directory replica so the next request already sees the employee.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from tandem_contracts.bounds import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    TEXT_PATTERN,
    Day,
)
from tandem_contracts.directory import EmployeeDeparted, EmployeeProfile, EmployeeUpserted
from tandem_runtime.clock import Clock
from tandem_runtime.directory import Directory
from tandem_runtime.http import (
    PROBLEM_RESPONSES,
    CommandRequest,
    RequestRefused,
    command_headers,
    tenant_header,
)
from tandem_runtime.kafka import DirectPublisher

EmployeeIdPath = Annotated[
    str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The employee's id in the platform.")
]


class EmployeeRecord(EmployeeProfile):
    """An employee as the enterprise platform knows them (SCIM enterprise-user fields)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Accepted(BaseModel):
    employee_id: str
    event_type: str
    topic: str


class EmployeeView(BaseModel):
    employee_id: str
    display_name: str
    manager_id: str | None
    department: str | None
    organization: str | None
    job_title: str | None
    departed: bool


def directory_router(directory: Directory, publisher: DirectPublisher, clock: Clock, default_tenant: str) -> APIRouter:
    """The pass-through routes."""
    router = APIRouter(prefix="/v1/directory", tags=["directory"], responses=PROBLEM_RESPONSES)
    # Dependencies as defaults: these annotations are strings, and closure names do not resolve from them.
    command = Depends(command_headers(default_tenant))
    tenant = Depends(tenant_header(default_tenant))

    async def publish(event: EmployeeUpserted | EmployeeDeparted, request: CommandRequest) -> Accepted:
        try:
            await publisher.publish(event, request.context("directory"))
        except (KafkaError, RuntimeError) as error:
            raise RequestRefused(503, f"the directory topic is unavailable, nothing was changed: {error}") from None
        await asyncio.to_thread(directory.record, event)
        return Accepted(employee_id=event.employee_id, event_type=event.event_type, topic=event.topic)

    @router.put("/employees/{employee_id}", status_code=202, response_model=Accepted, summary="Upsert an employee")
    async def upsert_employee(
        employee_id: EmployeeIdPath,
        body: EmployeeRecord,
        request: CommandRequest = command,
    ) -> Accepted:
        """Publish ``EmployeeUpserted`` to ``tandem.directory.v1`` and wait for Kafka's acknowledgement."""
        event = EmployeeUpserted(
            tenant_id=request.tenant_id, employee_id=employee_id, occurred_at=clock.now(), **body.model_dump()
        )
        return await publish(event, request)

    @router.delete("/employees/{employee_id}", status_code=202, response_model=Accepted, summary="Record a departure")
    async def employee_departed(
        employee_id: EmployeeIdPath,
        request: CommandRequest = command,
        departed_on: Annotated[Day | None, Query(description="Defaults to today.")] = None,
        reason: Annotated[str | None, Query(max_length=500, pattern=TEXT_PATTERN)] = None,
    ) -> Accepted:
        """Publish ``EmployeeDeparted``: from now on no goal can be set for them."""
        now = clock.now()
        event = EmployeeDeparted(
            tenant_id=request.tenant_id,
            employee_id=employee_id,
            occurred_at=now,
            departed_on=departed_on or now.date(),
            reason=reason,
        )
        return await publish(event, request)

    @router.get("/employees/{employee_id}", response_model=EmployeeView, summary="An employee as this service knows them")
    async def get_employee(employee_id: EmployeeIdPath, tenant_id: str = tenant) -> EmployeeView:
        """The goals service's replica of the directory record."""
        employee = await asyncio.to_thread(directory.employee, tenant_id, employee_id)
        if employee is None:
            raise RequestRefused(404, f"employee {employee_id} is not in the directory")
        return EmployeeView(
            employee_id=employee.employee_id,
            display_name=employee.display_name,
            manager_id=employee.manager_id,
            department=employee.department,
            organization=employee.organization,
            job_title=employee.job_title,
            departed=employee.departed,
        )

    return router
