"""Deduplication quality: exact and near-duplicate tiers on BBC News, same-story clustering on ECB+.

    python -m streams.evaluation.dedup      (or `make eval-dedup`)

BBC: the 98 real groups of byte-identical articles, and edited copies generated here with a fixed seed. ECB+: 43
topics, each with two different events of the same kind; the same-story score is calibrated on topics 1-22 only and
reported on topics 23-45.
"""

from __future__ import annotations

import json
import random
import re
import time
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from models import DedupTier
from streams.analyze import EmbedsTexts
from streams.dedup import Candidate, DedupConfig, DedupIndex, StoredArticle, dequantize, normalized_text_key, quantize
from streams.embedding import load_embedder
from streams.evaluation.common import require
from streams.fingerprint import fingerprint
from streams.nlp import article_text
from streams.settings import Settings

SEED = 2026
COPY_SOURCES = 400
BOILERPLATE = [
    "Sign up for our daily newsletter to get the top stories in your inbox.",
    "Follow us on social media for live updates throughout the day.",
    "Additional reporting by our correspondents. This article was updated with new figures.",
]
# Light rewording: common news words swapped for near-synonyms, a few function words dropped.
SYNONYMS = {
    "said": "stated", "says": "states", "rose": "climbed", "fell": "dropped", "firm": "company", "company": "firm",
    "big": "large", "large": "big", "people": "individuals", "also": "additionally", "but": "however", "buy": "purchase",
    "show": "reveal", "shows": "reveals", "help": "assist", "start": "begin", "started": "began", "told": "informed",
    "plans": "intends", "expected": "anticipated", "about": "roughly", "new": "fresh", "major": "key", "number": "figure",
    "government": "administration", "increase": "rise", "cut": "reduce", "before": "prior to", "after": "following",
}


# -- corpus ----------------------------------------------------------------------------------------------------------

def _paragraphs(body: str) -> list[str]:
    return [p for p in body.split("\n") if p.strip()]


def _reword(text: str, rng: random.Random) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    chosen = set(rng.sample(range(len(sentences)), k=max(1, int(len(sentences) * 0.3))))
    out = []
    for number, sentence in enumerate(sentences):
        if number in chosen:
            words = sentence.split(" ")
            sentence = " ".join(SYNONYMS.get(w, w) for w in words if not (w in {"the", "a", "that"} and rng.random() < 0.3))
        out.append(sentence)
    return " ".join(out)


def edited_copies(title: str, body: str, rng: random.Random) -> dict[str, tuple[str, str]]:
    paragraphs = _paragraphs(body)
    swapped = paragraphs[:]
    if len(swapped) > 1:
        i = rng.randrange(len(swapped) - 1)
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    keep = max(1, round(len(paragraphs) * 0.7))
    cut = paragraphs[:keep]
    new_title = f"{title}: what we know so far"
    boiler = "\n".join([*paragraphs, rng.choice(BOILERPLATE)])
    combined = "\n".join([*[_reword(p, rng) for p in swapped[:keep]], rng.choice(BOILERPLATE)])
    return {
        "headline": (new_title, body),
        "boilerplate": (title, boiler),
        "paragraph_swap": (title, "\n".join(swapped)),
        "cut_30": (title, "\n".join(cut)),
        "reword": (title, "\n".join(_reword(p, rng) for p in paragraphs)),
        "all_edits": (new_title, combined),
    }


class Corpus:
    """Texts with their embeddings and fingerprints, as the analyze stage would compute them."""

    def __init__(self, embedder: EmbedsTexts, ids: list[str], titles: list[str], bodies: list[str]) -> None:
        self.ids, self.titles, self.bodies = ids, titles, bodies
        started = time.perf_counter()
        vectors = embedder.embed([article_text(t, b) for t, b in zip(titles, bodies, strict=True)])
        self.embed_seconds = time.perf_counter() - started
        self.vectors_i8 = [quantize(v) for v in vectors]
        self.vectors = np.stack([dequantize(v) for v in self.vectors_i8])
        self.fingerprints = [fingerprint(t, b) for t, b in zip(titles, bodies, strict=True)]

    def candidate(self, i: int, when: float = 0.0) -> Candidate:
        return Candidate(self.ids[i], None, normalized_text_key(self.bodies[i]), self.vectors_i8[i], self.fingerprints[i], when)

    def feed(self, index: DedupIndex, i: int) -> StoredArticle:
        return index.judge(self.candidate(i))


