"""Dedup index at scale: decision latency and memory per stored article at 100k and 1M articles.

    python -m streams.benchmarks.dedup_index [--sizes 100000 1000000]

Vectors are synthetic but shaped like news: articles scattered around 2,000 topic centres, unit length, 384
dimensions; each article has a random MinHash signature and a few specific terms. Then 1,000 stories of four articles
are planted among them (members at cosine 0.63-0.8 to each other, barely closer than the topic's crowd at about 0.64,
and sharing their specific terms); a fifth article of each story probes the index. Reported: how many of the story's
members the nearest-neighbour search returns, and how many probes join their story (as configured, and with the
nearest neighbours alone); decision latency over 2,000 noisy copies of stored articles.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from models import DedupTier, DedupVerdict
from streams.dedup import Candidate, DedupIndex, StoredArticle, quantize
from streams.fingerprint import PERMUTATIONS, Fingerprint, encode_signature

UNIQUE = DedupVerdict(tier=DedupTier.UNIQUE, score=0.0, evidence="benchmark")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def news_like_vectors(count: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chunks of unit vectors: topics, stories around topics, articles around stories."""
    topics = rng.normal(size=(2_000, 384)).astype(np.float32)
    for start in range(0, count, 50_000):
        size = min(50_000, count - start)
        stories = topics[rng.integers(0, len(topics), size)] + rng.normal(scale=0.8, size=(size, 384)).astype(np.float32)
        vectors = stories + rng.normal(scale=0.5, size=(size, 384)).astype(np.float32)
        yield unit_rows(vectors)


def stored_articles(count: int, rng: np.random.Generator) -> Iterator[tuple[StoredArticle, np.ndarray]]:
    number = 0
    for chunk in news_like_vectors(count, rng):
        signatures = rng.integers(0, 65536, size=(len(chunk), PERMUTATIONS), dtype=np.uint16)
        terms = rng.integers(0, 2**32, size=(len(chunk), 8), dtype=np.uint64)
        for vector, signature, term_row in zip(chunk, signatures, terms, strict=True):
            article_id = f"article-{number:08d}"
            yield StoredArticle.model_construct(
                id=article_id, story_id=article_id, url_key=f"example.org/{number}", text_key=f"{number:032x}",
                embedding_i8=quantize(vector), signature=encode_signature(signature), shingles=300,
                terms=tuple((int(t), 1) for t in term_row), event_time=float(number), verdict=UNIQUE,
            ), vector
            number += 1


STORIES = 1_000
STORY_MEMBERS = 4


def planted_stories(
    near: np.ndarray, first_number: int, rng: np.random.Generator
) -> tuple[list[StoredArticle], list[tuple[str, Candidate]]]:
    """Stories of ``STORY_MEMBERS`` stored articles each, around articles of ``near`` (so in a crowded topic), and a
    further member of each as a probe, with its story's id; members share their story's specific terms."""
    centres = unit_rows(near[rng.integers(0, len(near), STORIES)] + rng.normal(scale=0.045, size=(STORIES, 384)))
    members = unit_rows(centres[:, None, :] + rng.normal(scale=0.033, size=(STORIES, STORY_MEMBERS + 1, 384)))
    stored, probes = [], []
    for story, vectors in enumerate(members):
        terms = tuple((int(t), 1) for t in rng.integers(0, 2**32, size=8, dtype=np.uint64))
        story_id = f"story-{story:05d}-0"
        for member, vector in enumerate(vectors):
            article_id = f"story-{story:05d}-{member}"
            signature = rng.integers(0, 65536, size=PERMUTATIONS, dtype=np.uint16)
            if member < STORY_MEMBERS:
                stored.append(StoredArticle.model_construct(
                    id=article_id, story_id=story_id, url_key=None, text_key=article_id, embedding_i8=quantize(vector),
                    signature=encode_signature(signature), shingles=300, terms=terms,
                    event_time=float(first_number + story), verdict=UNIQUE,
                ))
            else:
                fingerprint = Fingerprint(signature, 300, terms)
                probe = Candidate(article_id, None, article_id, quantize(vector), fingerprint, float(first_number + story))
                probes.append((story_id, probe))
    return stored, probes


