"""Topic layout. Every topic is created explicitly before workers start: auto-created topics get the broker's default
partition count, and a Faust table whose source and changelog partition counts differ refuses to start."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_clients import MAX_REQUEST_BYTES, admin
from streams.settings import Settings

DEDUP_TABLE = "dedup"
# The largest raw message the raw topic takes (newsstream's producers send no larger); the worker dead-letters
# anything above NEWSSTREAM_MAX_MESSAGE_BYTES unread, with its bytes.
RAW_MAX_MESSAGE_BYTES = MAX_REQUEST_BYTES
# A dead letter carries the original base64-encoded (4/3 of its size) in a JSON envelope: room for the largest raw
# message, so that nothing the raw topic accepted is too big to dead-letter (Kafka's default limit is 1 MB).
DEAD_LETTER_MAX_MESSAGE_BYTES = RAW_MAX_MESSAGE_BYTES * 4 // 3 + 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    max_message_bytes: int | None = None  # None: the broker's default

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact"} if self.compacted else {}
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


def dedup_changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-{DEDUP_TABLE}-changelog"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    parallel = settings.partitions
    return [
        TopicSpec(settings.topic_raw, parallel, max_message_bytes=RAW_MAX_MESSAGE_BYTES),
        TopicSpec(settings.topic_enriched, parallel, max_message_bytes=settings.max_output_bytes),
        TopicSpec(settings.topic_duplicates, parallel),
        TopicSpec(settings.topic_events, parallel),
        TopicSpec(settings.topic_deadletter, parallel, max_message_bytes=DEAD_LETTER_MAX_MESSAGE_BYTES),
        # One partition: every dedup decision sees every earlier article, whichever raw partition it came through.
        TopicSpec(settings.topic_analyzed, 1, max_message_bytes=settings.max_output_bytes),
        TopicSpec(dedup_changelog_topic(settings), 1, compacted=True),
    ]


def create_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        new_topics = [
            NewTopic(spec.name, spec.partitions, settings.replication_factor, topic_configs=spec.configs())
            for spec in missing
        ]
        if new_topics:
            try:
                client.create_topics(new_topics)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
        return [spec.name for spec in missing]
    finally:
        client.close()
