"""Turn RSS 2.0 / Atom feeds and JSON Lines files into messages for ``articles.raw``."""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import orjson

from models import RawArticle


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment; script and style contents are dropped, block elements become line breaks."""

    BLOCKS = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "h4", "blockquote", "tr"})
    SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class OutgoingMessage:
    key: bytes | None
    value: bytes


def _when(parsed: object) -> datetime | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)  # type: ignore[arg-type]


def feed_articles(source: str | Path | bytes, fetched_at: datetime | None = None) -> Iterator[RawArticle]:
    """Articles of an RSS or Atom document (a path, or the document's bytes)."""
    document = feedparser.parse(source.read_bytes() if isinstance(source, Path) else source)
    if document.bozo and not document.entries:
        raise ValueError(f"not a readable feed: {document.get('bozo_exception')}")
    feed = document.feed
    outlet = feed.get("title") or urlsplit(feed.get("link", "")).hostname or "unknown feed"
    language = (feed.get("language") or "en").split("-")[0].lower()
    fetched_at = fetched_at or datetime.now(UTC)
    for entry in document.entries:
        contents = entry.get("content") or []
        html = contents[0].get("value") if contents else entry.get("summary", "")
        body = html_to_text(html or "")
        link = entry.get("link")
        identity = entry.get("id") or link or f"{entry.get('title', '')}\n{body}"
        yield RawArticle(
            id=hashlib.sha256(identity.encode()).hexdigest()[:32],
            url=link or None,
            source=outlet,
            title=html_to_text(entry.get("title", "")),
            body=body,
            language=language,
            published_at=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
            fetched_at=fetched_at,
        )


def file_messages(path: Path) -> Iterator[OutgoingMessage]:
    """Messages from a JSON Lines file (each line sent as it is: the stream validates) or an RSS/Atom file."""
    if path.suffix in {".jsonl", ".ndjson", ".json"}:
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                key = orjson.loads(line).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                key = None
            yield OutgoingMessage(key=str(key).encode() if key is not None else None, value=line)
        return
    for article in feed_articles(path):
        yield OutgoingMessage(key=article.id.encode(), value=article.to_bytes())
