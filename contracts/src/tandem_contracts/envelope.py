"""CloudEvents 1.0 over Kafka, binary mode: attributes in ``ce_*`` headers, the event's JSON data in the value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from pydantic import ValidationError

from tandem_contracts.base import IntegrationEvent
from tandem_contracts.registry import EVENT_TYPES

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:tandem:event-id")

Headers = list[tuple[str, bytes]]


class UndecodableMessage(ValueError):
    """A Kafka message that is not a Tandem CloudEvent this reader understands."""


def stable_event_id(aggregate_id: UUID | str, version: int) -> str:
    """The CloudEvents ``id`` of an aggregate's event: the same on every republish, so consumers can drop duplicates."""
    return str(uuid5(_EVENT_ID_NAMESPACE, f"{aggregate_id}/{version}"))


def dataschema_for(event_type: str) -> str:
    """The ``dataschema`` URI of an event type; the schema is committed as ``schemas/<event_type>.json``."""
    return f"urn:tandem:schema:{event_type}"


@dataclass(slots=True)
class Envelope:
    """The CloudEvents attributes and Tandem extensions of one message (treat as read-only; not frozen,
    because a frozen dataclass costs microseconds per message to build on a consumer's hot path)."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    tenant_id: str
    partition_key: str
    sequence: int | None
    actor: str
    correlation_id: str
    causation_id: str
    dataschema: str = ""
    traceparent: str | None = None

    def headers(self) -> Headers:
        """The Kafka headers of the binary-mode CloudEvent."""
        pairs = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_subject", self.subject),
            ("ce_time", self.time.isoformat()),
            ("ce_dataschema", self.dataschema or dataschema_for(self.type)),
            ("content-type", CONTENT_TYPE),
            ("ce_tenantid", self.tenant_id),
            ("ce_partitionkey", self.partition_key),
            ("ce_actor", self.actor),
            ("ce_correlationid", self.correlation_id),
            ("ce_causationid", self.causation_id),
        ]
        if self.sequence is not None:
            pairs.append(("ce_sequence", str(self.sequence)))
        if self.traceparent:
            pairs.append(("traceparent", self.traceparent))
        return [(name, value.encode()) for name, value in pairs]

    @classmethod
    def from_headers(cls, headers: Headers | tuple[tuple[str, bytes], ...]) -> Envelope:
        """Read the envelope from Kafka headers; raise ``UndecodableMessage`` naming what is missing or wrong."""
        # One pass, no per-header branching: this runs for every message a consumer reads.
        try:
            values = {name: raw.decode() if raw is not None else "" for name, raw in headers}
        except UnicodeDecodeError as error:
            bad = next(name for name, raw in headers if raw is not None and not _is_utf8(raw))
            raise UndecodableMessage(f"header {bad} is not UTF-8") from error
        get = values.get
        if not (get("ce_specversion") and get("ce_id") and get("ce_source") and get("ce_type") and get("ce_time")
                and get("ce_tenantid")):
            missing = [name for name in _REQUIRED_HEADERS if not get(name)]
            raise UndecodableMessage(f"missing CloudEvents headers: {', '.join(missing)}")
        if values["ce_specversion"] != SPEC_VERSION:
            raise UndecodableMessage(f"unsupported ce_specversion {values['ce_specversion']!r}")
        try:
            time = datetime.fromisoformat(values["ce_time"])
            sequence = int(values["ce_sequence"]) if get("ce_sequence") else None
        except ValueError as error:
            raise UndecodableMessage(f"bad ce_time or ce_sequence: {error}") from error
        return cls(
            values["ce_id"],
            values["ce_source"],
            values["ce_type"],
            get("ce_subject", ""),
            time,
            values["ce_tenantid"],
            get("ce_partitionkey", ""),
            sequence,
            get("ce_actor", ""),
            get("ce_correlationid", ""),
            get("ce_causationid", ""),
            get("ce_dataschema", ""),
            get("traceparent"),
        )


_REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenantid")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Message:
    """One event ready for Kafka: key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers


def encode(
    event: IntegrationEvent,
    *,
    event_id: str,
    source: str,
    actor: str,
    correlation_id: str,
    causation_id: str,
    traceparent: str | None = None,
) -> Message:
    """Wrap an event in its envelope, keyed by ``tenant_id:employee_id``."""
    envelope = Envelope(
        id=event_id,
        source=source,
        type=event.event_type,
        subject=event.subject,
        time=event.occurred_at,
        tenant_id=event.tenant_id,
        partition_key=event.partition_key,
        sequence=getattr(event, "version", None),
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        traceparent=traceparent,
    )
    return Message(
        topic=event.topic,
        key=event.partition_key.encode(),
        value=event.model_dump_json().encode(),
        headers=envelope.headers(),
    )


def decode(headers: Headers | tuple[tuple[str, bytes], ...], value: bytes | None) -> tuple[Envelope, IntegrationEvent]:
    """Read one message; raise ``UndecodableMessage`` if its envelope, type or data is not understood."""
    envelope = Envelope.from_headers(headers)
    model = EVENT_TYPES.get(envelope.type)
    if model is None:
        raise UndecodableMessage(f"unknown ce_type {envelope.type!r}")
    if not value:
        raise UndecodableMessage("empty value")
    try:
        event = model.model_validate_json(value)
    except ValidationError as error:
        raise UndecodableMessage(f"{envelope.type} data is invalid: {error}") from error
    if event.tenant_id != envelope.tenant_id:
        raise UndecodableMessage("ce_tenantid does not match the data's tenant_id")
    return envelope, event


@dataclass(slots=True)
class Headline:
    """The envelope attributes a fast consumer routes and deduplicates by (see ``decode_data``)."""

    id: str
    type: str
    subject: str
    tenant_id: str
    sequence: int | None


def decode_data(headers: Headers | tuple[tuple[str, bytes], ...], value: bytes | None) -> tuple[Headline, dict]:
    """Read one message's headline and its data as plain JSON, without validating the data's schema.

    For consumers on a hot path: the CloudEvents headers must be there, the type known and the data a JSON
    object of the envelope's tenant. A consumer that then finds a field missing must fall back to
    ``decode`` to find the culprit.
    """
    raw = dict(headers)
    try:
        headline = Headline(
            raw["ce_id"].decode(),
            raw["ce_type"].decode(),
            raw.get("ce_subject", b"").decode(),
            raw["ce_tenantid"].decode(),
            int(raw["ce_sequence"]) if raw.get("ce_sequence") else None,
        )
        complete = raw["ce_specversion"] == b"1.0" and raw.get("ce_source") and raw.get("ce_time")
    except (KeyError, AttributeError, UnicodeDecodeError, ValueError):
        complete = False
    if not complete or not headline.id or not headline.tenant_id:
        Envelope.from_headers(headers)  # raises, naming what is missing or wrong
        raise UndecodableMessage("the CloudEvents headers are incomplete")
    if headline.type not in EVENT_TYPES:
        raise UndecodableMessage(f"unknown ce_type {headline.type!r}")
    if not value:
        raise UndecodableMessage("empty value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise UndecodableMessage(f"{headline.type} data is not JSON: {error}") from error
    if not isinstance(data, dict) or data.get("tenant_id") != headline.tenant_id:
        raise UndecodableMessage("the data is not an object of ce_tenantid's tenant")
    return headline, data
