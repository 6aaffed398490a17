"""Decode and validate raw Kafka messages into ``RawArticle`` records, or into dead letters that say why not.

Pure functions: bytes in, a record or a ``DeadLetter`` out. Nothing from the input is evaluated or unpickled.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from models import DeadLetter, RawArticle
from streams.html_text import html_to_text, looks_like_html

# A raw article is a flat object; deeper nesting is an attack on whatever walks it (repr and str recurse).
MAX_JSON_DEPTH = 16
# Numbers must be within the signed 64-bit integer range: orjson reads larger integers as floats, losing digits.
JSON_NUMBER_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class RawMessage:
    """A message as consumed, with the coordinates a dead letter needs."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Rejection(Exception):
    reason: str
    detail: str


def dead_letter(message: RawMessage, reason: str, detail: str, stage: str) -> DeadLetter:
    timestamp = (
        datetime.fromtimestamp(message.timestamp_ms / 1000, tz=UTC) if message.timestamp_ms is not None else None
    )
    return DeadLetter(
        reason=reason,
        detail=detail[:2_000],
        stage=stage,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key_b64=base64.b64encode(message.key).decode() if message.key is not None else None,
        original_b64=base64.b64encode(message.value or b"").decode(),
        message_timestamp=timestamp,
    )


def derived_article_id(document: dict[str, object]) -> str:
    """An id for producers that send none: the URL when there is one, else the title and body."""
    basis = document.get("url") or f"{document.get('title', '')}\n{document.get('body', '')}"
    return hashlib.sha256(str(basis).encode()).hexdigest()[:32]


def _parse(value: bytes | None, max_message_bytes: int, max_body_chars: int) -> RawArticle:
    if value is None or not value.strip():
        raise Rejection("empty_message", "the message value is empty")
    if len(value) > max_message_bytes:
        raise Rejection("too_large", f"{len(value)} bytes exceeds the limit of {max_message_bytes} bytes")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection("invalid_utf8", f"not UTF-8 at byte {exc.start}: {exc.reason}") from None
    if "\x00" in text:
        raise Rejection("null_bytes", "the message contains NUL characters")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _json_rejection(exc) from None
    _check_structure(document)
    if not isinstance(document, dict):
        raise Rejection("not_an_object", f"expected a JSON object, got {type(document).__name__}")
    body = document.get("body")
    if isinstance(body, str):
        # Length first: it bounds the sanitizer's work as well as the models'.
        if len(body) > max_body_chars:
            raise Rejection("body_too_long", f"body has {len(body)} characters, the limit is {max_body_chars}")
        if looks_like_html(body):
            body = document["body"] = html_to_text(body)
        if not body.strip():
            raise Rejection("empty_body", "the article body is empty (or only markup)")
    title = document.get("title")
    if isinstance(title, str) and looks_like_html(title):
        document["title"] = html_to_text(title)
    if "id" not in document and isinstance(body, str):
        document["id"] = derived_article_id(document)
    try:
        return RawArticle.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise Rejection("schema", problems) from None


def _json_rejection(error: orjson.JSONDecodeError) -> Rejection:
    """orjson's refusals that are limits rather than syntax get reasons of their own."""
    message = str(error)
    if message.startswith("depth limit exceeded"):
        return Rejection("too_deep", f"JSON nested deeper than orjson's 1024 levels: {message}")
    if message.startswith("number is infinity"):
        return Rejection("number_out_of_range", message)
    return Rejection("invalid_json", message)


def _check_structure(document: object) -> None:
    """Depth, number range and NUL characters of a parsed document, without recursion (the depth limit is what keeps
    later recursion, in str or repr, safe)."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict | list):
            _check_scalar(node)
            continue
        if depth > MAX_JSON_DEPTH:
            raise Rejection("too_deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
            else:
                _check_scalar(child)


def _check_scalar(value: object) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise Rejection("null_bytes", "a string contains an escaped NUL character (\\u0000)")
    lowest, highest = JSON_NUMBER_RANGE
    # A float at the bounds may be an integer just outside them, rounded (orjson reads such integers as floats).
    outside = (isinstance(value, int) and not lowest <= value <= highest) or (
        isinstance(value, float) and not lowest < value < highest
    )
    if outside and not isinstance(value, bool):
        raise Rejection("number_out_of_range", f"the number {value!r} is outside the signed 64-bit integer range")


def decode_article(
    message: RawMessage, *, max_message_bytes: int, max_body_chars: int
) -> RawArticle | DeadLetter:
    try:
        return _parse(message.value, max_message_bytes, max_body_chars)
    except Rejection as rejection:
        return dead_letter(message, rejection.reason, rejection.detail, stage="decode")