# -- BBC: exact and near-duplicate ------------------------------------------------------------------------------

READ_PAIRS = Path(__file__).with_name("bbc_read_pairs.toml")


def read_pairs(path: Path = READ_PAIRS) -> dict[frozenset[str], bool]:
    """Pairs of BBC articles under different headlines, read by a person: same article (updated version) or not."""
    return {frozenset(pair["articles"]): pair["same_article"] for pair in tomllib.loads(path.read_text())["pair"]}


def evaluate_bbc(embedder: EmbedsTexts, path: Path) -> dict[str, object]:
    articles = [json.loads(line) for line in path.read_text().splitlines()]
    by_md5: defaultdict[str, list[str]] = defaultdict(list)
    by_body: defaultdict[str, list[str]] = defaultdict(list)
    by_headline: defaultdict[str, list[str]] = defaultdict(list)
    for article in articles:
        by_md5[article["raw_md5"]].append(article["id"])
        by_body[normalized_text_key(article["body"])].append(article["id"])
        by_headline[normalized_text_key(article["title"])].append(article["id"])
    canonical = {member: group[0] for group in by_body.values() for member in group}
    # The corpus also holds updated versions of some articles. Two more readings count versions as one article: one
    # headline (a label independent of the detector), and that plus the flagged pairs a person read (bbc_read_pairs).
    same_headline = [(group[0], member) for group in by_headline.values() for member in group[1:]]
    labels = read_pairs()
    read_same = [(min(pair), max(pair)) for pair, same in labels.items() if same]
    readings = {
        "strict": canonical,
        "updated_versions_as_one_article": article_groups(canonical, same_headline),
        "read_versions_as_one_article": article_groups(canonical, [*same_headline, *read_same]),
    }
    md5_pairs = {(group[0], member) for group in by_md5.values() if len(group) > 1 for member in group[1:]}

    rng = random.Random(SEED)
    singles = [a for a in articles if len(by_body[normalized_text_key(a["body"])]) == 1]
    sources = rng.sample(singles, COPY_SOURCES)
    copy_ids, copy_titles, copy_bodies, copy_of, copy_kind = [], [], [], {}, {}
    for source in sources:
        for kind, (title, body) in edited_copies(source["title"], source["body"], rng).items():
            copy_id = f"{source['id']}#{kind}"
            copy_ids.append(copy_id)
            copy_titles.append(title)
            copy_bodies.append(body)
            copy_of[copy_id], copy_kind[copy_id] = source["id"], kind

    originals = Corpus(embedder, [a["id"] for a in articles], [a["title"] for a in articles], [a["body"] for a in articles])
    copies = Corpus(embedder, copy_ids, copy_titles, copy_bodies)
    index = DedupIndex(DedupConfig())
    decide_seconds: list[float] = []

    def timed_feed(corpus: Corpus, i: int) -> StoredArticle:
        started = time.perf_counter()
        stored = corpus.feed(index, i)
        decide_seconds.append(time.perf_counter() - started)
        return stored

    verdicts = {originals.ids[i]: timed_feed(originals, i) for i in range(len(articles))}
    exact_pairs = {(s.verdict.duplicate_of, s.id) for s in verdicts.values() if s.verdict.tier == DedupTier.EXACT}
    found_md5 = {(canonical[a], b) for a, b in md5_pairs} & exact_pairs
    exact_true = {(group[0], member) for group in by_body.values() if len(group) > 1 for member in group[1:]}
    exact_precision = len(exact_pairs & exact_true) / max(1, len(exact_pairs))
    md5_recall = len(found_md5) / len(md5_pairs)
    # (article, the article it was judged a near-duplicate of): all false, unless versions of one article.
    originals_flagged = [
        (s.id, s.verdict.duplicate_of or "") for s in verdicts.values() if s.verdict.tier == DedupTier.NEAR_DUPLICATE
    ]

    order = list(range(len(copy_ids)))
    rng.shuffle(order)
    # (copy, its source, the article it was judged a copy of, or None). A copy judged a copy of another edit of its
    # own source (indexed because it was not caught itself) found the same article: that edit counts as its source.
    copies_judged: list[tuple[str, str, str | None]] = []
    for i in order:
        stored = timed_feed(copies, i)
        flagged = stored.verdict.tier in (DedupTier.EXACT, DedupTier.NEAR_DUPLICATE)
        target = stored.verdict.duplicate_of or ""
        copies_judged.append((copy_ids[i], copy_of[copy_ids[i]], copy_of.get(target, target) if flagged else None))
    scores = {name: near_scores(groups, originals_flagged, copies_judged) for name, groups in readings.items()}
    per_kind: defaultdict[str, list[bool]] = defaultdict(list)
    for copy_id, source, target in copies_judged:
        per_kind[copy_kind[copy_id]].append(target is not None and canonical.get(target) == canonical[source])
    # Flagged pairs under different headlines (articles of one body or one headline are one group) nobody has read.
    headline_groups = readings["updated_versions_as_one_article"]
    unread: set[tuple[str, str]] = set()
    judged = [*originals_flagged, *((source, target) for _, source, target in copies_judged if target is not None)]
    for article, other in judged:
        first, second = sorted((canonical[article], canonical[other]))
        if headline_groups[first] != headline_groups[second] and frozenset((first, second)) not in labels:
            unread.add((first, second))
    return {
        "articles": len(articles),
        "exact_md5_groups": len(md5_pairs),
        "exact_md5_recall": md5_recall,
        "exact_precision": exact_precision,
        "exact_f1_md5_groups": 2 * exact_precision * md5_recall / max(1e-9, exact_precision + md5_recall),
        "exact_pairs_flagged": len(exact_pairs),
        "same_body_new_headline_pairs": len(exact_true - {(canonical[a], b) for a, b in md5_pairs}),
        "copies": len(copy_ids),
        "near_precision": scores["strict"]["precision"],
        "near_recall": scores["strict"]["recall"],
        "near_false_positives": scores["strict"]["false_positives"],
        "near_recall_by_edit": {kind: sum(v) / len(v) for kind, v in sorted(per_kind.items())},
        "false_near_duplicates_among_originals": len(originals_flagged),
        "headline_groups_of_updated_versions": sum(
            1 for members in by_headline.values() if len({canonical[m] for m in members}) > 1
        ),
        **{f"near_{name}": value for name, value in scores.items() if name != "strict"},
        "read_pairs": {"same_article": len(read_same), "different": len(labels) - len(read_same)},
        "flagged_pairs_under_other_headlines_not_read": sorted(unread),
        "decide_ms_p50": float(np.percentile(decide_seconds, 50) * 1000),
        "decide_ms_p99": float(np.percentile(decide_seconds, 99) * 1000),
    }


