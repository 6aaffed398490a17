"""JSON Schemas of the records on each topic, generated from ``models/``, and the backward-compatibility check.

Downstream teams get one schema per topic (``newsstream schema``). The schemas of each ``schema_version`` are kept as
snapshots in ``models/schemas/v<N>/``; a record change that breaks readers of a snapshot (a removed field, a newly
required field, a changed type or set of allowed values) needs a ``schema_version`` bump. ``python -m streams.schemas``
refreshes the snapshots of the current version and refuses a breaking change.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import models
from models import SCHEMA_VERSION, DeadLetter, DuplicateNotice, EnrichedArticle, Event, RawArticle
from streams.settings import Settings

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SNAPSHOT_ROOT = Path(models.__file__).parent / "schemas"
# Records of the topics other teams read or write; the internal analysed topic is newsstream's own business.
PUBLIC_RECORDS: tuple[type[BaseModel], ...] = (RawArticle, EnrichedArticle, DuplicateNotice, Event, DeadLetter)

Schema = dict[str, Any]


def topic_records(settings: Settings) -> dict[str, type[BaseModel]]:
    """The record type carried by each public topic, under the configured topic names."""
    return {
        settings.topic_raw: RawArticle,
        settings.topic_enriched: EnrichedArticle,
        settings.topic_duplicates: DuplicateNotice,
        settings.topic_events: Event,
        settings.topic_deadletter: DeadLetter,
    }


def record_schema(record: type[BaseModel]) -> Schema:
    """The JSON Schema (draft 2020-12) of one record, as the decoders accept it."""
    return {"$schema": JSON_SCHEMA_DIALECT, **record.model_json_schema(mode="validation")}


def topic_schemas(settings: Settings) -> dict[str, Schema]:
    return {topic: record_schema(record) for topic, record in topic_records(settings).items()}


def dump(schema: Schema) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_topic_schemas(settings: Settings, directory: Path) -> list[Path]:
    """Write ``<topic>.schema.json`` for every public topic; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic, schema in topic_schemas(settings).items():
        path = directory / f"{topic}.schema.json"
        path.write_text(dump(schema), encoding="utf-8")
        written.append(path)
    return written


# --- snapshots and compatibility -------------------------------------------------------------------------------


def snapshot_dir(version: int, root: Path = SNAPSHOT_ROOT) -> Path:
    return root / f"v{version}"


def snapshot_versions(root: Path = SNAPSHOT_ROOT) -> list[int]:
    return sorted(int(path.name[1:]) for path in root.glob("v*") if path.is_dir() and path.name[1:].isdigit())


def load_snapshots(version: int, root: Path = SNAPSHOT_ROOT) -> dict[str, Schema]:
    """Snapshot schemas of one version by record name."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(snapshot_dir(version, root).glob("*.json"))
    }


def current_schemas(records: Iterable[type[BaseModel]] = PUBLIC_RECORDS) -> dict[str, Schema]:
    return {record.__name__: record_schema(record) for record in records}


def breaking_changes(old: Schema, new: Schema, name: str = "$") -> list[str]:
    """Ways in which records valid under ``old`` may be rejected, or misread, by a reader of ``new`` (backward
    compatibility, as a schema registry's BACKWARD mode means it): removed fields, newly required fields, changed
    types, formats, constants or allowed values. Adding an optional field is not breaking for new readers; readers
    that validate with an older snapshot's ``additionalProperties: false`` refuse records with the new field until
    they take the newer snapshot of the same version."""
    problems: list[str] = []
    _compare(old, new, name, _Roots(old, new), problems, frozenset())
    return problems


@dataclass(frozen=True)
class _Roots:
    """The two whole documents, for resolving ``$ref`` on either side."""

    old: Schema
    new: Schema


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow a local ``$ref`` (``#/$defs/Name``); returns the target and the reference followed, if any."""
    reference = node.get("$ref")
    if reference is None:
        return node, None
    target: Any = root
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{key: value for key, value in node.items() if key != "$ref"}}, reference


