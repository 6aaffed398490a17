"""Turn RSS 2.0 / Atom feeds and JSON Lines documents into messages for ``articles.raw``.

Pure functions on bytes: fetching, state and Kafka live in ``streams.publisher``. feedparser reads the feed (it honours
the encoding the document or the HTTP response declares, e.g. gb2312, and recovers from many errors); this module
maps its entries to ``RawArticle`` records: stable ids, plain-text bodies, bylines, dates with their time zones and
BCP 47 language tags.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from dateutil import parser as dateutil_parser
from pydantic import ValidationError

from models import RawArticle
from streams.decode import RawMessage, decode_article
from streams.html_text import html_to_text


class FeedError(ValueError):
    """A document that is not a readable RSS or Atom feed."""


@dataclass(frozen=True)
class MappingOptions:
    """How to fill in what a feed leaves out."""

    default_language: str = "en"
    default_timezone: tzinfo = UTC


@dataclass(frozen=True)
class FeedEntry:
    """One item or entry of a feed, as the feed gives it (HTML still HTML)."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str | None  # content:encoded or Atom content: the full text when the feed carries it
    author: str | None
    published: datetime | None
    updated: datetime | None
    language: str | None


@dataclass(frozen=True)
class Feed:
    title: str | None
    link: str | None
    language: str | None
    entries: tuple[FeedEntry, ...]
    problem: str | None  # set when the parser had to recover from an error in the document

    def source(self, origin: str | None = None) -> str:
        """The outlet's name: the feed title, else the host of its link or of the place it was read from."""
        if self.title:
            return self.title
        for candidate in (self.link, origin):
            host = urlsplit(candidate or "").hostname
            if host:
                return host
        return "unknown feed"


_LEADING_WEEKDAY = re.compile(r"^\s*[^\W\d_]+\.?,\s*")
_HAS_YEAR = re.compile(r"\b\d{4}\b")


def parse_date(raw: str | None, default_timezone: tzinfo = UTC, fallback: Any = None) -> datetime | None:
    """A feed date as an aware datetime that keeps the publisher's UTC offset.

    RFC 822 (RSS, also with a weekday in another language, e.g. ``mer, 16 nov 2022``), RFC 3339 (Atom) and looser
    forms with a year; a date without a zone is taken to be in ``default_timezone``. ``fallback`` is feedparser's
    UTC struct_time, used when nothing else reads the date.
    """
    text = _LEADING_WEEKDAY.sub("", (raw or "").strip())
    parsed: datetime | None = None
    if text:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                parsed = None  # RFC 822 without a zone, or a form it misreads (e.g. "02:02:33 PM"): look closer
            if parsed is None and _HAS_YEAR.search(text):
                try:
                    parsed = dateutil_parser.parse(text)
                except (ValueError, OverflowError):
                    parsed = None
    if parsed is None:
        return datetime.fromtimestamp(calendar.timegm(fallback), tz=UTC) if fallback else None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=default_timezone)
    offset = parsed.utcoffset()
    return parsed.astimezone(timezone(offset)) if offset is not None else parsed


_TAG_PART = re.compile(r"[A-Za-z0-9]{1,8}")


def language_tag(raw: str | None) -> str | None:
    """A feed's language as a BCP 47 tag in its usual case: ``en_US`` -> ``en-US``, ``IT-it`` -> ``it-IT``."""
    parts = [part for part in re.split(r"[-_\s]+", (raw or "").strip()) if part]
    if not parts or not parts[0].isalpha() or not 2 <= len(parts[0]) <= 8:
        return None
    if not all(_TAG_PART.fullmatch(part) for part in parts):
        return parts[0].lower()
    tag = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            tag.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            tag.append(part.title())  # script
        else:
            tag.append(part.lower())
    joined = "-".join(tag)
    return joined if len(joined) <= 16 else tag[0]


def _entry_author(entry: Any) -> str | None:
    detail = entry.get("author_detail") or {}
    name = (detail.get("name") or entry.get("author") or "").strip()
    if not name:
        names = [author.get("name", "").strip() for author in entry.get("authors") or []]
        name = ", ".join(filter(None, names))
    return name or None


def _entry_language(entry: Any) -> str | None:
    contents = entry.get("content") or []
    for detail in (contents[0] if contents else {}, entry.get("summary_detail"), entry.get("title_detail")):
        if detail and detail.get("language"):
            return language_tag(detail["language"])
    return None


