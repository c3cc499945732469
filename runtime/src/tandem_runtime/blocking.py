"""Blocking database work from asyncio, without leaving a thread behind on cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def run_to_completion(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``function`` in a worker thread; if the caller is cancelled, let it finish first.

    A thread cannot be stopped, so a cancelled caller that moved on could close the connection the
    thread is still using. Waiting keeps a transaction whole (committed or rolled back) at shutdown.
    """
    work = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise
