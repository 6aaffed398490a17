"""Entity and event rules on hand-built spaCy Docs (blank vocabulary): the apply half, without a model."""

from __future__ import annotations

import datetime as dt

import spacy
from spacy.tokens import Doc

from models import Modality
from streams.entities import entities_from_doc
from streams.events import _dates_by_sentence, events_from_doc

VOCAB = spacy.blank("en").vocab
PUBLISHED = dt.datetime(2024, 12, 2, 8, tzinfo=dt.UTC)  # a Monday

Row = tuple[str, str, str, int, str, str]


def _rows(doc: Doc) -> list[Row]:
    return [(t.text, t.pos_, t.dep_, t.head.i, t.lemma_, f"{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else "O") for t in doc]


def build(tokens: list[Row]) -> Doc:
    """tokens: (word, pos, dep, head index, lemma, IOB entity tag)."""
    words, pos, deps, heads, lemmas, ents = (list(column) for column in zip(*tokens, strict=True))
    # Sentences follow from the trees: each ROOT heads one.
    return Doc(VOCAB, words=words, pos=pos, deps=deps, heads=heads, lemmas=lemmas, ents=ents)


ATTACK = build([
    ("Rebels", "NOUN", "nsubj", 1, "rebel", "O"),
    ("attacked", "VERB", "ROOT", 1, "attack", "O"),
    ("the", "DET", "det", 3, "the", "O"),
    ("convoy", "NOUN", "dobj", 1, "convoy", "O"),
    ("in", "ADP", "prep", 1, "in", "O"),
    ("Aleppo", "PROPN", "pobj", 4, "Aleppo", "B-GPE"),
    ("on", "ADP", "prep", 1, "on", "O"),
    ("Saturday", "PROPN", "pobj", 6, "Saturday", "B-DATE"),
    (".", "PUNCT", "punct", 1, ".", "O"),
])

PASSIVE = build([
    ("Marieke", "PROPN", "compound", 1, "Marieke", "B-PERSON"),
    ("Jansen", "PROPN", "nsubj", 2, "Jansen", "I-PERSON"),
    ("spoke", "VERB", "ROOT", 2, "speak", "O"),
    (".", "PUNCT", "punct", 2, ".", "O"),
    ("Jansen", "PROPN", "nsubjpass", 6, "Jansen", "B-ORG"),
    ("was", "AUX", "auxpass", 6, "be", "O"),
    ("condemned", "VERB", "ROOT", 6, "condemn", "O"),
    ("by", "ADP", "agent", 6, "by", "O"),
    ("the", "DET", "det", 9, "the", "O"),
    ("minister", "NOUN", "pobj", 7, "minister", "O"),
    (".", "PUNCT", "punct", 6, ".", "O"),
])


def test_event_is_coded_with_roles_place_and_date() -> None:
    entities = entities_from_doc(ATTACK, "m")
    (event,) = events_from_doc(ATTACK, "article-1", entities, "m", published_at=PUBLISHED)
    assert (event.trigger, event.actor, event.target, event.location) == ("attack", "Rebels", "convoy", "Aleppo")
    assert (event.plover_type, event.cameo_root, event.modality) == ("ASSAULT", "18", Modality.ASSERTED)
    assert event.date == dt.date(2024, 11, 30) and event.date_text == "Saturday"
    assert event.location_geo is not None and event.location_geo.country_code == "SY"
    assert event.location_id == next(e.id for e in entities if e.canonical == "Aleppo")
    text = ATTACK.text
    assert text[event.trigger_start : event.trigger_end] == "attacked"
    assert text[event.evidence_start : event.evidence_end] == event.sentence
    assert event.confidence is not None and 0.5 < event.confidence <= 1
    assert "newsstream-rules/" in event.model and event.model.startswith("m+")


def test_event_ids_are_deterministic() -> None:
    entities = entities_from_doc(ATTACK, "m")
    assert events_from_doc(ATTACK, "a", entities, "m") == events_from_doc(ATTACK, "a", entities, "m")
    assert events_from_doc(ATTACK, "a", entities, "m")[0].id != events_from_doc(ATTACK, "b", entities, "m")[0].id


def test_actions_outside_the_taxonomy_are_events_without_a_code() -> None:
    doc = build([
        ("Maersk", "PROPN", "nsubj", 1, "Maersk", "B-ORG"),
        ("diverted", "VERB", "ROOT", 1, "divert", "O"),
        ("three", "NUM", "nummod", 3, "three", "O"),
        ("ships", "NOUN", "dobj", 1, "ship", "O"),
        (".", "PUNCT", "punct", 1, ".", "O"),
        ("Maersk", "PROPN", "nsubj", 6, "Maersk", "B-ORG"),
        ("grew", "VERB", "ROOT", 6, "grow", "O"),
        (".", "PUNCT", "punct", 6, ".", "O"),
    ])
    entities = entities_from_doc(doc, "m")
    (divert,) = events_from_doc(doc, "a", entities, "m")  # "grew" has nothing done to and no place: no event
    assert (divert.trigger, divert.actor, divert.target, divert.actor_id) == ("divert", "Maersk", "ships", entities[0].id)
    assert (divert.plover_type, divert.cameo_root) == (None, None)
    coded = events_from_doc(ATTACK, "a", entities_from_doc(ATTACK, "m"), "m")[0]
    assert divert.confidence is not None and coded.confidence is not None and divert.confidence < coded.confidence


def test_surname_joins_the_person_whatever_its_label_and_passive_voice_swaps_roles() -> None:
    entities = entities_from_doc(PASSIVE, "m")
    assert [(e.canonical, e.type, e.mentions, e.aliases) for e in entities] == [
        ("Marieke Jansen", "PER", 2, ("Jansen",))
    ]
    assert (entities[0].start, entities[0].end) == (0, len("Marieke Jansen"))
    assert [(m.text, m.type) for m in entities[0].spans] == [("Marieke Jansen", "PER"), ("Jansen", "PER")]
    events = events_from_doc(PASSIVE, "a", entities, "m")
    assert [(e.trigger, e.actor, e.target, e.target_id, e.plover_type, e.plover_mode) for e in events] == [
        ("condemn", "minister", "Marieke Jansen", entities[0].id, "ACCUSE", "disapprove")
    ]


def test_entity_types_are_mapped_and_numbers_are_not_entities() -> None:
    doc = build([
        ("Kenya", "PROPN", "nsubj", 1, "Kenya", "B-GPE"),
        ("grew", "VERB", "ROOT", 1, "grow", "O"),
        ("5", "NUM", "dobj", 1, "5", "B-PERCENT"),
    ])
    (kenya,) = entities_from_doc(doc, "m")
    assert (kenya.canonical, kenya.type) == ("Kenya", "GPE")
    assert kenya.geo is not None and (kenya.geo.kind, kenya.geo.country_code) == ("country", "KE")


def test_demonym_and_acting_capital_join_the_country_and_the_capital_as_a_place_stays_a_city() -> None:
    doc = build([
        ("Tehran", "PROPN", "nsubj", 1, "Tehran", "B-GPE"),
        ("condemned", "VERB", "ROOT", 1, "condemn", "O"),
        ("the", "DET", "det", 3, "the", "O"),
        ("raid", "NOUN", "dobj", 1, "raid", "O"),
        (".", "PUNCT", "punct", 1, ".", "O"),
        ("Iranian", "ADJ", "amod", 6, "iranian", "B-NORP"),
        ("officials", "NOUN", "nsubj", 7, "official", "O"),
        ("met", "VERB", "ROOT", 7, "meet", "O"),
        ("in", "ADP", "prep", 7, "in", "O"),
        ("Tehran", "PROPN", "pobj", 8, "Tehran", "B-GPE"),
        (".", "PUNCT", "punct", 7, ".", "O"),
    ])
    entities = {e.canonical: e for e in entities_from_doc(doc, "m")}
    assert set(entities) == {"Iran", "Tehran"}
    iran, tehran = entities["Iran"], entities["Tehran"]
    assert iran.type == "GPE" and set(iran.aliases) == {"Tehran", "Iranian"}
    assert [(m.text, m.type) for m in iran.spans] == [("Tehran", "GPE"), ("Iranian", "NORP")]
    assert iran.geo is not None and (iran.geo.kind, iran.geo.country_code) == ("country", "IR")
    assert tehran.geo is not None and (tehran.geo.kind, tehran.start) == ("city", doc[9].idx)
    (condemn,) = events_from_doc(doc[:5].as_doc(), "a", entities_from_doc(doc[:5].as_doc(), "m"), "m")
    assert (condemn.actor, condemn.plover_type) == ("Iran", "ACCUSE")


def test_acronym_in_brackets_and_its_later_use_are_one_organisation() -> None:
    doc = build([
        ("Fighters", "NOUN", "nsubj", 9, "fighter", "O"),
        ("of", "ADP", "prep", 0, "of", "O"),
        ("Hay'at", "PROPN", "compound", 3, "Hay'at", "O"),
        ("Tahrir", "PROPN", "compound", 5, "Tahrir", "O"),
        ("al", "PROPN", "compound", 5, "al", "O"),
        ("-Sham", "PROPN", "pobj", 1, "-Sham", "O"),
        ("(", "PUNCT", "punct", 7, "(", "O"),
        ("HTS", "PROPN", "appos", 5, "HTS", "O"),
        (")", "PUNCT", "punct", 7, ")", "O"),
        ("advanced", "VERB", "ROOT", 9, "advance", "O"),
        (".", "PUNCT", "punct", 9, ".", "O"),
        ("HTS", "PROPN", "nsubj", 12, "HTS", "O"),
        ("stormed", "VERB", "ROOT", 12, "storm", "O"),
        ("Hama", "PROPN", "dobj", 12, "Hama", "B-GPE"),
        (".", "PUNCT", "punct", 12, ".", "O"),
    ])
    entities = entities_from_doc(doc, "m")
    hts = next(e for e in entities if e.type == "ORG")
    assert hts.canonical.startswith("Hay'at Tahrir al") and hts.aliases == ("HTS",) and hts.mentions == 3
    (storm,) = events_from_doc(doc, "a", entities, "m")
    assert (storm.actor_id, storm.target, storm.location, storm.plover_type, storm.cameo_root) == (
        hts.id, "Hama", "Hama", "ASSAULT", "19"
    )


def test_initials_join_an_acronym_to_a_longer_and_a_shorter_name() -> None:
    doc = build([
        ("the", "DET", "det", 4, "the", "O"),
        ("Islamic", "PROPN", "compound", 4, "Islamic", "B-ORG"),
        ("Revolutionary", "PROPN", "compound", 4, "Revolutionary", "I-ORG"),
        ("Guard", "PROPN", "compound", 4, "Guard", "I-ORG"),
        ("Corps", "PROPN", "ROOT", 4, "Corps", "I-ORG"),
        (".", "PUNCT", "punct", 4, ".", "O"),
        ("IRGC", "PROPN", "ROOT", 6, "IRGC", "B-ORG"),
        (".", "PUNCT", "punct", 6, ".", "O"),
        ("Revolutionary", "PROPN", "compound", 9, "Revolutionary", "B-ORG"),
        ("Guards", "PROPN", "ROOT", 9, "Guards", "I-ORG"),
    ])
    (irgc,) = entities_from_doc(doc, "m")
    assert (irgc.canonical, irgc.aliases) == ("Islamic Revolutionary Guard Corps", ("IRGC", "Revolutionary Guards"))


def test_modality_negated_future_and_reported() -> None:
    negated = build([
        ("Troops", "NOUN", "nsubj", 3, "troop", "O"),
        ("did", "AUX", "aux", 3, "do", "O"),
        ("not", "PART", "neg", 3, "not", "O"),
        ("attack", "VERB", "ROOT", 3, "attack", "O"),
        ("Homs", "PROPN", "dobj", 3, "Homs", "B-GPE"),
    ])
    future = build([
        ("Araghchi", "PROPN", "nsubj", 2, "Araghchi", "B-PERSON"),
        ("will", "AUX", "aux", 2, "will", "O"),
        ("visit", "VERB", "ROOT", 2, "visit", "O"),
        ("Ankara", "PROPN", "dobj", 2, "Ankara", "B-GPE"),
        ("on", "ADP", "prep", 2, "on", "O"),
        ("Tuesday", "PROPN", "pobj", 4, "Tuesday", "B-DATE"),
    ])
    reported = build([
        ("Police", "NOUN", "nsubj", 1, "police", "O"),
        ("said", "VERB", "ROOT", 1, "say", "O"),
        ("gunmen", "NOUN", "nsubj", 3, "gunman", "O"),
        ("kidnapped", "VERB", "ccomp", 1, "kidnap", "O"),
        ("a", "DET", "det", 5, "a", "O"),
        ("farmer", "NOUN", "dobj", 3, "farmer", "O"),
    ])
    (no_attack,) = events_from_doc(negated, "a", entities_from_doc(negated, "m"), "m")
    (visit,) = events_from_doc(future, "a", entities_from_doc(future, "m"), "m", published_at=PUBLISHED)
    (kidnap,) = events_from_doc(reported, "a", entities_from_doc(reported, "m"), "m")
    assert no_attack.modality == Modality.NEGATED
    assert (visit.modality, visit.date, visit.plover_type, visit.plover_mode) == (
        Modality.FUTURE, dt.date(2024, 12, 3), "CONSULT", "visit"
    )
    assert (kidnap.modality, kidnap.actor, kidnap.target, kidnap.plover_mode) == (
        Modality.REPORTED, "gunmen", "farmer", "abduct"
    )


def test_a_name_is_typed_once_per_document_and_tagged_where_the_model_missed_it() -> None:
    doc = build([
        ("Lazio", "PROPN", "nsubj", 1, "Lazio", "B-ORG"),
        ("won", "VERB", "ROOT", 1, "win", "O"),
        (".", "PUNCT", "punct", 1, ".", "O"),
        ("Lazio", "PROPN", "nsubj", 4, "Lazio", "B-PERSON"),
        ("lost", "VERB", "ROOT", 4, "lose", "O"),
        (".", "PUNCT", "punct", 4, ".", "O"),
        ("Fans", "NOUN", "nsubj", 7, "fan", "O"),
        ("love", "VERB", "ROOT", 7, "love", "O"),
        ("Lazio", "PROPN", "dobj", 7, "Lazio", "O"),
        ("and", "CCONJ", "cc", 8, "and", "O"),
        ("Lazio", "PROPN", "conj", 8, "Lazio", "B-ORG"),
    ])
    (lazio,) = entities_from_doc(doc, "m")
    assert (lazio.type, lazio.mentions) == ("ORG", 4)
    assert {m.type for m in lazio.spans} == {"ORG"}


def test_a_results_line_makes_teams_of_city_names_and_persons_of_scorers() -> None:
    doc = build([
        ("Barcelona", "PROPN", "ROOT", 0, "Barcelona", "B-GPE"),
        ("3", "NUM", "nummod", 0, "3", "O"),
        ("(", "PUNCT", "punct", 0, "(", "O"),
        ("Ronaldo", "PROPN", "appos", 0, "Ronaldo", "O"),
        ("45", "NUM", "nummod", 3, "45", "O"),
        (")", "PUNCT", "punct", 0, ")", "O"),
        ("Valencia", "PROPN", "appos", 0, "Valencia", "B-GPE"),
        ("1", "NUM", "nummod", 6, "1", "O"),
    ])
    assert [(e.canonical, e.type, e.geo) for e in entities_from_doc(doc, "m")] == [
        ("Barcelona", "ORG", None), ("Ronaldo", "PER", None), ("Valencia", "ORG", None)
    ]


def test_price_tables_have_no_teams() -> None:
    doc = build([
        ("Wheat", "PROPN", "ROOT", 0, "Wheat", "B-ORG"),
        ("387.4", "NUM", "nummod", 0, "387.4", "O"),
        ("4677.8", "NUM", "nummod", 0, "4677.8", "O"),
        ("Oats", "PROPN", "appos", 0, "Oats", "O"),
        ("40.0", "NUM", "nummod", 3, "40.0", "O"),
    ])
    assert [(e.canonical, e.type) for e in entities_from_doc(doc, "m")] == [("Wheat", "ORG")]


def test_a_city_the_model_took_for_a_person_is_a_place_where_the_text_puts_it_as_one() -> None:
    doc = build([
        ("Rain", "NOUN", "nsubj", 1, "rain", "O"),
        ("flooded", "VERB", "ROOT", 1, "flood", "O"),
        ("towns", "NOUN", "dobj", 1, "town", "O"),
        ("south", "ADV", "advmod", 1, "south", "O"),
        ("of", "ADP", "prep", 3, "of", "O"),
        ("Valencia", "PROPN", "pobj", 4, "Valencia", "B-PERSON"),
        (".", "PUNCT", "punct", 1, ".", "O"),
        ("Valencia", "PROPN", "nsubj", 8, "Valencia", "B-PERSON"),
        ("spoke", "VERB", "ROOT", 8, "speak", "O"),
    ])
    (valencia,) = entities_from_doc(doc, "m")
    # the most populous Valencia is in Venezuela; an article that names Spain means the Spanish one
    assert valencia.geo is not None and valencia.geo.country_code == "VE"
    in_spain = build(_rows(doc) + [("Spain", "PROPN", "ROOT", 9, "Spain", "B-GPE")])
    (valencia, spain) = entities_from_doc(in_spain, "m")
    assert (valencia.type, valencia.mentions) == ("GPE", 2)
    assert valencia.geo is not None and (valencia.geo.kind, valencia.geo.country_code) == ("city", "ES")


def test_a_name_in_brackets_after_a_person_is_an_organisation_unless_it_is_a_country() -> None:
    doc = build([
        ("Luis", "PROPN", "compound", 1, "Luis", "B-PERSON"),
        ("Figo", "PROPN", "ROOT", 1, "Figo", "I-PERSON"),
        ("(", "PUNCT", "punct", 1, "(", "O"),
        ("Barcelona", "PROPN", "appos", 1, "Barcelona", "B-GPE"),
        (")", "PUNCT", "punct", 1, ")", "O"),
        (",", "PUNCT", "punct", 1, ",", "O"),
        ("Rui", "PROPN", "compound", 7, "Rui", "B-PERSON"),
        ("Costa", "PROPN", "conj", 1, "Costa", "I-PERSON"),
        ("(", "PUNCT", "punct", 7, "(", "O"),
        ("Portugal", "PROPN", "appos", 7, "Portugal", "B-GPE"),
        (")", "PUNCT", "punct", 7, ")", "O"),
    ])
    assert [(e.canonical, e.type) for e in entities_from_doc(doc, "m")] == [
        ("Luis Figo", "PER"), ("Barcelona", "ORG"), ("Rui Costa", "PER"), ("Portugal", "GPE")
    ]


def test_each_sentence_gets_the_dates_inside_it_as_span_ents_gives_them() -> None:
    # Three sentences; a date in the first, two in the third, and one that runs across the second and third.
    words = ["Talks", "began", "on", "Monday", ".", "They", "paused", "last", "week", "and", "resumed", "in", "May",
             "2024", "."]
    doc = Doc(VOCAB, words=words, sent_starts=[True] + [False] * 4 + [True] + [False] * 2 + [True] + [False] * 6,
              ents=["O", "O", "O", "B-DATE", "O", "O", "O", "B-DATE", "I-DATE", "O", "O", "O", "B-DATE", "I-DATE", "O"])
    doc.ents = [*doc.ents, doc.char_span(0, 5, label="ORG")]  # not a date: left out
    by_sentence = _dates_by_sentence(doc)
    expected = {s.start: [e.text for e in s.ents if e.label_ == "DATE"] for s in doc.sents}
    assert {start: [e.text for e in dates] for start, dates in by_sentence.items()} == expected
    assert expected == {0: ["Monday"], 5: [], 8: ["May 2024"]}  # "last week" crosses a sentence end: in neither
