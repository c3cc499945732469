"""The projections service's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from pydantic_settings import SettingsConfigDict

from tandem_projections.alignment import AlignmentReadModel
from tandem_projections.api import dashboards_router
from tandem_runtime.database import SQLDatabase
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics


class ProjectionsSettings(ServiceSettings):
    """``TANDEM_PROJECTIONS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_PROJECTIONS_", extra="ignore")

    port: int = 8000
    database_url: str = "sqlite:///var/projections/read-model.db"
    batch_size: int = 2000
    consumer_group: str = "tandem.projections.alignment"


@dataclass
class ProjectionsService:
    """The parts of a running projections service, for tests that need to reach inside."""

    http: FastAPI
    database: SQLDatabase
    runner: ProjectionRunner
    metrics: Metrics


def build_service(settings: ProjectionsSettings) -> ProjectionsService:
    """Build the projections service: read-model store, batched consumer, query API, health and metrics."""
    database = SQLDatabase.connect(settings.database_url)
    metrics = Metrics("projections")
    store = ProjectionStore(database, AlignmentReadModel())
    runner = ProjectionRunner(
        store=store,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        group_id=settings.consumer_group,
        batch_size=settings.batch_size,
    )
    supervisor = Supervisor()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        dead_letters = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-projections-dlq")
        await dead_letters.start()
        await runner.start(dead_letters)
        supervisor.spawn("projection-alignment", runner.run)
        try:
            yield
        finally:
            await supervisor.shutdown()
            await runner.stop()
            await dead_letters.stop()
            database.close()

    async def consuming() -> tuple[bool, str]:
        return runner.started, f"{len(runner.assigned)} partitions assigned, {runner.batches} batches applied"

    http = FastAPI(
        title="Tandem projections",
        version="1",
        description="Alignment dashboards and review packets, built from Tandem's topics.",
        lifespan=lifespan,
    )
    install_operational_routes(
        http, metrics, readiness_checks={"consumer": consuming}, liveness_checks={"loops": supervisor.check}
    )
    http.include_router(dashboards_router(database, settings.default_tenant))

    @http.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    return ProjectionsService(http=http, database=database, runner=runner, metrics=metrics)


def main() -> None:
    """Run the projections service (``tandem-projections``)."""
    settings = ProjectionsSettings()
    serve("projections", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
