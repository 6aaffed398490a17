"""Enrichment quality: NER on CoNLL-2003 (CoNLL++ corrected test set) and event types and actors on ACLED notes.

    python -m streams.evaluation.enrich [--datasets ../shared/datasets] [--conll-docs N] [--acled-rows N]
        [--heldout-docs N]

NER: entity-level micro F1 over PER/LOC/ORG/MISC, exact spans. Each -DOCSTART- document is one text (sentences
one per line, tokens joined by spaces) run through the production path (``SpacyAnalyzer.parse`` and
``entities_from_doc``), and every typed mention is compared with the gold spans by character offsets. Label
mapping of newsstream mention types: PER->PER, ORG->ORG, GPE->LOC, LOC->LOC (spaCy's LOC and FAC),
NORP->MISC, EVENT->MISC, MISC->MISC (spaCy's PRODUCT, WORK_OF_ART, LAW, LANGUAGE). The entity rules were written
while reading errors on this test file; ``streams.evaluation.ner_heldout`` checks them on news never used for that.

ACLED: each note is an article (published on its event date) through ``enrich``; ``acled_event_type`` maps the
coded events to ACLED's six event types. Rows are split by file order: the first half was used to tune the rules,
the second half is reported. Actor1 is found when an extracted event actor shares a content word with it
(demonyms read as their country), or, for ACLED's generic actors, when the events show that kind of actor
(see ``actor1_found``).
"""

from __future__ import annotations

import argparse
import csv
import re
import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from models import Event, RawArticle
from streams.gazetteer import gazetteer
from streams.nlp import SpacyAnalyzer, article_text, enrich

