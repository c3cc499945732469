"""The goals service's composition root: everything is built here, from settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from tandem_goals.api import goals_router
from tandem_goals.application import GoalsApplication
from tandem_goals.outbound import SOURCE, to_integration_event
from tandem_runtime.clock import Clock
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.outbox import OutboxRelay, RelayStorage
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics


class GoalsSettings(ServiceSettings):
    """``TANDEM_GOALS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_GOALS_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite:///var/goals/events.db"
    relay_batch_size: int = 500


@dataclass
class GoalsService:
    """The parts of a running goals service, for tests that need to reach inside."""

    http: FastAPI
    application: GoalsApplication
    relay: OutboxRelay
    metrics: Metrics


def build_service(settings: GoalsSettings, clock: Clock | None = None) -> GoalsService:
    """Build the goals service: event store, outbox relay, HTTP API, health and metrics."""
    application = GoalsApplication(settings.database_url, clock=clock)
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
    supervisor = Supervisor()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        producer = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-goals")
        await producer.start()
        supervisor.spawn("outbox-relay", lambda: relay.run(producer))
        try:
            yield
        finally:
            await supervisor.shutdown()
            await producer.stop()
            application.close()

    metrics.relay_lag.set_function(relay.lag)

    async def event_store_answers() -> tuple[bool, str]:
        highest = await asyncio.to_thread(application.recorder.max_notification_id)
        return True, f"notification log at {highest or 0}"

    http = FastAPI(
        title="Tandem goals",
        version="1",
        description="Performance and development goals, SMART and linked. Events go to tandem.goals.v1.",
        lifespan=lifespan,
    )
    install_operational_routes(
        http, metrics, readiness_checks={"event_store": event_store_answers}, liveness_checks={"loops": supervisor.check}
    )
    http.include_router(goals_router(application, settings.default_tenant))
    return GoalsService(http=http, application=application, relay=relay, metrics=metrics)


def main() -> None:
    """Run the goals service (``tandem-goals``)."""
    settings = GoalsSettings()
    serve("goals", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
