"""Publish feeds and JSON Lines to ``articles.raw``: read sources (files, directories, stdin, HTTP(S) URLs), count
what was published, skipped and invalid, and in follow mode poll URLs with conditional GET, remembering what was
published in a state file that survives a restart and backing off from failing sources.

Delivery is at least once: an entry counts as published, and is remembered, only after the broker acknowledged it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata
from pydantic import ValidationError
from rich.progress import Progress

from streams.feeds import (
    Feed,
    FeedEntry,
    FeedError,
    MappingOptions,
    article_id,
    entry_article,
    html_to_text,
    is_json_lines,
    json_lines,
    parse_feed,
)
from streams.settings import Settings

STDIN = "-"
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".jsonl", ".ndjson"})
USER_AGENT = "newsstream-publisher/0.1"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
REMEMBERED_IDS_PER_SOURCE = 5_000  # far more than any feed lists at once; older ids have left the feed for good

T = TypeVar("T")


class SourceError(Exception):
    """A source that could not be read; the message says why, ``retry_after_s`` is the server's wish, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PublishError(Exception):
    """The broker did not acknowledge a message."""


class Sink(Protocol):
    def send(self, key: bytes, value: bytes) -> None: ...

    def flush(self) -> None:
        """Wait until every message sent so far is acknowledged; raise ``PublishError`` if one was not."""


class KafkaSink:
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._pending: list[FutureRecordMetadata] = []

    def send(self, key: bytes, value: bytes) -> None:
        try:
            self._pending.append(self.producer.send(self.topic, key=key, value=value))
        except KafkaError as error:  # refused before sending: broker unreachable (metadata wait), too large, denied
            raise PublishError(f"{type(error).__name__}: {error}") from None

    def flush(self) -> None:
        try:
            self.producer.flush()
        except KafkaError as error:
            raise PublishError(f"{type(error).__name__}: {error}") from None
        pending, self._pending = self._pending, []
        failures = [future.exception for future in pending if future.failed()]
        if failures:
            raise PublishError(f"{len(failures)} of {len(pending)} messages not acknowledged: {failures[0]}")

    def close(self) -> None:
        self.producer.close()


@dataclass(frozen=True)
class OutgoingMessage:
    key: bytes
    value: bytes


class MessageList:
    """A sink that keeps the messages, for a caller that sends them itself (the demo replays them in order)."""

    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    def send(self, key: bytes, value: bytes) -> None:
        self.messages.append(OutgoingMessage(key, value))

    def flush(self) -> None:
        pass


@dataclass(frozen=True)
class Document:
    """The bytes of one source as read, with what HTTP said about them."""

    origin: str  # the path, URL or "-" the user named
    content: bytes
    fetched_at: datetime
    url: str | None = None  # final URL after redirects: base for relative links
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class SourceReport:
    origin: str
    published_ids: list[str] = field(default_factory=list)
    skipped: int = 0
    invalid: list[str] = field(default_factory=list)  # one line per invalid entry: where and why
    problem: str | None = None  # the source could not be read, or the parser had to recover from an error
    readable: bool = True
    not_modified: bool = False
    retry_in_s: float | None = None  # follow mode: when this source is polled next

    @property
    def published(self) -> int:
        return len(self.published_ids)

    def summary(self) -> str:
        if not self.readable:
            return f"error: {self.problem}"
        if self.not_modified:
            return f"{self.origin}: not modified"
        return f"{self.origin}: published {self.published}, skipped {self.skipped}, invalid {len(self.invalid)}"


def totals(reports: Iterable[SourceReport]) -> str:
    reports = list(reports)
    unreadable = sum(not report.readable for report in reports)
    line = (
        f"published {sum(r.published for r in reports)}, skipped {sum(r.skipped for r in reports)}, "
        f"invalid {sum(len(r.invalid) for r in reports)} from {len(reports) - unreadable} source(s)"
    )
    return line + (f"; {unreadable} source(s) unreadable" if unreadable else "")


