"""Deduplication decisions: exact (canonical URL or normalised body), near-duplicate and same-story (embedding cosine).

Plain Python over an in-memory index that the agent rebuilds from its Kafka-backed table after a restart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from models import DedupTier, DedupVerdict

TRACKING_PARAMETERS = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|cmpid|ocid|at_.*|_ga|igshid)$", re.I)
NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def canonical_url(url: str | None) -> str | None:
    """Scheme, ``www.``, fragment, trailing slash and tracking parameters removed; remaining parameters sorted."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMETERS.match(k))
    path = parts.path.rstrip("/") or ""
    return f"{host}{':' + str(parts.port) if parts.port else ''}{path}{'?' + urlencode(query) if query else ''}"


def normalized_text_key(body: str) -> str:
    """Hash of the body with case, accents, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKD", body.casefold())
    words = NON_WORD.sub(" ", "".join(ch for ch in folded if not unicodedata.combining(ch))).split()
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


class StoredArticle(BaseModel):
    """What the dedup table keeps per article: enough to rebuild the index and to replay a verdict identically."""

    model_config = ConfigDict(frozen=True)

    id: str
    story_id: str
    url_key: str | None
    text_key: str
    embedding_b64: str
    verdict: DedupVerdict

    @property
    def is_copy(self) -> bool:
        return self.verdict.tier in (DedupTier.EXACT, DedupTier.NEAR_DUPLICATE)


@dataclass(frozen=True)
class Thresholds:
    near_duplicate_cosine: float
    same_story_cosine: float


class DedupIndex:
    """Originals seen so far, by exact keys and by embedding. Copies are not indexed: they point to an original."""

    def __init__(self, thresholds: Thresholds, dimensions: int = 384) -> None:
        self.thresholds = thresholds
        self.dimensions = dimensions
        self.clear()

    def clear(self) -> None:
        self.by_url: dict[str, str] = {}
        self.by_text: dict[str, str] = {}
        self.story_of: dict[str, str] = {}
        self.ids: list[str] = []
        self._vectors = np.zeros((1024, self.dimensions), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def decide(self, url_key: str | None, text_key: str, vector: npt.NDArray[np.float32]) -> tuple[DedupVerdict, str | None]:
        """The verdict for a new article, and the story it joins (None: it starts its own)."""
        if url_key is not None and url_key in self.by_url:
            original = self.by_url[url_key]
            return DedupVerdict(tier=DedupTier.EXACT, score=1.0, duplicate_of=original, evidence="same canonical URL"), self.story_of[original]
        if text_key in self.by_text:
            original = self.by_text[text_key]
            return DedupVerdict(tier=DedupTier.EXACT, score=1.0, duplicate_of=original, evidence="same normalised text"), self.story_of[original]
        if self.ids:
            similarities = self._vectors[: len(self.ids)] @ vector
            best = int(np.argmax(similarities))
            score = float(similarities[best])
            neighbour = self.ids[best]
            if score >= self.thresholds.near_duplicate_cosine:
                verdict = DedupVerdict(
                    tier=DedupTier.NEAR_DUPLICATE, score=round(score, 4), duplicate_of=neighbour,
                    evidence=f"embedding cosine {score:.3f} >= {self.thresholds.near_duplicate_cosine}",
                )
                return verdict, self.story_of[neighbour]
            if score >= self.thresholds.same_story_cosine:
                verdict = DedupVerdict(
                    tier=DedupTier.SAME_STORY, score=round(score, 4), duplicate_of=neighbour,
                    evidence=f"embedding cosine {score:.3f} >= {self.thresholds.same_story_cosine}",
                )
                return verdict, self.story_of[neighbour]
            return DedupVerdict(tier=DedupTier.UNIQUE, score=round(score, 4), evidence="no match above thresholds"), None
        return DedupVerdict(tier=DedupTier.UNIQUE, score=0.0, evidence="first article"), None

    def add(self, stored: StoredArticle, vector: npt.NDArray[np.float32]) -> None:
        if stored.is_copy or stored.id in self.story_of:
            return
        if len(self.ids) == len(self._vectors):
            self._vectors = np.concatenate([self._vectors, np.zeros_like(self._vectors)])
        self._vectors[len(self.ids)] = vector
        self.ids.append(stored.id)
        self.story_of[stored.id] = stored.story_id
        if stored.url_key is not None:
            self.by_url.setdefault(stored.url_key, stored.id)
        self.by_text.setdefault(stored.text_key, stored.id)