def article_groups(canonical: dict[str, str], joined: list[tuple[str, str]]) -> dict[str, str]:
    """Article id -> a group id: articles with the same body (``canonical``), joined further by ``joined`` pairs."""
    parent = dict(canonical)

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second in joined:
        parent[root(second)] = root(first)
    return {member: root(member) for member in canonical}


def near_scores(
    groups: dict[str, str], originals_flagged: list[tuple[str, str]], copies_judged: list[tuple[str, str, str | None]]
) -> dict[str, float]:
    """Near-duplicate precision and recall when the articles of one group count as one article.

    A hit: a copy judged a copy of an article of its source's group. A false positive: a copy judged a copy of an
    article of another group, or an original judged a near-duplicate of an article of another group."""
    judged = [(source, target) for _, source, target in copies_judged if target is not None]
    hits = sum(1 for source, target in judged if groups[target] == groups[source])
    false_positives = len(judged) - hits + sum(1 for article, other in originals_flagged if groups[article] != groups[other])
    return {
        "precision": hits / max(1, hits + false_positives),
        "recall": hits / max(1, len(copies_judged)),
        "false_positives": false_positives,
    }


# -- ECB+: same story ---------------------------------------------------------------------------------------------

def _detokenize(sentence: str) -> str:
    sentence = re.sub(r" ([,.;:!?%)\]])", r"\1", sentence)
    sentence = re.sub(r"([(\[$]) ", r"\1", sentence)
    sentence = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", sentence)
    return sentence.replace("`` ", '"').replace(" ''", '"')


