"""Model speed on this machine, every variant in one run on the same texts (figures are only comparable within a run).

    python -m streams.benchmarks.models [--texts 200] [--batch 16]

Reads BBC News articles (title and body) from the shared datasets at run time (exits 0 with a message without them).
1. embedding backends: texts/s and cosine to sentence-transformers torch fp32 (mean, min), load time;
2. spaCy pipelines: all components against the ones the rules read, texts/s and whether entities and events agree;
3. both models over batches as the analyze agent runs them: (a) embed then parse, (b) embedding in a second thread
   while spaCy parses, (c) spaCy's own 2 processes over all texts at once (an upper bound: a pool spawned per batch
   would cost more than it saves), (d) 2 worker-like processes, each embedding and parsing its half.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import get_args

import numpy as np
import orjson

from models import RawArticle
from streams.embedding import Embedder, OnnxBackend, OnnxEmbedder
from streams.evaluation.common import require
from streams.nlp import SpacyAnalyzer, article_text, enrich, recase
from streams.onnx_export import ensure_onnx_model
from streams.settings import Settings

BBC_FILE = "bbc_news_fulltext/bbc_news.jsonl"


def read_articles(count: int) -> list[RawArticle]:
    (path,) = require(BBC_FILE)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()[:count]]
    return [RawArticle(id=row["id"], source="BBC", title=row["title"], body=row["body"]) for row in rows]


def batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def rate(count: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def timed_load(load: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    loaded = load()
    return loaded, time.perf_counter() - started


def embedding_backends(settings: Settings, texts: list[str], size: int) -> OnnxEmbedder:
    reference, seconds = timed_load(lambda: Embedder(settings.embed_max_tokens, batch_size=size))
    assert isinstance(reference, Embedder)
    expected = reference.embed(texts)
    print(f"\n1. embeddings, {len(texts)} texts, window {settings.embed_max_tokens} tokens, batches of {size}")
    print(f"   torch fp32 (sentence-transformers): load {seconds:.1f} s, "
          f"{rate(len(texts), lambda: [reference.embed(b) for b in batches(texts, size)]):.1f} texts/s")
    fastest = None
    for backend in get_args(OnnxBackend):
        model_file = ensure_onnx_model(settings.model_cache, backend)
        for threads in (0, 1):
            embedder, seconds = timed_load(
                lambda: OnnxEmbedder(model_file, backend, settings.embed_max_tokens, threads=threads)
            )
            assert isinstance(embedder, OnnxEmbedder)
            cosines = np.sum(embedder.embed(texts) * expected, axis=1)
            speed = rate(len(texts), lambda: [embedder.embed(b) for b in batches(texts, size)])
            print(f"   {backend} threads={threads or 'all'}: load {seconds:.1f} s, {speed:.1f} texts/s, "
                  f"cosine to torch mean {cosines.mean():.4f} min {cosines.min():.4f}")
            if backend == "onnx-int8" and threads == 0:
                fastest = embedder
    assert fastest is not None
    return fastest


def spacy_pipelines(articles: list[RawArticle], texts: list[str], size: int) -> None:
    print(f"\n2. spaCy, {len(texts)} texts, batches of {size}")
    full, seconds = timed_load(lambda: SpacyAnalyzer(exclude=()))
    assert isinstance(full, SpacyAnalyzer)
    print(f"   all components {full.nlp.pipe_names}: load {seconds:.1f} s, "
          f"{rate(len(texts), lambda: [full.parse(b) for b in batches(texts, size)]):.1f} texts/s")
    expected = [enrich(a, d, full.version) for a, d in zip(articles, full.parse(texts), strict=True)]
    for exclude in (("lemmatizer",), ("tagger", "attribute_ruler", "lemmatizer")):
        reduced, seconds = timed_load(lambda: SpacyAnalyzer(exclude=exclude))
        assert isinstance(reduced, SpacyAnalyzer)
        speed = rate(len(texts), lambda: [reduced.parse(b) for b in batches(texts, size)])
        found = [enrich(a, d, full.version) for a, d in zip(articles, reduced.parse(texts), strict=True)]
        same_entities = sum(e.entities == f.entities for e, f in zip(expected, found, strict=True))
        same_events = sum(e.events == f.events for e, f in zip(expected, found, strict=True))
        print(f"   without {', '.join(exclude)}: load {seconds:.1f} s, {speed:.1f} texts/s, identical entities in "
              f"{same_entities}/{len(texts)} articles, events in {same_events}/{len(texts)}")


def _half(texts: list[str], size: int, max_tokens: int, model_file: str, ready: object, go: object) -> None:
    """One worker-like process: its own models, one ONNX thread, its share of the batches."""
    embedder = OnnxEmbedder(model_file, "onnx-int8", max_tokens, threads=1)
    parser = SpacyAnalyzer()
    ready.set()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    for batch in batches(texts, size):
        embedder.embed(batch)
        parser.parse(batch)


def combined(settings: Settings, embedder: OnnxEmbedder, parser: SpacyAnalyzer, texts: list[str], size: int) -> None:
    print(f"\n3. both models (onnx-int8 + the rules' spaCy components), {len(texts)} texts, batches of {size}")
    model_file = ensure_onnx_model(settings.model_cache, "onnx-int8")
    one_thread = OnnxEmbedder(model_file, "onnx-int8", settings.embed_max_tokens, threads=1)

    def sequential() -> None:
        for batch in batches(texts, size):
            embedder.embed(batch)
            parser.parse(batch)

    print(f"   (a) embed, then parse: {rate(len(texts), sequential):.1f} texts/s")
    for label, concurrent_embedder in (("all threads", embedder), ("1 thread", one_thread)):
        with ThreadPoolExecutor(max_workers=1) as pool:

            def overlapped() -> None:
                for batch in batches(texts, size):
                    vectors = pool.submit(concurrent_embedder.embed, batch)
                    parser.parse(batch)
                    vectors.result()

            print(f"   (b) embedding ({label}) in a thread while spaCy parses: {rate(len(texts), overlapped):.1f} texts/s")

    def spacy_processes() -> None:
        for batch in batches(texts, size):
            embedder.embed(batch)
        list(parser.nlp.pipe((recase(text) for text in texts), batch_size=size, n_process=2))

    print(f"   (c) embed, then spaCy n_process=2 over all texts: {rate(len(texts), spacy_processes):.1f} texts/s")
    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(2)]
    go = context.Event()
    halves = [texts[0::2], texts[1::2]]
    workers = [
        context.Process(target=_half, args=(half, size, settings.embed_max_tokens, model_file, flag, go))
        for half, flag in zip(halves, ready, strict=True)
    ]
    for worker in workers:
        worker.start()
    for flag in ready:
        flag.wait()

    def two_processes() -> None:
        go.set()
        for worker in workers:
            worker.join()

    print(f"   (d) 2 processes, each embedding (1 thread) and parsing its half: {rate(len(texts), two_processes):.1f} texts/s")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    arguments = parser.parse_args(argv)
    settings = Settings()
    articles = read_articles(arguments.texts)
    texts = [article_text(a.title, a.body) for a in articles]
    print(f"{len(texts)} BBC articles, {np.mean([len(t.split()) for t in texts]):.0f} words on average; "
          f"{os.cpu_count()} CPUs")
    embedder = embedding_backends(settings, texts, arguments.batch)
    spacy_pipelines(articles, texts, arguments.batch)
    combined(settings, embedder, SpacyAnalyzer(), texts, arguments.batch)


if __name__ == "__main__":
    main()
