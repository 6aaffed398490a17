"""The Analyzer as a worker runs it, built from the settings: one place, so that ``newsstream worker`` and the
throughput benchmark's compute floor always measure the same models and backends."""

from __future__ import annotations

from collections.abc import Callable

from streams.analyze import Analyzer
from streams.settings import Settings


def build_analyzer(settings: Settings, on_inference: Callable[[str, float], None] | None = None) -> Analyzer:
    """Load both models (seconds: imports and weights) and wrap them in the worker's Analyzer."""
    from streams.embedding import load_embedder
    from streams.nlp import SpacyAnalyzer

    return Analyzer(load_embedder(settings), SpacyAnalyzer(), on_inference=on_inference)
