import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import DeadLetter, RawArticle
from streams.decode import RawMessage, decode_article
from tests.hostile import HOSTILE, Hostile, any_hostile, hostile_messages


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
        (b"[" * 2000 + b"]" * 2000, "too_deep"),
        (b"[" * 17 + b"]" * 17, "too_deep"),
        (good(views=2**64 - 1), "number_out_of_range"),
        (good()[:-1] + b', "views": 99999999999999999999999}', "number_out_of_range"),
        (good()[:-1] + b', "views": -9223372036854775809}', "number_out_of_range"),
        (b'{"views": 1e400}', "number_out_of_range"),
        (b"[-1e999]", "number_out_of_range"),
        (good(body="before\x00after"), "null_bytes"),
        (good(body="<script>document.location = 'https://evil.example'</script><style>p {}</style>"), "empty_body"),
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


def test_numbers_within_the_64_bit_range_are_left_to_the_schema() -> None:
    for edge in (2**63 - 1, -(2**63)):
        letter = decode(good(views=edge))
        assert isinstance(letter, DeadLetter) and letter.reason == "schema" and "views" in letter.detail


def test_nesting_up_to_the_limit_is_left_to_the_schema() -> None:
    letter = decode(good()[:-1] + b', "tags": ' + b"[" * 15 + b"]" * 15 + b"}")
    assert isinstance(letter, DeadLetter) and letter.reason == "schema"


def test_deep_nesting_in_a_field_that_derives_the_id_does_not_crash() -> None:
    # No id, so the id is derived from the url: str() of 1,000 nested lists would exceed Python's recursion limit.
    value = b'{"source": "Wire", "body": "Text", "url": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    letter = decode_article(message(value), max_message_bytes=1 << 20, max_body_chars=500)
    assert isinstance(letter, DeadLetter) and letter.reason == "too_deep"


def test_html_body_and_title_become_plain_text() -> None:
    body = (
        "<div class='story'><p>Divers found the <b>anchor</b> at 12&nbsp;m &amp; raised it.</p>"
        "<script>steal(document.cookie)</script><style>.story { color: red }</style>"
        "<p onclick='x()'>Crew &lt;5&gt; stayed &#8220;calm&#8221;.</p><!-- tracking pixel --></div>"
    )
    article = decode(good(title="<h1>Anchor &amp; chain</h1>", body=body))
    assert isinstance(article, RawArticle)
    assert article.title == "Anchor & chain"
    assert article.body == "Divers found the anchor at 12 m & raised it.\nCrew <5> stayed \u201ccalm\u201d."


def test_plain_text_that_merely_mentions_symbols_is_kept_exactly() -> None:
    body = "Profits at AT&T rose 3% while costs < revenue,\n\nanalysts said.  Shares -> up."
    article = decode(good(body=body))
    assert isinstance(article, RawArticle) and article.body == body


def test_a_body_of_markup_only_is_an_empty_body() -> None:
    letter = decode(good(body="<p> </p><br/><img src='https://x.example/p.gif'><iframe>ad text</iframe>"))
    assert isinstance(letter, DeadLetter) and letter.reason == "empty_body"


@given(any_hostile)
def test_every_hostile_kind_gets_its_reason_and_keeps_its_bytes(hostile: Hostile) -> None:
    letter = decode_article(message(hostile.value, key=b"k"), max_message_bytes=1 << 20, max_body_chars=200_000)
    assert isinstance(letter, DeadLetter), hostile
    assert letter.reason == hostile.reason and letter.stage == "decode"
    assert letter.original == hostile.value and base64.b64decode(letter.key_b64 or "") == b"k"


@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise(value: bytes) -> None:
    decoded = decode(value)
    assert isinstance(decoded, RawArticle) or decoded.original == value


def test_the_fixed_hostile_sample_is_the_same_every_time_and_has_every_kind() -> None:
    sample = hostile_messages(300)
    assert sample == hostile_messages(300)
    assert {message.kind for message in sample} == set(HOSTILE)