CONLL_FILE = Path("conll2003_en_test/conllpp_test.txt")
ACLED_FILE = Path("acled_events_sample/acled_2020-04-27_2020-05-09.csv")
CONLL_LABELS = {"PER": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC", "MISC": "MISC"}
SPACY_TO_CONLL = {
    "PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "NORP": "MISC", "EVENT": "MISC",
    "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC",
}

Span = tuple[int, int, str]


@dataclass
class ConllDocument:
    text: str
    gold: set[Span]


def read_conll(path: Path) -> list[ConllDocument]:
    """Documents of a CoNLL-2003 file: text with one sentence per line, and the gold spans in it."""
    documents: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if not columns:
            if sentence:
                documents[-1].append(sentence) if documents else documents.append([sentence])
                sentence = []
        elif columns[0] == "-DOCSTART-":
            documents.append([])
        else:
            sentence.append((columns[0], columns[-1]))
    if sentence:
        documents[-1].append(sentence)
    return [_conll_document(sentences) for sentences in documents if sentences]


def _conll_document(sentences: list[list[tuple[str, str]]]) -> ConllDocument:
    lines: list[str] = []
    gold: set[Span] = set()
    offset = 0
    for sentence in sentences:
        open_span: tuple[int, str] | None = None
        end = offset
        words = []
        for token, tag in sentence:
            start = offset + sum(len(w) + 1 for w in words)
            if open_span is not None and not tag.startswith("I-"):
                gold.add((open_span[0], end, open_span[1]))
                open_span = None
            if tag.startswith("B-") or (tag.startswith("I-") and open_span is None):
                open_span = (start, tag[2:])
            words.append(token)
            end = start + len(token)
        if open_span is not None:
            gold.add((open_span[0], end, open_span[1]))
        line = " ".join(words)
        lines.append(line)
        offset += len(line) + 1
    return ConllDocument("\n".join(lines), gold)


@dataclass
class Scores:
    true_positives: Counter[str]
    predicted: Counter[str]
    gold: Counter[str]

    @staticmethod
    def of(pairs: Iterable[tuple[set[Span], set[Span]]]) -> Scores:
        """Counts over (predicted, gold) span sets: a predicted span is right when the same span is in gold."""
        scores = Scores(Counter(), Counter(), Counter())
        for predicted, gold in pairs:
            for _, _, label in predicted & gold:
                scores.true_positives[label] += 1
            for _, _, label in predicted:
                scores.predicted[label] += 1
            for _, _, label in gold:
                scores.gold[label] += 1
        return scores

    def f1(self, label: str | None = None) -> tuple[float, float, float]:
        tp = sum(self.true_positives.values()) if label is None else self.true_positives[label]
        predicted = sum(self.predicted.values()) if label is None else self.predicted[label]
        gold = sum(self.gold.values()) if label is None else self.gold[label]
        precision = tp / predicted if predicted else 0.0
        recall = tp / gold if gold else 0.0
        return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def report(self, name: str, labels: Sequence[str] = ("PER", "LOC", "ORG", "MISC")) -> str:
        rows = [f"{name}: micro P/R/F1 = {'/'.join(f'{v:.3f}' for v in self.f1())}"]
        for label in labels:
            rows.append(f"  {label:4} P/R/F1 = {'/'.join(f'{v:.3f}' for v in self.f1(label))} (gold {self.gold[label]})")
        return "\n".join(rows)


def ner_spans(
    analyzer: SpacyAnalyzer, texts: Sequence[str], rule_labels: Mapping[str, str], model_labels: Mapping[str, str]
) -> list[tuple[set[Span], set[Span]]]:
    """Per text: the typed mentions of newsstream's entities (the production path: ``SpacyAnalyzer.parse``, then
    ``entities_from_doc``), and the model's own entities of the same Doc without the rules (the reference), each
    labelled through its map; types missing from a map are left out."""
    from streams.entities import entities_from_doc

    spans = []
    for text, doc in zip(texts, analyzer.parse(texts), strict=True):
        entities = entities_from_doc(doc, analyzer.version, text)
        ruled = {(m.start, m.end, rule_labels[m.type]) for e in entities for m in e.spans if m.type in rule_labels}
        model_only = {(e.start_char, e.end_char, model_labels[e.label_]) for e in doc.ents if e.label_ in model_labels}
        spans.append((ruled, model_only))
    return spans


def evaluate_conll(analyzer: SpacyAnalyzer, documents: Sequence[ConllDocument]) -> tuple[Scores, Scores]:
    """Scores of the full entity rules, and of the model's own entities in the same documents (no rules)."""
    spans = ner_spans(analyzer, [document.text for document in documents], CONLL_LABELS, SPACY_TO_CONLL)
    pairs = list(zip(spans, documents, strict=True))
    return (
        Scores.of((ruled, document.gold) for (ruled, _), document in pairs),
        Scores.of((model_only, document.gold) for (_, model_only), document in pairs),
    )


# ACLED ---------------------------------------------------------------------------------------------------------------

ACLED_TYPES = (
    "Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots", "Strategic developments",
)
REMOTE_MODES = frozenset({"aerial", "drone", "heavy-weapons", "explosives", "suicide-attack"})
ONE_SIDED_MODES = frozenset({"abduct", "beat", "torture", "sexual", "targeted"})
CIVILIAN_WORDS = frozenset({
    "civilian", "villager", "resident", "man", "men", "woman", "women", "child", "children", "boy", "girl", "farmer",
    "person", "people", "worker", "journalist", "teacher", "family", "trader", "student", "driver", "shepherd",
    "herder", "businessman", "citizen", "youth", "member", "leader", "official", "activist", "doctor", "body",
    "couple", "brother", "son", "daughter", "wife", "husband", "vendor", "priest", "chief", "councillor", "candidate",
    "house", "home", "village", "office", "shop", "church", "mosque", "school", "hospital", "market", "manager",
    "mayor", "victim", "passenger", "pastoralist", "fisherman",
    "fishermen", "him", "her", "he", "she",
})
# Unarmed crowds: their violence is a riot (ACLED's mob violence), also when they kill.
MOB_WORDS = frozenset({"mob", "villager", "resident", "crowd", "rioter", "protester", "demonstrator", "people",
                       "supporter", "worker", "student", "youth", "community", "group", "member", "journalist",
                       "trader", "farmer", "local", "inhabitant", "family", "relative"})
MUTUAL_TRIGGERS = frozenset({"clash", "fight", "battle", "engage", "skirmish", "fighting", "firefight", "gunfight",
                             "exchange", "repel", "repulse", "shot", "burst"})
ARMED_WORDS = frozenset({"force", "troop", "soldier", "army", "police", "policemen", "policeman", "militant",
                         "position", "base", "checkpoint", "convoy", "patrol", "fighter", "rebel", "militia",
                         "insurgent", "military", "gunmen", "jihadist", "officer", "unit", "brigade", "battalion"})
RIOT_WORDS = ("vandal", "torched", "set fire", "set on fire", "pelted", "clashed with police", "looted")
ARMED_GROUP_WORDS = frozenset({"gunmen", "gunman", "militant", "assailant", "attacker", "unidentified", "unknown",
                               "armed", "men", "bandit", "suspected", "fighter", "insurgent", "rebel", "perpetrator"})
PROTESTER_WORDS = frozenset({"they", "protester", "demonstrator", "rioter", "crowd", "mob"})
NON_STATE_WORDS = frozenset({"rebel", "militant", "insurgent", "opposition", "militia", "jihadist", "gunmen", "gang"})
STATE_FORCE_WORDS = frozenset({"army", "military", "troop", "soldier", "regime", "government", "govt", "security",
                               "police", "policemen", "policeman", "force", "officer", "navy", "gendarme", "gendarmerie"})


def _words(text: str | None) -> set[str]:
    return {word.removesuffix("s") for word in (text or "").lower().replace(",", " ").split()}


def acled_event_type(events: Sequence[Event], note: str) -> str:
    """ACLED's event type of a note from its coded events (rules tuned on the first half of the rows).

    The first protest or assault decides. A protest is a Riot when it turned violent (a riot mode, or stones,
    arson, vandalism in the note), else Protests. An assault is Explosions/Remote violence when any assault in the
    note used remote weapons (air, drone, artillery, explosives) and none was a two-sided fight; Riots when its actor is a mob; Violence against
    civilians when an assault targets civilians, a dwelling or a place, or is one-sided (abduction, beating,
    torture, sexual violence, targeted killing), unless it is a two-sided fight or targets armed men; else Battles.
    A note without either is Violence against civilians when it reports a body found, else Strategic developments."""
    lowered = note.lower()
    kept = [e for e in events if e.modality != "negated"]
    primary = next((e for e in kept if e.plover_type in {"PROTEST", "ASSAULT"}), None)
    if primary is None:
        found_dead = "found dead" in lowered or "body" in lowered and "found" in lowered
        return "Violence against civilians" if found_dead else "Strategic developments"
    if primary.plover_type == "PROTEST":
        violent = (
            primary.plover_mode == "riot"
            or any(word in lowered for word in RIOT_WORDS)
            or "rioter" in (primary.actor or "").lower()
            # violence by the protesters themselves
            or any(
                e.plover_type == "ASSAULT" and _words(e.actor) & (_words(primary.actor) | PROTESTER_WORDS) for e in kept
            )
        )
        return "Riots" if violent else "Protests"
    assaults = [e for e in kept if e.plover_type == "ASSAULT"]
    mutual = any(e.trigger in MUTUAL_TRIGGERS for e in assaults)
    if any(e.plover_mode in REMOTE_MODES for e in assaults) and not mutual:
        return "Explosions/Remote violence"
    if _words(primary.actor) & MOB_WORDS:
        return "Riots"
    armed_target = any(_words(e.target) & ARMED_WORDS for e in assaults)
    one_sided = any(
        e.plover_mode in ONE_SIDED_MODES or _words(e.target) & CIVILIAN_WORDS or e.target is not None and e.target_id is not None
        and e.location_id == e.target_id
        for e in assaults
    )
    if one_sided and not mutual and not armed_target:
        return "Violence against civilians"
    return "Battles"


def _content_words(name: str) -> set[str]:
    places = gazetteer()
    words = set()
    for word in name.replace("(", " ").replace(")", " ").replace(":", " ").replace("-", " ").split():
        nation = places.demonym(word)
        word = (nation.name if nation is not None else word).lower().removesuffix("s")
        if word not in {"of", "the", "and", "force", "group", "", "pro", "unidentified", "armed"} and not word.isdigit():
            words.add(word)
    return words


def actor1_found(actor1: str, events: Sequence[Event]) -> bool:
    """Actor1 shares a content word with an extracted actor (demonyms read as their country), or ACLED's generic
    actor matches what the events show: Protesters - a protest's actor; Rioters - a protest's or an assault's
    actor; Civilians - a civilian actor; Unidentified ... - unnamed armed men; Military or Police Forces of a
    country - an actor that is a state force (army, troops, regime, government or security forces, police)."""
    actors = [e.actor for e in events if e.actor]
    name = re.sub(r"\([^)]*\)", " ", actor1).strip().lower()
    wanted = _content_words(name)
    if any(wanted & _content_words(actor) for actor in actors):
        return True
    actor_words = [_words(actor) for actor in actors]
    if name.startswith("protesters"):
        return any(e.actor for e in events if e.plover_type == "PROTEST")
    if name.startswith("rioters"):
        return any(e.actor for e in events if e.plover_type in {"PROTEST", "ASSAULT"})
    if name.startswith("civilians"):
        return any(words & CIVILIAN_WORDS for words in actor_words)
    if name.startswith("unidentified"):
        return any(words & ARMED_GROUP_WORDS for words in actor_words)
    if name.startswith(("military forces of", "police forces of")):
        return any(words & STATE_FORCE_WORDS and not words & NON_STATE_WORDS for words in actor_words)
    return False


def read_acled(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _acled_article(row: dict[str, str]) -> RawArticle:
    published = dt.datetime.strptime(row["event_date"], "%d-%b-%y").replace(hour=23, tzinfo=dt.UTC)
    return RawArticle(id=row["data_id"], source="ACLED", body=row["notes"], published_at=published)


@dataclass
class AcledResult:
    rows: int
    type_correct: int
    actor_found: int
    actor_found_coded: int  # among the actors of coded (PLOVER) events only
    confusion: Counter[tuple[str, str]]

    def report(self, name: str) -> str:
        lines = [
            f"{name}: {self.rows} rows, event type accuracy {self.type_correct / self.rows:.3f}, "
            f"actor1 found {self.actor_found / self.rows:.3f} "
            f"({self.actor_found_coded / self.rows:.3f} among coded events' actors only)"
        ]
        for gold in ACLED_TYPES:
            row = {p: self.confusion[(gold, p)] for p in ACLED_TYPES}
            total = sum(row.values())
            if total:
                lines.append(f"  {gold:28} {row[gold] / total:.2f} of {total}  (-> " + ", ".join(
                    f"{p.split('/')[0]} {n}" for p, n in row.items() if n and p != gold) + ")")
        return "\n".join(lines)


def evaluate_acled(analyzer: SpacyAnalyzer, rows: Sequence[dict[str, str]]) -> AcledResult:
    articles = [_acled_article(row) for row in rows]
    docs = analyzer.parse([article_text(a.title, a.body) for a in articles])
    result = AcledResult(len(rows), 0, 0, 0, Counter())
    for row, article, doc in zip(rows, articles, docs, strict=True):
        events = enrich(article, doc, analyzer.version).events
        predicted = acled_event_type(events, row["notes"])
        result.confusion[(row["event_type"], predicted)] += 1
        result.type_correct += predicted == row["event_type"]
        result.actor_found += actor1_found(row["actor1"], events)
        result.actor_found_coded += actor1_found(row["actor1"], [e for e in events if e.plover_type is not None])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    # imported here: the held-out check builds on this module
    from streams.evaluation.ner_heldout import evaluate_heldout, heldout_paths

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--conll-docs", type=int, default=0, help="first N documents only (0: all)")
    parser.add_argument("--acled-rows", type=int, default=0, help="first N rows of each half only (0: all)")
    parser.add_argument("--heldout-docs", type=int, default=0, help="first N documents of each held-out set (0: all)")
    parser.add_argument("--skip", choices=("conll", "heldout", "acled"), action="append", default=[])
    parser.add_argument("--tune", action="store_true", help="also report the tuning half of ACLED")
    args = parser.parse_args(argv)
    conll_path, acled_path = args.datasets / CONLL_FILE, args.datasets / ACLED_FILE
    if not any(path.exists() for path in (conll_path, acled_path, *heldout_paths(args.datasets))):
        print(f"eval-enrich skipped: no datasets under {args.datasets} (set DATASETS=... to their folder)")
        return 0
    analyzer = SpacyAnalyzer()
    if "conll" not in args.skip and conll_path.exists():
        documents = read_conll(conll_path)
        documents = documents[: args.conll_docs] if args.conll_docs else documents
        started = time.perf_counter()
        ruled, raw = evaluate_conll(analyzer, documents)
        seconds = time.perf_counter() - started
        print(f"CoNLL++ test ({conll_path.name}): {len(documents)} documents, {seconds:.0f} s")
        print(raw.report("spaCy entities alone, document context, re-cased"))
        print(ruled.report("newsstream entities (rules on top)"))
    elif "conll" not in args.skip:
        print(f"NER evaluation skipped: {conll_path} not found")
    if "heldout" not in args.skip:
        evaluate_heldout(analyzer, args.datasets, args.heldout_docs)
    if "acled" not in args.skip and acled_path.exists():
        rows = read_acled(acled_path)
        half = len(rows) // 2
        splits = [("tuning half (rows 1-%d)" % half, rows[:half])] if args.tune else []
        splits.append((f"held-out half (rows {half + 1}-{len(rows)})", rows[half:]))
        for name, subset in splits:
            subset = subset[: args.acled_rows] if args.acled_rows else subset
            started = time.perf_counter()
            result = evaluate_acled(analyzer, subset)
            print(f"ACLED {name}, {time.perf_counter() - started:.0f} s")
            print(result.report("  events"))
    elif "acled" not in args.skip:
        print(f"ACLED evaluation skipped: {acled_path} not found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
