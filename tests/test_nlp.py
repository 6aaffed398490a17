"""Entity and event extraction on hand-built spaCy Docs (blank vocabulary): the apply half, without a model."""

from __future__ import annotations

import spacy
from spacy.tokens import Doc

from streams.nlp import entities_from_doc, events_from_doc

VOCAB = spacy.blank("en").vocab


def build(tokens: list[tuple[str, str, str, int, str, str]]) -> Doc:
    """tokens: (word, pos, dep, head index, lemma, IOB entity tag)."""
    words, pos, deps, heads, lemmas, ents = (list(column) for column in zip(*tokens, strict=True))
    # Sentences follow from the trees: each ROOT heads one.
    return Doc(VOCAB, words=words, pos=pos, deps=deps, heads=heads, lemmas=lemmas, ents=ents)


DIVERT = build([
    ("Maersk", "PROPN", "nsubj", 1, "Maersk", "B-ORG"),
    ("diverted", "VERB", "ROOT", 1, "divert", "O"),
    ("three", "NUM", "nummod", 3, "three", "O"),
    ("ships", "NOUN", "dobj", 1, "ship", "O"),
    ("in", "ADP", "prep", 1, "in", "O"),
    ("Rotterdam", "PROPN", "pobj", 4, "Rotterdam", "B-GPE"),
    (".", "PUNCT", "punct", 1, ".", "O"),
])

PASSIVE = build([
    ("Marieke", "PROPN", "compound", 1, "Marieke", "B-PERSON"),
    ("Jansen", "PROPN", "nsubj", 2, "Jansen", "I-PERSON"),
    ("spoke", "VERB", "ROOT", 2, "speak", "O"),
    (".", "PUNCT", "punct", 2, ".", "O"),
    ("Jansen", "PROPN", "nsubjpass", 6, "Jansen", "B-ORG"),
    ("was", "AUX", "auxpass", 6, "be", "O"),
    ("called", "VERB", "ROOT", 6, "call", "O"),
    ("by", "ADP", "agent", 6, "by", "O"),
    ("the", "DET", "det", 9, "the", "O"),
    ("minister", "NOUN", "pobj", 7, "minister", "O"),
    (".", "PUNCT", "punct", 6, ".", "O"),
])


def test_event_has_trigger_actor_target_and_place() -> None:
    (event,) = events_from_doc(DIVERT, "article-1", entities_from_doc(DIVERT, "m"), "m")
    assert (event.trigger, event.actor, event.target, event.location) == ("divert", "Maersk", "three ships", "Rotterdam")
    assert event.article_id == "article-1" and event.sentence == "Maersk diverted three ships in Rotterdam ."


def test_event_ids_are_deterministic() -> None:
    entities = entities_from_doc(DIVERT, "m")
    assert events_from_doc(DIVERT, "a", entities, "m") == events_from_doc(DIVERT, "a", entities, "m")
    assert events_from_doc(DIVERT, "a", entities, "m")[0].id != events_from_doc(DIVERT, "b", entities, "m")[0].id


def test_surname_joins_the_person_whatever_its_label_and_passive_voice_swaps_roles() -> None:
    entities = entities_from_doc(PASSIVE, "m")
    assert [(e.canonical, e.type, e.mentions) for e in entities] == [("Marieke Jansen", "PER", 2)]
    assert (entities[0].start, entities[0].end) == (0, len("Marieke Jansen"))
    events = events_from_doc(PASSIVE, "a", entities, "m")
    assert [(e.trigger, e.actor, e.target) for e in events] == [("call", "minister", "Marieke Jansen")]


def test_entity_types_are_mapped_and_numbers_are_not_entities() -> None:
    doc = build([
        ("Kenya", "PROPN", "nsubj", 1, "Kenya", "B-GPE"),
        ("grew", "VERB", "ROOT", 1, "grow", "O"),
        ("5", "NUM", "dobj", 1, "5", "B-PERCENT"),
    ])
    assert [(e.canonical, e.type) for e in entities_from_doc(doc, "m")] == [("Kenya", "GPE")]
