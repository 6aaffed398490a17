"""kafka-python clients built from the settings: producer, consumer and admin for the CLI, demo and tests."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

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


def records_past_reported_end(
    settings: Settings, topic: str, partition: int, timeout_s: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """The (key, value) records of a partition past the end offset the broker reports, up to the high watermark its
    fetch responses carry. Apache Kafka reports its true end, so there are none. Tansu 0.6.0 (the embedded broker)
    reports the last batch's first offset + 1 as the end, so a reader that stops there (Faust restoring a table)
    misses the rest of the last batch: 219 of 100,000 dedup records once, on a restart."""
    reader = KafkaConsumer(**_common(settings), enable_auto_commit=False, fetch_max_wait_ms=100)
    try:
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        reported_end = reader.end_offsets([tp])[tp]
        reader.seek(tp, reported_end)
        records: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + timeout_s
        while True:
            batch = reader.poll(timeout_ms=1000).get(tp, [])
            records += [(record.key, record.value) for record in batch]
            high_watermark = reader.highwater(tp)
            if not batch and high_watermark is not None and reader.position(tp) >= high_watermark:
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}[{partition}] not read to its high watermark within {timeout_s:.0f} s")
    finally:
        reader.close()
