"""The parallel model stage: embeddings and spaCy analysis of a batch of articles. Plain Python, no Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from spacy.tokens import Doc

from models import AnalyzedArticle, RawArticle
from streams.dedup import quantize
from streams.fingerprint import encode_signature, fingerprint
from streams.nlp import article_text, enrich


class EmbedsTexts(Protocol):
    version: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class ParsesTexts(Protocol):
    version: str

    def parse(self, texts: Sequence[str]) -> list[Doc]: ...


@dataclass(frozen=True)
class ReceivedArticle:
    """A valid article and when its message reached Kafka (the event time of last resort)."""

    article: RawArticle
    received_at: float


@dataclass(frozen=True)
class ModelFailure:
    article: RawArticle
    stage: str
    detail: str


class Analyzer:
    """Runs both models over a batch. A batch that fails is retried article by article, so one poisonous article
    becomes one ``ModelFailure`` and the others still pass."""

    def __init__(
        self, embedder: EmbedsTexts, parser: ParsesTexts, on_inference: Callable[[str, float], None] | None = None
    ) -> None:
        self.embedder = embedder
        self.parser = parser
        self.on_inference = on_inference
        self.model_versions = {"embedding": embedder.version, "spacy": parser.version}

    def analyze(self, articles: Sequence[ReceivedArticle]) -> list[AnalyzedArticle | ModelFailure]:
        try:
            return list(self._analyze_batch(articles))
        except Exception as exc:  # any model error is data about an article, never a worker crash
            if len(articles) == 1:
                return [ModelFailure(articles[0].article, "analyze", f"{type(exc).__name__}: {exc}")]
        results: list[AnalyzedArticle | ModelFailure] = []
        for item in articles:
            results.extend(self.analyze([item]))
        return results

    def _analyze_batch(self, received: Sequence[ReceivedArticle]) -> list[AnalyzedArticle]:
        texts = [article_text(item.article.title, item.article.body) for item in received]
        started = time.perf_counter()
        vectors = self.embedder.embed(texts)
        embedded = time.perf_counter()
        docs = self.parser.parse(texts)
        if self.on_inference is not None:
            self.on_inference("embedding", embedded - started)
            self.on_inference("spacy", time.perf_counter() - embedded)
        analyzed = []
        for item, vector, doc in zip(received, vectors, docs, strict=True):
            article = item.article
            enrichment = enrich(article, doc, self.parser.version)
            lexical = fingerprint(article.title, article.body)
            analyzed.append(
                AnalyzedArticle(
                    article=article,
                    received_at=item.received_at,
                    embedding_i8=quantize(vector),
                    signature=encode_signature(lexical.signature),
                    shingles=lexical.shingles,
                    terms=lexical.terms,
                    entities=tuple(enrichment.entities),
                    events=tuple(enrichment.events),
                    model_versions=self.model_versions,
                )
            )
        return analyzed
