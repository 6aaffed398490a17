"""Small real components to inject where a test is about the plumbing, not the models."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import spacy
from spacy.tokens import Doc


class WordHashEmbedder:
    """Bag of hashed words: texts sharing words get a high cosine."""

    version = "word-hash-test"

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


class BlankParser:
    """A blank English pipeline with a sentencizer: no entities, no events, real Docs. Fails on a marker word."""

    version = "blank-en-test"

    def __init__(self, fail_on: str | None = None) -> None:
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")
        self.fail_on = fail_on

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        if self.fail_on and any(self.fail_on in text for text in texts):
            raise RuntimeError("model stage failed")
        return list(self.nlp.pipe(texts))
