"""The dedup decision and the output records it leads to. Plain Python: the agent only moves bytes."""

from __future__ import annotations

from dataclasses import dataclass

from models import AnalyzedArticle, DuplicateNotice, EnrichedArticle, Event
from streams.dedup import Candidate, DedupIndex, StoredArticle, canonical_url, normalized_text_key
from streams.fingerprint import Fingerprint, decode_hashes


def event_time(analyzed: AnalyzedArticle, max_ahead_s: float) -> float:
    """Publication time, else fetch time, else when the message reached Kafka: what the dedup window counts in. A date
    more than ``max_ahead_s`` ahead of the Kafka timestamp is the feed's error, and counts as that timestamp plus
    ``max_ahead_s``: the window follows the newest date, and one article dated 9999-12-31 would evict every other."""
    article = analyzed.article
    moment = article.published_at or article.fetched_at
    if moment is None:
        return analyzed.received_at
    stated = moment.timestamp()
    return min(stated, analyzed.received_at + max_ahead_s) if analyzed.received_at > 0 else stated


def candidate(analyzed: AnalyzedArticle, max_ahead_s: float) -> Candidate:
    article = analyzed.article
    return Candidate(
        id=article.id,
        url_key=canonical_url(str(article.url) if article.url else None),
        text_key=normalized_text_key(article.body),
        embedding_i8=analyzed.embedding_i8,
        fingerprint=Fingerprint(
            signature=decode_hashes(analyzed.signature),
            shingles=analyzed.shingles,
            terms=analyzed.terms,
            opening=decode_hashes(analyzed.opening),
        ),
        event_time=event_time(analyzed, max_ahead_s),
    )


def decide(index: DedupIndex, analyzed: AnalyzedArticle) -> StoredArticle:
    """Judge a new article against the index, then index it (originals and same-story articles only)."""
    return index.judge(candidate(analyzed, index.config.max_ahead_s))


@dataclass(frozen=True)
class Outputs:
    """What one article turns into: an enriched record and its events, or a duplicate notice."""

    enriched: EnrichedArticle | None
    events: tuple[Event, ...]
    duplicate: DuplicateNotice | None


def outputs(analyzed: AnalyzedArticle, stored: StoredArticle) -> Outputs:
    article = analyzed.article
    if stored.is_copy:
        assert stored.verdict.duplicate_of is not None
        notice = DuplicateNotice(
            id=article.id,
            duplicate_of=stored.verdict.duplicate_of,
            tier=stored.verdict.tier,
            score=stored.verdict.score,
            evidence=stored.verdict.evidence,
            story_id=stored.story_id,
            source=article.source,
            title=article.title,
            url=str(article.url) if article.url else None,
        )
        return Outputs(enriched=None, events=(), duplicate=notice)
    events = tuple(event.model_copy(update={"story_id": stored.story_id}) for event in analyzed.events)
    enriched = EnrichedArticle(
        article=article,
        entities=analyzed.entities,
        events=events,
        dedup=stored.verdict,
        story_id=stored.story_id,
        model_versions=analyzed.model_versions,
    )
    return Outputs(enriched=enriched, events=events, duplicate=None)
