"""The dead-letter topic for operators: count the letters by reason and stage, show one with its original bytes, and
replay a selection (the original bytes under the original key) to the raw topic once the cause has been fixed."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaProducer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models import DeadLetter
from streams.consume import read_topic
from streams.kafka_clients import producer
from streams.settings import Settings


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    key: str | None  # the worker keys letters by their source: "<topic>/<partition>/<offset>"
    timestamp_ms: int  # when the letter was written
    letter: DeadLetter

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def written_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    @property
    def original_key(self) -> bytes | None:
        return base64.b64decode(self.letter.key_b64) if self.letter.key_b64 is not None else None


@dataclass
class DeadLetters:
    """The topic's letters in partition and offset order, and the positions of records that are no dead letter."""

    letters: list[StoredLetter] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def read_letters(settings: Settings, idle_timeout_s: float = 10.0) -> DeadLetters:
    """Every record of the dead-letter topic, from the beginning to the end it has now."""
    found = DeadLetters()
    for consumed in read_topic(settings, settings.topic_deadletter, idle_timeout_s=idle_timeout_s):
        message = consumed.message
        if not isinstance(consumed.record, DeadLetter):
            found.unreadable.append(f"{message.partition}:{message.offset}")
            continue
        key = message.key.decode("utf-8", errors="replace") if message.key is not None else None
        found.letters.append(StoredLetter(message.partition, message.offset, key, message.timestamp, consumed.record))
    found.letters.sort(key=lambda stored: (stored.partition, stored.offset))
    return found


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    stage: str
    count: int


def count_by_reason_and_stage(letters: Iterable[StoredLetter]) -> list[ReasonCount]:
    """Most frequent first; ties by reason and stage, so the order is stable."""
    counts = Counter((stored.letter.reason, stored.letter.stage) for stored in letters)
    return [
        ReasonCount(reason, stage, count)
        for (reason, stage), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def matches_reference(stored: StoredLetter, reference: str) -> bool:
    """A letter is named by its position on the dead-letter topic (``PARTITION:OFFSET``), by its offset alone, by
    its key (the source ``topic/partition/offset``) or by the key of the original message (an article id)."""
    if reference in (stored.position, stored.key):
        return True
    if reference.isdigit() and int(reference) == stored.offset:
        return True
    original_key = stored.original_key
    return original_key is not None and original_key.decode("utf-8", errors="replace") == reference


def find_letters(letters: Iterable[StoredLetter], reference: str) -> list[StoredLetter]:
    return [stored for stored in letters if matches_reference(stored, reference)]


@dataclass(frozen=True)
class Selection:
    """Which letters to replay; every given filter must match, and no filter selects every letter."""

    reasons: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    since: datetime | None = None  # written at or after
    references: tuple[str, ...] = ()  # any of these positions or keys

    def matches(self, stored: StoredLetter) -> bool:
        return (
            (not self.reasons or stored.letter.reason in self.reasons)
            and (not self.stages or stored.letter.stage in self.stages)
            and (self.since is None or stored.written_at >= self.since)
            and (not self.references or any(matches_reference(stored, ref) for ref in self.references))
        )


@dataclass(frozen=True)
class ReplayReport:
    selected: int  # letters the selection matched
    replayed: int  # originals the broker acknowledged on the raw topic (0 in a dry run)
    not_from_raw: int  # selected letters whose source is another topic (the decide stage's input): not replayed
    dry_run: bool

    def summary(self, raw_topic: str) -> str:
        skipped = f", {self.not_from_raw} not from {raw_topic} left alone" if self.not_from_raw else ""
        if self.dry_run:
            return f"dry run: would replay {self.selected - self.not_from_raw} of {self.selected} selected{skipped}"
        return f"replayed {self.replayed} of {self.selected} selected to {raw_topic}{skipped}"


def replay(
    settings: Settings,
    letters: Iterable[StoredLetter],
    selection: Selection,
    *,
    dry_run: bool = False,
    make_producer: Callable[[Settings], KafkaProducer] = producer,
    timeout_s: float = 60.0,
) -> ReplayReport:
    """Publish the original bytes of the selected letters, under their original keys and timestamps, to the raw
    topic, in the order they were dead-lettered. The worker then treats them as new input: a fixed cause lets them
    through, an unfixed one dead-letters them again."""
    selected = [stored for stored in letters if selection.matches(stored)]
    replayable = [stored for stored in selected if stored.letter.topic == settings.topic_raw]
    if dry_run or not replayable:
        return ReplayReport(len(selected), 0, len(selected) - len(replayable), dry_run)
    client = make_producer(settings)
    try:
        futures = [
            client.send(
                settings.topic_raw,
                key=stored.original_key,
                value=stored.letter.original,
                timestamp_ms=_timestamp_ms(stored.letter.message_timestamp),
            )
            for stored in replayable
        ]
        client.flush(timeout=timeout_s)
        replayed = sum(1 for future in futures if future.succeeded())
    finally:
        client.close()
    return ReplayReport(len(selected), replayed, len(selected) - len(replayable), dry_run)


def _timestamp_ms(moment: datetime | None) -> int | None:
    # The original's own timestamp is its event time of last resort: keep it rather than the time of the replay.
    return int(moment.timestamp() * 1000) if moment is not None else None


def counts_table(counts: list[ReasonCount], topic: str) -> Table:
    table = Table(title=f"dead letters on {topic}")
    table.add_column("reason")
    table.add_column("stage")
    table.add_column("letters", justify="right")
    for row in counts:
        table.add_row(row.reason, row.stage, str(row.count))
    table.add_section()
    table.add_row("total", "", str(sum(row.count for row in counts)))
    return table


def counts_json(found: DeadLetters) -> dict[str, object]:
    return {
        "total": len(found.letters),
        "counts": [row.__dict__ for row in count_by_reason_and_stage(found.letters)],
        "unreadable": found.unreadable,
    }


@dataclass(frozen=True)
class OriginalView:
    """The original bytes for a terminal: text when they are UTF-8, else hex; always the byte count."""

    size: int
    encoding: str  # "utf-8" or "hex"
    shown: str
    truncated: bool


def original_view(original: bytes, max_bytes: int) -> OriginalView:
    head = original[:max_bytes]
    try:
        original.decode("utf-8")
    except UnicodeDecodeError:
        return OriginalView(len(original), "hex", binascii.hexlify(head, " ").decode(), len(original) > max_bytes)
    # Cut at a character boundary: the head may end inside a multi-byte character.
    return OriginalView(len(original), "utf-8", head.decode("utf-8", errors="ignore"), len(original) > max_bytes)


def render_letter(stored: StoredLetter, console: Console, max_bytes: int) -> None:
    letter = stored.letter
    key = stored.original_key
    console.print(f"[bold red]{letter.reason}[/] at stage [bold]{letter.stage}[/]", soft_wrap=True)
    console.print(f"detail: {escape(letter.detail)}", soft_wrap=True)
    console.print(
        f"source: {escape(letter.topic)} partition {letter.partition} offset {letter.offset}"
        + (f", published {letter.message_timestamp.isoformat()}" if letter.message_timestamp else ""),
        soft_wrap=True,
    )
    console.print(f"letter: {stored.position} on the dead-letter topic, written {stored.written_at.isoformat()}")
    console.print(f"key: {escape(repr(key)) if key is not None else '-'}", soft_wrap=True)
    view = original_view(letter.original, max_bytes)
    more = f", first {max_bytes} shown" if view.truncated else ""
    console.print(f"original: {view.size} bytes, {view.encoding}{more} (--raw writes them unchanged)")
    console.print(view.shown, soft_wrap=True, highlight=False, markup=False)
