"""The projections service's composition root, and the ``tandem-projections`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from tandem_projections.api import admin_router, read_router
from tandem_projections.read_side import ReadSide
from tandem_projections.rebuild import StoreGenerations, rebuild
from tandem_projections.web import Pages
from tandem_runtime.clock import Clock
from tandem_runtime.http import install_operational_routes
from tandem_runtime.kafka import make_producer
from tandem_runtime.metrics import Metrics
from tandem_runtime.service import Supervisor, serve
from tandem_runtime.settings import ServiceSettings
from tandem_runtime.topics import ensure_topics


class ProjectionsSettings(ServiceSettings):
    """``TANDEM_PROJECTIONS_*`` variables; ``KAFKA_BOOTSTRAP_SERVERS`` is shared."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_PROJECTIONS_", extra="ignore")

    port: int = 8000
    database_url: str = "sqlite:///var/projections/read-model.db"
    batch_size: int = 2000
    consumer_group: str = "tandem.projections.dashboards"


@dataclass
class ProjectionsService:
    """The parts of a running projections service, for tests that need to reach inside."""

    http: FastAPI
    read_side: ReadSide
    metrics: Metrics


def build_service(settings: ProjectionsSettings, clock: Clock | None = None) -> ProjectionsService:
    """Build the projections service: read-model store, batched consumer, dashboards, packets and web pages."""
    clock = clock or Clock()
    metrics = Metrics("projections")
    supervisor = Supervisor()
    read_side = ReadSide(
        database_url=settings.database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        metrics=metrics,
        supervisor=supervisor,
        group_id=settings.consumer_group,
        batch_size=settings.batch_size,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers)
        dead_letters = make_producer(settings.kafka_bootstrap_servers, client_id="tandem-projections-dlq")
        await dead_letters.start()
        await read_side.start(dead_letters)
        try:
            yield
        finally:
            await supervisor.shutdown()
            await read_side.stop()
            await dead_letters.stop()

    async def consuming() -> tuple[bool, str]:
        runner = read_side.runner
        return runner.started, f"{len(runner.assigned)} partitions assigned, {runner.batches} batches applied"

    http = FastAPI(
        title="Tandem projections",
        version="1",
        description="Alignment dashboards and review packets, built from Tandem's topics.",
        lifespan=lifespan,
    )
    install_operational_routes(
        http, metrics, readiness_checks={"consumer": consuming}, liveness_checks={"loops": supervisor.check},
        max_body_bytes=settings.max_body_bytes,
    )
    today = lambda: clock.now().date()  # noqa: E731
    pages = Pages(read_side, today, settings.default_tenant)
    http.include_router(read_router(read_side, today, pages, settings.default_tenant))
    http.include_router(admin_router(read_side))
    http.include_router(pages.router())
    return ProjectionsService(http=http, read_side=read_side, metrics=metrics)


def _bar(label: str, done: int, total: int, width: int = 32) -> None:
    share = done / total if total else 1.0
    filled = int(share * width)
    sys.stderr.write(f"\r{label:<10} [{'#' * filled}{'.' * (width - filled)}] {share:6.1%} {done:>10,}/{total:,}")
    sys.stderr.flush()


def _rebuild_through_service(url: str) -> int:
    """Ask the running service to rebuild, and show its progress until the swap."""
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/v1/admin/rebuilds")
        if started.status_code != 202:
            print(f"rebuild refused: {started.status_code} {started.text}", file=sys.stderr)
            return 1
        job = started.json()
        while job["state"] not in ("done", "failed"):
            time.sleep(0.25)
            job = client.get(f"/v1/admin/rebuilds/{job['rebuild_id']}").json()
            if job["state"] == "replaying" and job["events_total"]:
                _bar("events", job["events_done"], job["events_total"])
            elif job["state"] == "cards":
                _bar("cards", job["cards_done"], job["cards_total"])
        if job["events_total"]:
            _bar("events", job["events_total"], job["events_total"])
        sys.stderr.write("\n")
        if job["state"] == "failed":
            print(f"rebuild failed: {job['error']}", file=sys.stderr)
            return 1
        print(f"rebuilt {job['events_applied']:,} events in {job['seconds']:.1f} s and swapped the new store in")
        return 0


def _rebuild_offline(settings: ProjectionsSettings) -> int:
    """Rebuild the configured store in this process (the service is stopped), then make it current."""
    generations = StoreGenerations(settings.database_url)
    fresh = generations.next()
    report = asyncio.run(rebuild(fresh, settings.kafka_bootstrap_servers, progress=lambda d, t: _bar("events", d, t)))
    sys.stderr.write("\n")
    previous = generations.promote(fresh)
    generations.discard(previous)
    print(f"rebuilt {report.events:,} events and {report.cards:,} cards in {report.seconds:.1f} s")
    return 0


def main() -> None:
    """``tandem-projections`` serves; ``tandem-projections rebuild`` replays every topic into a fresh store."""
    parser = argparse.ArgumentParser(prog="tandem-projections", description=main.__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    rebuild_command = commands.add_parser("rebuild", help="replay every topic into a fresh store, then swap it in")
    rebuild_command.add_argument("--service", help="the running service's URL (default: 127.0.0.1 and its port)")
    rebuild_command.add_argument("--offline", action="store_true", help="rebuild here; the service must be stopped")
    arguments = parser.parse_args()
    settings = ProjectionsSettings()
    if arguments.command == "rebuild":
        if arguments.offline:
            sys.exit(_rebuild_offline(settings))
        sys.exit(_rebuild_through_service(arguments.service or f"http://127.0.0.1:{settings.port}"))
    serve("projections", settings, lambda: build_service(settings).http)


if __name__ == "__main__":
    main()
