"""`newsstream deadletter`: counting, showing and replaying dead letters; and dead letters that name the failed stage."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from kafka import TopicPartition
from rich.console import Console
from typer.testing import CliRunner

from models import DeadLetter, RawArticle
from streams.analyze import Analyzer, ModelFailure, ReceivedArticle
from streams.cli import cli
from streams.deadletter import (
    ReasonCount,
    Selection,
    StoredLetter,
    count_by_reason_and_stage,
    find_letters,
    original_view,
    read_letters,
    render_letter,
    replay,
)
from streams.decode import RawMessage, dead_letter, decode_article
from streams.kafka_clients import consumer, producer
from streams.settings import Settings
from tests.stand_ins import BlankParser, WordHashEmbedder

WRITTEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def stored(reason: str, stage: str = "decode", *, offset: int = 0, partition: int = 0, original: bytes = b"x",
           key: bytes | None = b"k", minutes: int = 0, topic: str = "articles.raw") -> StoredLetter:
    message = RawMessage(value=original, key=key, topic=topic, partition=3, offset=100 + offset, timestamp_ms=1_000)
    written = WRITTEN + timedelta(minutes=minutes)
    return StoredLetter(
        partition, offset, f"{topic}/3/{100 + offset}", int(written.timestamp() * 1000),
        dead_letter(message, reason, "why", stage),
    )


def test_counts_by_reason_and_stage_most_frequent_first() -> None:
    letters = [stored("schema"), stored("invalid_json"), stored("schema"), stored("model_error", "spacy")]
    assert count_by_reason_and_stage(letters) == [
        ReasonCount("schema", "decode", 2), ReasonCount("invalid_json", "decode", 1), ReasonCount("model_error", "spacy", 1),
    ]


def test_a_letter_is_found_by_position_offset_key_or_original_key() -> None:
    letters = [stored("schema", offset=0, key=b"article-1"), stored("schema", offset=1, partition=1, key=None)]
    assert find_letters(letters, "1:1") == [letters[1]]
    assert find_letters(letters, "1") == [letters[1]]
    assert find_letters(letters, "articles.raw/3/100") == [letters[0]]
    assert find_letters(letters, "article-1") == [letters[0]]
    assert find_letters(letters, "0:1") == []


def test_selection_combines_its_filters() -> None:
    early, late = stored("schema", minutes=0), stored("schema", minutes=30, offset=1)
    model = stored("model_error", "spacy", minutes=30, offset=2)
    letters = [early, late, model]
    assert [s for s in letters if Selection(reasons=frozenset({"schema"})).matches(s)] == [early, late]
    assert [s for s in letters if Selection(since=WRITTEN + timedelta(minutes=10)).matches(s)] == [late, model]
    assert [s for s in letters if Selection(stages=frozenset({"spacy"})).matches(s)] == [model]
    assert [s for s in letters if Selection(reasons=frozenset({"schema"}), references=("0:0",)).matches(s)] == [early]


def test_original_is_shown_as_text_when_utf8_else_as_hex() -> None:
    text = original_view("Zürich ✓".encode(), max_bytes=2)  # the cut falls inside "ü"
    assert (text.size, text.encoding, text.shown, text.truncated) == (11, "utf-8", "Z", True)
    binary = original_view(b"\xff\x00ab", max_bytes=10)
    assert (binary.encoding, binary.shown, binary.truncated) == ("hex", "ff 00 61 62", False)


def test_show_prints_reason_stage_detail_source_and_original() -> None:
    buffer = io.StringIO()
    render_letter(stored("invalid_utf8", original=b"\xfe\xff", key=b"id-9"), Console(file=buffer, width=200), 100)
    shown = buffer.getvalue()
    for expected in ("invalid_utf8", "decode", "why", "articles.raw partition 3 offset 100", "b'id-9'", "2 bytes, hex",
                     "fe ff"):
        assert expected in shown


def test_dry_run_counts_without_publishing_and_leaves_other_sources_alone() -> None:
    letters = [stored("schema"), stored("schema", "decide", topic="newsstream.articles.analyzed", offset=1)]

    def no_producer(settings: Settings) -> None:
        raise AssertionError("a dry run must not publish")

    report = replay(Settings(_env_file=None), letters, Selection(), dry_run=True, make_producer=no_producer)
    assert (report.selected, report.replayed, report.not_from_raw) == (2, 0, 1)


class FailingEmbedder(WordHashEmbedder):
    """Fails every batch that holds the marker; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        if any("UNEMBEDDABLE" in text for text in texts):
            raise ValueError("embedding refused the text")
        return super().embed(texts)


def test_a_model_failure_names_its_stage_and_is_tried_once_alone() -> None:
    embedder = FailingEmbedder()
    analyzer = Analyzer(embedder, BlankParser(fail_on="UNPARSABLE"))
    articles = [
        ReceivedArticle(RawArticle(id=f"a{n}", source="Test", body=body), 0.0)
        for n, body in enumerate(["Boats left.", "UNEMBEDDABLE words", "Rain fell.", "UNPARSABLE words"])
    ]
    results = analyzer.analyze(articles)
    failures = {r.article.id: (r.stage, r.detail) for r in results if isinstance(r, ModelFailure)}
    assert failures == {
        "a1": ("embedding", "ValueError: embedding refused the text"),
        "a3": ("spacy", "RuntimeError: model stage failed"),
    }
    assert [r.article.id for r in results if not isinstance(r, ModelFailure)] == ["a0", "a2"]
    # The batch, then each article at most once alone: no endless retry. (At most: the embedding may run beside the
    # parse, and a batch the parser refuses may be abandoned before its embedding starts.)
    assert embedder.calls <= 1 + len(articles)


