from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest

from models import RawArticle
from streams.cli import SAMPLE_FEED
from streams.feeds import (
    FeedError,
    MappingOptions,
    article_id,
    entry_article,
    feed_articles,
    html_to_text,
    is_json_lines,
    json_lines,
    language_tag,
    parse_date,
    parse_feed,
)

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
  <title>Atom desk</title><link href="https://atom.example.org/"/>
  <entry>
    <id>tag:atom.example.org,2026:1</id><title>Bridge reopens</title>
    <link href="https://atom.example.org/bridge"/>
    <author><name>Ada Lovelace</name></author>
    <updated>2026-11-02T10:00:00+02:00</updated>
    <content type="html">&lt;p&gt;The bridge reopened.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content>
  </entry>
</feed>"""

# Written for these tests: one good item, one with a local GUID, one without any text, one without a date zone.
RSS = """<?xml version="1.0" encoding="iso-8859-1"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Valley Courier</title><link>https://courier.example.net/</link><language>fr_ca</language>
    <item>
      <title>Caf\u00e9 owners protest new parking rules</title>
      <link>/2026/11/parking</link>
      <guid isPermaLink="false">1042</guid>
      <dc:creator>Jos\u00e9e Tremblay</dc:creator>
      <pubDate>lun, 16 nov 2026 08:30:00 -0500</pubDate>
      <description>&lt;p&gt;Owners of six caf\u00e9s on Main Street protested on Monday.&lt;/p&gt;</description>
    </item>
    <item>
      <title>Photo of the day</title>
      <link>https://courier.example.net/photo</link>
      <description>&lt;img src="https://courier.example.net/p.jpg"/&gt;</description>
    </item>
    <item>
      <title>Council meets</title>
      <link>https://courier.example.net/council</link>
      <pubDate>2026/11/17 19:00:00</pubDate>
      <description>The council meets on Tuesday evening.</description>
    </item>
  </channel>
