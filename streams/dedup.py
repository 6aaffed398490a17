"""Deduplication decisions over an in-memory index that the decide agent rebuilds from its Kafka-backed table.

Tiers, checked in order:
1. exact: the same canonical URL, or the same normalised body text;
2. near_duplicate: an edited copy of a stored article. Its body shares most word 3-shingles with the stored one
   (MinHash containment), or its embedding is almost identical (a close paraphrase);
3. same_story: a different article on the same event. A logistic score over embedding cosine and the overlap of
   specific terms (names, places, numbers, IDF-weighted), averaged over the story's best matching members;
4. unique: a new story.
Candidates come from an approximate nearest-neighbour index (usearch HNSW, int8 vectors) and, because that search
misses close neighbours in a crowded window, from the articles sharing the candidate's rarest specific terms. Plain
Python, no Kafka.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from models import DedupTier, DedupVerdict
from streams.fingerprint import (
    Fingerprint,
    containment_from_jaccard,
    decode_hashes,
    encode_hashes,
    folded,
    hashes_bytes,
    jaccard,
    lead_overlap,
    stack_signatures,
    stack_terms,
)
from streams import hnsw_graph
from streams.term_index import TermIndex

TRACKING_PARAMETERS = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|cmpid|ocid|at_.*|_ga|igshid)$", re.I)
TEXT_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # runs of letters and digits: "_" separates as punctuation does
DIMENSIONS = 384
# HNSW links a node: 8 on the levels above the base, 12 on the base (usearch's default, twice 8, is 16). A base node of
# 12 links fits the allocator's 64-byte step, one of 16 takes two: 457 bytes an article resident instead of 513.
GRAPH_LINKS = 8
GRAPH_BASE_LINKS = 12
COPY_TIERS = frozenset({DedupTier.EXACT, DedupTier.NEAR_DUPLICATE})  # pointed at an original, never indexed
RESTORE_CHUNK = 8192  # articles a restore inserts into the ANN index at once
SNAPSHOT_CHECKS = 256  # articles whose vectors a restore from a graph snapshot compares with the table's
# Evicted articles removed from the HNSW graph at once. usearch 2.26 rehashes its whole key table at every insertion
# while any key removed since the last rehash is left (24 ms an insertion at 600,000 articles against 0.4): removed
# one by one, as articles leave a full window, every decision paid that.
REMOVAL_BATCH = 1024

Similarity = TypeVar("Similarity", float, npt.NDArray[np.float64])


def canonical_url(url: str | None) -> str | None:
    """Scheme, ``www.``, fragment, trailing slash and tracking parameters removed; remaining parameters sorted."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMETERS.match(k))
    path = parts.path.rstrip("/") or ""
    return f"{host}{':' + str(parts.port) if parts.port else ''}{path}{'?' + urlencode(query) if query else ''}"


def normalized_text_key(body: str) -> str:
    """Hash of the body with case, accents, punctuation and spacing ignored."""
    return hashlib.sha256(" ".join(TEXT_WORD.findall(folded(body))).encode()).hexdigest()[:32]


def quantize(vector: npt.NDArray[np.float32]) -> str:
    """Unit vector -> int8 (cosine error about 0.001) -> base64: 512 characters for 384 dimensions."""
    return base64.b64encode(np.clip(np.rint(vector * 127), -127, 127).astype(np.int8).tobytes()).decode()


