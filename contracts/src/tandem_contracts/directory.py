"""Events of the ``tandem.directory.v1`` topic: the enterprise platform's employee directory.

Fields follow the SCIM 2.0 enterprise-user extension (employeeNumber, manager, department, organization,
division, costCenter) plus the core user's name, title and active flag. The directory is not event-sourced
here, so these events carry no aggregate version; readers keep the latest by ``occurred_at``.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from tandem_contracts.base import IntegrationEvent

DIRECTORY_TOPIC = "tandem.directory.v1"


class DirectoryEvent(IntegrationEvent):
    topic: ClassVar[str] = DIRECTORY_TOPIC
    subject_kind: ClassVar[str] = "employees"
    subject_field: ClassVar[str] = "employee_id"


class EmployeeUpserted(DirectoryEvent):
    """An employee joined or their directory record changed."""

    event_type: ClassVar[str] = "tandem.employee.upserted.v1"

    display_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    employee_number: str | None = Field(default=None, max_length=64)
    manager_id: str | None = Field(default=None, max_length=128, description="The employee_id of their manager.")
    department: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    division: str | None = Field(default=None, max_length=200)
    cost_center: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=200)


class EmployeeDeparted(DirectoryEvent):
    """An employee left the organisation."""

    event_type: ClassVar[str] = "tandem.employee.departed.v1"

    departed_on: date
    reason: str | None = Field(default=None, max_length=500)
