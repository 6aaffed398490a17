"""Topic layout: partitions, compaction and message size limits, so that nothing the raw topic accepts is too big to
dead-letter."""

from __future__ import annotations

from models import DeadLetter
from streams.decode import RawMessage, dead_letter
from streams.settings import Settings
from streams.topics import DEAD_LETTER_MAX_MESSAGE_BYTES, RAW_MAX_MESSAGE_BYTES, topic_specs


def test_the_largest_raw_message_fits_in_a_dead_letter() -> None:
    largest = RawMessage(value=b"\xff" * RAW_MAX_MESSAGE_BYTES, key=b"k" * 256, topic="articles.raw", partition=7,
                         offset=2**40, timestamp_ms=1_764_000_000_000)
    letter = dead_letter(largest, "too_large", "x" * 5_000, stage="decode")
    assert isinstance(letter, DeadLetter)
    assert len(letter.to_bytes()) <= DEAD_LETTER_MAX_MESSAGE_BYTES


def test_raw_and_dead_letter_topics_carry_their_size_limits_and_the_changelog_is_compacted() -> None:
    specs = {spec.name: spec for spec in topic_specs(Settings(_env_file=None, app_id="news"))}
    assert specs["articles.raw"].configs() == {"max.message.bytes": str(RAW_MAX_MESSAGE_BYTES)}
    assert specs["articles.deadletter"].configs() == {"max.message.bytes": str(DEAD_LETTER_MAX_MESSAGE_BYTES)}
    assert specs["news-dedup-changelog"].configs() == {"cleanup.policy": "compact"}
    # An analysis can outgrow Kafka's default 1 MB: the analysed and enriched topics take what the worker may send.
    limit = {"max.message.bytes": str(Settings(_env_file=None).max_output_bytes)}
    assert specs["newsstream.articles.analyzed"].configs() == specs["articles.enriched"].configs() == limit
    assert (specs["news-dedup-changelog"].partitions, specs["newsstream.articles.analyzed"].partitions) == (1, 1)
