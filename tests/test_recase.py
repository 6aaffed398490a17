"""All-caps headlines, datelines and table rows re-cased for the model, offsets unchanged."""

from __future__ import annotations

from streams.nlp import recase


def test_headline_words_take_their_case_from_the_body_or_the_gazetteer() -> None:
    text = "REBELS STORM IRANIAN CONSULATE AS ALEPPO FALLS\n\nThe rebels entered the consulate run by the IRGC."
    recased = recase(text)
    assert recased.split("\n")[0] == "Rebels storm Iranian consulate as Aleppo falls"
    assert len(recased) == len(text) and recased.split("\n", 1)[1] == text.split("\n", 1)[1]


def test_acronyms_keep_their_capitals_and_datelines_are_capitalised() -> None:
    text = "HTS SEIZES CITY\nBEIRUT, Dec 2 (Reuters) - The HTS group said."
    assert recase(text).split("\n") == ["HTS seizes city", "Beirut, Dec 2 (Reuters) - The HTS group said."]


def test_table_rows_capitalise_names_and_place_pairs() -> None:
    assert recase("NEW JERSEY 3 7 .300\nSAN DIEGO AT KANSAS CITY") == "New Jersey 3 7 .300\nSan Diego at Kansas City"
