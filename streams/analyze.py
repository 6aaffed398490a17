"""The parallel model stage: embeddings and spaCy analysis of a batch of articles. Plain Python, no Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from spacy.tokens import Doc

from models import AnalyzedArticle, RawArticle
from streams.dedup import quantize
from streams.fingerprint import encode_hashes, fingerprint
from streams.nlp import article_text, enrich

T = TypeVar("T")


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
    stage: str  # the step that failed: embedding, spacy, rules or fingerprint
    detail: str


class StageError(Exception):
    """An error raised inside one step of the analysis, with the step's name."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.stage = stage


def _in_stage(stage: str, step: Callable[..., T], *args: Any) -> T:
    try:
        return step(*args)
    except Exception as exc:  # named here so the dead letter says which model or rule failed
        raise StageError(stage, exc) from exc


def _timed(stage: str, step: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = _in_stage(stage, step, *args)
    return result, time.perf_counter() - started


class Analyzer:
    """Runs both models over a batch. A batch that fails is retried article by article, so one poisonous article
    becomes one ``ModelFailure`` and the others still pass."""

    def __init__(
        self, embedder: EmbedsTexts, parser: ParsesTexts, on_inference: Callable[[str, float], None] | None = None
    ) -> None:
        self.embedder = embedder
        self.parser = parser
        self.on_inference = on_inference
        self._embedding_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedding")
        self.model_versions = {"embedding": embedder.version, "spacy": parser.version}

    def analyze(self, articles: Sequence[ReceivedArticle]) -> list[AnalyzedArticle | ModelFailure]:
        try:
            return list(self._analyze_batch(articles))
        except Exception as exc:  # any model error is data about an article, never a worker crash
            if len(articles) == 1:
                stage = exc.stage if isinstance(exc, StageError) else "analyze"
                detail = str(exc) if isinstance(exc, StageError) else f"{type(exc).__name__}: {exc}"
                return [ModelFailure(articles[0].article, stage, detail)]
        results: list[AnalyzedArticle | ModelFailure] = []
        for item in articles:
            results.extend(self.analyze([item]))
        return results

    def _analyze_batch(self, received: Sequence[ReceivedArticle]) -> list[AnalyzedArticle]:
        texts = [article_text(item.article.title, item.article.body) for item in received]
        # The embedding runs in a second thread while spaCy parses in this one: both leave the GIL for most of their
        # work, so one worker keeps two cores busy (26% and 49% more articles/s than one after the other, two runs of
        # streams.benchmarks.models on 2 cores).
        embedding = self._embedding_thread.submit(_timed, "embedding", self.embedder.embed, texts)
        docs, parse_seconds = _timed("spacy", self.parser.parse, texts)
        # The rules and fingerprints too, before waiting for the embedding: on full-length articles it takes longer
        # than the parse, and this thread would otherwise idle meanwhile.
        enrichments = [
            _in_stage("rules", enrich, item.article, doc, self.parser.version)
            for item, doc in zip(received, docs, strict=True)
        ]
        lexicals = [_in_stage("fingerprint", fingerprint, item.article.title, item.article.body) for item in received]
        vectors, embed_seconds = embedding.result()
        if self.on_inference is not None:
            self.on_inference("embedding", embed_seconds)
            self.on_inference("spacy", parse_seconds)
        analyzed = []
        for item, vector, enrichment, lexical in zip(received, vectors, enrichments, lexicals, strict=True):
            article = item.article
            analyzed.append(
                AnalyzedArticle(
                    article=article,
                    received_at=item.received_at,
                    embedding_i8=quantize(vector),
                    signature=encode_hashes(lexical.signature),
                    shingles=lexical.shingles,
                    terms=lexical.terms,
                    entities=tuple(enrichment.entities),
                    events=tuple(enrichment.events),
                    model_versions=self.model_versions,
                    opening=encode_hashes(lexical.opening),
                )
            )
        return analyzed
