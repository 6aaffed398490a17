"""Held-out NER: newsstream's entities against the plain model on news never read while writing the entity rules.

Run by ``python -m streams.evaluation.enrich`` after CoNLL (whose test file the rules were tuned on). Both systems
read each text once through ``SpacyAnalyzer.parse`` (``ner_spans``): newsstream is the model plus the rules of
``streams.entities``, the reference is the model's own entities in the same Doc.

re3d (Dstl; Syria/Iraq conflict documents from seven sources): typed spans. Gold Person, Organisation, Location,
Nationality -> PER, ORG, LOC, NORP (other types are left out); a span annotated with several types keeps its most
confident one. newsstream PER->PER, ORG->ORG, GPE and LOC->LOC, NORP->NORP (EVENT and MISC are left out); the
model's PERSON->PER, ORG->ORG, GPE, LOC and FAC->LOC, NORP->NORP. re3d also marks pronouns and common nouns,
puts determiners and titles inside some spans, and nests spans (a place phrase and the name inside it), so recall
has a ceiling well below 1 for any name tagger; overlap scores count a prediction overlapping a gold span of its
type as a hit.

N3 Reuters-128 and RSS-500 (DICE group): untyped spans of names linked to DBpedia. Every entity type counts except
NORP (demonyms and nationalities are not marked there).

Scores are entity-level micro precision/recall/F1: exact (same offsets and type) and overlap (one to one, same
type, see ``overlap_matched``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from streams.evaluation.enrich import CONLL_LABELS, SPACY_TO_CONLL, Scores, Span, ner_spans
from streams.nlp import SpacyAnalyzer

RE3D_DIR = Path("re3d_defence_ner_re")
N3_FILES = {"Reuters-128": Path("n3_news_ner/reuters.xml"), "RSS-500": Path("n3_news_ner/500newsgoldstandard.xml")}

RE3D_TYPES = ("PER", "LOC", "ORG", "NORP")
RE3D_LABELS = {"Person": "PER", "Organisation": "ORG", "Location": "LOC", "Nationality": "NORP"}
NEWSSTREAM_TO_RE3D = {"PER": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "NORP"}
SPACY_TO_RE3D = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "NORP": "NORP"}

NAME = "NAME"  # the one label of untyped spans
N3_NAMESPACE = "{http://semweb.unister.de/xml-corpus-schema-2013}"
NEWSSTREAM_TO_NAME = {label: NAME for label in CONLL_LABELS if label != "NORP"}
SPACY_TO_NAME = {label: NAME for label in SPACY_TO_CONLL if label != "NORP"}


@dataclass(frozen=True)
class GoldDocument:
    """A text, the source it comes from, and its gold spans (character offsets into the text)."""

    source: str
    text: str
    gold: set[Span]


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a mongoexport file (one JSON object a line, maybe after a byte order mark)."""
    for line in path.read_text(encoding="utf-8-sig").split("\n"):
        if line.strip():
            yield json.loads(line)


def read_re3d(folder: Path) -> list[GoldDocument]:
    """The documents of every source sub-folder of re3d (``documents.json``, ``entities.json``) with their PER,
    ORG, LOC and NORP spans. A span annotated with several types keeps the most confident (the first on a tie),
    and is left out when that type is none of the four."""
    documents: list[GoldDocument] = []
    for source in sorted(path for path in folder.iterdir() if (path / "documents.json").is_file()):
        best: dict[tuple[str, int, int], tuple[float, str]] = {}
        for entity in _json_lines(source / "entities.json"):
            key = (entity["documentId"], entity["begin"], entity["end"])
            if key not in best or entity["confidence"] > best[key][0]:
                best[key] = (entity["confidence"], entity["type"])
        gold: dict[str, set[Span]] = {}
        for (document_id, begin, end), (_, entity_type) in best.items():
            if entity_type in RE3D_LABELS:
                gold.setdefault(document_id, set()).add((begin, end, RE3D_LABELS[entity_type]))
        documents.extend(
            GoldDocument(record["sourceName"], record["text"], gold.get(record["_id"], set()))
            for record in _json_lines(source / "documents.json")
        )
    return documents


def read_n3(path: Path, source: str) -> list[GoldDocument]:
    """The documents of an N3 XML corpus: the text is its parts joined, each ``NamedEntityInText`` a NAME span."""
    documents: list[GoldDocument] = []
    for document in ElementTree.parse(path).getroot().iter(f"{N3_NAMESPACE}Document"):
        text, gold = "", set[Span]()
        for part in document.iterfind(f"{N3_NAMESPACE}TextWithNamedEntities/*"):
            surface = part.text or ""
            if part.tag == f"{N3_NAMESPACE}NamedEntityInText" and surface:
                gold.add((len(text), len(text) + len(surface), NAME))
            text += surface
        documents.append(GoldDocument(source, text, gold))
    return documents


