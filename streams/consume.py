"""Read a topic for people and programs: from the beginning or the end, to the end or following, alone or in a
consumer group, keeping only the records that match the filters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
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
    event: str | None = None  # an event's trigger lemma ("strike"), PLOVER type ("ASSAULT") or CAMEO root ("19")
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
            return self.entity in (record.actor_id, record.target_id, record.location_id) or any(
                wanted in (name or "").casefold() for name in (record.actor, record.target, record.location)
            )
        return False

    def _event(self, record: BaseModel) -> bool:
        events = record.events if isinstance(record, EnrichedArticle) else (record,) if isinstance(record, Event) else ()
        return any(self._event_matches(event) for event in events)

    def _event_matches(self, event: Event) -> bool:
        wanted = (self.event or "").casefold()
        return wanted in (event.trigger.casefold(), (event.plover_type or "").casefold(), event.cameo_root or "")

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
    than partitions). With a ``group``, partitions are shared with the group's other members and the offsets of the
    records handed out (or filtered out) are committed, so a later run resumes after the last record the caller got;
    the start applies only where the group has no committed offset yet."""
    record_type = topic_records(settings).get(topic)
    unsupported = record_filter.unsupported(record_type)
    if unsupported:
        kind = record_type.__name__ if record_type else "records of an unknown type"
        raise ValueError(f"--{', --'.join(unsupported)} cannot filter {kind} on {topic}")
    reader = consumer(settings, group_id=group, from_beginning=from_beginning, auto_commit=False)
    # Next offset to read per partition, counting only records the caller has had: auto-commit would commit whole
    # fetched batches, and a run stopped by --max would skip the rest of them next time.
    handled: dict[TopicPartition, int] = {}
    last_commit = time.monotonic()
    try:
        if group:
            reader.subscribe([topic])
        else:
            _assign_all(reader, topic, from_beginning)
        end_offsets: dict[TopicPartition, int] = {}
        last_activity = time.monotonic()
        while keep_going():
            batches = reader.poll(timeout_ms=500)
            for partition, records in batches.items():
                for message in records:
                    consumed = _parse(message, record_type)
                    try:
                        if not record_filter.given() or (
                            consumed.record is not None and record_filter.matches(consumed.record)
                        ):
                            yield consumed
                    finally:  # also when the caller stops here: the record it just got counts as handled
                        handled[partition] = message.offset + 1
            if batches:
                last_activity = time.monotonic()
            if group and handled and time.monotonic() - last_commit > 5:
                _commit(reader, handled)
                last_commit = time.monotonic()
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
        if group and handled:
            _commit(reader, handled)
        reader.close()


def _commit(reader: KafkaConsumer, handled: dict[TopicPartition, int]) -> None:
    # Only partitions still assigned: after a rebalance another member owns the others' offsets.
    owned = reader.assignment()
    offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in handled.items() if tp in owned}
    if offsets:
        reader.commit(offsets)


def _parse(message: ConsumerRecord, record_type: type[BaseModel] | None) -> Consumed:
    if record_type is None or message.value is None:
        return Consumed(message, None)
    try:
        return Consumed(message, record_type.model_validate_json(message.value))
    except ValidationError:
        return Consumed(message, None)
