"""The running read side: the current store generation, its live consumer, and rebuilds that replace both."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from tandem_projections.read_model import DashboardsReadModel
from tandem_projections.read_your_writes import GoalWaiters
from tandem_projections.rebuild import StoreGenerations, default_workers, rebuild_store, replay
from tandem_runtime.database import SQLDatabase
from tandem_runtime.metrics import Metrics
from tandem_runtime.projection import ProjectionRunner, ProjectionStore
from tandem_runtime.service import Supervisor

log = logging.getLogger(__name__)

LIVE_LOOP = "projection-dashboards"


@dataclass
class RebuildJob:
    """A rebuild's progress, as ``GET /v1/admin/rebuilds/{id}`` shows it."""

    rebuild_id: str
    state: str = "replaying"  # replaying → cards → catching_up → swapping → done | failed
    events_done: int = 0
    events_total: int = 0
    cards_done: int = 0
    cards_total: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    events_applied: int | None = None
    seconds: float | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return asdict(self)


class RebuildRunning(Exception):
    """Only one rebuild at a time."""


class ReadSide:
    """Owns the store generation that queries read and the live runner writes."""

    def __init__(self, *, database_url: str, bootstrap_servers: str, metrics: Metrics, supervisor: Supervisor,
                 group_id: str, batch_size: int) -> None:
        self.generations = StoreGenerations(database_url)
        self.url = self.generations.current()
        self.database = SQLDatabase.connect(self.url)
        self._bootstrap = bootstrap_servers
        self._metrics = metrics
        self._supervisor = supervisor
        self._group_id = group_id
        self._batch_size = batch_size
        self._dead_letters: AIOKafkaProducer | None = None
        self.goal_waiters = GoalWaiters()
        metrics.waiting_reads.set_function(lambda: self.goal_waiters.waiting)
        self.runner = self._runner_for(self.database)
        self.jobs: dict[str, RebuildJob] = {}
        self._rebuilding: asyncio.Task[None] | None = None

    def _runner_for(self, database: SQLDatabase) -> ProjectionRunner:
        return ProjectionRunner(
            store=ProjectionStore(database, DashboardsReadModel()),
            bootstrap_servers=self._bootstrap,
            metrics=self._metrics,
            group_id=self._group_id,
            batch_size=self._batch_size,
            on_batch=self.goal_waiters.batch_applied,
        )

    async def start(self, dead_letters: AIOKafkaProducer) -> None:
        """Start consuming into the current generation."""
        self._dead_letters = dead_letters
        await self.runner.start(dead_letters)
        self._supervisor.spawn(LIVE_LOOP, self.runner.run)

    async def stop(self) -> None:
        """Stop any rebuild, then the live runner, then close the store."""
        if self._rebuilding is not None:
            self._rebuilding.cancel()
            await asyncio.gather(self._rebuilding, return_exceptions=True)
        await self.runner.stop()
        self.database.close()

    def start_rebuild(self) -> RebuildJob:
        """Begin replaying every topic into a fresh generation; queries keep reading the current one."""
        if self._rebuilding is not None and not self._rebuilding.done():
            raise RebuildRunning("a rebuild is already running")
        job = RebuildJob(rebuild_id=str(uuid.uuid4()))
        self.jobs[job.rebuild_id] = job
        self._rebuilding = asyncio.create_task(self._rebuild(job), name=f"rebuild-{job.rebuild_id}")
        return job

    async def _rebuild(self, job: RebuildJob) -> None:
        fresh_url = self.generations.next()
        fresh = SQLDatabase.connect(fresh_url)
        log.info("rebuild %s: replaying every topic into %s", job.rebuild_id, fresh_url)
        try:
            def replayed(done: int, total: int) -> None:
                job.events_done, job.events_total = done, total

            def carded(done: int, total: int) -> None:
                job.state, job.cards_done, job.cards_total = "cards", done, total

            report = await rebuild_store(fresh, self._bootstrap, progress=replayed, cards_progress=carded,
                                         database_url=fresh_url, workers=default_workers())
            job.state = "catching_up"
            # What arrived during the rebuild, applied the live way, before the swap.
            caught_up, _ = await replay(ProjectionStore(fresh, DashboardsReadModel()), self._bootstrap)
            job.state = "swapping"
            await self._swap(fresh, fresh_url)
            job.events_applied = report.events + caught_up
            job.seconds = round(time.time() - job.started_at, 3)
            job.state = "done"
            log.info("rebuild %s: done, %d events in %.1f s", job.rebuild_id, job.events_applied, job.seconds)
        except asyncio.CancelledError:
            fresh.close()
            self.generations.discard(fresh_url)
            raise
        except Exception as error:
            log.exception("rebuild %s failed; the current store stays", job.rebuild_id)
            job.state, job.error = "failed", f"{type(error).__name__}: {error}"
            fresh.close()
            self.generations.discard(fresh_url)
        finally:
            job.finished_at = time.time()

    async def _swap(self, fresh: SQLDatabase, fresh_url: str) -> None:
        await self._supervisor.stop(LIVE_LOOP)
        await self.runner.stop()
        old_database, old_url = self.database, self.url
        self.runner = self._runner_for(fresh)
        assert self._dead_letters is not None
        await self.runner.start(self._dead_letters)
        self._supervisor.spawn(LIVE_LOOP, self.runner.run)
        self.database, self.url = fresh, fresh_url
        self.generations.promote(fresh_url)
        await asyncio.sleep(0.5)  # queries that began on the old store finish before it closes
        old_database.close()
        self.generations.discard(old_url)
