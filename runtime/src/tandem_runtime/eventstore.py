"""The base of every command service's eventsourcing Application.

It records who issued each command and why (actor, correlation and causation ids) with every event it
stores, so the outbox relay can put them in the envelope, and it wakes the relay after each save.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoder

from tandem_runtime.database import DatabaseURL
from tandem_runtime.group_commit import GroupCommitSQLiteFactory, LogFlusher, current_scope
from tandem_runtime.idempotency import IdempotentRequest, RequestKey
from tandem_runtime.ids import random_uuid
from tandem_runtime.transcodings import OrjsonEncodingTranscoder, transcodings_for

_CONTEXT_KEY = "command_context"
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who issued a command and why: recorded with every event the command causes."""

    actor: str
    correlation_id: str
    causation_id: str
    traceparent: str | None = None

    @classmethod
    def issued_by(
        cls,
        actor: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
    ) -> CommandContext:
        """A context for a new command; a request without a correlation id starts a new correlation."""
        correlation = correlation_id or str(random_uuid())
        return cls(
            actor=actor,
            correlation_id=correlation,
            causation_id=causation_id or correlation,
            traceparent=traceparent,
        )


def context_of(domain_event: object) -> CommandContext | None:
    """The command context recorded with a stored domain event, if any."""
    recorded = vars(domain_event).get(_CONTEXT_KEY)
    return CommandContext(**recorded) if recorded else None


class ConcurrentChange(RuntimeError):
    """Two commands changed the same aggregate at once; the later one should be retried."""


@dataclass(frozen=True)
class Executed:
    """What a command did: its outcome, and whether it was the replay of an earlier identical request.

    ``saved`` holds the aggregates the command saved, by id, as they now stand (empty on a replay), so an
    answer can show them without reading them back from the store.
    """

    outcome: dict[str, Any]
    replayed: bool
    saved: Mapping[UUID, Aggregate] = field(default_factory=dict)

    def saved_as(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The saved aggregate ``aggregate_id`` if it is a ``kind``; None on a replay."""
        aggregate = self.saved.get(aggregate_id)
        return aggregate if isinstance(aggregate, kind) else None


class TandemApplication(Application[UUID]):
    """An eventsourcing Application whose saves carry a ``CommandContext`` and notify listeners.

    Subclasses list the domain's dataclasses in ``value_types`` so its events can store them.
    """

    value_types: tuple[type, ...] = ()

    def __init__(self, database_url: str | DatabaseURL, env: dict[str, str] | None = None) -> None:
        url = database_url if isinstance(database_url, DatabaseURL) else DatabaseURL.parse(database_url)
        store = url.eventsourcing_env()
        if url.is_sqlite:  # commits made durable in groups (``group_commit``)
            store["PERSISTENCE_MODULE"] = f"{GroupCommitSQLiteFactory.__module__}:{GroupCommitSQLiteFactory.__name__}"
        super().__init__(env={**store, **(env or {})})
        self._on_recorded: list[Callable[[int], None]] = []
        self.flusher: LogFlusher | None = None
        if isinstance(self.factory, GroupCommitSQLiteFactory):
            self.flusher = LogFlusher(url.path)
            self.flusher.on_flushed(self._tell_recorded)
            self.flusher.start(self.recorder.max_notification_id() or 0)

    def close(self) -> None:
        """Make every commit durable, then close the store."""
        if self.flusher is not None:
            self.flusher.stop()
        super().close()

    def durable_position(self) -> int | None:
        """The highest notification id known to be on disk (None: every recorded one is)."""
        return self.flusher.durable if self.flusher is not None else None

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonEncodingTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in transcodings_for(self.value_types):
            transcoder.register(transcoding)

    def on_recorded(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with the highest new notification id once a save is durable (the relay's wake-up),
        from the thread that saved or the flusher's."""
        self._on_recorded.append(listener)

    def _tell_recorded(self, highest: int) -> None:
        for listener in self._on_recorded:
            listener(highest)

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        context: CommandContext | None = None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """Store the aggregates' pending events in one transaction, each stamped with the command context."""
        # Aggregates are collected here rather than by ProcessingEvent.collect_events, whose runtime Protocol
        # checks cost more than the rest of a save when a cascade saves thousands of aggregates.
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.aggregates[obj.id] = obj
                processing_event.events.extend(obj.collect_events())
            else:
                processing_event.collect_events(obj)  # what else the library accepts: an event, or None
        processing_event.saved_kwargs.update(kwargs)
        processing_event.saved_kwargs["command_context"] = context
        recordings = self._record(processing_event)
        if recordings and self.flusher is not None:
            highest = max(recording.notification.id for recording in recordings)
            scope = current_scope.get()
            if scope is not None:
                scope.saved(self.flusher, highest)  # an endpoint on the event loop awaits it before answering
            else:
                self.flusher.wait(highest)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def execute(
        self,
        decide: Callable[[], tuple[Sequence[Aggregate], dict[str, Any]]],
        *,
        context: CommandContext,
        request_key: RequestKey | None = None,
        retries: int = 0,
    ) -> Executed:
        """Run a command: ``decide`` loads aggregates, calls their methods and says the outcome; then save.

        With a ``request_key``, a retry replays the first outcome and changes nothing. A concurrent
        change to the same aggregates raises ``ConcurrentChange`` rather than losing either write, after
        ``retries`` more tries of ``decide`` from fresh state (for commands whose clash can only be with the
        service's own background work, which the caller could not have seen).

        The key is looked up only when the command cannot go through as new: its remembered outcome is saved
        in the same transaction as the events, so a retry's save collides with it and is undone whole, and a
        retry the rules now refuse (the goal it closed is closed) finds it before the refusal is reported.
        A first request, the usual case, costs no lookup.
        """
        attempt = 0
        while True:
            try:
                aggregates, outcome = decide()
            except Exception:
                replayed = self._replay(request_key) if request_key is not None else None
                if replayed is not None:
                    return Executed(replayed, replayed=True)
                raise
            remembered = (
                [IdempotentRequest(record_id=request_key.record_id, digest=request_key.digest, outcome=outcome)]
                if request_key is not None
                else []
            )
            try:
                self.save(*aggregates, *remembered, context=context)
            except IntegrityError:
                if request_key is not None:
                    replayed = self._replay(request_key)
                    if replayed is not None:
                        return Executed(replayed, replayed=True)
                if attempt == retries:
                    raise ConcurrentChange("another request changed the same records at the same moment; retry") from None
                attempt += 1
                continue
            return Executed(outcome, replayed=False, saved={aggregate.id: aggregate for aggregate in aggregates})

    def _replay(self, request_key: RequestKey) -> dict[str, Any] | None:
        try:
            record: object = self.repository.get(request_key.record_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotentRequest)
        return record.replay(request_key)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        context = processing_event.saved_kwargs.pop("command_context", None)
        if context is not None:
            stamp = asdict(context)
            for domain_event in processing_event.events:
                # Event objects are frozen dataclasses; their state dict is what the mapper stores.
                vars(domain_event)[_CONTEXT_KEY] = stamp
        recordings = super()._record(processing_event)
        if recordings and self.flusher is None:
            self._tell_recorded(max(recording.notification.id for recording in recordings))
        return recordings