# --- on the embedded broker ---------------------------------------------------------------------------------------

JUNK = [
    (b"j-0", b"{not json"),
    (b"j-1", b"\xff\xfe binary \x00"),
    (None, b"[1, 2, 3]"),
    (b"j-3", orjson.dumps({"id": "j-3", "source": "Wire", "body": "   "})),
    (b"j-4", b"\xc3\x28 also not UTF-8"),
    (b"j-5", b'{"id": "j-5"'),
]


def publish_junk_and_dead_letter_it(settings: Settings) -> None:
    """What the worker does with junk, without the models: publish it raw, decode what was stored, write the letters
    keyed by their source as the worker keys them."""
    client = producer(settings)
    stored_at = [client.send(settings.topic_raw, key=key, value=value, partition=0).get(timeout=30) for key, value in JUNK]
    for (key, value), where in zip(JUNK, stored_at, strict=True):
        message = RawMessage(value, key, settings.topic_raw, where.partition, where.offset, where.timestamp)
        letter = decode_article(message, max_message_bytes=settings.max_message_bytes, max_body_chars=1000)
        assert isinstance(letter, DeadLetter)
        client.send(
            settings.topic_deadletter, key=f"{letter.topic}/{letter.partition}/{letter.offset}".encode(),
            value=letter.to_bytes(),
        )
    client.flush()
    client.close()


def raw_topic_after(settings: Settings, starts: dict[int, int]) -> list[tuple[bytes | None, bytes]]:
    """The raw topic's records after the given offsets (per partition; 0 where not given), partition by partition."""
    reader = consumer(settings)
    partitions = [TopicPartition(settings.topic_raw, p) for p in sorted(reader.partitions_for_topic(settings.topic_raw))]
    reader.assign(partitions)
    for partition in partitions:
        reader.seek(partition, starts.get(partition.partition, 0))
    ends = reader.end_offsets(partitions)
    records: dict[int, list[tuple[bytes | None, bytes]]] = {p.partition: [] for p in partitions}
    while any(reader.position(p) < ends[p] for p in partitions):
        for tp, batch in reader.poll(timeout_ms=1000).items():
            records[tp.partition].extend((record.key, record.value) for record in batch)
    reader.close()
    return [record for partition in sorted(records) for record in records[partition]]


@pytest.mark.integration
def test_list_show_and_replay_on_the_broker(settings: Settings) -> None:
    publish_junk_and_dead_letter_it(settings)
    runner = CliRunner()
    env = settings.to_env()

    listed = runner.invoke(cli, ["deadletter", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    counts = orjson.loads(listed.stdout)
    assert counts["total"] == 6 and counts["unreadable"] == []
    assert {(c["reason"], c["stage"]): c["count"] for c in counts["counts"]} == {
        ("invalid_utf8", "decode"): 2, ("invalid_json", "decode"): 2, ("not_an_object", "decode"): 1,
        ("empty_body", "decode"): 1,
    }
    table = runner.invoke(cli, ["deadletter", "list"], env=env)
    assert table.exit_code == 0 and "invalid_utf8" in table.stdout and "total" in table.stdout

    letters = read_letters(settings).letters
    binary = next(s for s in letters if s.original_key == b"j-1")
    shown = runner.invoke(cli, ["deadletter", "show", binary.position], env=env)
    assert shown.exit_code == 0, shown.output
    assert "invalid_utf8" in shown.stdout and f"{settings.topic_raw} partition 0 offset 1" in shown.stdout
    assert "ff fe 20 62 69 6e" in shown.stdout  # the original, as hex
    raw = runner.invoke(cli, ["deadletter", "show", "j-3", "--raw"], env=env)
    assert raw.stdout_bytes == JUNK[3][1]
    assert runner.invoke(cli, ["deadletter", "show", "no-such-letter"], env=env).exit_code == 1
    assert runner.invoke(cli, ["deadletter", "replay"], env=env).exit_code == 2  # no filter and no --all

    before = {0: len(JUNK)}
    dry = runner.invoke(cli, ["deadletter", "replay", "--reason", "invalid_utf8", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would replay 2 of 2" in dry.output
    assert raw_topic_after(settings, before) == []

    replayed = runner.invoke(
        cli, ["deadletter", "replay", "--reason", "invalid_utf8", "--reason", "not_an_object"], env=env
    )
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed 3 of 3 selected to {settings.topic_raw}" in replayed.output
    # Byte-identical originals under their original keys (None stays None), and nothing else.
    assert sorted(raw_topic_after(settings, before), key=repr) == sorted([JUNK[1], JUNK[2], JUNK[4]], key=repr)
    original = next(s for s in letters if s.original_key == b"j-4").letter
    assert base64.b64decode(original.original_b64) == JUNK[4][1]