def _variants(node: Schema, root: Schema) -> list[tuple[Schema, str | None]]:
    """The alternatives of a node (``anyOf``/``oneOf``, e.g. an optional field), each resolved."""
    resolved, _ = _resolve(node, root)
    alternatives = resolved.get("anyOf") or resolved.get("oneOf") or [node]
    return [_resolve(alternative, root) for alternative in alternatives]


def _kind(node: Schema) -> str:
    declared = node.get("type")
    if isinstance(declared, list):
        return "|".join(sorted(declared))
    return str(declared) if declared else "any"


def _compare(
    old: Schema, new: Schema, path: str, roots: _Roots, problems: list[str], seen: frozenset[tuple[str, str]]
) -> None:
    old_variants, new_variants = _variants(old, roots.old), _variants(new, roots.new)
    old_kinds = sorted(_kind(node) for node, _ in old_variants)
    new_kinds = sorted(_kind(node) for node, _ in new_variants)
    if old_kinds != new_kinds:
        problems.append(f"{path}: type changed from {' or '.join(old_kinds)} to {' or '.join(new_kinds)}")
        return
    for old_node, old_ref in old_variants:
        new_node, new_ref = next((node, ref) for node, ref in new_variants if _kind(node) == _kind(old_node))
        pair = (old_ref or "", new_ref or "")
        if old_ref and pair in seen:
            continue  # a recursive record: this pair is already being compared further up
        _compare_node(old_node, new_node, path, roots, problems, seen | {pair} if old_ref else seen)


def _compare_node(
    old: Schema, new: Schema, path: str, roots: _Roots, problems: list[str], seen: frozenset[tuple[str, str]]
) -> None:
    for keyword in ("const", "format"):
        if old.get(keyword) != new.get(keyword):
            problems.append(f"{path}: {keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}")
    if "enum" in old or "enum" in new:
        removed = [value for value in old.get("enum", []) if value not in new.get("enum", [])]
        added = [value for value in new.get("enum", []) if value not in old.get("enum", [])]
        if removed or added:
            problems.append(f"{path}: allowed values changed (removed {removed}, added {added})")
    old_properties: Mapping[str, Schema] = old.get("properties", {})
    new_properties: Mapping[str, Schema] = new.get("properties", {})
    for field in old_properties:
        if field not in new_properties:
            problems.append(f"{path}.{field}: field removed")
    newly_required = sorted(set(new.get("required", [])) - set(old.get("required", [])))
    problems.extend(f"{path}.{field}: field is now required" for field in newly_required)
    for field, old_field in old_properties.items():
        if field in new_properties:
            _compare(old_field, new_properties[field], f"{path}.{field}", roots, problems, seen)
    for keyword in ("items", "additionalProperties"):
        old_sub, new_sub = old.get(keyword), new.get(keyword)
        if isinstance(old_sub, dict) and isinstance(new_sub, dict):
            _compare(old_sub, new_sub, f"{path}[]", roots, problems, seen)
        elif old_sub != new_sub and (isinstance(old_sub, dict) or isinstance(new_sub, dict)):
            problems.append(f"{path}: {keyword} changed from {old_sub!r} to {new_sub!r}")


def compatibility_problems(snapshots: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """Breaking changes of the current records against one version's snapshots (a dropped record is one too)."""
    problems = []
    for name, old in snapshots.items():
        if name not in current:
            problems.append(f"{name}: record removed")
            continue
        problems.extend(breaking_changes(old, current[name], name))
    return problems


def write_snapshots(version: int = SCHEMA_VERSION, root: Path = SNAPSHOT_ROOT) -> list[Path]:
    """Write the current schemas as the snapshots of ``version``; refuses a breaking change to existing ones."""
    current = current_schemas()
    directory = snapshot_dir(version, root)
    if directory.exists():
        problems = compatibility_problems(load_snapshots(version, root), current)
        if problems:
            raise ValueError(
                f"breaking changes against the v{version} snapshots; bump SCHEMA_VERSION in models/records.py:\n  "
                + "\n  ".join(problems)
            )
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current.items():
        path = directory / f"{name}.json"
        path.write_text(dump(schema), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    try:
        written = write_snapshots()
    except ValueError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    print("\n".join(str(path) for path in written))


if __name__ == "__main__":
    main()
