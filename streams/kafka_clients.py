"""kafka-python clients built from the settings: producer, consumer and admin for the CLI, demo and tests."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.security import kafka_python_options
from streams.settings import Settings


# The largest message these producers send: the raw topic's limit too (streams.topics).
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.broker_url.split(","),
        "client_id": f"{settings.app_id}-cli",
        **kafka_python_options(settings),
    }


def producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(**_common(settings), acks="all", linger_ms=5, max_request_size=MAX_REQUEST_BYTES)


def consumer(
    settings: Settings, *topics: str, group_id: str | None = None, from_beginning: bool = True, auto_commit: bool = True
) -> KafkaConsumer:
    return KafkaConsumer(
        *topics,
        **_common(settings),
        group_id=group_id,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=auto_commit and group_id is not None,
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=max(500, int(settings.session_timeout_s * 1000) // 3),
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**_common(settings))