def parse_feed(
    document: bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    default_timezone: tzinfo = UTC,
) -> Feed:
    """Parse an RSS or Atom document. ``url`` (where it was fetched) resolves relative links; ``content_type`` (from
    HTTP) may name the encoding. Raises ``FeedError`` when the document holds no feed at all."""
    # A charset from HTTP overrides the XML declaration (RFC 7303); a type without one leaves the declaration in
    # charge (application/xml), rather than feedparser's RFC 3023 reading of text/xml as US-ASCII. The URL is not
    # given to feedparser: it would also resolve a relative GUID against it, and the id would depend on the host.
    has_charset = content_type and "charset=" in content_type.lower()
    headers = {"content-type": content_type if has_charset else "application/xml"} if url else {}
    parsed = feedparser.parse(document, response_headers=headers)
    problem = (str(parsed.get("bozo_exception") or "") or "malformed document") if parsed.bozo else None
    if not parsed.entries and (problem or not parsed.get("version")):
        raise FeedError(f"not an RSS or Atom feed ({problem or 'no rss, feed or RDF root element'})")
    entries = []
    for entry in parsed.entries:
        contents = [content for content in entry.get("content") or [] if content.get("value")]
        entries.append(
            FeedEntry(
                guid=(entry.get("id") or "").strip() or None,
                link=urljoin(url or "", link) if (link := (entry.get("link") or "").strip()) else None,
                title=html_to_text(entry.get("title", "")),
                summary_html=entry.get("summary", ""),
                content_html="\n".join(content["value"] for content in contents) or None,
                author=_entry_author(entry),
                published=parse_date(entry.get("published"), default_timezone, entry.get("published_parsed")),
                # dict.get: feedparser's own get() answers "updated" with "published" when the entry has none.
                updated=parse_date(dict.get(entry, "updated"), default_timezone, dict.get(entry, "updated_parsed")),
                language=_entry_language(entry),
            )
        )
    feed = parsed.feed
    return Feed(
        title=html_to_text(feed.get("title", "")) or None,
        link=(feed.get("link") or "").strip() or None,
        language=language_tag(feed.get("language")),
        entries=tuple(entries),
        problem=problem,
    )


_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")


def article_id(entry: FeedEntry, feed: Feed) -> str:
    """Stable id of an entry: its GUID (scoped to the feed unless the GUID is a URI, e.g. a permalink or a tag: or
    urn: id, and so already unique), else its link, else its title and text."""
    if entry.guid and _URI_SCHEME.match(entry.guid):
        basis = entry.guid
    elif entry.guid:
        basis = f"{feed.link or feed.title or ''}\n{entry.guid}"
    elif entry.link:
        basis = entry.link
    else:
        basis = f"{entry.title}\n{html_to_text(entry.content_html or entry.summary_html)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def entry_article(
    entry: FeedEntry,
    feed: Feed,
    *,
    fetched_at: datetime,
    options: MappingOptions = MappingOptions(),
    origin: str | None = None,
    full_text: str | None = None,
) -> RawArticle:
    """The raw article record of one entry; ``full_text`` (extracted from the linked page) replaces a summary.
    Raises pydantic's ``ValidationError`` for an entry that makes no valid record (e.g. no text at all)."""
    body = full_text or html_to_text(entry.content_html or entry.summary_html)
    return RawArticle(
        id=article_id(entry, feed),
        url=entry.link,
        source=feed.source(origin),
        title=entry.title,
        body=body,
        language=entry.language or feed.language or options.default_language,
        published_at=entry.published or entry.updated,
        fetched_at=fetched_at,
        author=entry.author,
    )


def feed_articles(
    source: Path | bytes, fetched_at: datetime | None = None, options: MappingOptions = MappingOptions()
) -> Iterator[RawArticle]:
    """Articles of an RSS or Atom document (a path, or the document's bytes); entries that make no valid record
    are left out (``streams.publisher`` counts them)."""
    document = source.read_bytes() if isinstance(source, Path) else source
    feed = parse_feed(document, default_timezone=options.default_timezone)
    fetched_at = fetched_at or datetime.now(UTC)
    for entry in feed.entries:
        try:
            yield entry_article(entry, feed, fetched_at=fetched_at, options=options)
        except ValidationError:
            continue


def is_json_lines(document: bytes) -> bool:
    """JSON Lines start with ``{``; feeds with ``<`` (after any byte-order mark and white space)."""
    return document.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


@dataclass(frozen=True)
class JsonLine:
    """One line of a JSON Lines document: the record it makes, or why it makes none."""

    number: int
    value: bytes
    article: RawArticle | None
    problem: str | None


def json_lines(document: bytes, *, max_message_bytes: int, max_body_chars: int) -> Iterator[JsonLine]:
    """Validate each non-blank line as the stream would (same checks, same derived id for a line without one)."""
    for number, line in enumerate(document.splitlines(), start=1):
        if not line.strip():
            continue
        decoded = decode_article(
            RawMessage(value=line, key=None, topic="", partition=0, offset=number),
            max_message_bytes=max_message_bytes,
            max_body_chars=max_body_chars,
        )
        if isinstance(decoded, RawArticle):
            yield JsonLine(number, line, decoded, None)
        else:
            yield JsonLine(number, line, None, f"{decoded.reason}: {decoded.detail}")
