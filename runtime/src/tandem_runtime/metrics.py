"""Prometheus metrics, one registry per service instance (tests build several in one process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every metric a Tandem service exposes on ``/metrics``."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        labels: dict[str, Any] = {"registry": self.registry}
        self.http_requests = Counter(
            "tandem_http_requests", "HTTP requests answered.", ["method", "route", "status"], **labels
        )
        self.http_seconds = Histogram(
            "tandem_http_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            **labels,
        )
        self.relay_published = Counter("tandem_relay_published_events", "Events the outbox relay published.", **labels)
        self.relay_position = Gauge("tandem_relay_position", "Last notification id acknowledged by Kafka.", **labels)
        self.relay_lag = Gauge("tandem_relay_lag", "Notifications recorded but not yet published.", **labels)
        self.event_store_flush_seconds = Histogram(
            "tandem_event_store_flush_seconds",
            "Time to flush an SQLite event store's log: what a command waits for before it is answered.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            **labels,
        )
        self.projection_events = Counter(
            "tandem_projection_events",
            "Messages the projection consumed, by outcome (applied, duplicate, dead_lettered).",
            ["topic", "outcome"],
            **labels,
        )
        self.dead_lettered = Counter(
            "tandem_dead_lettered_events",
            "Events a consumer set aside on the dead-letter topic instead of applying them, by consumer and reason"
            " (undecodable, malformed, unapplicable).",
            ["consumer", "reason"],
            **labels,
        )
        self.skipped_items = Counter(
            "tandem_skipped_items",
            "Items a loop over many (goals, tenants) skipped because they failed alone, by loop and error kind.",
            ["loop", "error"],
            **labels,
        )
        self.projection_batch_seconds = Histogram(
            "tandem_projection_batch_seconds",
            "Time to apply one batch in one transaction.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            **labels,
        )
        self.projection_event_age = Histogram(
            "tandem_projection_event_age_seconds",
            "Seconds from an event's record timestamp on Kafka (when it was published) to its batch being applied.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            **labels,
        )
        self.projection_lag = Gauge(
            "tandem_projection_lag", "Messages behind the end of each partition.", ["topic", "partition"], **labels
        )
        self.waiting_reads = Gauge(
            "tandem_waiting_reads", "Queries waiting for the read model to apply a write (read-your-writes).", **labels
        )

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)