def dequantize(encoded: str) -> npt.NDArray[np.float32]:
    vector = np.frombuffer(base64.b64decode(encoded), dtype=np.int8).astype(np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


class StoredArticle(BaseModel):
    """What the dedup table keeps per article: enough to rebuild the index and to replay a verdict identically.

    A copy is never indexed, so its record keeps only what a replay needs (ids, keys, time, verdict): about 0.3 KB
    instead of 2 KB, in the table's memory, on every standby and in the changelog. Records of copies written before
    2026-12-01 still carry the rest, unused."""

    model_config = ConfigDict(frozen=True)

    id: str
    story_id: str
    url_key: str | None
    text_key: str
    embedding_i8: str = ""
    signature: str = ""
    shingles: int = 0
    terms: tuple[tuple[int, int], ...] = ()
    event_time: float
    verdict: DedupVerdict
    opening: str = ""  # base64 of ``Fingerprint.opening``; empty in records written before openings were kept

    @property
    def is_copy(self) -> bool:
        return self.verdict.tier in COPY_TIERS


@dataclass(frozen=True)
class Candidate:
    """A new article as the decision sees it."""

    id: str
    url_key: str | None
    text_key: str
    embedding_i8: str
    fingerprint: Fingerprint
    event_time: float

    @cached_property
    def vector(self) -> npt.NDArray[np.float32]:
        return dequantize(self.embedding_i8)


@dataclass(frozen=True)
class DedupConfig:
    near_duplicate_containment: float = 0.6
    near_duplicate_min_size_ratio: float = 0.2
    near_duplicate_cosine: float = 0.97
    # A lexical copy must also share its lead: at least this share of one article's first 40 words' 3-shingles in the
    # other's first 200 words. Below it, a text that reuses an earlier one's paragraphs under a lead of its own
    # reports something new (talks held, then failed) and is judged as a story member instead.
    near_duplicate_lead: float = 0.5
    candidate_cosine: float = 0.35
    # Logistic same-story score: calibrated on ECB+ topics 1-22 (`make eval-dedup`).
    story_intercept: float = -7.0
    story_cosine_weight: float = 6.0
    story_terms_weight: float = 12.0
    story_threshold: float = 0.5
    story_members: int = 3
    neighbours: int = 20
    # Candidates besides the embedding's nearest neighbours: indexed articles sharing the candidate's rarest specific
    # terms (names, places, figures). In a window crowded with articles on one topic the HNSW search misses a story's
    # members (`make bench`); their shared names still find them. A term in more than ``term_postings_max`` indexed
    # articles is too common to pick candidates by, and is not used for that until it leaves the window.
    term_neighbours: int = 20
    # The carriers of the candidate's rarest terms whose embedding is compared to pick those ``term_neighbours``:
    # more than ``term_postings_max``, so that all carriers of the rarest term are compared.
    term_pool: int = 64
    term_postings_max: int = 50
    window_s: float = 7 * 24 * 3600.0
    max_ahead_s: float = 3600.0  # how far an article's date may be ahead of its Kafka timestamp (``decision.event_time``)
    # Threads of a multi-article insertion (a restore). One inserts in order as single decisions do, so the graph, and
    # every later search, is the same as before the restart; more build another graph (see Settings).
    restore_threads: int = 1
    # Articles indexed between two reloads of the HNSW graph from its serialised form (``GraphSnapshot``).
    graph_epoch: int = 50_000


@dataclass(frozen=True)
class GraphSnapshot:
    """The HNSW graph at the end of an epoch (every ``graph_epoch`` keys), serialised, and the article of each key
    in it. A restart loads it instead of inserting every article of the table again, the most of a restore's time,
    and inserts only the articles beyond it.

    The graph is reloaded from this very form at each epoch's end, live and in a rebuild alike. A reload starts
    usearch's random levels afresh, so a graph loaded from a snapshot and then given the same articles is the graph
    the live index built, byte for byte, and so is one rebuilt from the changelog without evictions: an article
    decided again after a crash meets the neighbours it met before, whichever way the index came back."""

    graph: bytes | bytearray | memoryview
    next_key: int  # keys below it were given out when the snapshot was taken; later articles get the next ones
    ids: dict[int, str]  # the graph's keys and their articles
    epoch: int  # ``graph_epoch`` of the index that took it: reloads at other points build another graph


@dataclass(slots=True)
class _Entry:
    """An indexed article, kept compact: the MinHash signature as bytes and the specific terms as one flat array of
    (slot, count) pairs of the ``TermIndex`` (about 600 bytes an article less than a numpy array and int tuples),
    unpacked for the neighbours a decision compares."""

    id: str
    story_id: str
    url_key: str | None
    text_key: str
    signature: bytes
    shingles: int
    terms: array[int]
    event_time: float
    opening: bytes


@dataclass(frozen=True)
class _CandidateTerms:
    slots: npt.NDArray[np.intp]  # of the candidate's terms that some article of the window carries, ascending
    weights: npt.NDArray[np.float64]  # of those terms, in the same order
    norm: float  # over all the candidate's terms


@dataclass
class DedupIndex:
    """Originals and same-story articles seen within the window. Copies are not indexed: they point to an original."""

    config: DedupConfig = field(default_factory=DedupConfig)
    # Called with the graph at each epoch's end (on the thread that inserts: the event loop or a restore's thread).
    on_epoch: Callable[[GraphSnapshot], None] | None = None

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.ann = hnsw_graph.new_graph(DIMENSIONS, "cos", "i8", GRAPH_LINKS, GRAPH_BASE_LINKS)
        self.entries: dict[int, _Entry] = {}
        self.key_of: dict[str, int] = {}
        self.by_url: dict[str, str] = {}
        self.by_text: dict[str, str] = {}
        self.story_of: dict[str, str] = {}
        self.terms = TermIndex(self.config.term_postings_max)
        self.expiry: list[tuple[float, str]] = []
        self.newest = 0.0
        self._next_key = 0
        self._evicted_keys: list[int] = []  # still in the HNSW graph, until REMOVAL_BATCH of them are removed at once

    def __len__(self) -> int:
        return len(self.entries)

    # -- the decision ---------------------------------------------------------------------------------------------

    def judge(self, candidate: Candidate) -> StoredArticle:
        """Decide on a new article and remember it: the record the dedup table keeps for it."""
        verdict, story_id = self.decide(candidate)
        mine = candidate.fingerprint
        # A copy is never indexed: its record keeps only what a replay needs (see StoredArticle).
        indexed = {} if verdict.tier in COPY_TIERS else {
            "embedding_i8": candidate.embedding_i8,
            "signature": encode_hashes(mine.signature),
            "shingles": mine.shingles,
            "terms": mine.terms,
            "opening": encode_hashes(mine.opening),
        }
        stored = StoredArticle(
            id=candidate.id,
            story_id=story_id or candidate.id,
            url_key=candidate.url_key,
            text_key=candidate.text_key,
            event_time=candidate.event_time,
            verdict=verdict,
            **indexed,
        )
        self.add(stored)
        return stored

    def decide(self, candidate: Candidate) -> tuple[DedupVerdict, str | None]:
        """The verdict for a new article, and the story it joins (None: it starts its own)."""
        for key, index, signal in ((candidate.url_key, self.by_url, "same canonical URL"), (candidate.text_key, self.by_text, "same normalised text")):
            if key is not None and key in index:
                original = index[key]
                return DedupVerdict(tier=DedupTier.EXACT, score=1.0, duplicate_of=original, evidence=signal), self.story_of[original]
        neighbours = self._neighbours(candidate.vector)
        neighbours += self._term_neighbours(candidate, {self.key_of[entry.id] for entry, _ in neighbours})
        if not neighbours:
            return DedupVerdict(tier=DedupTier.UNIQUE, score=0.0, evidence="no similar article in the window"), None
        copy = self._best_copy(candidate, neighbours)
        if copy is not None:
            return copy
        return self._story(candidate, neighbours)

    def _neighbours(self, vector: npt.NDArray[np.float32]) -> list[tuple[_Entry, float]]:
        if not self.entries:
            return []
        found = self.ann.search(vector, min(self.config.neighbours, len(self.entries)))
        pairs = [
            (entry, 1.0 - distance)
            for key, distance in zip(found.keys.tolist(), found.distances.tolist(), strict=True)
            if (entry := self.entries.get(key)) is not None  # not an evicted article still in the graph
        ]
        return [(entry, cosine) for entry, cosine in pairs if cosine >= self.config.candidate_cosine]

    def _term_neighbours(self, candidate: Candidate, found: set[int]) -> list[tuple[_Entry, float]]:
        """Up to ``term_neighbours`` indexed articles, other than those ``found`` (keys), among the ``term_pool``
        sharing the candidate's rarest terms: the nearest of them in embedding, with their cosine. (The nearest, not
        the newest: the rarest term of an edited copy may be carried by 50 articles, one of them its original.)"""
        terms = (term for term, _ in candidate.fingerprint.terms)
        keys = np.array(self.terms.sharing_rarest(terms, self.config.term_pool, exclude=found), dtype=np.uint64)
        if not len(keys):
            return []
        stored = np.stack(self.ann.get(keys)).astype(np.float32)
        cosines = (stored @ candidate.vector) / np.maximum(np.linalg.norm(stored, axis=1), 1e-9)
        nearest = np.argsort(-cosines, kind="stable")[: self.config.term_neighbours]
        pairs = zip((self.entries[key] for key in keys[nearest].tolist()), cosines[nearest].tolist(), strict=True)
        return [(entry, cosine) for entry, cosine in pairs if cosine >= self.config.candidate_cosine]

    def _best_copy(self, candidate: Candidate, neighbours: list[tuple[_Entry, float]]) -> tuple[DedupVerdict, str] | None:
        config = self.config
        mine = candidate.fingerprint
        # All neighbours at once: one comparison of stacked signatures instead of one per neighbour.
        signatures = stack_signatures(entry.signature for entry, _ in neighbours)
        shingles = np.array([entry.shingles for entry, _ in neighbours])
        similarity = jaccard(mine.signature, signatures)
        contained = containment_from_jaccard(similarity, mine.shingles, shingles)
        ratio = np.minimum(mine.shingles, shingles) / np.maximum(1, np.maximum(mine.shingles, shingles))
        cosines = np.array([cosine for _, cosine in neighbours])
        lexical_copy = (contained >= config.near_duplicate_containment) & (ratio >= config.near_duplicate_min_size_ratio)
        # Only for the few that share enough text: the lead test compares arrays of a few hundred hashes.
        leads = np.ones(len(neighbours))
        for position in np.flatnonzero(lexical_copy).tolist():
            leads[position] = lead_overlap(mine.opening, decode_hashes(neighbours[position][0].opening))
        copies = (lexical_copy & (leads >= config.near_duplicate_lead)) | (cosines >= config.near_duplicate_cosine)
        if not copies.any():
            return None
        best = int(np.argmax(np.where(copies, contained, -1.0)))  # the first of equals, in neighbour order
        entry, cosine = neighbours[best]
        verdict = DedupVerdict(
            tier=DedupTier.NEAR_DUPLICATE,
            score=round(max(float(contained[best]), cosine), 4),
            duplicate_of=entry.id,
            evidence=(
                f"shingle containment {contained[best]:.2f}, jaccard {similarity[best]:.2f}, embedding cosine {cosine:.3f}"
                + (f", lead {leads[best]:.2f}" if lexical_copy[best] else "")
            ),
        )
        return verdict, entry.story_id

    def term_similarity(self, mine: Fingerprint, theirs: Fingerprint) -> float:
        """Cosine of IDF-weighted specific terms, with document frequencies of the articles in the window."""
        mine_weights, their_weights = (
            dict(zip((term for term, _ in terms), self._term_weights(terms)[1].tolist(), strict=True))
            for terms in (mine.terms, theirs.terms)
        )
        norms = np.sqrt(sum(w * w for w in mine_weights.values()) * sum(w * w for w in their_weights.values()))
        dot = sum(weight * their_weights.get(term, 0.0) for term, weight in mine_weights.items())
        return float(dot / norms) if norms > 0 else 0.0

    def _weights(self, counts: npt.NDArray[np.generic], document_counts: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
        """A term's weight: (1 + ln of its count in the article) times its IDF over the window."""
        documents = len(self.entries) + 1
        idf = np.log((documents + 1) / (document_counts.astype(np.float64) + 1)) + 1.0
        return (1.0 + np.log(counts.astype(np.float64))) * idf

    def _term_weights(self, terms: Sequence[tuple[int, int]]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """The terms' slots (-1: in no article of the window) and weights."""
        slots, document_counts = self.terms.lookup([term for term, _ in terms])
        return slots, self._weights(np.array([count for _, count in terms]), document_counts)

    def _candidate_terms(self, terms: Sequence[tuple[int, int]]) -> _CandidateTerms:
        """The candidate's weighted terms, computed once and compared with each neighbour."""
        slots, weights = self._term_weights(terms)
        known = np.flatnonzero(slots >= 0)  # a term no article of the window carries adds to the norm only
        order = known[np.argsort(slots[known])]
        return _CandidateTerms(slots[order], weights[order], float(np.sqrt(np.dot(weights, weights))))

    def _term_cosines(self, mine: _CandidateTerms, packed: Sequence[array[int]]) -> npt.NDArray[np.float64]:
        """The candidate's term cosine with each of the neighbours' packed (slot, count) terms, all neighbours in
        one pass of numpy (per-neighbour dictionaries of weights took about half of a decision)."""
        pairs, owner = stack_terms(packed)
        slots = pairs[:, 0].astype(np.intp)
        theirs = self._weights(pairs[:, 1], self.terms.documents_at(slots))
        shared = np.zeros(len(slots))
        if len(mine.slots):
            position = np.minimum(np.searchsorted(mine.slots, slots), len(mine.slots) - 1)
            shared = np.where(mine.slots[position] == slots, mine.weights[position], 0.0)
        norms = np.sqrt(np.bincount(owner, theirs * theirs, minlength=len(packed))) * mine.norm
        dots = np.bincount(owner, theirs * shared, minlength=len(packed))
        return np.divide(dots, norms, out=np.zeros(len(packed)), where=norms > 0)

    def story_probability(self, cosine: Similarity, terms: Similarity) -> Similarity:
        """The logistic same-story score of one pair, or of many (arrays)."""
        config = self.config
        logit = config.story_intercept + config.story_cosine_weight * cosine + config.story_terms_weight * terms
        return 1.0 / (1.0 + np.exp(-logit))

    def _story(self, candidate: Candidate, neighbours: list[tuple[_Entry, float]]) -> tuple[DedupVerdict, str | None]:
        cosines = np.array([cosine for _, cosine in neighbours])
        terms = self._term_cosines(self._candidate_terms(candidate.fingerprint.terms), [entry.terms for entry, _ in neighbours])
        probabilities = self.story_probability(cosines, terms).tolist()
        # Each story's best few members (the mean of a few: one lookalike member cannot pull an article into a story),
        # from one sort of all neighbours; stories in neighbour order, so that the first of equal scores wins.
        tops: dict[str, list[int]] = {entry.story_id: [] for entry, _ in neighbours}
        for position in sorted(range(len(neighbours)), key=probabilities.__getitem__, reverse=True):
            top = tops[neighbours[position][0].story_id]
            if len(top) < self.config.story_members:
                top.append(position)
        best_story, best_score, best_match = None, 0.0, 0
        for story_id, top in tops.items():
            score = sum(probabilities[position] for position in top) / len(top)
            if score > best_score:
                best_story, best_score, best_match = story_id, score, top[0]
        entry, cosine = neighbours[best_match]
        evidence = f"story score {best_score:.2f} (embedding cosine {cosine:.3f}, specific terms {terms[best_match]:.2f})"
        if best_score >= self.config.story_threshold:
            verdict = DedupVerdict(tier=DedupTier.SAME_STORY, score=round(best_score, 4), duplicate_of=entry.id, evidence=evidence)
            return verdict, best_story
        return DedupVerdict(tier=DedupTier.UNIQUE, score=round(best_score, 4), evidence=evidence), None

    # -- state ------------------------------------------------------------------------------------------------------

    def add(self, stored: StoredArticle) -> None:
        """Remember a decided article until it expires; index it unless it is a copy (copies point to an original)."""
        self.add_many([stored])

    def add_many(self, articles: Iterable[StoredArticle]) -> None:
        """``add`` for many articles at once (restores): inserted into the ANN index in order, on ``restore_threads``
        threads, ``RESTORE_CHUNK`` vectors at a time (a restore of a million articles would otherwise hold all their
        float vectors at once, about 3 GB)."""
        articles = iter(articles)
        while chunk := list(islice(articles, RESTORE_CHUNK)):
            self._add_chunk(chunk)

    def _add_chunk(self, articles: list[StoredArticle]) -> None:
        keys, vectors = [], []
        for stored in articles:
            key = self._remember(stored)
            if key is not None:
                keys.append(key)
                vectors.append(dequantize(stored.embedding_i8))
        self._insert(keys, vectors)

    def _remember(self, stored: StoredArticle, key: int | None = None) -> int | None:
        """Everything ``add`` keeps of an article but its place in the graph; its key (``key``, or the next one), or
        None for a copy or an article already indexed."""
        heapq.heappush(self.expiry, (stored.event_time, stored.id))
        self.newest = max(self.newest, stored.event_time)
        if stored.is_copy or stored.id in self.key_of:
            return None
        if key is None:
            key = self._next_key
            self._next_key += 1
        self.entries[key] = _Entry(
            stored.id,
            stored.story_id,
            stored.url_key,
            stored.text_key,
            hashes_bytes(stored.signature),
            stored.shingles,
            self.terms.add(key, stored.terms),
            stored.event_time,
            hashes_bytes(stored.opening),
        )
        self.key_of[stored.id] = key
        self.story_of[stored.id] = stored.story_id
        if stored.url_key is not None:
            self.by_url.setdefault(stored.url_key, stored.id)
        self.by_text.setdefault(stored.text_key, stored.id)
        return key

    def _insert(self, keys: list[int], vectors: list[npt.NDArray[np.float32]]) -> None:
        """Into the HNSW graph in key order, the graph reloaded at each epoch's end (``GraphSnapshot``)."""
        epoch, start = self.config.graph_epoch, 0
        for position, key in enumerate(keys):
            if (key + 1) % epoch == 0:
                self._ann_add(keys[start : position + 1], vectors[start : position + 1])
                self._end_epoch(next_key=key + 1)
                start = position + 1
        if start < len(keys):
            self._ann_add(keys[start:], vectors[start:])

    def _ann_add(self, keys: list[int], vectors: list[npt.NDArray[np.float32]]) -> None:
        self.ann.add(np.array(keys, dtype=np.uint64), np.stack(vectors), threads=self.config.restore_threads)

    def _end_epoch(self, next_key: int) -> None:
        self._remove_evicted()  # the snapshot holds the window's articles only
        graph = self.ann.save()
        self.ann.reset()  # before the reload: the old graph, its bytes and the new one would be three copies at once
        self.ann = hnsw_graph.load(graph)
        if self.on_epoch is not None:
            # Entries of a chunk being inserted may already hold keys past the graph's.
            ids = {key: entry.id for key, entry in self.entries.items() if key < next_key}
            self.on_epoch(GraphSnapshot(graph, next_key, ids, self.config.graph_epoch))

    def restore_from(self, records: Sequence[bytes], snapshot: GraphSnapshot | None) -> bool:
        """Rebuild from the table's records (JSON, in table order) and a snapshot of the graph: the snapshot's
        articles that the table still holds keep their place in it, the others (evicted since, or lost with a worker)
        leave it, and the table's articles beyond it are inserted. False, and nothing kept, if the snapshot does not
        fit: taken with another graph configuration or epoch, keys that its graph lacks, or sharing less than half its
        articles with the table (another cluster's data directory, or a long time ago): then the caller rebuilds
        from scratch. Pass the only reference to ``snapshot``: its buffer (the whole file) is let go once loaded."""
        self.clear()
        if snapshot is None:
            return False
        empty, next_key, ids = self.ann, snapshot.next_key, snapshot.ids
        fits = snapshot.epoch == self.config.graph_epoch and hnsw_graph.links(snapshot.graph) == (
            GRAPH_LINKS, GRAPH_BASE_LINKS
        )
        graph = hnsw_graph.load(snapshot.graph) if fits else None
        del snapshot
        if graph is None or (graph.ndim, graph.dtype, len(graph)) != (empty.ndim, empty.dtype, len(ids)):
            return False
        keys = np.fromiter(ids, dtype=np.uint64, count=len(ids))
        if len(keys) and (int(keys.max()) >= next_key or not np.all(graph.contains(keys))):
            return False  # a header that does not describe its graph: keys shared or missing later
        self.ann, self._next_key = graph, next_key
        placed = {article: key for key, article in ids.items()}
        beyond: list[int] = []  # positions in ``records`` of the articles to insert, read again below
        sampled: list[tuple[int, str]] = []  # of the articles in the graph: is each in it with the table's vector?
        stride = max(1, len(placed) // SNAPSHOT_CHECKS)
        for position, record in enumerate(records):
            stored = StoredArticle.model_validate_json(record)
            key = self._remember(stored, placed.get(stored.id))
            if key is not None and key >= next_key:
                beyond.append(position)
            elif key is not None and key % stride == 0:
                sampled.append((key, stored.embedding_i8))
        gone = [key for key in ids if key not in self.entries]
        if len(gone) * 2 > len(ids) or not self._holds(sampled):
            self.clear()
            return False
        if gone:
            self.ann.remove(np.array(gone, dtype=np.uint64))
        for start in range(0, len(beyond), RESTORE_CHUNK):
            chunk = [StoredArticle.model_validate_json(records[position]) for position in beyond[start : start + RESTORE_CHUNK]]
            self._insert([self.key_of[stored.id] for stored in chunk], [dequantize(stored.embedding_i8) for stored in chunk])
        return True

    def _holds(self, articles: list[tuple[int, str]]) -> bool:
        """Whether the graph holds these keys with these (int8, base64) embeddings: the same article ids with other
        texts (a data directory reused for another cluster whose ids collide) would give decisions on wrong vectors."""
        if not articles:
            return True
        stored = np.stack(self.ann.get(np.array([key for key, _ in articles], dtype=np.uint64))).astype(np.float32)
        stored /= np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-9)
        expected = np.stack([dequantize(embedding) for _, embedding in articles])
        return bool(np.all(np.einsum("ij,ij->i", stored, expected) >= 0.99))

    def evict_expired(self) -> list[str]:
        """Forget articles (copies included) older than the window, by event time against the newest seen; returns
        their ids so the caller can delete them from the table."""
        horizon = self.newest - self.config.window_s
        evicted = []
        while self.expiry and self.expiry[0][0] < horizon:
            _, article_id = heapq.heappop(self.expiry)
            evicted.append(article_id)
            key = self.key_of.pop(article_id, None)
            if key is None:
                continue
            entry = self.entries.pop(key)
            self._evicted_keys.append(key)
            del self.story_of[entry.id]
            if entry.url_key is not None and self.by_url.get(entry.url_key) == entry.id:
                del self.by_url[entry.url_key]
            if self.by_text.get(entry.text_key) == entry.id:
                del self.by_text[entry.text_key]
            self.terms.remove(key, entry.terms)
        if len(self._evicted_keys) >= REMOVAL_BATCH:
            self._remove_evicted()
        return evicted

    def _remove_evicted(self) -> None:
        if self._evicted_keys:
            self.ann.remove(np.array(self._evicted_keys, dtype=np.uint64))
            self._evicted_keys.clear()

