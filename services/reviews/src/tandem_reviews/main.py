"""The reviews service's composition root: everything is built here, from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tandem_reviews.api import reviews_router
from tandem_reviews.application import ReviewsApplication
from tandem_reviews.checkins_feed import KpiValues, LatestKpiValues
from tandem_reviews.outbound import SOURCE, to_integration_event
from tandem_runtime.clock import Clock
from tandem_runtime.database import SQLDatabase
from tandem_runtime.directory import Directory, DirectoryReadModel
from tandem_runtime.goals_replica import GoalsReplica, GoalsReplicaModel
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.outbox import OutboxRelay, RelayStorage
from tandem_runtime.projection import ProjectionRunner, ProjectionStore, ReadModel
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics


class ReviewsSettings(ServiceSettings):
    """``TANDEM_REVIEWS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_REVIEWS_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite:///var/reviews/events.db"
    replica_database_url: str | None = Field(default=None, description="The replicas; beside the event store by default.")
    rating_scale_max: Decimal = Field(default=Decimal(5), description="The top of the tenant's rating scale.")
    consumer_group_prefix: str = "tandem.reviews"

    def replica_url(self) -> str:
        return self.store_beside_events(self.replica_database_url, "replicas.db")


@dataclass
class ReviewsService:
    http: FastAPI
    application: ReviewsApplication
    goals: GoalsReplica
    kpi_values: KpiValues
    directory: Directory
    relay: OutboxRelay


def build_service(settings: ReviewsSettings, clock: Clock | None = None) -> ReviewsService:
    """Build the reviews service: event store, replicas of goals, check-ins and directory, relay, HTTP API."""
    replicas = SQLDatabase.connect(settings.replica_url())
    goals, kpi_values, directory = GoalsReplica(replicas), KpiValues(replicas), Directory(replicas)
    application = ReviewsApplication(
        settings.database_url, goals, kpi_values, directory, clock=clock, rating_scale_max=settings.rating_scale_max
    )
    metrics = Metrics("reviews")
    relay = OutboxRelay(
        name="reviews",
        application=application,
        translate=to_integration_event,
        source=SOURCE,
        open_storage=lambda: RelayStorage.for_database(settings.database_url, relay="reviews"),
        metrics=metrics,
    )
    models: list[ReadModel] = [GoalsReplicaModel(), LatestKpiValues(), DirectoryReadModel()]
    feeds = [
        ProjectionRunner(
            store=ProjectionStore(replicas, model),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            metrics=metrics,
            group_id=f"{settings.consumer_group_prefix}.{model.name}",
        )
        for model in models
    ]
    supervisor = Supervisor()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        producer = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-reviews")
        await producer.start()
        for feed in feeds:
            await feed.start(producer)
            supervisor.spawn(f"{feed.store.read_model.name}-feed", feed.run)
        supervisor.spawn("outbox-relay", lambda: relay.run(producer))
        try:
            yield
        finally:
            await supervisor.shutdown()
            for feed in feeds:
                await feed.stop()
            await producer.stop()
            application.close()
            replicas.close()

    metrics.relay_lag.set_function(relay.lag)

    async def feeds_run() -> tuple[bool, str]:
        return all(feed.started for feed in feeds), ", ".join(
            f"{feed.store.read_model.name}: {len(feed.assigned)} partitions" for feed in feeds
        )

    http = FastAPI(
        title="Tandem reviews",
        version="1",
        description=(
            "The three-step review: performance goals against their targets (the why and the how), the connections "
            "between performance and development, and the development goals with the plan for the next cycle. "
            "Completing a review publishes `tandem.review.completed.v1` on `tandem.reviews.v1`; the goals service "
            "turns its plan into draft development goals, linked to the performance goals they serve."
        ),
        lifespan=lifespan,
    )
    install_operational_routes(
        http, metrics, readiness_checks={"feeds": feeds_run}, liveness_checks={"loops": supervisor.check},
        max_body_bytes=settings.max_body_bytes,
    )
    http.include_router(reviews_router(application, settings.default_tenant))
    return ReviewsService(http, application, goals, kpi_values, directory, relay)


def main() -> None:
    """Run the reviews service (``tandem-reviews``)."""
    settings = ReviewsSettings()
    serve("reviews", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
