"""The check-ins service's composition root: everything is built here, from settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tandem_checkins.api import checkins_router
from tandem_checkins.application import CheckInsApplication
from tandem_checkins.following import ScheduleFollower
from tandem_checkins.outbound import SOURCE, to_integration_event
from tandem_runtime.blocking import command_endpoint_for, run_to_completion
from tandem_runtime.clock import Clock
from tandem_runtime.database import SQLDatabase
from tandem_runtime.directory import Directory, DirectoryReadModel
from tandem_runtime.goals_replica import GoalsReplica, GoalsReplicaModel
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.outbox import OutboxRelay, RelayStorage
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics

log = logging.getLogger(__name__)


class CheckInsSettings(ServiceSettings):
    """``TANDEM_CHECKINS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_CHECKINS_", extra="ignore")

    port: int = 8002
    database_url: str = "sqlite:///var/checkins/events.db"
    replica_database_url: str | None = Field(default=None, description="The goals replica; beside the event store by default.")
    sweep_interval_seconds: float = Field(default=300, description="How often missed check-in periods are signalled.")
    follow_interval_seconds: float = Field(
        default=0.05, gt=0, description="How often schedules follow goals changed on the goals topic."
    )
    goals_consumer_group: str = "tandem.checkins.goals"
    directory_consumer_group: str = "tandem.checkins.directory"

    def replica_url(self) -> str:
        return self.store_beside_events(self.replica_database_url, "goals-replica.db")


@dataclass
class CheckInsService:
    """The parts of a running check-ins service, for tests that need to reach inside."""

    http: FastAPI
    application: CheckInsApplication
    goals: GoalsReplica
    directory: Directory
    relay: OutboxRelay
    metrics: Metrics
    goals_feed: ProjectionRunner
    follower: ScheduleFollower


def build_service(settings: CheckInsSettings, clock: Clock | None = None) -> CheckInsService:
    """Build the check-ins service: event store, goals replica, cadence sweep, outbox relay, HTTP API."""
    replica_database = SQLDatabase.connect(settings.replica_url())
    goals = GoalsReplica(replica_database)
    directory = Directory(replica_database)
    metrics = Metrics("checkins")
    application = CheckInsApplication(settings.database_url, goals, directory, clock=clock, metrics=metrics)
    relay = OutboxRelay(
        name="checkins",
        application=application,
        translate=to_integration_event,
        source=SOURCE,
        open_storage=lambda: RelayStorage.for_database(settings.database_url, relay="checkins"),
        metrics=metrics,
    )
    follower = ScheduleFollower(application, settings.follow_interval_seconds)
    goals_feed = ProjectionRunner(
        store=ProjectionStore(replica_database, GoalsReplicaModel()),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        group_id=settings.goals_consumer_group,
        on_batch=follower.note,
    )
    directory_feed = ProjectionRunner(
        store=ProjectionStore(replica_database, DirectoryReadModel()),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        group_id=settings.directory_consumer_group,
    )
    supervisor = Supervisor()

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(settings.sweep_interval_seconds)
            try:
                outcome = await run_to_completion(application.signal_overdue_check_ins)
            except (PersistenceError, OSError) as error:
                log.warning("cadence sweep failed, next one in %ss: %s", settings.sweep_interval_seconds, error)
            else:
                log.info("cadence sweep signalled %d overdue check-ins, skipped %d goals",
                         outcome.overdue_signalled, len(outcome.skipped))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        producer = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-checkins")
        await producer.start()
        await goals_feed.start(producer)
        await directory_feed.start(producer)
        supervisor.spawn("outbox-relay", lambda: relay.run(producer))
        supervisor.spawn("goals-feed", goals_feed.run)
        supervisor.spawn("directory-feed", directory_feed.run)
        supervisor.spawn("cadence-sweep", sweep_forever)
        supervisor.spawn("schedule-follower", follower.run)
        try:
            yield
        finally:
            await supervisor.shutdown()
            await goals_feed.stop()
            await directory_feed.stop()
            await producer.stop()
            application.close()
            replica_database.close()

    metrics.relay_lag.set_function(relay.lag)

    async def feeds_run() -> tuple[bool, str]:
        return goals_feed.started and directory_feed.started, (
            f"{len(goals_feed.assigned)} goals and {len(directory_feed.assigned)} directory partitions assigned"
        )

    http = FastAPI(
        title="Tandem check-ins",
        version="1",
        description=(
            "Check-ins keep goals living documents: KPI values on performance goals, activities, skill "
            "applications and 360-degree feedback on development goals, discussed together. Each goal's "
            "cadence comes from the goals topic; a missed period is signalled once as `CheckInOverdue`. "
            "Events go to Kafka `tandem.checkins.v1`, keyed by `tenant_id:employee_id`."
        ),
        lifespan=lifespan,
    )
    install_operational_routes(
        http, metrics, readiness_checks={"feeds": feeds_run}, liveness_checks={"loops": supervisor.check},
        max_body_bytes=settings.max_body_bytes,
    )
    http.include_router(checkins_router(application, settings.default_tenant, command_endpoint_for(settings.database_url)))
    return CheckInsService(
        http=http, application=application, goals=goals, directory=directory, relay=relay, metrics=metrics,
        goals_feed=goals_feed, follower=follower,
    )


def main() -> None:
    """Run the check-ins service (``tandem-checkins``)."""
    settings = CheckInsSettings()
    serve("checkins", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
