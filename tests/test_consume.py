"""Consuming for people and programs: filters, the readable view, and reading a topic on the embedded broker
(from the beginning or the end, to the end, in a consumer group)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest
from rich.console import Console
from typer.testing import CliRunner

from models import DeadLetter, DedupTier, DedupVerdict, DuplicateNotice, EnrichedArticle, Entity, Event, RawArticle
from streams.cli import cli
from streams.consume import RecordFilter, read_topic
from streams.kafka_clients import producer
from streams.outputs import Collected, render, render_record
from streams.settings import Settings

ARTICLE = RawArticle(
    id="a1", url="https://gazette.example.org/strike", source="Harbour Gazette", title="Dockers strike in Rotterdam",
    body="Dock workers in Rotterdam stopped work.", author="Mira Kox",
    published_at=datetime(2026, 11, 20, 7, 15, tzinfo=UTC),
)
ENTITY = Entity(id="ent-rotterdam", text="Rotterdam", canonical="Port of Rotterdam", type="GPE", start=18, end=27,
                mentions=2, model="test")
STRIKE = Event(id="e1", article_id="a1", story_id="story-4f2a9c", trigger="strike", actor="Dock workers",
               actor_id="ent-dockers", target=None, location="Rotterdam", sentence="Dock workers in Rotterdam stopped work.",
               plover_type="PROTEST", cameo_root="14", model="test")
ENRICHED = EnrichedArticle(article=ARTICLE, entities=(ENTITY,), events=(STRIKE,),
                           dedup=DedupVerdict(tier=DedupTier.UNIQUE, score=0.0), story_id="story-4f2a9c",
                           model_versions={"nlp": "test"})
DUPLICATE = DuplicateNotice(id="a2", duplicate_of="a1", tier=DedupTier.NEAR_DUPLICATE, score=0.97,
                            evidence="embedding cosine", story_id="story-4f2a9c", source="Coast Post",
                            title="Rotterdam dockers walk out")


@pytest.mark.parametrize(
    ("record_filter", "enriched", "event", "duplicate"),
    [
        (RecordFilter(entity="rotterdam"), True, True, None),
        (RecordFilter(entity="ent-rotterdam"), True, False, None),
        (RecordFilter(entity="Antwerp"), False, False, None),
        (RecordFilter(event="STRIKE"), True, True, None),
        (RecordFilter(event="divert"), False, False, None),
        (RecordFilter(event="protest"), True, True, None),
        (RecordFilter(event="14"), True, True, None),
        (RecordFilter(event="ASSAULT"), False, False, None),
        (RecordFilter(entity="ent-dockers"), False, True, None),
        (RecordFilter(source="gazette"), True, None, False),
        (RecordFilter(source="coast"), False, None, True),
        (RecordFilter(story="story-4f"), True, True, True),
        (RecordFilter(story="story-99"), False, False, False),
        (RecordFilter(entity="rotterdam", event="strike", story="story"), True, True, None),
        (RecordFilter(entity="rotterdam", event="divert"), False, False, None),
    ],
)
def test_filters(record_filter: RecordFilter, enriched: bool, event: bool | None, duplicate: bool | None) -> None:
    assert record_filter.matches(ENRICHED) is enriched
    for record, expected in ((STRIKE, event), (DUPLICATE, duplicate)):
        if expected is None:
            assert record_filter.unsupported(type(record))
        else:
            assert not record_filter.unsupported(type(record))
            assert record_filter.matches(record) is expected


def test_filters_name_what_a_record_type_cannot_answer() -> None:
    assert RecordFilter(entity="x", story="y").unsupported(RawArticle) == ["entity", "story"]
    assert RecordFilter(source="x").unsupported(DeadLetter) == ["source"]
    assert RecordFilter(source="x").unsupported(None) == ["source"]
    assert RecordFilter().unsupported(None) == []


def _text(record: object) -> str:
    out = io.StringIO()
    render_record(record, Console(file=out, width=160, color_system=None))  # type: ignore[arg-type]
    return out.getvalue()


def test_readable_view_shows_entities_and_events_per_article() -> None:
    text = _text(ENRICHED)
    assert "Dockers strike in Rotterdam" in text
    assert "Harbour Gazette / Mira Kox" in text and "story=story-4f2a9c" in text
    assert "entities: Port of Rotterdam GPE" in text
    assert "event: Dock workers --strike--> - in Rotterdam" in text


def test_readable_view_of_other_records() -> None:
    assert "Dock workers --strike--> - in Rotterdam" in _text(STRIKE)
    assert "Dock workers in Rotterdam stopped work." in _text(STRIKE)
    duplicate = _text(DUPLICATE)
    assert "duplicate Rotterdam dockers walk out (Coast Post) of a1" in duplicate and "near_duplicate" in duplicate
    letter = DeadLetter(reason="invalid_json", detail="unexpected end", stage="decode", topic="articles.raw",
                        partition=2, offset=7, original_b64="e30=")
    assert "dead letter articles.raw/2/7 decode invalid_json: unexpected end" in _text(letter)
    assert "Dock workers in Rotterdam stopped work." in _text(ARTICLE)


# --- on the embedded broker -----------------------------------------------------------------------------------


def _fill(settings: Settings) -> None:
    """Four enriched articles (one per partition) and two events."""
    client = producer(settings)
    for number in range(4):
        story = "story-4f2a9c" if number < 2 else f"story-other{number}"
        article = ARTICLE.model_copy(update={"id": f"a{number}", "title": f"Story {number}"})
        record = ENRICHED.model_copy(update={"article": article, "story_id": story})
        client.send(settings.topic_enriched, key=article.id.encode(), value=record.to_bytes(), partition=number)
    client.send(settings.topic_events, key=b"a1", value=STRIKE.to_bytes())
    client.send(settings.topic_events, key=b"a2", value=b"not a record")
    client.flush()
    client.close()


@pytest.mark.integration
def test_reading_a_topic_to_its_end_from_the_beginning_or_the_end(settings: Settings) -> None:
    _fill(settings)
    everything = list(read_topic(settings, settings.topic_enriched, idle_timeout_s=5))
    assert sorted(consumed.record.article.id for consumed in everything) == ["a0", "a1", "a2", "a3"]  # type: ignore[union-attr]
    assert list(read_topic(settings, settings.topic_enriched, from_beginning=False, idle_timeout_s=5)) == []
    story = list(read_topic(settings, settings.topic_enriched, record_filter=RecordFilter(story="story-4f")))
    assert sorted(consumed.message.key for consumed in story) == [b"a0", b"a1"]
    # A record that is not valid is passed on as bytes without a filter, and dropped with one.
    events = list(read_topic(settings, settings.topic_events))
    assert [consumed.record is None for consumed in events].count(True) == 1
    assert len(list(read_topic(settings, settings.topic_events, record_filter=RecordFilter(event="strike")))) == 1
    with pytest.raises(ValueError, match="does not exist"):
        list(read_topic(settings, "no.such.topic"))


@pytest.mark.integration
def test_follow_mode_sees_records_published_later(settings: Settings) -> None:
    received: list[bytes] = []
    done = threading.Event()

    def follow() -> None:
        for consumed in read_topic(settings, settings.topic_events, follow=True, keep_going=lambda: not done.is_set()):
            received.append(consumed.message.value)
            done.set()

    reader = threading.Thread(target=follow)
    reader.start()
    client = producer(settings)
    client.send(settings.topic_events, key=b"a1", value=STRIKE.to_bytes())
    client.flush()
    reader.join(timeout=30)
    client.close()
    done.set()
    assert received == [STRIKE.to_bytes()]


@pytest.mark.integration
def test_a_consumer_group_shares_partitions_and_commits(settings: Settings) -> None:
    _fill(settings)
    group = f"{settings.app_id}-readers"
    first = list(read_topic(settings, settings.topic_enriched, group=group, idle_timeout_s=15))
    assert sorted(consumed.message.key for consumed in first) == [b"a0", b"a1", b"a2", b"a3"]
    # The group committed its offsets: a second run of the same group has nothing new to read.
    assert list(read_topic(settings, settings.topic_enriched, group=group, idle_timeout_s=8)) == []


@pytest.mark.integration
def test_a_group_run_stopped_early_resumes_after_the_last_record_it_handed_out(settings: Settings) -> None:
    """As `consume --group G --max 1` does: the records fetched but not handed out are read by the next run."""
    _fill(settings)
    group = f"{settings.app_id}-paged"
    reader = read_topic(settings, settings.topic_enriched, group=group, idle_timeout_s=15)
    first = next(reader)
    reader.close()
    rest = list(read_topic(settings, settings.topic_enriched, group=group, idle_timeout_s=15))
    assert sorted(consumed.message.key for consumed in rest) == sorted({b"a0", b"a1", b"a2", b"a3"} - {first.message.key})


@pytest.mark.integration
def test_consume_command_prints_json_lines_or_a_readable_view(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(settings)
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    as_json = runner.invoke(cli, ["consume", settings.topic_enriched, "--entity", "Port of Rotterdam", "--max", "3"])
    assert as_json.exit_code == 0, as_json.output
    lines = as_json.stdout.splitlines()
    assert len(lines) == 3 and all(EnrichedArticle.model_validate_json(line) for line in lines)

    as_text = runner.invoke(cli, ["consume", settings.topic_enriched, "--format", "text", "--story", "story-other3"])
    assert "Story 3" in as_text.stdout and "event: Dock workers --strike-->" in as_text.stdout
    assert "Story 1" not in as_text.stdout

    refused = runner.invoke(cli, ["consume", settings.topic_duplicates, "--event", "strike"])
    assert refused.exit_code == 2 and "--event cannot filter DuplicateNotice" in refused.output


def test_the_demo_view_puts_a_story_in_publication_order_undated_articles_first() -> None:
    later = ENRICHED.model_copy(update={"article": ARTICLE.model_copy(update={"id": "a3", "title": "Later report"})})
    undated = ENRICHED.model_copy(
        update={"article": ARTICLE.model_copy(update={"id": "a4", "title": "Undated report", "published_at": None})}
    )
    earlier = ENRICHED.model_copy(update={"article": ARTICLE.model_copy(
        update={"id": "a5", "title": "Earlier report", "published_at": datetime(2026, 11, 19, tzinfo=UTC)}
    )})
    output = io.StringIO()
    render(Collected(enriched={r.article.id: r for r in (later, undated, earlier)}), Console(file=output, width=200))
    text = output.getvalue()
    assert text.index("Undated report") < text.index("Earlier report") < text.index("Later report")
