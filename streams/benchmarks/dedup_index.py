"""Dedup index at scale: decision and lookup latency, recall and memory per stored article at 100k and 1M articles.

    python -m streams.benchmarks.dedup_index [--sizes 100000 1000000]

Articles are synthetic but shaped like news:
- vectors scattered around 2,000 topic centres (unit length, 384 dimensions);
- 32 specific terms each (``fingerprint.MAX_TERMS``; BBC News articles carry 30.6 on average), drawn from one
  vocabulary so that, as in real news, most terms are shared and a few are rare (``TermVocabulary``);
- a random MinHash signature and a random opening (the shingle hashes of the first 200 words), as kept per article.
Among them, 1,000 stories of four articles are planted (members at cosine 0.63-0.8 to each other, barely closer than
the topic's crowd at about 0.64, and sharing eight rare terms of their story).

Three kinds of new article then meet the index, 1,000 of each, in three timed rounds (the median round's p50 and
p99 are reported, of the whole decision and of its HNSW lookup alone):
- edited copies of stored articles (vector at cosine about 0.93, 80% of the MinHash kept, the same terms and lead): caught as
  near-duplicates of their original?
- a fifth member of each planted story: does it join its story (as configured, and with the HNSW neighbours alone)?
- fresh articles of the same topics: none may be judged a copy.
And 1,000 more fresh articles are decided, inserted and each evicts one, as once a worker's window is full ("full
window": the decide agent's whole work on the index for an article).

Memory per stored article, as the decide worker holds it: the table's records (JSON bytes in Faust's in-memory table,
their objects' sizes) and the index that a restart restores from them (the process's growth during the restore, which
is timed); and of that index, the HNSW graph serialised, as usearch counts it, and resident (what dropping it gives
back).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models import DedupTier, DedupVerdict
from streams.dedup import Candidate, DedupConfig, DedupIndex, GraphSnapshot, StoredArticle, quantize
from streams.dedup_state import GraphSnapshotFile, restore_index
from streams.fingerprint import (
    MAX_TERMS,
    OPENING_WORDS,
    PERMUTATIONS,
    SHINGLE_WORDS,
    Fingerprint,
    decode_hashes,
    encode_hashes,
)

UNIQUE = DedupVerdict(tier=DedupTier.UNIQUE, score=0.0, evidence="benchmark")
COPIES = 1_000
FRESH = 1_000
STORIES = 1_000
STORY_MEMBERS = 4
STORY_TERMS = 8
TOPICS = 2_000
ROUNDS = 3


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def resident_freed(release: Callable[[], object]) -> int:
    """How much resident memory ``release`` gives back: what a structure really holds, which the allocator's own count
    (usearch's ``memory_usage`` includes slots reserved ahead of need) may overstate."""
    gc.collect()
    before = resident_bytes()
    release()
    gc.collect()
    return before - resident_bytes()


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


class TermVocabulary:
    """Specific terms drawn by a Zipf-Mandelbrot law, p(rank) ~ 1 / (rank + 60) ** 1.4, fitted to BBC News: over as
    many simulated articles as the corpus has (2,225), the share of term occurrences whose term is in at most 1, 10,
    50 and 200 articles comes out at 0.14, 0.32, 0.52 and 0.78 (BBC News: 0.11, 0.36, 0.59 and 0.84)."""

    def __init__(self, size: int = 4_000_000, exponent: float = 1.4, offset: float = 60.0) -> None:
        self.size = size
        cumulative = np.cumsum(1.0 / (np.arange(size) + offset) ** exponent)
        self.cumulative = cumulative / cumulative[-1]

    def draw(self, rng: np.random.Generator, rows: int, count: int = MAX_TERMS) -> list[tuple[tuple[int, int], ...]]:
        """``rows`` articles' terms: ``count`` distinct terms each, as (term, 1) pairs."""
        draws = np.searchsorted(self.cumulative, rng.random((rows, 3 * count)))
        return [tuple((term, 1) for term in list(dict.fromkeys(row))[:count]) for row in draws.tolist()]


@dataclass(frozen=True)
class Probe:
    kind: str  # copy, story or fresh
    candidate: Candidate
    expected: str | None  # the original a copy must point to, the story a member must join

    def judged_right(self, verdict: DedupVerdict, story: str | None) -> bool:
        """A copy as a near-duplicate of its own original, a story member in its story, a fresh article not a copy."""
        if self.kind == "copy":
            return verdict.tier is DedupTier.NEAR_DUPLICATE and verdict.duplicate_of == self.expected
        if self.kind == "story":
            return story == self.expected
        return verdict.tier not in (DedupTier.EXACT, DedupTier.NEAR_DUPLICATE)


def news_like_vectors(count: int, topics: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chunks of unit vectors: stories around topics, articles around stories."""
    for start in range(0, count, 50_000):
        size = min(50_000, count - start)
        stories = topics[rng.integers(0, len(topics), size)] + rng.normal(scale=0.8, size=(size, 384)).astype(np.float32)
        vectors = stories + rng.normal(scale=0.5, size=(size, 384)).astype(np.float32)
        yield unit_rows(vectors)


def random_openings(count: int, rng: np.random.Generator) -> np.ndarray:
    """Openings of full-length articles: a shingle hash for each of the first ``OPENING_WORDS`` words but the last two."""
    return rng.integers(0, 65536, size=(count, OPENING_WORDS - SHINGLE_WORDS + 1), dtype=np.uint16)


def stored_articles(
    count: int, topics: np.ndarray, vocabulary: TermVocabulary, rng: np.random.Generator
) -> Iterator[tuple[StoredArticle, np.ndarray]]:
    number = 0
    for chunk in news_like_vectors(count, topics, rng):
        signatures = rng.integers(0, 65536, size=(len(chunk), PERMUTATIONS), dtype=np.uint16)
        openings = random_openings(len(chunk), rng)
        terms = vocabulary.draw(rng, len(chunk))
        for vector, signature, opening, article_terms in zip(chunk, signatures, openings, terms, strict=True):
            article_id = f"article-{number:08d}"
            yield StoredArticle.model_construct(
                id=article_id, story_id=article_id, url_key=f"example.org/{number}", text_key=f"{number:032x}",
                embedding_i8=quantize(vector), signature=encode_hashes(signature), shingles=300,
                terms=article_terms, event_time=float(number), verdict=UNIQUE, opening=encode_hashes(opening),
            ), vector
            number += 1


def edited_copy(original: StoredArticle, vector: np.ndarray, number: int, rng: np.random.Generator) -> Probe:
    """An edit of ``original``: its vector moved to a cosine of about 0.93, a fifth of its MinHash values redrawn
    (as cuts and rewording change shingles), its terms kept."""
    moved = unit_rows(vector + rng.normal(scale=0.02, size=384).astype(np.float32))
    signature = decode_hashes(original.signature).copy()
    redrawn = rng.random(PERMUTATIONS) < 0.2
    signature[redrawn] = rng.integers(0, 65536, size=int(redrawn.sum()), dtype=np.uint16)
    copy_id = f"copy-{number}"
    candidate = Candidate(
        copy_id, None, copy_id, quantize(moved), Fingerprint(signature, 280, original.terms, decode_hashes(original.opening)),
        original.event_time + 1,
    )
    return Probe("copy", candidate, original.id)


def planted_stories(
    near: np.ndarray, first_number: int, vocabulary: TermVocabulary, rng: np.random.Generator
) -> tuple[list[StoredArticle], list[Probe]]:
    """Stories of ``STORY_MEMBERS`` stored articles each, around articles of ``near`` (so in a crowded topic), and a
    further member of each as a probe; members share their story's rare terms beside terms of their own."""
    centres = unit_rows(near[rng.integers(0, len(near), STORIES)] + rng.normal(scale=0.045, size=(STORIES, 384)))
    members = unit_rows(centres[:, None, :] + rng.normal(scale=0.033, size=(STORIES, STORY_MEMBERS + 1, 384)))
    own_terms = iter(vocabulary.draw(rng, STORIES * (STORY_MEMBERS + 1), MAX_TERMS - STORY_TERMS))
    stored, probes = [], []
    for story, vectors in enumerate(members):
        # Beyond the vocabulary: terms of this story alone (its people, places and figures).
        story_terms = tuple((vocabulary.size + story * STORY_TERMS + term, 1) for term in range(STORY_TERMS))
        story_id = f"story-{story:05d}-0"
        for member, vector in enumerate(vectors):
            article_id = f"story-{story:05d}-{member}"
            signature = rng.integers(0, 65536, size=PERMUTATIONS, dtype=np.uint16)
            opening = random_openings(1, rng)[0]
            terms = story_terms + next(own_terms)
            if member < STORY_MEMBERS:
                stored.append(StoredArticle.model_construct(
                    id=article_id, story_id=story_id, url_key=None, text_key=article_id, embedding_i8=quantize(vector),
                    signature=encode_hashes(signature), shingles=300, terms=terms,
                    event_time=float(first_number + story), verdict=UNIQUE, opening=encode_hashes(opening),
                ))
            else:
                fingerprint = Fingerprint(signature, 300, terms, opening)
                candidate = Candidate(article_id, None, article_id, quantize(vector), fingerprint, float(first_number + story))
                probes.append(Probe("story", candidate, story_id))
    return stored, probes


def fresh_articles(topics: np.ndarray, vocabulary: TermVocabulary, first_number: int, rng: np.random.Generator) -> list[Probe]:
    vectors = next(news_like_vectors(FRESH, topics, rng))
    terms = vocabulary.draw(rng, FRESH)
    probes = []
    for number, (vector, article_terms) in enumerate(zip(vectors, terms, strict=True)):
        fingerprint = Fingerprint(
            rng.integers(0, 65536, PERMUTATIONS, dtype=np.uint16), 300, article_terms, random_openings(1, rng)[0]
        )
        article_id = f"fresh-{number}"
        candidate = Candidate(article_id, None, article_id, quantize(vector), fingerprint, float(first_number + number))
        probes.append(Probe("fresh", candidate, None))
    return probes


def measure(size: int) -> dict[str, float]:
    rng = np.random.default_rng(size)
    vocabulary = TermVocabulary()
    topics = rng.normal(size=(TOPICS, 384)).astype(np.float32)
    # The decide worker keeps each article twice: its table record (JSON bytes, in Faust's in-memory table and on every
    # standby) and its index entry, which a restart rebuilds from those records. So the table comes first, and the
    # index is restored from it as the worker does.
    gc.collect()
    before = resident_bytes()
    table: dict[str, bytes] = {}
    originals: list[tuple[StoredArticle, np.ndarray]] = []
    near: list[np.ndarray] = []
    for stored, vector in stored_articles(size, topics, vocabulary, rng):
        table[stored.id] = stored.model_dump_json().encode()
        if len(originals) < COPIES and rng.random() < COPIES * 2 / size:
            originals.append((stored, vector))
        if len(near) < 10_000 and rng.random() < 20_000 / size:
            near.append(vector)
    stories, story_probes = planted_stories(np.stack(near), size, vocabulary, rng)
    for stored in stories:
        table[stored.id] = stored.model_dump_json().encode()
    gc.collect()
    table_resident = resident_bytes() - before
    # What the records themselves hold: the resident growth above also keeps what the allocator did not give back of
    # the generator's large temporary arrays.
    table_bytes = sys.getsizeof(table) + sum(sys.getsizeof(key) + sys.getsizeof(value) for key, value in table.items())
    records = list(table.values())
    snapshots: list[GraphSnapshot] = []  # the last graph at an epoch's end, as a worker writes it to its data directory

    def keep_last(snapshot: GraphSnapshot) -> None:
        snapshots[:] = [snapshot]

    started = time.perf_counter()
    index = DedupIndex(on_epoch=keep_last)
    restore_index(index, records)
    restore_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as directory:
        file = GraphSnapshotFile(Path(directory) / "graph")
        file.write(snapshots.pop())  # and dropped, as the worker's writer thread does
        gc.collect()
        resident = resident_bytes() - before - table_resident
        # A restart on the same machine: the last snapshot and the articles beyond it (the planted stories here).
        started = time.perf_counter()
        # A window as long as the stored articles' span: each new article then pushes one out, as in a worker whose
        # window is full (the steady state after its first week).
        from_snapshot = DedupIndex(DedupConfig(window_s=float(size)))
        if restore_index(from_snapshot, records, file) != "snapshot":
            raise RuntimeError("the benchmark's own graph snapshot did not fit its table")
        snapshot_restore_seconds = time.perf_counter() - started
    full_window_p50, full_window_p99 = full_window_decisions(from_snapshot, topics, vocabulary, size)
    del from_snapshot

    copies = [edited_copy(original, vector, number, rng) for number, (original, vector) in enumerate(originals)]
    probes = copies + story_probes + fresh_articles(topics, vocabulary, size + STORIES, rng)
    rng.shuffle(probes)  # type: ignore[arg-type]
    outcomes: dict[str, list[bool]] = {"copy": [], "story": [], "fresh": []}
    # (p50, p99) of each round, of the decision and of its HNSW lookup alone: deciding changes nothing, and the median
    # round damps this machine's noise. The lookups are timed in a pass of their own: right after the decision's own
    # search of the same vector, the nodes it visits would still be in the CPU's caches.
    rounds, lookup_rounds = [], []
    for _ in range(ROUNDS):
        latencies, lookups = [], []
        for probe in probes:
            started = time.perf_counter()
            verdict, story = index.decide(probe.candidate)
            latencies.append(time.perf_counter() - started)
            if len(rounds) == 0:
                outcomes[probe.kind].append(probe.judged_right(verdict, story))
        for probe in probes:
            started = time.perf_counter()
            index.ann.search(probe.candidate.vector, index.config.neighbours)
            lookups.append(time.perf_counter() - started)
        rounds.append(np.percentile(latencies, [50, 99]) * 1000)
        lookup_rounds.append(np.percentile(lookups, [50, 99]) * 1000)
    p50, p99 = np.median(rounds, axis=0)
    lookup_p50, lookup_p99 = np.median(lookup_rounds, axis=0)
    members_found, joined_ann_alone = story_recall_ann_alone(index, story_probes)
    serialised, counted_by_usearch = index.ann.serialized_length, index.ann.memory_usage
    ann_resident = resident_freed(index.ann.reset)
    return {
        "articles": size,
        "restore_seconds": restore_seconds,
        "snapshot_restore_seconds": snapshot_restore_seconds,
        "decide_ms_p50": float(p50),
        "decide_ms_p99": float(p99),
        "full_window_ms_p50": full_window_p50,
        "full_window_ms_p99": full_window_p99,
        "lookup_ms_p50": float(lookup_p50),
        "lookup_ms_p99": float(lookup_p99),
        "copies_caught": float(np.mean(outcomes["copy"])),
        "story_probes_joined": float(np.mean(outcomes["story"])),
        "story_probes_joined_ann_alone": joined_ann_alone,
        "story_members_found": members_found,
        "fresh_judged_copies": 1.0 - float(np.mean(outcomes["fresh"])),
        "ann_bytes_per_article": serialised / len(index),
        "ann_usearch_bytes_per_article": counted_by_usearch / len(index),
        "ann_resident_bytes_per_article": ann_resident / len(index),
        "index_bytes_per_article": resident / len(index),
        "table_bytes_per_article": table_bytes / len(table),
    }


def full_window_decisions(index: DedupIndex, topics: np.ndarray, vocabulary: TermVocabulary, size: int) -> tuple[float, float]:
    """p50 and p99 (ms) of what the decide agent does for each new article once its window is full: the decision,
    the article's insertion and the eviction of the article it pushes out. Fresh articles of their own random stream,
    so the other measurements see the same articles as before; the first decision evicts the planted stories' span at
    once and is left out."""
    probes = fresh_articles(topics, vocabulary, size + STORIES, np.random.default_rng(size + 1))
    latencies = []
    for probe in probes:
        started = time.perf_counter()
        index.judge(probe.candidate)
        index.evict_expired()
        latencies.append(time.perf_counter() - started)
    p50, p99 = np.percentile(latencies[1:], [50, 99]) * 1000
    return float(p50), float(p99)


def story_recall_ann_alone(index: DedupIndex, probes: list[Probe]) -> tuple[float, float]:
    """The share of the stories' stored members among each probe's nearest neighbours, and of the probes that join
    their story with the nearest neighbours alone (no candidates by shared terms)."""
    configured = index.config
    found, joined = [], []
    index.config = replace(configured, term_neighbours=0)
    for probe in probes:
        neighbours = index.ann.search(probe.candidate.vector, configured.neighbours)
        found.append(sum(index.entries[key].story_id == probe.expected for key in neighbours.keys.tolist()) / STORY_MEMBERS)
        joined.append(index.decide(probe.candidate)[1] == probe.expected)
    index.config = configured
    return float(np.mean(found)), float(np.mean(joined))


COLUMNS = (
    ("articles", "articles", ",.0f"),
    ("restore s", "restore_seconds", ".1f"),
    ("from snapshot s", "snapshot_restore_seconds", ".1f"),
    ("decide p50 ms", "decide_ms_p50", ".3f"),
    ("decide p99 ms", "decide_ms_p99", ".3f"),
    ("full window p50 ms", "full_window_ms_p50", ".3f"),
    ("full window p99 ms", "full_window_ms_p99", ".3f"),
    ("lookup p50 ms", "lookup_ms_p50", ".3f"),
    ("lookup p99 ms", "lookup_ms_p99", ".3f"),
    ("copies caught", "copies_caught", ".3f"),
    ("fresh judged copies", "fresh_judged_copies", ".3f"),
    ("story members found", "story_members_found", ".3f"),
    ("probes joined", "story_probes_joined", ".3f"),
    ("joined, ANN alone", "story_probes_joined_ann_alone", ".3f"),
    ("ANN B/art", "ann_bytes_per_article", ".0f"),
    ("ANN usearch B/art", "ann_usearch_bytes_per_article", ".0f"),
    ("ANN RSS B/art", "ann_resident_bytes_per_article", ".0f"),
    ("index B/art", "index_bytes_per_article", ".0f"),
    ("table B/art", "table_bytes_per_article", ".0f"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    arguments = parser.parse_args()
    print(" ".join(f"{title:>{max(len(title), 10)}}" for title, _, _ in COLUMNS), flush=True)
    for size in arguments.sizes:
        row = measure(size)
        print(" ".join(f"{row[key]:>{max(len(title), 10)}{spec}}" for title, key, spec in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
