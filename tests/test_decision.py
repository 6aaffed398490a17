"""The decision's inputs from an analysed article: plain Python, stand-in models, no Kafka."""

from __future__ import annotations

import datetime as dt

from models import AnalyzedArticle, DedupTier, RawArticle
from streams.analyze import Analyzer, ReceivedArticle
from streams.decision import decide, event_time
from streams.dedup import DedupConfig, DedupIndex
from tests.stand_ins import BlankParser, WordHashEmbedder

ANALYZER = Analyzer(WordHashEmbedder(), BlankParser())
RECEIVED = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def analysed(article_id: str, body: str, published: dt.datetime | None) -> AnalyzedArticle:
    raw = RawArticle(id=article_id, source="Test", title="T", body=body, published_at=published)
    (result,) = ANALYZER.analyze([ReceivedArticle(raw, RECEIVED.timestamp())])
    assert isinstance(result, AnalyzedArticle)
    return result


def test_the_window_counts_an_article_dated_far_ahead_of_its_arrival_as_arrived_within_the_tolerance() -> None:
    hour = 3600.0
    assert event_time(analysed("a", "text", RECEIVED - dt.timedelta(days=2)), hour) == (RECEIVED - dt.timedelta(days=2)).timestamp()
    assert event_time(analysed("b", "text", RECEIVED + dt.timedelta(minutes=30)), hour) == RECEIVED.timestamp() + 1800
    assert event_time(analysed("c", "text", dt.datetime(9999, 12, 31, tzinfo=dt.UTC)), hour) == RECEIVED.timestamp() + hour
    assert event_time(analysed("d", "text", None), hour) == RECEIVED.timestamp()


def test_one_article_dated_9999_does_not_evict_the_window() -> None:
    index = DedupIndex(DedupConfig(window_s=7 * 24 * 3600.0))
    strike = "dock workers strike at the port of rotterdam over pay and hours"
    original = decide(index, analysed("o1", strike, RECEIVED - dt.timedelta(days=1)))
    decide(index, analysed("future", "a feed gave this one a placeholder date", dt.datetime(9999, 12, 31, tzinfo=dt.UTC)))
    assert index.evict_expired() == []
    copy = decide(index, analysed("c1", strike + " today", RECEIVED))
    assert (original.verdict.tier, copy.verdict.tier, copy.verdict.duplicate_of) == (DedupTier.UNIQUE, DedupTier.NEAR_DUPLICATE, "o1")
