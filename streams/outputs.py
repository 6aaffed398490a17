"""Reading newsstream's output topics back: collect until every input is accounted for, and render for people."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models import DeadLetter, DuplicateNotice, EnrichedArticle, Event, RawArticle
from streams.kafka_clients import consumer
from streams.settings import Settings


@dataclass
class Collected:
    enriched: dict[str, EnrichedArticle] = field(default_factory=dict)
    duplicates: dict[str, DuplicateNotice] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    raw_counts: dict[str, int] = field(default_factory=dict)
    # Kafka timestamp (s) of each article's enriched record or duplicate notice: latency without a worker's clock.
    output_timestamps: dict[str, float] = field(default_factory=dict)

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
                    collected.output_timestamps.setdefault(article.article.id, record.timestamp / 1000)
                elif kind == "duplicates":
                    notice = DuplicateNotice.model_validate_json(record.value)
                    collected.duplicates[notice.id] = notice
                    collected.output_timestamps.setdefault(notice.id, record.timestamp / 1000)
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


def render_enriched(enriched: EnrichedArticle, console: Console, titles: Mapping[str, str] | None = None) -> None:
    """One enriched article for people: title, link, story, what it shares a story with, entities and events."""
    verdict = enriched.dedup
    article = enriched.article
    console.rule(f"[bold]{escape(article.title)}")
    byline = f"  {article.source}" + (f" / {article.author}" if article.author else "")
    published = f"  {article.published_at.isoformat()}" if article.published_at else ""
    console.print(
        f"[dim]{escape(str(article.url or ''))}{escape(byline)}{published}  id={article.id[:12]}  "
        f"story={enriched.story_id[:12]}",
        soft_wrap=True,
    )
    if verdict.duplicate_of:
        title = (titles or {}).get(verdict.duplicate_of, verdict.duplicate_of)
        console.print(f"same story as: [italic]{escape(title)}[/] ({verdict.tier}, score {verdict.score:.2f})")
    entities = ", ".join(f"{escape(entity.canonical)} [cyan]{entity.type}[/]" for entity in enriched.entities)
    console.print(f"entities: {entities or '-'}")
    for event in enriched.events:
        console.print(f"  event: {event_line(event)}")


def event_line(event: Event) -> str:
    place = f" in {escape(event.location)}" if event.location else ""
    return f"{escape(event.actor or '-')} --[green]{escape(event.trigger)}[/]--> {escape(event.target or '-')}{place}"


def render_record(record: BaseModel, console: Console) -> None:
    """Any topic's record for people, one at a time (``newsstream consume --format text``)."""
    if isinstance(record, EnrichedArticle):
        render_enriched(record, console)
    elif isinstance(record, Event):
        story = f"story={record.story_id[:12]}  " if record.story_id else ""
        console.print(f"[dim]{story}article={record.article_id[:12]}[/]  {event_line(record)}", soft_wrap=True)
        console.print(f"  [dim italic]{escape(record.sentence)}", soft_wrap=True)
    elif isinstance(record, DuplicateNotice):
        console.print(
            f"[yellow]duplicate[/] {escape(record.title)} [dim]({escape(record.source)})[/] of {record.duplicate_of[:12]}"
            f" story={record.story_id[:12]}: {record.tier}, score {record.score:.2f}, {escape(record.evidence)}",
            soft_wrap=True,
        )
    elif isinstance(record, DeadLetter):
        console.print(
            f"[red]dead letter[/] {record.topic}/{record.partition}/{record.offset} {record.stage} "
            f"[bold]{record.reason}[/]: {escape(record.detail)}",
            soft_wrap=True,
        )
    elif isinstance(record, RawArticle):
        console.rule(f"[bold]{escape(record.title)}")
        console.print(f"[dim]{escape(str(record.url or ''))}  {escape(record.source)}  id={record.id[:12]}", soft_wrap=True)
        console.print(escape(record.body[:500] + ("..." if len(record.body) > 500 else "")))
    else:
        raise TypeError(f"no view for {type(record).__name__}")


def _story_then_time(enriched: EnrichedArticle) -> tuple[str, float]:
    """Stories together, each in publication order; undated articles first (a datetime cannot be compared to None)."""
    published = enriched.article.published_at
    return enriched.story_id, published.timestamp() if published else float("-inf")


def render(collected: Collected, console: Console) -> None:
    titles = {article_id: enriched.article.title for article_id, enriched in collected.enriched.items()}
    for enriched in sorted(collected.enriched.values(), key=_story_then_time):
        render_enriched(enriched, console, titles)
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
