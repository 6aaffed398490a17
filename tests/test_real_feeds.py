"""Real feeds saved by feed-parser projects (shared/datasets/rss_atom_feeds, see its PROVENANCE.md): each parses,
maps to valid records, and agrees with the expected parse results that feed-rs ships with five of them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from models import RawArticle
from streams.feeds import MappingOptions, entry_article, html_to_text, parse_feed
from streams.publisher import Publisher, expand_sources, publish_once
from tests.datasets import dataset_dir

# Entry counts as PROVENANCE.md lists them.
ENTRY_COUNTS = {
    "rsparser/livemint.xml": 25,
    "rsparser/lanacion.xml": 100,
    "rsparser/aktuality.rss": 30,
    "rsparser/macworld.rss": 30,
    "rsparser/DaringFireball.atom": 48,
    "rsparser/kc0011.rss": 20,
    "feed-rs/rss_2.0_nbcny.xml": 1,
    "feed-rs/rss_2.0_ilgiornale.xml": 1,
    "feed-rs/rss_2.0_ilmessaggero.xml": 1,
    "feed-rs/rss_2.0_bbc.xml": 1,
    "feed-rs/rss_2.0_spiegel.xml": 1,
}
# The one entry of them all with no text: an aktuality.sk item whose description is only an image.
ENTRIES_WITHOUT_TEXT = {"rsparser/aktuality.rss": 1}
FETCHED_AT = datetime(2026, 11, 25, tzinfo=UTC)
# Where feedparser and feed-rs differ on purpose: an item with both <description> and a later, longer
# <itunes:summary> gets the latter from feedparser; feed-rs keeps the former. Both are the episode's summary.
SUMMARY_FROM_ITUNES = {"bbc"}


class ListSink:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []

    def send(self, key: bytes, value: bytes) -> None:
        self.messages.append((key, value))

    def flush(self) -> None:
        pass


@pytest.fixture(scope="module")
def feeds() -> Path:
    return dataset_dir("rss_atom_feeds")


@pytest.mark.parametrize("name", sorted(ENTRY_COUNTS))
def test_every_real_feed_maps_to_valid_records(feeds: Path, name: str) -> None:
    feed = parse_feed((feeds / name).read_bytes())
    assert feed.problem is None
    assert len(feed.entries) == ENTRY_COUNTS[name]
    articles = [
        entry_article(entry, feed, fetched_at=FETCHED_AT)
        for entry in feed.entries
        if html_to_text(entry.content_html or entry.summary_html)
    ]
    assert len(articles) == ENTRY_COUNTS[name] - ENTRIES_WITHOUT_TEXT.get(name, 0)
    assert len({article.id for article in articles}) == len(articles)
    for article in articles:
        assert article.title and article.body and "<" not in article.title
        assert article.published_at is not None and article.published_at.tzinfo is not None
        assert RawArticle.model_validate_json(article.to_bytes()) == article


def _expected_outputs(feeds: Path) -> list[Path]:
    return sorted((feeds / "feed-rs").glob("*.serde.json"))


def test_feed_rs_ships_expected_outputs(feeds: Path) -> None:
    assert len(_expected_outputs(feeds)) == 5


@pytest.mark.parametrize("name", ["nbcny", "ilgiornale", "ilmessaggero", "bbc", "spiegel"])
def test_entries_agree_with_feed_rs_expected_output(feeds: Path, name: str) -> None:
    expected = json.loads((feeds / "feed-rs" / f"rss_2.0_{name}.serde.json").read_text(encoding="utf-8"))
    feed = parse_feed((feeds / "feed-rs" / f"rss_2.0_{name}.xml").read_bytes())
    assert feed.title == expected["title"]["content"]
    assert (feed.language or "").lower().replace("-", "_") == expected["language"].lower().replace("-", "_")
    assert len(feed.entries) == len(expected["entries"])
    for entry, want in zip(feed.entries, expected["entries"], strict=True):
        assert entry.guid == want["id"]
        assert entry.title == want["title"]["content"]
        assert entry.link == want["links"][0]["href"]
        # feed-rs reads no date from NBC's "Sat, Dec 16 2023 02:02:33 PM"; where it reads one, the instants agree.
        if want["published"]:
            assert entry.published == datetime.fromisoformat(want["published"])
        if want["authors"]:
            author = want["authors"][0]
            # feed-rs keeps RSS's "email (Name)" whole; the name is what we keep.
            assert entry.author and entry.author in f"{author['name']} {author['email'] or ''}"
        content = (want["content"] or {}).get("body")
        expected_text = html_to_text(content if content else want["summary"]["content"])
        text = html_to_text(entry.content_html or entry.summary_html)
        if name in SUMMARY_FROM_ITUNES:
            assert text.startswith(expected_text.removesuffix("...")) and len(text) > len(expected_text)
        else:
            assert text == expected_text


def test_gb2312_feed_is_decoded_and_dated_in_the_given_zone(feeds: Path) -> None:
    document = (feeds / "rsparser" / "kc0011.rss").read_bytes()
    assert b'encoding="gb2312"' in document[:100]
    feed = parse_feed(document, default_timezone=ZoneInfo("Asia/Shanghai"))
    assert feed.language == "zh-CN"
    titles = [entry.title for entry in feed.entries]
    assert all(any("\u4e00" <= char <= "\u9fff" for char in title) for title in titles)
    assert not any("\ufffd" in title for title in titles)
    # "2020/1/10 14:33:00": no zone in the feed, so the zone given applies (feedparser alone reads it as 1 Nov).
    first = feed.entries[0].published
    assert first is not None and first.utcoffset() == timedelta(hours=8)
    assert (first.year, first.month, first.day, first.hour, first.minute) == (2020, 1, 10, 14, 33)


def test_dates_keep_the_publishers_offset(feeds: Path) -> None:
    macworld = parse_feed((feeds / "rsparser" / "macworld.rss").read_bytes())
    assert {entry.published.utcoffset() for entry in macworld.entries if entry.published} == {timedelta(hours=-8)}


def test_publishing_the_directory_counts_published_invalid_and_skipped(feeds: Path) -> None:
    sink = ListSink()
    publisher = Publisher(
        sink, max_message_bytes=1_048_576, max_body_chars=200_000, options=MappingOptions(default_language="en")
    )
    origins = list(expand_sources([str(feeds)]))
    assert len(origins) == len(ENTRY_COUNTS)  # the .serde.json files and licences are not sources
    reports = publish_once(publisher, origins, client=None, stdin=io.BytesIO())
    expected_total = sum(ENTRY_COUNTS.values()) - sum(ENTRIES_WITHOUT_TEXT.values())
    assert sum(report.published for report in reports) == len(sink.messages) == expected_total
    invalid = [(Path(report.origin).name, line) for report in reports for line in report.invalid]
    assert len(invalid) == 1
    assert invalid[0][0] == "aktuality.rss" and invalid[0][1].startswith("entry 6 (")
    assert invalid[0][1].endswith("): no text (neither content nor a summary with text)")
    for key, value in sink.messages:
        assert orjson.loads(value)["id"] == key.decode()

    again = publish_once(publisher, origins, client=None, stdin=io.BytesIO())
    assert sum(report.skipped for report in again) == expected_total
    assert sum(report.published for report in again) == 0