# --- state ----------------------------------------------------------------------------------------------------


@dataclass
class SourceState:
    etag: str | None = None
    last_modified: str | None = None
    published: list[str] = field(default_factory=list)  # article ids, oldest first


class PublisherState:
    """What was published from each source and the HTTP validators of its last fetch, in a JSON file."""

    VERSION = 1

    def __init__(self, path: Path, sources: dict[str, SourceState] | None = None) -> None:
        self.path = path
        self.sources = sources or {}
        self._published = {origin: set(state.published) for origin, state in self.sources.items()}

    @classmethod
    def load(cls, path: Path) -> PublisherState:
        if not path.exists():
            return cls(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("version") != cls.VERSION:
                raise ValueError(f"version {document.get('version')!r}, expected {cls.VERSION}")
            sources = {origin: SourceState(**state) for origin, state in document["sources"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"publisher state {path} is not readable ({error}); move it away to start afresh") from None
        return cls(path, sources)

    def source(self, origin: str) -> SourceState:
        return self.sources.setdefault(origin, SourceState())

    def was_published(self, origin: str, identity: str) -> bool:
        return identity in self._published.get(origin, set())

    def remember(self, origin: str, identities: Iterable[str], etag: str | None, last_modified: str | None) -> None:
        state = self.source(origin)
        known = self._published.setdefault(origin, set())
        for identity in identities:
            if identity not in known:
                known.add(identity)
                state.published.append(identity)
        for forgotten in state.published[:-REMEMBERED_IDS_PER_SOURCE]:
            known.discard(forgotten)
        state.published = state.published[-REMEMBERED_IDS_PER_SOURCE:]
        state.etag, state.last_modified = etag, last_modified

    def save(self) -> None:
        """Write atomically: a crash mid-write leaves the previous state, never half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": self.VERSION,
            "sources": {origin: vars(state) for origin, state in self.sources.items()},
        }
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, encoding="utf-8") as temporary:
            json.dump(document, temporary, ensure_ascii=False)
        os.replace(temporary.name, self.path)


# --- reading sources ------------------------------------------------------------------------------------------


def is_url(origin: str) -> bool:
    return origin.startswith(("http://", "https://"))


def expand_sources(origins: Iterable[str]) -> Iterator[str]:
    """Directories become the feed and JSON Lines files in them (recursively, in name order); the rest stay."""
    for origin in origins:
        path = Path(origin)
        if origin != STDIN and not is_url(origin) and path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FEED_SUFFIXES)
            if not found:
                raise SourceError(f"{origin}: no feed or JSON Lines files ({', '.join(sorted(FEED_SUFFIXES))})")
            yield from (str(p) for p in found)
        else:
            yield origin


def http_client(timeout_s: float) -> httpx.Client:
    return httpx.Client(
        follow_redirects=True, timeout=timeout_s, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT}
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def fetch(client: httpx.Client, url: str, etag: str | None = None, last_modified: str | None = None) -> Document | None:
    """GET a URL, conditionally when validators are given; ``None`` when the server says it has not changed."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = client.get(url, headers=headers)
    except httpx.HTTPError as error:
        raise SourceError(f"{url}: {type(error).__name__}: {error}") from None
    if response.status_code == 304:
        return None
    if response.status_code >= 400:
        raise SourceError(f"{url}: HTTP {response.status_code} {response.reason_phrase}", _retry_after(response))
    return Document(
        origin=url,
        content=response.content,
        fetched_at=datetime.now(UTC),
        url=str(response.url),
        content_type=response.headers.get("content-type"),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def read_source(
    origin: str, client: httpx.Client | None, stdin: BinaryIO | None, state: PublisherState | None = None
) -> Document | None:
    """The document of one source; ``None`` for a URL that has not changed since the state's last fetch."""
    if origin == STDIN:
        assert stdin is not None, "stdin was not given"
        return Document(origin=origin, content=stdin.read(), fetched_at=datetime.now(UTC))
    if is_url(origin):
        assert client is not None, "URLs need an HTTP client"
        known = state.source(origin) if state else None
        return fetch(client, origin, known.etag if known else None, known.last_modified if known else None)
    try:
        content = Path(origin).read_bytes()
    except OSError as error:
        raise SourceError(f"{origin}: {error.strerror or error}") from None
    return Document(origin=origin, content=content, fetched_at=datetime.now(UTC))


# --- publishing -----------------------------------------------------------------------------------------------


class FullText(Protocol):
    def extract(self, url: str) -> str | None: ...


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '<record>'}: {problem['msg']}"
        for problem in error.errors()[:3]
    )


class Publisher:
    """Turns documents into raw-article messages on a sink and reports per source."""

    def __init__(
        self,
        sink: Sink,
        *,
        max_message_bytes: int,
        max_body_chars: int,
        options: MappingOptions = MappingOptions(),
        state: PublisherState | None = None,
        full_text: FullText | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.sink = sink
        self.max_message_bytes = max_message_bytes
        self.max_body_chars = max_body_chars
        self.options = options
        self.state = state
        self.full_text = full_text
        self.progress = progress
        self._sent_this_run: set[str] = set()

    def _tracked(self, origin: str, items: Sequence[T]) -> Iterable[T]:
        return self.progress.track(items, total=len(items), description=origin) if self.progress else items

    def _already_published(self, origin: str, identity: str, sent: list[str]) -> bool:
        """Sent earlier in this run (this document included) or, with a state, in an earlier run."""
        return (
            identity in self._sent_this_run
            or identity in sent
            or (self.state is not None and self.state.was_published(origin, identity))
        )

    def publish_document(self, document: Document) -> SourceReport:
        """Publish every new, valid entry or line of one document; remember them once the broker has them."""
        report = SourceReport(document.origin)
        sent: list[str] = []
        if is_json_lines(document.content):
            lines = list(
                json_lines(document.content, max_message_bytes=self.max_message_bytes, max_body_chars=self.max_body_chars)
            )
            for line in self._tracked(document.origin, lines):
                if line.article is None:
                    report.invalid.append(f"line {line.number}: {line.problem}")
                elif self._already_published(document.origin, line.article.id, sent):
                    report.skipped += 1
                else:
                    self.sink.send(line.article.id.encode(), line.value)  # as the producer wrote it: the stream validates
                    sent.append(line.article.id)
        else:
            try:
                feed = parse_feed(
                    document.content,
                    url=document.url,
                    content_type=document.content_type,
                    default_timezone=self.options.default_timezone,
                )
            except FeedError as error:
                report.readable, report.problem = False, f"{document.origin}: {error}"
                return report
            report.problem = feed.problem and f"{document.origin}: parsed despite an error: {feed.problem}"
            for number, entry in enumerate(self._tracked(document.origin, feed.entries), start=1):
                self._publish_entry(number, entry, feed, document, report, sent)
        self.sink.flush()
        report.published_ids = sent
        self._sent_this_run.update(sent)
        if self.state is not None:
            self.state.remember(document.origin, sent, document.etag, document.last_modified)
            self.state.save()
        return report

    def _publish_entry(
        self, number: int, entry: FeedEntry, feed: Feed, document: Document, report: SourceReport, sent: list[str]
    ) -> None:
        if self._already_published(document.origin, article_id(entry, feed), sent):
            report.skipped += 1
            return
        full_text = None
        if self.full_text is not None and entry.content_html is None and entry.link:
            full_text = self.full_text.extract(entry.link)
        where = f"entry {number} ({entry.title[:60].strip() or entry.link or 'untitled'})"
        if not full_text and not html_to_text(entry.content_html or entry.summary_html):
            report.invalid.append(f"{where}: no text (neither content nor a summary with text)")
            return
        try:
            article = entry_article(
                entry, feed, fetched_at=document.fetched_at, options=self.options, origin=document.url,
                full_text=full_text,
            )
        except ValidationError as error:
            report.invalid.append(f"{where}: {_validation_summary(error)}")
            return
        value = article.to_bytes()
        if len(value) > self.max_message_bytes:
            report.invalid.append(f"{where}: {len(value)} bytes exceeds the limit of {self.max_message_bytes}")
            return
        self.sink.send(article.id.encode(), value)
        sent.append(article.id)


def publish_once(
    publisher: Publisher, origins: Iterable[str], client: httpx.Client | None, stdin: BinaryIO | None
) -> list[SourceReport]:
    """Publish each source once; unreadable sources are reported, the others still published."""
    reports = []
    try:
        expanded = list(expand_sources(origins))
    except SourceError as error:
        return [SourceReport(origin="", problem=str(error), readable=False)]
    for origin in expanded:
        try:
            document = read_source(origin, client, stdin, publisher.state)
        except SourceError as error:
            reports.append(SourceReport(origin, problem=str(error), readable=False))
            continue
        if document is None:
            reports.append(SourceReport(origin, not_modified=True))
            continue
        reports.append(publisher.publish_document(document))
    return reports


def file_messages(path: Path, settings: Settings) -> list[OutgoingMessage]:
    """The messages a feed or JSON Lines file would publish (valid, new entries), without sending them."""
    messages = MessageList()
    publisher = Publisher(
        messages, max_message_bytes=settings.max_message_bytes, max_body_chars=settings.max_body_chars
    )
    document = read_source(str(path), None, None)
    assert document is not None  # only an unchanged URL has no document
    publisher.publish_document(document)
    return messages.messages


# --- follow mode ----------------------------------------------------------------------------------------------


@dataclass
class _Schedule:
    due: float = 0.0
    failures: int = 0


class Follower:
    """Polls sources at an interval; a failing source waits twice as long after each failure, up to a ceiling
    (or as long as the server's Retry-After asks), and returns to the interval after a success."""

    def __init__(
        self,
        publisher: Publisher,
        origins: list[str],
        client: httpx.Client,
        *,
        interval_s: float,
        max_backoff_s: float,
        on_report: Callable[[SourceReport], None] = lambda report: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if STDIN in origins:
            raise ValueError("stdin cannot be followed; name files or URLs")
        self.publisher = publisher
        self.origins = origins
        self.client = client
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.on_report = on_report
        self.clock = clock
        self.sleep = sleep
        self.schedule = {origin: _Schedule() for origin in origins}

    def delay_after_failure(self, failures: int, retry_after_s: float | None = None) -> float:
        backoff = min(self.interval_s * 2**failures, self.max_backoff_s)
        return max(backoff, retry_after_s or 0.0)

    def poll_due(self) -> list[SourceReport]:
        """Poll every source whose time has come; returns their reports."""
        now = self.clock()
        reports = []
        for origin, schedule in self.schedule.items():
            if schedule.due > now:
                continue
            report = self._poll(origin, schedule, now)
            self.on_report(report)
            reports.append(report)
        return reports

    def _poll(self, origin: str, schedule: _Schedule, now: float) -> SourceReport:
        try:
            document = read_source(origin, self.client, None, self.publisher.state)
            report = (
                SourceReport(origin, not_modified=True) if document is None else self.publisher.publish_document(document)
            )
            retry_after = None
        except (SourceError, PublishError) as error:
            report = SourceReport(origin, problem=str(error), readable=False)
            retry_after = error.retry_after_s if isinstance(error, SourceError) else None
        if report.readable:
            schedule.failures = 0
            report.retry_in_s = self.interval_s
        else:
            schedule.failures += 1
            report.retry_in_s = self.delay_after_failure(schedule.failures, retry_after)
        schedule.due = now + report.retry_in_s
        return report

    def next_due_in(self) -> float:
        return max(0.0, min(schedule.due for schedule in self.schedule.values()) - self.clock())

    def run(self, keep_going: Callable[[], bool] = lambda: True) -> None:
        while keep_going():
            self.poll_due()
            self.sleep(max(self.next_due_in(), 0.05))
