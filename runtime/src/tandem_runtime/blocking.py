"""Blocking database work from asyncio, without leaving a thread behind on cancellation."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from tandem_runtime.database import DatabaseURL
from tandem_runtime.group_commit import DurabilityScope, current_scope

P = ParamSpec("P")
T = TypeVar("T")


async def run_to_completion(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``function`` in a worker thread; if the caller is cancelled, let it finish first.

    A thread cannot be stopped, so a cancelled caller that moved on could close the connection the
    thread is still using. Waiting keeps a transaction whole (committed or rolled back) at shutdown.
    """
    return await _whole(asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs)))


async def _whole(work: asyncio.Future[T]) -> T:
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise


class OwnThread:
    """A thread of its own for one loop's blocking work (a projection's batches, a relay's reads).

    ``asyncio.to_thread`` shares the event loop's default pool with everything else in the process. In a
    service that answers queries from that pool, a burst of queries would queue in front of the loop's next
    batch, and the read model would fall behind exactly when it is most read. A loop's work is sequential
    anyway, so one thread is all it needs, and nothing else waits in its queue.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``function`` in this thread; if the caller is cancelled, let it finish first."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        loop = asyncio.get_running_loop()
        return await _whole(loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs)))

    def close(self) -> None:
        """Let the thread end once its current work is done; a later ``run`` starts a new one."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


CommandEndpoint = Callable[[Callable[..., Any]], Callable[..., Any]]
"""Turns a command endpoint written as a plain function into the one to register (``command_endpoint_for``)."""


def command_endpoint_for(event_store_url: str) -> CommandEndpoint:
    """A decorator for HTTP command endpoints written as plain functions: where their blocking work runs.

    On an SQLite (or in-memory) event store a command is work under the interpreter lock from start to end:
    a worker thread cannot run it alongside the event loop, and handing it over and back costs about as much
    as the command itself (measured: about 1 ms of a 2 ms set-goal). So it runs on the loop, which it holds
    for half a millisecond, and then awaits the flush that makes its commit durable (``group_commit``) while
    the loop serves other requests. On PostgreSQL a command mostly waits on round trips, and on the loop it would
    stall every other request: it stays a plain function, which FastAPI runs in a worker thread.

    Only for short commands: a bulk one (a cascade to thousands) stays in a worker thread whatever the store.
    """
    if DatabaseURL.parse(event_store_url).scheme == "postgresql":
        return lambda endpoint: endpoint

    def on_the_loop(endpoint: Callable[P, T]) -> Callable[P, Any]:
        @functools.wraps(endpoint)  # FastAPI reads the parameters, and their annotations, through the wrapper
        async def run_here(*args: P.args, **kwargs: P.kwargs) -> T:
            # What the command saves is answered once it is on disk, and the loop serves others meanwhile.
            scope = DurabilityScope()
            token = current_scope.set(scope)
            try:
                return endpoint(*args, **kwargs)
            finally:
                current_scope.reset(token)
                await scope.settle()

        return run_here

    return on_the_loop
