"""Prometheus metrics of a worker, in a registry of its own, served on ``metrics_bind:metrics_port``."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from streams.settings import Settings

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        registry = self.registry
        self.records_in = Counter(
            "newsstream_records_in", "Records an agent consumed.", ["agent"], registry=registry
        )
        self.records_out = Counter(
            "newsstream_records_out", "Records an agent produced, by topic.", ["agent", "topic"], registry=registry
        )
        self.processing_seconds = Histogram(
            "newsstream_processing_seconds", "Time an agent spent on a batch (analyze) or an event (decide).",
            ["agent"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.batch_size = Histogram(
            "newsstream_batch_size", "Records per batch taken from the stream.", ["agent"], buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.inference_seconds = Histogram(
            "newsstream_inference_seconds", "Model time per batch.", ["model"], buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "newsstream_end_to_end_seconds", "From the raw message's Kafka timestamp to its output being sent.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.consumer_lag = Gauge(
            "newsstream_consumer_lag", "Messages not yet read, per assigned topic partition.", ["topic", "partition"],
            registry=registry,
        )
        self.duplicates = Counter(
            "newsstream_duplicates", "Dedup verdicts by tier (unique and same_story included).", ["tier"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "newsstream_dead_letters", "Dead letters by reason and stage.", ["reason", "stage"], registry=registry
        )
        self.dedup_articles = Gauge(
            "newsstream_dedup_articles", "Articles in the dedup index (within the window).", registry=registry
        )

    def serve(self, settings: Settings) -> int:
        """Start the HTTP endpoint in a background thread; returns the port (useful when configured as 0)."""
        server, _ = start_http_server(settings.metrics_port, addr=settings.metrics_bind, registry=self.registry)
        return int(server.server_port)
