"""Helpers for tests that wait on asynchronous results or run services in-process."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from fastapi import FastAPI

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None] | T | None], timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Poll ``probe`` (plain or async) until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last result: {last!r}")


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service's lifespan (its background loops) and talk to it over in-process HTTP."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@asynccontextmanager
async def assigned_consumer(bootstrap: str, topic: str) -> AsyncIterator[tuple[AIOKafkaConsumer, dict[TopicPartition, int]]]:
    """A group-less consumer holding every partition of ``topic``, with each partition's end offset."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await eventually(consumer.assignment, timeout=10)  # without a group it takes every partition
        yield consumer, await consumer.end_offsets(list(partitions))
    finally:
        await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The next offset of every partition of ``topic``."""
    async with assigned_consumer(bootstrap, topic) as (_, ends):
        return {tp.partition: offset for tp, offset in ends.items()}


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every message on ``topic`` right now."""
    async with assigned_consumer(bootstrap, topic) as (consumer, ends):
        await consumer.seek_to_beginning(*ends)
        messages: list[ConsumerRecord] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                messages.extend(r for r in records if r.offset < ends[tp])
        return messages


async def caught_up(runner, bootstrap: str, topics: tuple[str, ...]) -> bool:
    """True once the projection has tracked every message that is on its topics now."""
    positions = await asyncio.to_thread(runner.store.positions)
    for topic in topics:
        for partition, end in (await end_offsets(bootstrap, topic)).items():
            if end and positions.get((topic, partition), -1) < end - 1:
                return False
    return True


class HeldProducer:
    """Stands for aiokafka's producer: each ``send`` returns a delivery that the test settles."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, asyncio.Future[None]]] = []  # (event id, delivery), in the order of send

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> asyncio.Future[None]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((dict(headers)["ce_id"].decode(), delivery))
        return delivery

    def acknowledge(self, first: int, last: int) -> None:
        """Acknowledge sends ``first`` to ``last`` (inclusive, in the order sent)."""
        for _, delivery in self.sent[first : last + 1]:
            if not delivery.done():
                delivery.set_result(None)

    def fail(self, index: int) -> None:
        self.sent[index][1].set_exception(KafkaTimeoutError())


class AcknowledgingProducer(HeldProducer):
    """Acknowledges every send at once."""

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> asyncio.Future[None]:
        delivery = await super().send(topic, value=value, key=key, headers=headers)
        delivery.set_result(None)
        return delivery
