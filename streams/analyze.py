"""The parallel model stage: embeddings and spaCy analysis of a batch of articles. Plain Python, no Kafka."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from spacy.tokens import Doc

from models import AnalyzedArticle, RawArticle
from streams.nlp import article_text, enrich


class EmbedsTexts(Protocol):
    version: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class ParsesTexts(Protocol):
    version: str

    def parse(self, texts: Sequence[str]) -> list[Doc]: ...


def encode_vector(vector: npt.NDArray[np.float32]) -> str:
    return base64.b64encode(vector.astype(np.float16).tobytes()).decode()


def decode_vector(encoded: str) -> npt.NDArray[np.float32]:
    return np.frombuffer(base64.b64decode(encoded), dtype=np.float16).astype(np.float32)


@dataclass(frozen=True)
class ModelFailure:
    article: RawArticle
    stage: str
    detail: str


class Analyzer:
    """Runs both models over a batch. A batch that fails is retried article by article, so one poisonous article
    becomes one ``ModelFailure`` and the others still pass."""

    def __init__(self, embedder: EmbedsTexts, parser: ParsesTexts) -> None:
        self.embedder = embedder
        self.parser = parser
        self.model_versions = {"embedding": embedder.version, "spacy": parser.version}

    def analyze(self, articles: Sequence[RawArticle]) -> list[AnalyzedArticle | ModelFailure]:
        try:
            return list(self._analyze_batch(articles))
        except Exception as exc:  # any model error is data about an article, never a worker crash
            if len(articles) == 1:
                return [ModelFailure(articles[0], "analyze", f"{type(exc).__name__}: {exc}")]
        results: list[AnalyzedArticle | ModelFailure] = []
        for article in articles:
            results.extend(self.analyze([article]))
        return results

    def _analyze_batch(self, articles: Sequence[RawArticle]) -> list[AnalyzedArticle]:
        texts = [article_text(article.title, article.body) for article in articles]
        vectors = self.embedder.embed(texts)
        docs = self.parser.parse(texts)
        analyzed = []
        for article, vector, doc in zip(articles, vectors, docs, strict=True):
            enrichment = enrich(article, doc, self.parser.version)
            analyzed.append(
                AnalyzedArticle(
                    article=article,
                    embedding_b64=encode_vector(vector),
                    entities=tuple(enrichment.entities),
                    events=tuple(enrichment.events),
                    model_versions=self.model_versions,
                )
            )
        return analyzed
