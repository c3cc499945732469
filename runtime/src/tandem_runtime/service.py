"""Running a service: logging, background loops under supervision, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from tandem_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


def configure_logging(service: str, level: str = "INFO") -> None:
    """One line per record, with the service name, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s service={service} logger=%(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


class Supervisor:
    """Owns a service's background loops. A loop that ends unexpectedly makes the service not ready."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def spawn(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Start ``loop`` as a named background task."""

        async def guarded() -> None:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except BaseException:
                log.exception("background loop %s stopped with an error", name)
                raise

        self._tasks[name] = asyncio.create_task(guarded(), name=name)

    async def stop(self, name: str, timeout: float = 10.0) -> None:
        """Cancel one loop on purpose and wait for it to finish its current step."""
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=timeout)

    def failures(self) -> dict[str, str]:
        """Loops that have ended while the service is running, with the reason."""
        failed = {}
        for name, task in self._tasks.items():
            if task.done() and not self._stopping:
                error = None if task.cancelled() else task.exception()
                failed[name] = f"{type(error).__name__}: {error}" if error else "stopped"
        return failed

    async def check(self) -> tuple[bool, str]:
        """A readiness check: every loop still running."""
        failed = self.failures()
        return (not failed, "; ".join(f"{name}: {why}" for name, why in failed.items()) or "all loops running")

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every loop and wait for it to finish its current step."""
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks.values(), timeout=timeout)


def serve(service: str, settings: ServiceSettings, build_http: Callable[[], Any]) -> None:
    """Log, build the service's HTTP app and serve it until SIGTERM or SIGINT, then shut down gracefully.

    The event loop is uvloop's and HTTP is parsed by httptools: a service's loop carries its requests, its
    Kafka clients and the hand-overs to its worker threads. On asyncio's own loop with the h11 parser, a
    goals service accepted 448–620 goals/s closed-loop; it now accepts 640–750 (``make bench``).
    """
    configure_logging(service, settings.log_level)
    uvicorn.run(
        build_http(),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        timeout_graceful_shutdown=10,
    )
