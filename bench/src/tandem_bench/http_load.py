"""A lean HTTP/1.1 load generator on asyncio streams, so the client costs little of the two cores.

Requests are pre-built bytes on keep-alive connections; responses are read by ``Content-Length`` (or
chunked). ``closed_loop`` keeps N requests in flight for a fixed time (throughput); ``open_loop`` sends
at a fixed rate whatever the server does (latency without coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run_client(load: Coroutine[Any, Any, T]) -> T:
    """Run a load on uvloop, the loop the services run on: the client takes less of the cores it shares with them."""
    return uvloop.run(load)


def build_request(method: str, path: str, port: int, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request on a keep-alive connection to 127.0.0.1."""
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "connection: keep-alive"]
    if body:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; one request at a time. A connection the server closed while idle is reopened."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port = port
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to 127.0.0.1:``port``."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=16 * 1024 * 1024)
        return cls(port, reader, writer)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send a pre-built request; return the status and the body."""
        try:
            return await self._exchange(data)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                raise  # the server answered in part: not an idle close, so not safe to send again
            # The server closed the connection after its keep-alive timeout, before reading this request.
            self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=16 * 1024 * 1024)
            return await self._exchange(data)

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lowered.index(b"\r\n", at + 2)
            return status, await self.reader.readexactly(int(lowered[at + 17 : end]))
        if b"\r\ntransfer-encoding: chunked" in lowered:
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return status, bytes(body)
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
        return status, b""

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


@dataclass
class LoadResult:
    """What a load run did: answers by status, latencies in ms of the successful ones, and its duration."""

    seconds: float = 0.0
    warm_up_ok: int = 0  # 2xx answers before the measured window: their effects happened too
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        """Answers with a 2xx status."""
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        """2xx answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


async def closed_loop(
    port: int,
    next_request: Callable[[int], bytes],
    *,
    connections: int,
    seconds: float,
    warm_up: float = 2.0,
    on_answer: Callable[[int, int, bytes], None] | None = None,
) -> LoadResult:
    """Keep ``connections`` requests in flight for ``warm_up`` + ``seconds``; count only after the warm-up.

    ``on_answer(i, status, body)`` sees every answer, the warm-up's too.
    """
    result = LoadResult()
    counter = iter(range(10**12))
    start = time.perf_counter()
    measure_from = start + warm_up
    stop_at = measure_from + seconds

    async def worker() -> None:
        connection = await Connection.open(port)
        try:
            while (now := time.perf_counter()) < stop_at:
                i = next(counter)
                status, body = await connection.request(next_request(i))
                done = time.perf_counter()
                if on_answer is not None:
                    on_answer(i, status, body)
                if now >= measure_from:
                    result.statuses[status] += 1
                    if 200 <= status < 300:
                        result.latencies_ms.append((done - now) * 1000)
                elif 200 <= status < 300:
                    result.warm_up_ok += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            result.errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - measure_from
    return result


async def open_loop(
    port: int,
    next_request: Callable[[int], bytes],
    *,
    rate: float,
    seconds: float,
    max_connections: int = 256,
    on_answer: Callable[[int, float, int, bytes], Awaitable[None] | None] | None = None,
) -> LoadResult:
    """Send ``rate`` requests a second for ``seconds``, each at its scheduled time on a free connection.

    Latency counts from the scheduled time, so a slow server cannot hide its queue. ``on_answer(i,
    answered_at, status, body)`` is called for every answer (``answered_at`` on ``time.perf_counter``).
    """
    result = LoadResult()
    idle: list[Connection] = []
    opened = 0
    total = int(rate * seconds)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()

    async def send(i: int, due: float) -> None:
        nonlocal opened
        connection = idle.pop() if idle else None
        if connection is None:
            opened += 1
            connection = await Connection.open(port)
        try:
            status, body = await connection.request(next_request(i))
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            result.errors.append(f"{type(error).__name__}: {error}")
            connection.close()
            opened -= 1
            return
        answered = time.perf_counter()
        idle.append(connection)
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.latencies_ms.append((answered - due) * 1000)
        if on_answer is not None:
            outcome = on_answer(i, answered, status, body)
            if outcome is not None:
                await outcome

    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if opened - len(idle) >= max_connections and not idle:
            result.statuses[0] += 1  # dropped: every connection is busy; the server is not keeping up
            continue
        task = asyncio.create_task(send(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    for connection in idle:
        connection.close()
    return result