def _pair_features(corpus: Corpus, members: list[int]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(cosine, specific-term similarity) of every candidate pair among members, with the members' term statistics."""
    index = DedupIndex(DedupConfig())
    for i in members:
        corpus.feed(index, i)
    floor = index.config.candidate_cosine
    features, pairs = [], []
    for a_pos, i in enumerate(members):
        for j in members[a_pos + 1 :]:
            cosine = float(corpus.vectors[i] @ corpus.vectors[j])
            if cosine >= floor:
                features.append((cosine, index.term_similarity(corpus.fingerprints[i], corpus.fingerprints[j])))
                pairs.append((i, j))
    return np.array(features), pairs


def evaluate_ecb(embedder: EmbedsTexts, path: Path) -> dict[str, object]:
    documents = [json.loads(line) for line in path.read_text().splitlines()]
    texts = ["\n".join(_detokenize(s) for s in d["sentences"]) for d in documents]
    corpus = Corpus(embedder, [d["doc_name"] for d in documents], [""] * len(texts), texts)
    topic = [int(d["topic"]) for d in documents]
    story = [f"{d['topic']}/{d['subtopic']}" for d in documents]
    train = [i for i in range(len(documents)) if topic[i] <= 22]
    test = [i for i in range(len(documents)) if topic[i] > 22]

    x_train, train_pairs = _pair_features(corpus, train)
    y_train = np.array([story[i] == story[j] for i, j in train_pairs])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x_train, y_train)
    calibrated = {
        "story_intercept": round(float(model.intercept_[0]), 2),
        "story_cosine_weight": round(float(model.coef_[0][0]), 2),
        "story_terms_weight": round(float(model.coef_[0][1]), 2),
    }
    config = DedupConfig()
    scorer = DedupIndex(config)

    def hard_negative_auc(members: list[int]) -> float:
        features, pairs = _pair_features(corpus, members)
        same_topic = [k for k, (i, j) in enumerate(pairs) if topic[i] == topic[j]]
        labels = [story[pairs[k][0]] == story[pairs[k][1]] for k in same_topic]
        scores = [scorer.story_probability(*features[k]) for k in same_topic]
        return float(roc_auc_score(labels, scores))

    def online_ari(members: list[int], seed: int) -> float:
        order = members[:]
        random.Random(seed).shuffle(order)
        index = DedupIndex(config)
        assigned = [corpus.feed(index, i).story_id for i in order]
        return float(adjusted_rand_score([story[i] for i in order], assigned))

    cosine_auc = float(roc_auc_score(
        [story[i] == story[j] for i, j in train_pairs if topic[i] == topic[j]],
        [float(corpus.vectors[i] @ corpus.vectors[j]) for i, j in train_pairs if topic[i] == topic[j]],
    ))
    return {
        "documents": len(documents),
        "calibrated_on_topics_1_22": calibrated,
        "configured": {"story_intercept": config.story_intercept, "story_cosine_weight": config.story_cosine_weight,
                       "story_terms_weight": config.story_terms_weight, "story_threshold": config.story_threshold},
        "train_hard_negative_auc_cosine_only": cosine_auc,
        "train_hard_negative_auc": hard_negative_auc(train),
        "train_online_ari": float(np.mean([online_ari(train, seed) for seed in range(3)])),
        "test_hard_negative_auc": hard_negative_auc(test),
        "test_online_ari_by_seed": [online_ari(test, seed) for seed in range(3)],
    }


def main() -> None:
    bbc, ecb = require("bbc_news_fulltext/bbc_news.jsonl", "ecbplus_event_coref/ecbplus_docs.jsonl")
    # The embedding the workers use: backend and window from the settings (NEWSSTREAM_EMBED_BACKEND, _MAX_TOKENS).
    settings = Settings()
    embedder = load_embedder(settings)
    results = {
        "embedding": embedder.version,
        "embedding_window_tokens": settings.embed_max_tokens,
        "bbc": evaluate_bbc(embedder, bbc),
        "ecbplus": evaluate_ecb(embedder, ecb),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
