"""Topic layout. Every topic is created explicitly before workers start: auto-created topics get the broker's default
partition count, and a Faust table whose source and changelog partition counts differ refuses to start."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_clients import admin
from streams.settings import Settings

DEDUP_TABLE = "dedup"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False


def dedup_changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-{DEDUP_TABLE}-changelog"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    parallel = settings.partitions
    return [
        TopicSpec(settings.topic_raw, parallel),
        TopicSpec(settings.topic_enriched, parallel),
        TopicSpec(settings.topic_duplicates, parallel),
        TopicSpec(settings.topic_events, parallel),
        TopicSpec(settings.topic_deadletter, parallel),
        # One partition: every dedup decision sees every earlier article, whichever raw partition it came through.
        TopicSpec(settings.topic_analyzed, 1),
        TopicSpec(dedup_changelog_topic(settings), 1, compacted=True),
    ]


def create_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        new_topics = [
            NewTopic(
                spec.name,
                spec.partitions,
                settings.replication_factor,
                topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
            )
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
