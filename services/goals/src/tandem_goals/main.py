"""The goals service's composition root: everything is built here, from settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tandem_goals.api import goals_router
from tandem_goals.application import GoalsApplication
from tandem_goals.directory_api import directory_router
from tandem_goals.outbound import SOURCE, to_integration_event
from tandem_goals.reactions import NextCyclePlanner
from tandem_runtime.blocking import command_endpoint_for
from tandem_runtime.clock import Clock
from tandem_runtime.database import SQLDatabase
from tandem_runtime.directory import Directory, DirectoryReadModel
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import DirectPublisher, make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.outbox import OutboxRelay, RelayStorage
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics


class GoalsSettings(ServiceSettings):
    """``TANDEM_GOALS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_GOALS_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite:///var/goals/events.db"
    directory_database_url: str | None = Field(
        default=None, description="The directory replica's store; defaults to beside the event store."
    )
    relay_batch_size: int = 500
    directory_consumer_group: str = "tandem.goals.directory"
    planner_consumer_group: str = "tandem.goals.next-cycle-planner"
    development_hours_limit: Decimal = Field(default=Decimal(20), description="Monthly development hours per employee.")
    tenant_development_hours_limits: dict[str, Decimal] = Field(
        default_factory=dict, description='Per-tenant limits as JSON, e.g. {"acme": 30}.'
    )

    def directory_url(self) -> str:
        return self.store_beside_events(self.directory_database_url, "directory.db")

    def hours_limit(self, tenant_id: str) -> Decimal:
        return self.tenant_development_hours_limits.get(tenant_id, self.development_hours_limit)


@dataclass
class GoalsService:
    """The parts of a running goals service, for tests that need to reach inside."""

    http: FastAPI
    application: GoalsApplication
    directory: Directory
    relay: OutboxRelay
    metrics: Metrics


def build_service(settings: GoalsSettings, clock: Clock | None = None) -> GoalsService:
    """Build the goals service: event store, directory replica, outbox relay, HTTP API, health and metrics."""
    clock = clock or Clock()
    directory_database = SQLDatabase.connect(settings.directory_url())
    directory = Directory(directory_database)
    application = GoalsApplication(
        settings.database_url, directory, clock=clock, development_hours_limit=settings.hours_limit
    )
    metrics = Metrics("goals")
    relay = OutboxRelay(
        name="goals",
        application=application,
        translate=to_integration_event,
        source=SOURCE,
        open_storage=lambda: RelayStorage.for_database(settings.database_url, relay="goals"),
        metrics=metrics,
        batch_size=settings.relay_batch_size,
    )
    directory_feed = ProjectionRunner(
        store=ProjectionStore(directory_database, DirectoryReadModel()),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        group_id=settings.directory_consumer_group,
    )
    planner = ProjectionRunner(
        store=ProjectionStore(directory_database, NextCyclePlanner(application)),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        group_id=settings.planner_consumer_group,
    )
    publisher = DirectPublisher(source=f"{SOURCE}/directory")
    supervisor = Supervisor()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        producer = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-goals")
        await producer.start()
        publisher.attach(producer)
        await directory_feed.start(producer)
        await planner.start(producer)
        supervisor.spawn("outbox-relay", lambda: relay.run(producer))
        supervisor.spawn("directory-feed", directory_feed.run)
        supervisor.spawn("next-cycle-planner", planner.run)
        try:
            yield
        finally:
            await supervisor.shutdown()
            await directory_feed.stop()
            await planner.stop()
            publisher.attach(None)
            await producer.stop()
            application.close()
            directory_database.close()

    metrics.relay_lag.set_function(relay.lag)

    async def event_store_answers() -> tuple[bool, str]:
        highest = await asyncio.to_thread(application.recorder.max_notification_id)
        return True, f"notification log at {highest or 0}"

    async def feeds_run() -> tuple[bool, str]:
        return directory_feed.started and planner.started, (
            f"{len(directory_feed.assigned)} directory and {len(planner.assigned)} review partitions assigned"
        )

    http = FastAPI(
        title="Tandem goals",
        version="1",
        description=(
            "Performance and development goals, SMART, cascading, and linked: a development goal records which "
            "performance goal it serves and why (a capability gap or a future role). Every command accepts "
            "`Idempotency-Key` (a retry has one effect), `If-Match` (409 when the goal moved on), `X-Tenant-ID` "
            "and `X-Actor-ID`. Refusals are `application/problem+json`; a 422 names the field and the rule. "
            "Every change is published to Kafka `tandem.goals.v1` as a CloudEvent keyed by `tenant_id:employee_id`."
        ),
        lifespan=lifespan,
    )
    install_operational_routes(
        http,
        metrics,
        readiness_checks={"event_store": event_store_answers, "feeds": feeds_run},
        liveness_checks={"loops": supervisor.check},
        max_body_bytes=settings.max_body_bytes,
    )
    http.include_router(goals_router(application, settings.default_tenant, command_endpoint_for(settings.database_url)))
    http.include_router(directory_router(directory, publisher, clock, settings.default_tenant))
    return GoalsService(http=http, application=application, directory=directory, relay=relay, metrics=metrics)


def main() -> None:
    """Run the goals service (``tandem-goals``)."""
    settings = GoalsSettings()
    serve("goals", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