def overlap_matched(predicted: set[Span], gold: set[Span]) -> set[Span]:
    """The predictions with each one that overlaps a gold span of its type moved onto that span, one to one: exact
    matches first, then each other prediction (in text order) takes the free gold span it overlaps most. Exact
    scoring of the result is overlap scoring; there are as many spans as predictions."""
    matched = predicted & gold
    free = gold - matched
    for start, end, label in sorted(predicted - gold):
        overlapping = [g for g in free if g[2] == label and g[0] < end and start < g[1]]
        if overlapping:
            # the largest overlap, then the shortest gold span, then the first
            best = max(overlapping, key=lambda g: (min(end, g[1]) - max(start, g[0]), g[0] - g[1], -g[0]))
            free.remove(best)
            matched.add(best)
        else:
            matched.add((start, end, label))
    return matched


@dataclass
class SystemScores:
    """One system's scores on a set of documents, exact spans and overlapping spans."""

    exact: Scores
    overlap: Scores

    @staticmethod
    def of(pairs: Sequence[tuple[set[Span], set[Span]]]) -> SystemScores:
        """From (predicted, gold) span sets, one pair a document."""
        return SystemScores(
            Scores.of(pairs), Scores.of((overlap_matched(predicted, gold), gold) for predicted, gold in pairs)
        )

    def summary(self) -> str:
        """Micro F1, exact and overlapping spans, on one line."""
        return f"F1 exact {self.exact.f1()[2]:.3f}, overlap {self.overlap.f1()[2]:.3f}"


@dataclass
class Comparison:
    """newsstream and the plain model on the same documents."""

    documents: list[GoldDocument]
    newsstream: list[set[Span]]
    model: list[set[Span]]

    def scores(self, source: str | None = None) -> tuple[SystemScores, SystemScores]:
        """(model, newsstream) scores on the documents of one source, or on all."""
        rows = [
            (document.gold, ruled, model_only)
            for document, ruled, model_only in zip(self.documents, self.newsstream, self.model, strict=True)
            if source is None or document.source == source
        ]
        return (
            SystemScores.of([(model_only, gold) for gold, _, model_only in rows]),
            SystemScores.of([(ruled, gold) for gold, ruled, _ in rows]),
        )

    def report(self, labels: Sequence[str], by_source: bool) -> str:
        model, newsstream = self.scores()
        lines = []
        for name, system in (("spaCy entities alone", model), ("newsstream entities (rules on top)", newsstream)):
            lines.append(system.exact.report(f"  {name}, exact spans", labels))
            lines.append(system.overlap.report(f"  {name}, overlapping spans", labels))
        if by_source:
            lines.append("  per source, micro F1 (spaCy alone -> newsstream):")
            for source in sorted({document.source for document in self.documents}):
                count = sum(document.source == source for document in self.documents)
                model, newsstream = self.scores(source)
                lines.append(
                    f"    {source} ({count} documents, {sum(model.exact.gold.values())} gold): "
                    f"{model.summary()} -> {newsstream.summary()}"
                )
        return "\n".join(lines)


def compare(
    analyzer: SpacyAnalyzer,
    documents: list[GoldDocument],
    rule_labels: Mapping[str, str],
    model_labels: Mapping[str, str],
) -> Comparison:
    """Parse the documents once and keep both systems' spans, labelled as the gold is."""
    spans = ner_spans(analyzer, [document.text for document in documents], rule_labels, model_labels)
    return Comparison(documents, [ruled for ruled, _ in spans], [model_only for _, model_only in spans])


def heldout_paths(datasets: Path) -> list[Path]:
    """Where the held-out corpora are under the datasets folder."""
    return [datasets / RE3D_DIR, *(datasets / path for path in N3_FILES.values())]


def evaluate_heldout(analyzer: SpacyAnalyzer, datasets: Path, limit: int = 0) -> None:
    """Print the held-out comparisons (the first ``limit`` documents of each corpus when it is not 0), with a skip
    message for each corpus that is absent."""
    if (datasets / RE3D_DIR).is_dir():
        documents = read_re3d(datasets / RE3D_DIR)
        documents = documents[:limit] if limit else documents
        started = time.perf_counter()
        comparison = compare(analyzer, documents, NEWSSTREAM_TO_RE3D, SPACY_TO_RE3D)
        spans = [document.text[start:end] for document in documents for start, end, _ in document.gold]
        print(
            f"Held-out re3d ({len(documents)} documents, {time.perf_counter() - started:.0f} s): {len(spans)} gold "
            f"PER/LOC/ORG/NORP spans, {sum(span.islower() for span in spans)} of them without a capital letter "
            "(pronouns, common nouns)"
        )
        print(comparison.report(RE3D_TYPES, by_source=True))
    else:
        print(f"Held-out NER on re3d skipped: {datasets / RE3D_DIR} not found")
    for name, path in N3_FILES.items():
        if not (datasets / path).is_file():
            print(f"Held-out NER on N3 {name} skipped: {datasets / path} not found")
            continue
        documents = read_n3(datasets / path, name)
        documents = documents[:limit] if limit else documents
        started = time.perf_counter()
        comparison = compare(analyzer, documents, NEWSSTREAM_TO_NAME, SPACY_TO_NAME)
        gold = sum(len(document.gold) for document in documents)
        print(
            f"Held-out N3 {name} ({len(documents)} documents, {time.perf_counter() - started:.0f} s): {gold} gold "
            "name spans, untyped (all entity types but NORP)"
        )
        print(comparison.report((), by_source=False))