def story_recall(index: DedupIndex, probes: list[tuple[str, Candidate]]) -> tuple[float, float, float]:
    """The share of the stories' stored members among each probe's nearest neighbours, and of the probes that join
    their story: as configured, and with the nearest neighbours alone (no candidates by shared terms)."""
    configured = index.config
    ann_alone = replace(configured, term_neighbours=0)
    found, joined, joined_ann_alone = [], [], []
    for story_id, probe in probes:
        neighbours = index.ann.search(probe.vector, configured.neighbours)
        found.append(sum(index.entries[key].story_id == story_id for key in neighbours.keys.tolist()) / STORY_MEMBERS)
        joined.append(index.decide(probe)[1] == story_id)
        index.config = ann_alone
        joined_ann_alone.append(index.decide(probe)[1] == story_id)
        index.config = configured
    return float(np.mean(found)), float(np.mean(joined)), float(np.mean(joined_ann_alone))


def measure(size: int, probes: int = 2_000) -> dict[str, float]:
    rng = np.random.default_rng(size)
    gc.collect()
    before = resident_bytes()
    index = DedupIndex()
    sample: list[np.ndarray] = []
    near: list[np.ndarray] = []
    started = time.perf_counter()
    batch: list[StoredArticle] = []
    for stored, vector in stored_articles(size, rng):
        batch.append(stored)
        if len(sample) < probes and rng.random() < probes * 2 / size:
            sample.append(vector)
        if len(near) < 10_000 and rng.random() < 20_000 / size:
            near.append(vector)
        if len(batch) == 20_000:
            index.add_many(batch)
            batch = []
    stories, story_probes = planted_stories(np.stack(near), size, rng)
    index.add_many(batch + stories)
    build_seconds = time.perf_counter() - started
    del batch
    gc.collect()
    resident = resident_bytes() - before

    latencies = []
    for number, vector in enumerate(sample[:probes]):
        noisy = vector + rng.normal(scale=0.02, size=384).astype(np.float32)
        noisy /= np.linalg.norm(noisy)
        fingerprint = Fingerprint(rng.integers(0, 65536, PERMUTATIONS, dtype=np.uint16), 300, ((number, 1),))
        candidate = Candidate(f"probe-{number}", None, f"probe-{number}", quantize(noisy), fingerprint, float(size))
        started = time.perf_counter()
        index.decide(candidate)
        latencies.append(time.perf_counter() - started)
    members_found, joined, joined_ann_alone = story_recall(index, story_probes)
    return {
        "articles": size,
        "story_members_found": members_found,
        "story_probes_joined": joined,
        "story_probes_joined_ann_alone": joined_ann_alone,
        "build_seconds": build_seconds,
        "decide_ms_p50": float(np.percentile(latencies, 50) * 1000),
        "decide_ms_p99": float(np.percentile(latencies, 99) * 1000),
        "ann_bytes_per_article": index.ann.serialized_length / len(index),
        "ann_resident_bytes_per_article": index.ann.memory_usage / len(index),
        "process_bytes_per_article": resident / len(index),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    arguments = parser.parse_args()
    print(f"{'articles':>10} {'build s':>8} {'decide p50 ms':>14} {'decide p99 ms':>14} {'ANN B/art':>10} "
          f"{'ANN RSS B/art':>14} {'process B/art':>14} {'members found':>14} {'probes joined':>14} "
          f"{'joined, ANN alone':>18}")
    for size in arguments.sizes:
        row = measure(size)
        print(f"{row['articles']:>10,} {row['build_seconds']:>8.1f} {row['decide_ms_p50']:>14.3f} {row['decide_ms_p99']:>14.3f} "
              f"{row['ann_bytes_per_article']:>10.0f} {row['ann_resident_bytes_per_article']:>14.0f} "
              f"{row['process_bytes_per_article']:>14.0f} {row['story_members_found']:>14.3f} "
              f"{row['story_probes_joined']:>14.3f} {row['story_probes_joined_ann_alone']:>18.3f}", flush=True)


if __name__ == "__main__":
    main()
