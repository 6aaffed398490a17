"""Prometheus metrics of a worker, in a registry of its own, served on ``metrics_bind:metrics_port`` with a health
endpoint beside them: ``/metrics`` for Prometheus, ``/healthz`` for probes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from streams.progress import PartitionState
from streams.settings import Settings
from streams.thread_cpu import ThreadCpuCollector

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
            "newsstream_dedup_articles", "Articles in the dedup index (within the window); a standby's copy too.",
            registry=registry,
        )
        self.dedup_restores = Counter(
            "newsstream_dedup_index_restores",
            "Table recoveries after a rebalance, by outcome: the index kept (it followed the table), rebuilt from a "
            "snapshot of its graph (a restart on the same machine) or rebuilt from scratch.",
            ["outcome"], registry=registry,
        )
        self.dedup_rebuild_seconds = Gauge(
            "newsstream_dedup_index_rebuild_seconds", "How long the last rebuild of the dedup index took.",
            registry=registry,
        )
        self.stalled_partitions = Gauge(
            "newsstream_stalled_partitions",
            "Assigned partitions with records waiting whose read position has not moved for health_max_stall_s.",
            registry=registry,
        )
        self.stalled_detail = ""  # for /healthz: which partitions, how far behind
        self.heartbeat = Gauge(
            "newsstream_heartbeat_timestamp_seconds",
            "Last time the worker's event loop ran its heartbeat timer (0: agents not started yet).",
            registry=registry,
        )
        registry.register(ThreadCpuCollector())

        self.last_heartbeat = 0.0

    def beat(self) -> None:
        self.last_heartbeat = time.time()
        self.heartbeat.set(self.last_heartbeat)

    def report_stalled(self, stalled: Mapping[str, PartitionState]) -> None:
        """The partitions that stall now (none: empty)."""
        self.stalled_partitions.set(len(stalled))
        self.stalled_detail = ", ".join(
            f"{name} ({state.lag} records waiting at offset {state.position})" for name, state in sorted(stalled.items())
        )

    def health(self, max_heartbeat_age_s: float) -> str | None:
        """None when the models are loaded (if any), the event loop is responsive and no partition stalls, else why not."""
        if self.last_heartbeat == 0:
            return "starting: the models are loading (or the worker has not started yet)"
        age = time.time() - self.last_heartbeat
        if age > max_heartbeat_age_s:
            return f"stalled: the event loop's last heartbeat was {age:.0f} s ago (limit {max_heartbeat_age_s:.0f} s)"
        if self.stalled_detail:
            return f"stalled: partitions not read although records wait: {self.stalled_detail}"
        return None

    def serve(self, settings: Settings) -> int:
        """Start the HTTP endpoint in a background thread; returns the port (useful when configured as 0)."""
        metrics_app = make_wsgi_app(self.registry)
        max_age = settings.health_max_heartbeat_age_s

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != "/healthz":
                return metrics_app(environ, start_response)
            problem = self.health(max_age)
            status = "200 OK" if problem is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [(problem or "ok").encode() + b"\n"]

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in settings.metrics_bind else socket.AF_INET

        server = make_server(settings.metrics_bind, settings.metrics_port, app, Server, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return int(server.server_port)


class _QuietHandler(WSGIRequestHandler):
    """Scrapes and probes every few seconds are not worth a log line each."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        pass
