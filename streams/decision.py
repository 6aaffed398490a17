"""The dedup decision and the output records it leads to. Plain Python: the agent only moves bytes."""

from __future__ import annotations

from dataclasses import dataclass

from models import AnalyzedArticle, DuplicateNotice, EnrichedArticle, Event
from streams.analyze import decode_vector
from streams.dedup import DedupIndex, StoredArticle, canonical_url, normalized_text_key


def decide(index: DedupIndex, analyzed: AnalyzedArticle) -> StoredArticle:
    """Judge a new article against the index and add it there (originals only)."""
    article = analyzed.article
    url_key = canonical_url(str(article.url) if article.url else None)
    text_key = normalized_text_key(article.body)
    vector = decode_vector(analyzed.embedding_b64)
    verdict, story_id = index.decide(url_key, text_key, vector)
    stored = StoredArticle(
        id=article.id,
        story_id=story_id or article.id,
        url_key=url_key,
        text_key=text_key,
        embedding_b64=analyzed.embedding_b64,
        verdict=verdict,
    )
    index.add(stored, vector)
    return stored


def restore(index: DedupIndex, stored: StoredArticle) -> None:
    index.add(stored, decode_vector(stored.embedding_b64))


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
