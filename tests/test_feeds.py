from datetime import UTC, datetime
from pathlib import Path

import orjson

from models import RawArticle
from streams.cli import SAMPLE_FEED
from streams.feeds import feed_articles, file_messages, html_to_text

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom desk</title><link href="https://atom.example.org/"/>
  <entry>
    <id>tag:atom.example.org,2026:1</id><title>Bridge reopens</title>
    <link href="https://atom.example.org/bridge"/>
    <updated>2026-11-02T10:00:00+02:00</updated>
    <content type="html">&lt;p&gt;The bridge reopened.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content>
  </entry>
</feed>"""


def test_sample_feed_maps_every_item() -> None:
    articles = list(feed_articles(SAMPLE_FEED))
    assert len(articles) == 8
    first = articles[0]
    assert first.title == "Dock workers walk out at Rotterdam port"
    assert str(first.url) == "https://harbourtimes.example.com/2026/11/20/rotterdam-dock-strike"
    assert first.published_at == datetime(2026, 11, 20, 6, 15, tzinfo=UTC)
    assert first.body.count("\n") == 2 and "<p>" not in first.body
    assert len({article.id for article in articles}) == 8


def test_atom_entry_content_is_text_without_scripts() -> None:
    (article,) = feed_articles(ATOM)
    assert article.source == "Atom desk" and article.title == "Bridge reopens"
    assert article.body == "The bridge reopened."
    assert article.published_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_html_to_text_keeps_paragraphs_and_entities() -> None:
    assert html_to_text("<p>A &amp; B</p><p>C<style>x{}</style></p>") == "A & B\nC"


def test_jsonl_lines_are_sent_unchanged_keyed_by_id(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_bytes(b'{"id": "k1", "source": "s", "body": "b"}\n\nnot json\n')
    messages = list(file_messages(path))
    assert [m.key for m in messages] == [b"k1", None]
    assert messages[1].value == b"not json"


def test_feed_messages_are_raw_article_records() -> None:
    message = next(file_messages(SAMPLE_FEED))
    article = RawArticle.model_validate(orjson.loads(message.value))
    assert message.key == article.id.encode()
