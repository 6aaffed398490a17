"""The wire contract: pydantic records that travel on newsstream's Kafka topics.

Every record carries ``schema_version``; a change that breaks readers of an older version bumps it.
"""

from models.records import (
    AnalyzedArticle,
    SCHEMA_VERSION,
    DeadLetter,
    DedupTier,
    DedupVerdict,
    DuplicateNotice,
    EnrichedArticle,
    Entity,
    Event,
    Geo,
    Mention,
    Modality,
    RawArticle,
)

__all__ = [
    "AnalyzedArticle",
    "SCHEMA_VERSION",
    "DeadLetter",
    "DedupTier",
    "DedupVerdict",
    "DuplicateNotice",
    "EnrichedArticle",
    "Entity",
    "Event",
    "Geo",
    "Mention",
    "Modality",
    "RawArticle",
]
