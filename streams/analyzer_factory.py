"""The Analyzer as a worker runs it, built from the settings: one place, so that ``newsstream worker`` and the
throughput benchmark's compute floor always measure the same models and backends."""

from __future__ import annotations

from collections.abc import Callable

from streams.analyze import Analyzer
from streams.settings import Settings


def build_analyzer(settings: Settings, on_inference: Callable[[str, float], None] | None = None) -> Analyzer:
    """Load both models (seconds: imports and weights) and wrap them in the worker's Analyzer."""
    from threadpoolctl import threadpool_limits

    from streams.embedding import load_embedder
    from streams.nlp import SpacyAnalyzer

    # One BLAS thread for the process (spaCy's matrix products): the parse runs beside the embedding, which keeps the
    # other core busy, so more threads would only contend for the cores.
    threadpool_limits(limits=1, user_api="blas")
    return Analyzer(load_embedder(settings), SpacyAnalyzer(), on_inference=on_inference)
