"""Events of the ``tandem.directory.v1`` topic: the enterprise platform's employee directory.

Fields follow the SCIM 2.0 enterprise-user extension (employeeNumber, manager, department, organization,
division, costCenter) plus the core user's name, title and active flag. The directory is not event-sourced
here, so these events carry no aggregate version; readers keep the latest by ``occurred_at``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.bounds import Code, Day, PersonId, Title, text

DIRECTORY_TOPIC = "tandem.directory.v1"


class DirectoryEvent(IntegrationEvent):
    topic: ClassVar[str] = DIRECTORY_TOPIC
    subject_kind: ClassVar[str] = "employees"
    subject_field: ClassVar[str] = "employee_id"


class EmployeeProfile(BaseModel):
    """An employee as the enterprise platform knows them (SCIM enterprise-user fields): what an upsert carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    display_name: Title
    email: Annotated[str, text(320)] | None = None
    employee_number: Code | None = None
    manager_id: PersonId | None = Field(default=None, description="The employee_id of their manager.")
    department: Title | None = None
    organization: Title | None = None
    division: Title | None = None
    cost_center: Code | None = None
    job_title: Title | None = None


class EmployeeUpserted(DirectoryEvent, EmployeeProfile):
    """An employee joined or their directory record changed."""

    event_type: ClassVar[str] = "tandem.employee.upserted.v1"


class EmployeeDeparted(DirectoryEvent):
    """An employee left the organisation."""

    event_type: ClassVar[str] = "tandem.employee.departed.v1"

    departed_on: Day
    reason: Annotated[str, text(500)] | None = None
