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
        raise Rejection("invalid_json", str(exc)) from None
    if not isinstance(document, dict):
        raise Rejection("not_an_object", f"expected a JSON object, got {type(document).__name__}")
    body = document.get("body")
    if isinstance(body, str):
        if not body.strip():
            raise Rejection("empty_body", "the article body is empty")
        if len(body) > max_body_chars:
            raise Rejection("body_too_long", f"body has {len(body)} characters, the limit is {max_body_chars}")
    if "id" not in document and isinstance(body, str):
        document["id"] = derived_article_id(document)
    try:
        return RawArticle.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise Rejection("schema", problems) from None


def decode_article(
    message: RawMessage, *, max_message_bytes: int, max_body_chars: int
) -> RawArticle | DeadLetter:
    try:
        return _parse(message.value, max_message_bytes, max_body_chars)
    except Rejection as rejection:
        return dead_letter(message, rejection.reason, rejection.detail, stage="decode")
