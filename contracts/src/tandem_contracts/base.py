"""The base of every published event: what analytics needs to read one on its own."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tandem_contracts.bounds import PersonId, TenantId


class IntegrationEvent(BaseModel):
    """A published fact. The data stands alone: tenant, ids, when it happened and its version.

    Subclasses set ``event_type`` (the CloudEvents ``type``), ``topic``, ``subject_kind`` and
    ``subject_field`` (the name of the aggregate id field).
    Consumers read tolerantly: unknown fields are ignored, so adding an optional field is compatible.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    subject_kind: ClassVar[str]
    subject_field: ClassVar[str]

    tenant_id: TenantId = Field(description="The organisation the event belongs to.")
    employee_id: PersonId = Field(description="The employee the event is about; half of the partition key.")
    occurred_at: datetime = Field(description="When the fact happened (UTC, ISO 8601).")

    @property
    def partition_key(self) -> str:
        """``tenant_id:employee_id``: all of one employee's events share a partition on every topic."""
        return f"{self.tenant_id}:{self.employee_id}"

    @property
    def subject_id(self) -> str:
        """The id of the thing the event is about (the aggregate id)."""
        return str(getattr(self, self.subject_field))

    @property
    def subject(self) -> str:
        """The CloudEvents ``subject``: the kind and id of the aggregate, e.g. ``goals/3f2c…``."""
        return f"{self.subject_kind}/{self.subject_id}"


class AggregateEvent(IntegrationEvent):
    """An event recorded by one of Tandem's own event-sourced services: it has a version and an actor."""

    version: int = Field(ge=1, le=2**53, description="The version of the aggregate after this event.")
    actor: PersonId = Field(description="Who did it: the employee or system that issued the command.")
