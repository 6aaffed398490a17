"""Exported JSON Schemas: they validate real records, and a breaking record change needs a schema_version bump."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import jsonschema
import orjson
import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from models import SCHEMA_VERSION, DedupTier, DedupVerdict, DuplicateNotice, EnrichedArticle, Event
from streams.cli import SAMPLE_FEED, cli
from streams.decode import RawMessage, decode_article
from streams.feeds import feed_articles
from streams.schemas import (
    breaking_changes,
    compatibility_problems,
    current_schemas,
    load_snapshots,
    record_schema,
    snapshot_versions,
    topic_schemas,
    write_snapshots,
)
from streams.settings import Settings

REFRESH = "python -m streams.schemas"


def test_records_stay_compatible_with_the_snapshots_of_their_schema_version() -> None:
    assert SCHEMA_VERSION in snapshot_versions(), f"no snapshots for v{SCHEMA_VERSION}: run `{REFRESH}`"
    problems = compatibility_problems(load_snapshots(SCHEMA_VERSION), current_schemas())
    assert not problems, (
        "records changed incompatibly without a schema_version bump; bump SCHEMA_VERSION in models/records.py and "
        f"run `{REFRESH}`:\n" + "\n".join(problems)
    )


def test_snapshots_match_the_records() -> None:
    assert load_snapshots(SCHEMA_VERSION) == current_schemas(), (
        f"models/ changed compatibly but models/schemas/v{SCHEMA_VERSION} is stale: run `{REFRESH}`"
    )


class _Place(BaseModel):
    name: str
    country: str | None = None


class _Before(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    note: str | None = None
    tier: DedupTier
    place: _Place
    tags: tuple[str, ...] = ()


class _FieldRemoved(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    tier: DedupTier
    place: _Place
    tags: tuple[str, ...] = ()


class _FieldNowRequired(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    note: str | None
    tier: DedupTier
    place: _Place
    tags: tuple[str, ...] = ()


class _RequiredFieldAdded(_Before):
    region: str


class _OptionalFieldAdded(_Before):
    region: str | None = None
    weight: int = Field(default=0, description="New, optional.")


class _TypeChanged(BaseModel):
    schema_version: Literal[1] = 1
    id: int
    score: float
    note: str | None = None
    tier: DedupTier
    place: _Place
    tags: tuple[str, ...] = ()


class _NoLongerNullable(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    note: str = ""
    tier: DedupTier
    place: _Place
    tags: tuple[str, ...] = ()


class _PlaceChanged(BaseModel):
    name: str
    country: int | None = None


class _NestedTypeChanged(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    note: str | None = None
    tier: DedupTier
    place: _PlaceChanged
    tags: tuple[str, ...] = ()


class _ValuesChanged(BaseModel):
    schema_version: Literal[1] = 1
    id: str
    score: float
    note: str | None = None
    tier: Literal["unique", "exact"]
    place: _Place
    tags: tuple[int, ...] = ()


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (_FieldRemoved, ["$.note: field removed"]),
        (_FieldNowRequired, ["$.note: field is now required"]),
        (_RequiredFieldAdded, ["$.region: field is now required"]),
        (_TypeChanged, ["$.id: type changed from string to integer"]),
        (_NoLongerNullable, ["$.note: type changed from null or string to string"]),
        (_NestedTypeChanged, ["$.place.country: type changed from null or string to integer or null"]),
        (
            _ValuesChanged,
            [
                "$.tier: allowed values changed (removed ['near_duplicate', 'same_story'], added [])",
                "$.tags[]: type changed from string to integer",
            ],
        ),
    ],
)
def test_breaking_changes_are_named(changed: type[BaseModel], expected: list[str]) -> None:
    assert breaking_changes(record_schema(_Before), record_schema(changed)) == expected


def test_an_added_optional_field_is_compatible() -> None:
    assert breaking_changes(record_schema(_Before), record_schema(_OptionalFieldAdded)) == []
    # The reverse (dropping those fields again) is not.
    assert breaking_changes(record_schema(_OptionalFieldAdded), record_schema(_Before)) == [
        "$.region: field removed",
        "$.weight: field removed",
    ]


def test_refreshing_snapshots_refuses_a_breaking_change(tmp_path: Path) -> None:
    write_snapshots(1, tmp_path)
    snapshot = tmp_path / "v1" / "Event.json"
    old = json.loads(snapshot.read_text())
    old["properties"]["retired_field"] = {"type": "number"}  # in the old schema, gone from the record
    snapshot.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"Event\.retired_field: field removed"):
        write_snapshots(1, tmp_path)
    write_snapshots(2, tmp_path)  # a new version may break
    assert load_snapshots(2, tmp_path) == current_schemas()


def _records_by_topic(settings: Settings) -> dict[str, list[bytes]]:
    raw = list(feed_articles(SAMPLE_FEED))
    verdict = DedupVerdict(tier=DedupTier.UNIQUE, score=0.0)
    event = Event(id="e1", article_id=raw[0].id, story_id=raw[0].id, trigger="divert", actor="Maersk",
                  target="three ships", location=None, sentence="Maersk diverted three ships.", model="test")
    enriched = EnrichedArticle(article=raw[0], entities=(), events=(event,), dedup=verdict, story_id=raw[0].id,
                               model_versions={"nlp": "test"})
    duplicate = DuplicateNotice(id=raw[1].id, duplicate_of=raw[0].id, tier=DedupTier.NEAR_DUPLICATE, score=0.95,
                                story_id=raw[0].id, source=raw[1].source, title=raw[1].title, url=str(raw[1].url))
    letter = decode_article(RawMessage(b"{oops", None, settings.topic_raw, 0, 7), max_message_bytes=1024,
                            max_body_chars=100)
    return {
        settings.topic_raw: [article.to_bytes() for article in raw],
        settings.topic_enriched: [enriched.to_bytes()],
        settings.topic_duplicates: [duplicate.to_bytes()],
        settings.topic_events: [event.to_bytes()],
        settings.topic_deadletter: [letter.to_bytes()],
    }


def test_every_topic_schema_validates_its_records_and_rejects_others() -> None:
    settings = Settings(_env_file=None)
    schemas = topic_schemas(settings)
    records = _records_by_topic(settings)
    assert set(schemas) == set(records)
    for topic, values in records.items():
        validator = jsonschema.Draft202012Validator(schemas[topic])
        jsonschema.Draft202012Validator.check_schema(schemas[topic])
        for value in values:
            validator.validate(orjson.loads(value))
        for other_topic, other_values in records.items():
            if other_topic != topic:
                assert not validator.is_valid(orjson.loads(other_values[0])), (topic, other_topic)


def test_schema_command_writes_one_file_per_topic(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["schema", "--out", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    written = {path.name: json.loads(path.read_text()) for path in (tmp_path / "schemas").iterdir()}
    settings = Settings()
    assert written == {f"{topic}.schema.json": schema for topic, schema in topic_schemas(settings).items()}

    printed = runner.invoke(cli, ["schema", "--topic", settings.topic_events])
    assert json.loads(printed.stdout)["title"] == "Event"
    assert runner.invoke(cli, ["schema", "--topic", "no.such.topic"]).exit_code == 2
