import base64

import orjson
import pytest

from models import DeadLetter, RawArticle
from streams.decode import RawMessage, decode_article


def message(value: bytes | None, key: bytes | None = None) -> RawMessage:
    return RawMessage(value=value, key=key, topic="articles.raw", partition=2, offset=41, timestamp_ms=1_700_000_000_000)


def decode(value: bytes | None) -> RawArticle | DeadLetter:
    return decode_article(message(value), max_message_bytes=4096, max_body_chars=500)


def good(**changes: object) -> bytes:
    document = {"id": "a-1", "source": "Wire", "title": "Title", "body": "Some text.", "url": "https://x.example/a"}
    document.update(changes)
    return orjson.dumps(document)


def test_valid_article_is_decoded() -> None:
    article = decode(good(published_at="2026-11-20T07:15:00+01:00"))
    assert isinstance(article, RawArticle)
    assert article.id == "a-1" and article.body == "Some text." and article.published_at.utcoffset().seconds == 3600


def test_missing_id_is_derived_from_the_url_deterministically() -> None:
    first = decode(orjson.dumps({"source": "Wire", "body": "Text", "url": "https://x.example/a"}))
    second = decode(orjson.dumps({"source": "Other", "body": "Other text", "url": "https://x.example/a"}))
    assert isinstance(first, RawArticle) and isinstance(second, RawArticle)
    assert first.id == second.id and len(first.id) == 32


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty_message"),
        (None, "empty_message"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00binary", "invalid_utf8"),
        (b'{"body": "a\\u0000b"}'.replace(b"\\u0000", b"\x00"), "null_bytes"),
        (b"[1, 2]", "not_an_object"),
        (good(body="   "), "empty_body"),
        (good(body="x" * 501), "body_too_long"),
        (good(body=12), "schema"),
        (good(surprise=True), "schema"),
        (good(published_at="yesterday"), "schema"),
        (b"[" * 2000 + b"]" * 2000, "invalid_json"),
        (b"x" * 5000, "too_large"),
    ],
)
def test_bad_input_becomes_a_dead_letter_with_the_original_bytes(value: bytes | None, reason: str) -> None:
    letter = decode(value)
    assert isinstance(letter, DeadLetter)
    assert letter.reason == reason
    assert letter.stage == "decode" and letter.detail
    assert (letter.topic, letter.partition, letter.offset) == ("articles.raw", 2, 41)
    assert base64.b64decode(letter.original_b64) == (value or b"")


def test_dead_letter_is_deterministic_for_replays() -> None:
    assert decode(b"{oops").to_bytes() == decode(b"{oops").to_bytes()


def test_schema_reason_names_the_field() -> None:
    letter = decode(good(body=12))
    assert isinstance(letter, DeadLetter) and "body" in letter.detail
