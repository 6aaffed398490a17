"""The cached lemmatizer gives spaCy's English rule lemmatizer's lemmas: on hand-built Docs of a blank pipeline with
rules of its own, from an empty cache and from a full one, and with the real model on text written for this test."""

from __future__ import annotations

import pytest
import spacy
from spacy.lang.en.lemmatizer import EnglishLemmatizer
from spacy.language import Language
from spacy.lookups import Lookups
from spacy.tokens import Doc

from streams import cached_lemmatizer
from streams.cached_lemmatizer import CACHED_LEMMATIZER, CachedLemmatizer
from streams.nlp import SPACY_MODEL

WORDS = ["Storms", "closed", "the", "ports", ",", "and", "storms", "are", "closing", "Ports", "again", "."]
POS = ["NOUN", "VERB", "DET", "NOUN", "PUNCT", "CCONJ", "NOUN", "AUX", "VERB", "PROPN", "ADV", "PUNCT"]
MORPHS = [
    "Number=Plur", "Tense=Past|VerbForm=Fin", "", "Number=Plur", "", "", "Number=Plur", "Mood=Ind|Tense=Pres",
    "Aspect=Prog|Tense=Pres|VerbForm=Part", "Number=Sing", "", "",
]


def lookups() -> Lookups:
    tables = Lookups()
    tables.add_table("lemma_rules", {"noun": [["s", ""]], "verb": [["ed", ""], ["ing", ""], ["ed", "e"], ["ing", "e"]]})
    tables.add_table("lemma_index", {"noun": ["storm", "port"], "verb": ["close"]})
    tables.add_table("lemma_exc", {"aux": {"are": ["be"]}})
    return tables


def lemmatizers(nlp: Language) -> tuple[EnglishLemmatizer, CachedLemmatizer]:
    plain = EnglishLemmatizer(nlp.vocab, None, mode="rule")
    cached = CachedLemmatizer(nlp.vocab, None, mode="rule")
    for lemmatizer in (plain, cached):
        lemmatizer.initialize(lookups=lookups())
    return plain, cached


def annotated(nlp: Language) -> Doc:
    doc = Doc(nlp.vocab, words=WORDS, pos=POS, morphs=MORPHS)
    doc[10].lemma_ = "once more"  # set earlier in the pipeline (by the attribute ruler): kept
    return doc


def lemmas(doc: Doc) -> list[str]:
    return [token.lemma_ for token in doc]


def test_lemmas_are_the_rule_lemmatizers_from_an_empty_cache_and_from_a_full_one() -> None:
    nlp = spacy.blank("en")
    plain, cached = lemmatizers(nlp)
    expected = lemmas(plain(annotated(nlp)))
    assert expected == [
        "storm", "close", "the", "port", ",", "and", "storm", "be", "close", "Ports", "once more", ".",
    ]
    assert lemmas(cached(annotated(nlp))) == expected
    assert len(cached._lemmas) == len({(word, pos, morph) for word, pos, morph in zip(WORDS, POS, MORPHS)}) - 1
    assert lemmas(cached(annotated(nlp))) == expected  # now every form from the cache


def test_the_same_word_with_another_part_of_speech_or_morphology_is_lemmatised_again() -> None:
    nlp = spacy.blank("en")
    plain, cached = lemmatizers(nlp)
    cached(annotated(nlp))
    # "closed" as an adjective keeps its form; "ports" as a singular noun is a base form
    def other_uses() -> Doc:
        return Doc(nlp.vocab, words=["closed", "ports"], pos=["ADJ", "NOUN"], morphs=["Degree=Pos", "Number=Sing"])

    assert lemmas(cached(other_uses())) == lemmas(plain(other_uses())) == ["closed", "ports"]


def test_a_full_cache_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cached_lemmatizer, "MAX_CACHED_FORMS", 3)
    nlp = spacy.blank("en")
    plain, cached = lemmatizers(nlp)
    expected = lemmas(plain(annotated(nlp)))
    assert lemmas(cached(annotated(nlp))) == expected
    assert len(cached._lemmas) > 3
    assert lemmas(cached(annotated(nlp))) == expected
    assert len(cached._lemmas) <= len(WORDS)  # cleared before the second Doc, then filled by it alone


def test_the_model_loaded_with_the_cached_lemmatizer_lemmatises_as_the_packaged_one() -> None:
    text = (
        "The ferries stopped running on Monday; the harbour master said crews were refusing to sail until the "
        "storms had passed. Ferries were running again by Thursday, and the worst-hit islands are being supplied."
    )
    packaged = spacy.load(SPACY_MODEL, exclude=["ner"])
    cached = spacy.load(SPACY_MODEL, exclude=["ner"], config={"components": {"lemmatizer": {"factory": CACHED_LEMMATIZER}}})
    assert isinstance(cached.get_pipe("lemmatizer"), CachedLemmatizer)
    assert not isinstance(packaged.get_pipe("lemmatizer"), CachedLemmatizer)
    expected = lemmas(packaged(text))
    assert lemmas(cached(text)) == expected == lemmas(cached(text))
    by_word = dict(zip((token.text for token in packaged(text)), expected, strict=True))
    assert (by_word["stopped"], by_word["Ferries"], by_word["were"], by_word["islands"]) == ("stop", "ferry", "be", "island")
