"""The lookup attribute ruler sets what spaCy's own attribute ruler sets: on hand-built Docs of a blank pipeline with
patterns of every kind, and with the real model's patterns on text written for this test."""

from __future__ import annotations

from typing import Any

import pytest
import spacy
from spacy.language import Language
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc

from streams.attribute_lookup import LOOKUP_ATTRIBUTE_RULER, LookupAttributeRuler
from streams.nlp import SPACY_MODEL

PATTERNS: list[dict[str, Any]] = [
    {"patterns": [[{"TAG": "NN"}]], "attrs": {"POS": "NOUN", "MORPH": "Number=Sing"}},
    {"patterns": [[{"TAG": "VBZ"}]], "attrs": {"POS": "VERB"}},
    {"patterns": [[{"TAG": "PRP"}]], "attrs": {"POS": "PRON"}},
    # a later pattern wins over an earlier one on the same token: by lookup ...
    {"patterns": [[{"TAG": "VBZ", "LOWER": {"IN": ["is", "'s"]}}]], "attrs": {"POS": "AUX", "LEMMA": "be"}},
    {"patterns": [[{"LOWER": "it"}]], "attrs": {"MORPH": "Gender=Neut"}},
    # ... and by the Matcher (a dependency), which also overrides an earlier lookup's part of speech
    {"patterns": [[{"LOWER": "it", "DEP": "nsubj"}]], "attrs": {"MORPH": "Case=Nom|Gender=Neut"}},
    {"patterns": [[{"TAG": "NN", "DEP": "attr"}]], "attrs": {"POS": "PROPN"}},
    # two tokens, the second one changed
    {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "to"}, "index": 1},
    # two patterns under one rule
    {"patterns": [[{"LOWER": "storm"}], [{"LOWER": "gale"}]], "attrs": {"LEMMA": "weather"}},
    # an earlier rule a later lookup overrides
    {"patterns": [[{"TAG": "NN", "LOWER": {"REGEX": "^st"}}]], "attrs": {"POS": "X"}},
    {"patterns": [[{"TAG": "NN", "LOWER": "storm"}]], "attrs": {"POS": "NOUN"}},
]
WORDS = ["It", "is", "a", "storm", ",", "it", "'s", "gon", "na", "gale", "stuff"]
TAGS = ["PRP", "VBZ", "DT", "NN", ",", "PRP", "VBZ", "VBG", "TO", "NN", "NN"]
DEPS = ["nsubj", "ROOT", "det", "attr", "punct", "nsubj", "conj", "xcomp", "aux", "dobj", "appos"]
HEADS = [1, 1, 3, 1, 1, 6, 1, 6, 7, 7, 9]


def annotated(nlp: Language) -> Doc:
    return Doc(nlp.vocab, words=WORDS, tags=TAGS, deps=DEPS, heads=HEADS)


def token_attributes(doc: Doc) -> list[tuple[str, str, str, str]]:
    return [(token.text, token.pos_, str(token.morph), token.lemma_) for token in doc]


def test_every_kind_of_pattern_sets_what_the_attribute_ruler_sets() -> None:
    nlp = spacy.blank("en")
    plain, lookup = AttributeRuler(nlp.vocab), LookupAttributeRuler(nlp.vocab)
    plain.add_patterns(PATTERNS)
    lookup.add_patterns(PATTERNS)
    expected = token_attributes(plain(annotated(nlp)))
    assert token_attributes(lookup(annotated(nlp))) == expected
    assert expected[:4] == [
        ("It", "PRON", "Case=Nom|Gender=Neut", ""),
        ("is", "AUX", "", "be"),
        ("a", "", "", ""),
        ("storm", "NOUN", "Number=Sing", "weather"),
    ]
    assert expected[6:] == [
        ("'s", "AUX", "", "be"),
        ("gon", "", "", ""),
        ("na", "", "", "to"),
        ("gale", "NOUN", "Number=Sing", "weather"),
        ("stuff", "X", "Number=Sing", ""),
    ]
    # only the patterns that need more than a tag and a lowercase form go through a Matcher
    assert len(lookup._others) == 4
    assert lookup.patterns == plain.patterns


def test_the_model_loaded_with_the_lookup_ruler_annotates_as_the_packaged_one() -> None:
    text = (
        "It's gonna be a long night in Lyon, the mayor said on Tuesday. She didn't say whether the trams would run, "
        "but there are reasons to think they won't: the union has called a strike and I'm told it's likely to hold."
    )
    kept = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
    packaged = spacy.load(SPACY_MODEL, exclude=["ner"])
    lookup = {"components": {"attribute_ruler": {"factory": LOOKUP_ATTRIBUTE_RULER}}}
    fast = spacy.load(SPACY_MODEL, exclude=["ner"], config=lookup)
    assert packaged.pipe_names == fast.pipe_names == kept
    assert isinstance(fast.get_pipe("attribute_ruler"), LookupAttributeRuler)
    assert not isinstance(packaged.get_pipe("attribute_ruler"), LookupAttributeRuler)
    expected = token_attributes(packaged(text))
    assert token_attributes(fast(text)) == expected
    by_text = {text: (pos, morph, lemma) for text, pos, morph, lemma in expected}
    assert by_text["n't"] == ("PART", "Polarity=Neg", "not")
    assert by_text["'m"][0] == "AUX" and by_text["'m"][2] == "be"


@pytest.mark.parametrize(
    "pattern", [[{"TAG": "NN", "DEP": "attr"}], [{"LOWER": {"REGEX": "^st"}}], [{"TAG": "NN"}, {"TAG": "NN"}]]
)
def test_a_pattern_needing_more_than_a_lookup_goes_to_the_matcher(pattern: list[dict[str, Any]]) -> None:
    lookup = LookupAttributeRuler(spacy.blank("en").vocab)
    lookup.add([pattern], {"POS": "X"})
    assert len(lookup._others) == 1