</rss>""".encode("iso-8859-1")


def test_sample_feed_maps_every_item() -> None:
    articles = list(feed_articles(SAMPLE_FEED))
    assert len(articles) == 8
    first = articles[0]
    assert first.title == "Dock workers walk out at Rotterdam port"
    assert str(first.url) == "https://harbourtimes.example.com/2026/11/20/rotterdam-dock-strike"
    assert first.published_at == datetime(2026, 11, 20, 6, 15, tzinfo=UTC)
    assert first.published_at.utcoffset() == timedelta(hours=1)  # the publisher's own offset is kept
    assert first.body.count("\n") == 2 and "<p>" not in first.body
    assert len({article.id for article in articles}) == 8


def test_atom_entry_content_is_text_without_scripts() -> None:
    (article,) = feed_articles(ATOM)
    assert article.source == "Atom desk" and article.title == "Bridge reopens"
    assert article.body == "The bridge reopened."
    assert article.published_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert article.author == "Ada Lovelace"
    assert article.language == "en-GB"


def test_rss_entries_keep_what_the_feed_says_and_fill_in_the_rest() -> None:
    feed = parse_feed(RSS, url="https://courier.example.net/feed.xml", default_timezone=ZoneInfo("America/Toronto"))
    assert feed.language == "fr-CA" and feed.title == "Valley Courier"
    good, image_only, council = feed.entries
    assert good.title == "Café owners protest new parking rules" and good.author == "Josée Tremblay"
    assert good.link == "https://courier.example.net/2026/11/parking"  # resolved against the feed's URL
    # A weekday in French before an RFC 822 date, with its offset.
    assert good.published == datetime(2026, 11, 16, 8, 30, tzinfo=timezone(timedelta(hours=-5)))
    # No zone in the date: the default zone applies.
    assert council.published == datetime(2026, 11, 17, 19, 0, tzinfo=ZoneInfo("America/Toronto"))
    assert html_to_text(image_only.summary_html) == ""

    article = entry_article(good, feed, fetched_at=datetime(2026, 11, 16, tzinfo=UTC))
    assert (article.language, article.source, article.body) == (
        "fr-CA", "Valley Courier", "Owners of six cafés on Main Street protested on Monday."
    )


def test_local_guids_are_scoped_to_their_feed_and_uri_guids_are_not() -> None:
    feed = parse_feed(RSS)
    other = parse_feed(RSS.replace(b"https://courier.example.net/</link>", b"https://other.example.org/</link>"))
    assert article_id(feed.entries[0], feed) != article_id(other.entries[0], other)  # GUID "1042" in both
    atom = parse_feed(ATOM)
    renamed = parse_feed(ATOM.replace(b"<link href=\"https://atom.example.org/\"/>", b""))
    assert article_id(atom.entries[0], atom) == article_id(renamed.entries[0], renamed)  # a tag: URI
    # Without a GUID, the link identifies the entry.
    assert article_id(feed.entries[2], feed) == article_id(feed.entries[2], other)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 15 Nov 2022 20:15:04 Z", datetime(2022, 11, 15, 20, 15, 4, tzinfo=UTC)),
        ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 16, 0, 38, 15, tzinfo=timezone(timedelta(hours=1)))),
        ("2017-06-27T00:54:17Z", datetime(2017, 6, 27, 0, 54, 17, tzinfo=UTC)),
        ("2026-03-01T12:00:00-03:30", datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))),
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),  # PM is not ignored
        ("Thu, 25 Feb 2021 10:15:00 -0000", datetime(2021, 2, 25, 10, 15, tzinfo=UTC)),
        ("", None),
        ("whenever", None),
    ],
)
def test_feed_dates(raw: str, expected: datetime | None) -> None:
    parsed = parse_date(raw)
    assert parsed == expected
    if expected is not None:
        assert parsed is not None and parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("en", "en"), ("en_US", "en-US"), ("IT-it", "it-IT"), ("zh-hant-tw", "zh-Hant-TW"), ("", None), ("12", None)],
)
def test_language_tags(raw: str, expected: str | None) -> None:
    assert language_tag(raw) == expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "no rss, feed or RDF root element"),
        (b"<html><body><p>Moved</p></body></html>", "no rss, feed or RDF root element"),
        (b"\x89PNG\r\n\x1a\n\x00\x00 binary", "not well-formed"),
    ],
)
def test_documents_that_are_no_feed_are_refused_with_the_reason(document: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_feed(document)


def test_a_truncated_feed_yields_the_complete_entries_and_names_the_error() -> None:
    cut = RSS[: RSS.index(b"<title>Council meets")]
    feed = parse_feed(cut)
    assert [entry.title for entry in feed.entries][:2] == ["Café owners protest new parking rules", "Photo of the day"]
    assert feed.problem


def test_an_empty_feed_is_a_feed() -> None:
    assert parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>').entries == ()


def test_html_to_text_keeps_paragraphs_and_entities() -> None:
    assert html_to_text("<p>A &amp; B</p><p>C<style>x{}</style></p>") == "A & B\nC"


def test_json_lines_are_validated_like_the_stream_does() -> None:
    document = b'\xef\xbb\xbf{"id": "k1", "source": "s", "body": "b"}\n\nnot json\n{"source": "s", "url": "https://x.example/a", "body": "c"}\n{"id": "k4", "source": "s", "body": ""}\n'
    assert is_json_lines(document) and not is_json_lines(RSS)
    lines = list(json_lines(document.removeprefix(b"\xef\xbb\xbf"), max_message_bytes=10_000, max_body_chars=100))
    assert [line.number for line in lines] == [1, 3, 4, 5]
    assert lines[0].article is not None and lines[0].article.id == "k1"
    assert lines[1].article is None and lines[1].problem is not None and lines[1].problem.startswith("invalid_json")
    assert lines[2].article is not None and len(lines[2].article.id) == 32  # derived from the URL, as the stream does
    assert lines[3].problem is not None and lines[3].problem.startswith("empty_body")


def test_feed_articles_are_raw_article_records() -> None:
    article = next(feed_articles(SAMPLE_FEED))
    assert RawArticle.model_validate(orjson.loads(article.to_bytes())) == article


def test_default_language_applies_only_when_the_feed_declares_none() -> None:
    undeclared = RSS.replace(b"<language>fr_ca</language>", b"")
    (first, *_) = feed_articles(undeclared, options=MappingOptions(default_language="fr"))
    assert first.language == "fr"
    (declared, *_) = feed_articles(RSS, options=MappingOptions(default_language="de"))
    assert declared.language == "fr-CA"
