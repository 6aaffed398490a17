"""Held-out NER check: the re3d and N3 readers, and exact and overlap scoring, on small made-up inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.evaluation.ner_heldout import (
    NAME,
    Comparison,
    GoldDocument,
    SystemScores,
    overlap_matched,
    read_n3,
    read_re3d,
)

TEXT = "Mara Quill of the Harbour Council visited Dunmore with Velish envoys."


def _write_json_lines(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mongoexport files may open with a byte order mark
    path.write_text("\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n", encoding="utf-8-sig")


def _entity(document: str, begin: int, end: int, entity_type: str, confidence: float) -> dict[str, object]:
    return {"_id": f"{document}-{begin}-{end}-{entity_type}", "documentId": document, "begin": begin, "end": end,
            "type": entity_type, "value": TEXT[begin:end], "confidence": confidence}


def test_re3d_maps_the_four_types_and_keeps_the_most_confident_type_of_a_span(tmp_path: Path) -> None:
    source = tmp_path / "Coastal Gazette"
    _write_json_lines(source / "documents.json", [
        {"_id": "d1", "title": "A visit", "text": TEXT, "sourceName": "Coastal Gazette"},
        {"_id": "d2", "title": "Nothing", "text": "No names here.", "sourceName": "Coastal Gazette"},
    ])
    _write_json_lines(source / "entities.json", [
        _entity("d1", 0, 10, "Person", 1),
        _entity("d1", 18, 33, "Location", 0),
        _entity("d1", 18, 33, "Organisation", 0.9),  # the more confident type wins
        _entity("d1", 42, 49, "Location", 1),
        _entity("d1", 42, 49, "Organisation", 1),  # a tie: the first one stays
        _entity("d1", 55, 61, "Nationality", 1),
        _entity("d1", 55, 68, "Vehicle", 1),  # not one of the four types
        _entity("d1", 62, 68, "Organisation", 0.2),
        _entity("d1", 62, 68, "Weapon", 0.7),  # the span's best type is not one of the four: left out
    ])
    (tmp_path / "README.md").write_text("not a source folder")

    documents = read_re3d(tmp_path)

    assert [(d.source, d.text) for d in documents] == [("Coastal Gazette", TEXT), ("Coastal Gazette", "No names here.")]
    assert documents[0].gold == {(0, 10, "PER"), (18, 33, "ORG"), (42, 49, "LOC"), (55, 61, "NORP")}
    assert documents[1].gold == set()


def test_n3_joins_the_parts_and_marks_each_named_entity(tmp_path: Path) -> None:
    path = tmp_path / "corpus.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<corpus xmlns="http://semweb.unister.de/xml-corpus-schema-2013">\n'
        '  <Document id="7">\n'
        "    <DocumentURI>http://example.org/7</DocumentURI>\n"
        "    <TextWithNamedEntities>\n"
        '      <NamedEntityInText uri="http://example.org/Quill">Mara Quill</NamedEntityInText>\n'
        "      <SimpleTextPart> flew to </SimpleTextPart>\n"
        '      <NamedEntityInText uri="http://example.org/Dunmore">Dunmore</NamedEntityInText>\n'
        "      <SimpleTextPart>.</SimpleTextPart>\n"
        "    </TextWithNamedEntities>\n"
        "  </Document>\n"
        '  <Document id="8"><TextWithNamedEntities><SimpleTextPart>Quiet day.</SimpleTextPart>'
        "</TextWithNamedEntities></Document>\n"
        "</corpus>\n",
        encoding="utf-8",
    )

    documents = read_n3(path, "Tiny")

    assert documents == [
        GoldDocument("Tiny", "Mara Quill flew to Dunmore.", {(0, 10, NAME), (19, 26, NAME)}),
        GoldDocument("Tiny", "Quiet day.", set()),
    ]


def test_overlap_matching_is_one_to_one_and_keeps_types_apart() -> None:
    gold = {(0, 10, "PER"), (18, 33, "ORG"), (42, 49, "LOC"), (50, 70, "LOC")}
    predicted = {
        (5, 10, "PER"),  # the surname of a gold full name: moved onto it
        (14, 33, "ORG"),  # with a determiner in front: moved
        (42, 49, "LOC"),  # exact
        (40, 49, "LOC"),  # overlaps a gold span that the exact match already took
        (55, 60, "ORG"),  # overlaps a gold span of another type
    }

    matched = overlap_matched(predicted, gold)

    assert matched == {(0, 10, "PER"), (18, 33, "ORG"), (42, 49, "LOC"), (40, 49, "LOC"), (55, 60, "ORG")}
    assert len(matched) == len(predicted)


def test_overlap_matching_prefers_the_largest_overlap() -> None:
    gold = {(0, 4, "LOC"), (6, 20, "LOC")}
    assert overlap_matched({(2, 12, "LOC")}, gold) == {(6, 20, "LOC")}
    assert overlap_matched({(0, 4, "LOC"), (2, 12, "LOC")}, gold) == {(0, 4, "LOC"), (6, 20, "LOC")}


def test_exact_and_overlap_scores() -> None:
    gold = {(0, 10, "PER"), (18, 33, "ORG"), (42, 49, "LOC")}
    predicted = {(5, 10, "PER"), (18, 33, "ORG"), (55, 61, "LOC")}

    scores = SystemScores.of([(predicted, gold)])

    assert scores.exact.f1() == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert scores.exact.f1("ORG") == (1.0, 1.0, 1.0)
    assert scores.overlap.f1() == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert scores.overlap.f1("PER") == (1.0, 1.0, 1.0)
    assert scores.overlap.f1("LOC") == (0.0, 0.0, 0.0)


def test_comparison_scores_both_systems_overall_and_per_source() -> None:
    documents = [
        GoldDocument("wire", "x", {(0, 5, NAME), (10, 15, NAME)}),
        GoldDocument("blog", "y", {(0, 4, NAME)}),
    ]
    comparison = Comparison(
        documents,
        newsstream=[{(0, 5, NAME), (10, 15, NAME)}, {(0, 3, NAME)}],
        model=[{(0, 5, NAME)}, set()],
    )

    model, newsstream = comparison.scores()
    assert model.exact.f1() == pytest.approx((1.0, 1 / 3, 0.5))
    assert newsstream.exact.f1() == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert newsstream.overlap.f1() == (1.0, 1.0, 1.0)

    model, newsstream = comparison.scores("blog")
    assert model.exact.f1() == (0.0, 0.0, 0.0)
    assert newsstream.overlap.f1() == (1.0, 1.0, 1.0)
    assert "blog (1 documents, 1 gold)" in comparison.report((), by_source=True)
