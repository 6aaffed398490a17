"""Reading newsstream's output topics back: collect until every input is accounted for, and render for people."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from rich.console import Console
from rich.table import Table

from models import DeadLetter, DuplicateNotice, EnrichedArticle, Event
from streams.kafka_clients import consumer
from streams.settings import Settings


@dataclass
class Collected:
    enriched: dict[str, EnrichedArticle] = field(default_factory=dict)
    duplicates: dict[str, DuplicateNotice] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    raw_counts: dict[str, int] = field(default_factory=dict)

    def dead_letter_ids(self) -> set[str]:
        """Ids of dead-lettered inputs whose original bytes still name one."""
        ids = set()
        for letter in self.dead_letters:
            try:
                document = orjson.loads(letter.original)
            except orjson.JSONDecodeError:
                continue
            if isinstance(document, dict) and isinstance(document.get("id"), str):
                ids.add(document["id"])
        return ids

    def accounted_ids(self) -> set[str]:
        return set(self.enriched) | set(self.duplicates) | self.dead_letter_ids()


class OutputReader:
    """Reads every output topic from the beginning, accumulating what has come out so far."""

    def __init__(self, settings: Settings) -> None:
        self.kinds = {
            settings.topic_enriched: "enriched",
            settings.topic_duplicates: "duplicates",
            settings.topic_events: "events",
            settings.topic_deadletter: "dead_letters",
        }
        self.collected = Collected(raw_counts={kind: 0 for kind in self.kinds.values()})
        self.consumer = consumer(settings, *self.kinds)

    def _poll(self) -> None:
        collected = self.collected
        for tp, records in self.consumer.poll(timeout_ms=500).items():
            kind = self.kinds[tp.topic]
            for record in records:
                collected.raw_counts[kind] += 1
                if kind == "enriched":
                    article = EnrichedArticle.model_validate_json(record.value)
                    collected.enriched[article.article.id] = article
                elif kind == "duplicates":
                    notice = DuplicateNotice.model_validate_json(record.value)
                    collected.duplicates[notice.id] = notice
                elif kind == "events":
                    event = Event.model_validate_json(record.value)
                    collected.events[event.id] = event
                else:
                    collected.dead_letters.append(DeadLetter.model_validate_json(record.value))

    def _complete(self, expected: set[str], expected_dead_letters: int) -> bool:
        collected = self.collected
        event_ids = {event.id for article in collected.enriched.values() for event in article.events}
        return (
            expected <= collected.accounted_ids()
            and len(collected.dead_letters) >= expected_dead_letters
            and event_ids <= set(collected.events)
        )

    def read_until(
        self,
        expected_ids: Iterable[str],
        expected_dead_letters: int = 0,
        timeout_s: float = 120.0,
        keep_going: Callable[[], bool] = lambda: True,
    ) -> Collected:
        """Read until each expected id, the expected number of dead letters and the events of every enriched article
        have appeared, the time is up, or ``keep_going`` says stop (e.g. the worker died)."""
        expected = set(expected_ids)
        deadline = time.monotonic() + timeout_s
        while not self._complete(expected, expected_dead_letters) and time.monotonic() < deadline and keep_going():
            self._poll()
        return self.collected

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> OutputReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def collect(
    settings: Settings,
    expected_ids: Iterable[str],
    expected_dead_letters: int = 0,
    timeout_s: float = 120.0,
    keep_going: Callable[[], bool] = lambda: True,
) -> Collected:
    """Everything on the output topics once the expected inputs have come out (see ``OutputReader.read_until``)."""
    with OutputReader(settings) as reader:
        return reader.read_until(expected_ids, expected_dead_letters, timeout_s, keep_going)


def render(collected: Collected, console: Console) -> None:
    titles = {article_id: enriched.article.title for article_id, enriched in collected.enriched.items()}
    for enriched in sorted(collected.enriched.values(), key=lambda e: (e.story_id, e.article.published_at or 0)):
        verdict = enriched.dedup
        console.rule(f"[bold]{enriched.article.title}")
        console.print(f"[dim]{enriched.article.url}  id={enriched.article.id[:12]}  story={enriched.story_id[:12]}")
        if verdict.duplicate_of:
            console.print(
                f"same story as: [italic]{titles.get(verdict.duplicate_of, verdict.duplicate_of)}[/] "
                f"({verdict.tier}, score {verdict.score:.2f})"
            )
        entities = ", ".join(f"{entity.canonical} [cyan]{entity.type}[/]" for entity in enriched.entities)
        console.print(f"entities: {entities or '-'}")
        for event in enriched.events:
            place = f" in {event.location}" if event.location else ""
            console.print(f"  event: {event.actor} --[green]{event.trigger}[/]--> {event.target or '-'}{place}")
    if collected.duplicates:
        table = Table(title="duplicates (not enriched again)")
        for column in ("title", "duplicate of", "tier", "score", "evidence"):
            table.add_column(column)
        for notice in collected.duplicates.values():
            table.add_row(
                notice.title, titles.get(notice.duplicate_of, notice.duplicate_of), str(notice.tier),
                f"{notice.score:.2f}", notice.evidence,
            )
        console.print(table)
    if collected.dead_letters:
        table = Table(title="dead letters")
        for column in ("partition/offset", "stage", "reason", "detail"):
            table.add_column(column)
        for letter in collected.dead_letters:
            table.add_row(f"{letter.partition}/{letter.offset}", letter.stage, letter.reason, letter.detail[:80])
        console.print(table)
    counts = ", ".join(f"{name}: {count}" for name, count in collected.raw_counts.items())
    console.print(f"[bold]records per topic[/] {counts}")
