"""Read a topic for people and programs: from the beginning or the end, to the end or following, alone or in a
consumer group, keeping only the records that match the filters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, ValidationError

from models import DeadLetter, DuplicateNotice, EnrichedArticle, Event, RawArticle
from streams.kafka_clients import consumer
from streams.schemas import topic_records
from streams.settings import Settings


@dataclass(frozen=True)
class RecordFilter:
    """Keep a record when it matches every given filter; names match case-insensitively as substrings, story ids
    by prefix (the readable view shows 12 characters)."""

    entity: str | None = None  # an entity's canonical name, surface text or id; for events: actor, target or place
    event: str | None = None  # an event trigger (verb lemma), e.g. "strike"
    source: str | None = None  # the outlet
    story: str | None = None  # a story id or its prefix

    # Which filters each record type can answer.
    SUPPORTED: ClassVar[dict[type[BaseModel], frozenset[str]]] = {
        RawArticle: frozenset({"source"}),
        EnrichedArticle: frozenset({"entity", "event", "source", "story"}),
        Event: frozenset({"entity", "event", "story"}),
        DuplicateNotice: frozenset({"source", "story"}),
        DeadLetter: frozenset(),
    }

    def given(self) -> frozenset[str]:
        return frozenset(name for name in ("entity", "event", "source", "story") if getattr(self, name))

    def unsupported(self, record_type: type[BaseModel] | None) -> list[str]:
        """Filters that cannot apply to this record type (all of them for a topic without a known record)."""
        supported = self.SUPPORTED.get(record_type, frozenset()) if record_type else frozenset()
        return sorted(self.given() - supported)

    def matches(self, record: BaseModel) -> bool:
        return all(getattr(self, f"_{name}")(record) for name in self.given())

    def _entity(self, record: BaseModel) -> bool:
        wanted = (self.entity or "").casefold()
        if isinstance(record, EnrichedArticle):
            return any(
                entity.id == self.entity or wanted in entity.canonical.casefold() or wanted in entity.text.casefold()
                for entity in record.entities
            )
        if isinstance(record, Event):
            return any(wanted in (name or "").casefold() for name in (record.actor, record.target, record.location))
        return False

    def _event(self, record: BaseModel) -> bool:
        wanted = (self.event or "").casefold()
        if isinstance(record, EnrichedArticle):
            return any(event.trigger.casefold() == wanted for event in record.events)
        return isinstance(record, Event) and record.trigger.casefold() == wanted

    def _source(self, record: BaseModel) -> bool:
        wanted = (self.source or "").casefold()
        article = record.article if isinstance(record, EnrichedArticle) else record
        return wanted in str(getattr(article, "source", "")).casefold()

    def _story(self, record: BaseModel) -> bool:
        return str(getattr(record, "story_id", None) or "").startswith(self.story or "\0")


@dataclass(frozen=True)
class Consumed:
    """One record as read: the bytes for programs, the parsed record (when the topic has a known one) for people."""

    message: ConsumerRecord
    record: BaseModel | None


class UnknownTopic(ValueError):
    pass


def _assign_all(reader: KafkaConsumer, topic: str, from_beginning: bool) -> None:
    partitions = reader.partitions_for_topic(topic)
    if not partitions:
        raise UnknownTopic(f"topic {topic!r} does not exist")
    assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
    reader.assign(assigned)
    if from_beginning:
        reader.seek_to_beginning(*assigned)
    else:
        reader.seek_to_end(*assigned)


def read_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = True,
    follow: bool = False,
    group: str | None = None,
    idle_timeout_s: float = 10.0,
    record_filter: RecordFilter = RecordFilter(),
    keep_going: Callable[[], bool] = lambda: True,
) -> Iterator[Consumed]:
    """Yield the matching records of a topic. Without ``follow``, stop at the end offsets each partition had when it
    was assigned (or after ``idle_timeout_s`` without an assignment or a record, e.g. in a group with more members
    than partitions). With a ``group``, partitions are shared with the group's other members and offsets committed;
    the start applies only where the group has no committed offset yet."""
    record_type = topic_records(settings).get(topic)
    unsupported = record_filter.unsupported(record_type)
    if unsupported:
        kind = record_type.__name__ if record_type else "records of an unknown type"
        raise ValueError(f"--{', --'.join(unsupported)} cannot filter {kind} on {topic}")
    reader = consumer(settings, group_id=group, from_beginning=from_beginning)
    try:
        if group:
            reader.subscribe([topic])
        else:
            _assign_all(reader, topic, from_beginning)
        end_offsets: dict[TopicPartition, int] = {}
        last_activity = time.monotonic()
        while keep_going():
            batches = reader.poll(timeout_ms=500)
            for records in batches.values():
                for message in records:
                    consumed = _parse(message, record_type)
                    if record_filter.given() and (consumed.record is None or not record_filter.matches(consumed.record)):
                        continue
                    yield consumed
            if batches:
                last_activity = time.monotonic()
            if follow:
                continue
            assignment = reader.assignment()
            new = [partition for partition in assignment if partition not in end_offsets]
            if new:
                end_offsets.update(reader.end_offsets(new))
                last_activity = time.monotonic()
            caught_up = bool(assignment) and all(
                reader.position(partition) >= end_offsets[partition] for partition in assignment
            )
            if caught_up or time.monotonic() - last_activity > idle_timeout_s:
                return
    finally:
        reader.close()


def _parse(message: ConsumerRecord, record_type: type[BaseModel] | None) -> Consumed:
    if record_type is None or message.value is None:
        return Consumed(message, None)
    try:
        return Consumed(message, record_type.model_validate_json(message.value))
    except ValidationError:
        return Consumed(message, None)
