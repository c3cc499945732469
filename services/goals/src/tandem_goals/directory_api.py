"""The directory pass-through, for platforms without a Kafka feed: HTTP in, ``tandem.directory.v1`` out.

It keeps no state of its own: it publishes the event, waits for Kafka's acknowledgement, then writes the
same event into this service's directory replica so the next request already sees the employee.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.directory import EmployeeDeparted, EmployeeUpserted
from tandem_runtime.clock import Clock
from tandem_runtime.directory import Directory
from tandem_runtime.eventstore import CommandContext
from tandem_runtime.http import PROBLEM_RESPONSES, RequestRefused
from tandem_runtime.kafka import DirectPublisher

TenantHeader = Annotated[str | None, Header(alias="X-Tenant-ID", max_length=64)]
ActorHeader = Annotated[str | None, Header(alias="X-Actor-ID", max_length=128)]
CorrelationHeader = Annotated[str | None, Header(alias="X-Correlation-ID", max_length=128)]
EmployeeIdPath = Annotated[str, Path(min_length=1, max_length=128, description="The employee's id in the platform.")]


class EmployeeRecord(BaseModel):
    """An employee as the enterprise platform knows them (SCIM enterprise-user fields)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    employee_number: str | None = Field(default=None, max_length=64)
    manager_id: str | None = Field(default=None, max_length=128, description="The employee_id of their manager.")
    department: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    division: str | None = Field(default=None, max_length=200)
    cost_center: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=200)


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

    async def publish(event: EmployeeUpserted | EmployeeDeparted, actor: str | None, correlation_id: str | None) -> Accepted:
        try:
            await publisher.publish(event, CommandContext.issued_by(actor or "directory", correlation_id))
        except (KafkaError, RuntimeError) as error:
            raise RequestRefused(503, f"the directory topic is unavailable, nothing was changed: {error}") from None
        await asyncio.to_thread(directory.record, event)
        return Accepted(employee_id=event.employee_id, event_type=event.event_type, topic=event.topic)

    @router.put("/employees/{employee_id}", status_code=202, response_model=Accepted, summary="Upsert an employee")
    async def upsert_employee(
        employee_id: EmployeeIdPath,
        body: EmployeeRecord,
        tenant: TenantHeader = None,
        actor: ActorHeader = None,
        correlation_id: CorrelationHeader = None,
    ) -> Accepted:
        """Publish ``EmployeeUpserted`` to ``tandem.directory.v1`` and wait for Kafka's acknowledgement."""
        event = EmployeeUpserted(
            tenant_id=tenant or default_tenant, employee_id=employee_id, occurred_at=clock.now(), **body.model_dump()
        )
        return await publish(event, actor, correlation_id)

    @router.delete("/employees/{employee_id}", status_code=202, response_model=Accepted, summary="Record a departure")
    async def employee_departed(
        employee_id: EmployeeIdPath,
        departed_on: Annotated[date | None, Query(description="Defaults to today.")] = None,
        reason: Annotated[str | None, Query(max_length=500)] = None,
        tenant: TenantHeader = None,
        actor: ActorHeader = None,
        correlation_id: CorrelationHeader = None,
    ) -> Accepted:
        """Publish ``EmployeeDeparted``: from now on no goal can be set for them."""
        now = clock.now()
        event = EmployeeDeparted(
            tenant_id=tenant or default_tenant,
            employee_id=employee_id,
            occurred_at=now,
            departed_on=departed_on or now.date(),
            reason=reason,
        )
        return await publish(event, actor, correlation_id)

    @router.get("/employees/{employee_id}", response_model=EmployeeView, summary="An employee as this service knows them")
    async def get_employee(employee_id: EmployeeIdPath, tenant: TenantHeader = None) -> EmployeeView:
        """The goals service's replica of the directory record."""
        employee = await asyncio.to_thread(directory.employee, tenant or default_tenant, employee_id)
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
