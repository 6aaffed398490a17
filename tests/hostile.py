"""Hostile raw messages, generated with hypothesis: each kind with the dead-letter reason it must get.

``hostile_messages`` draws a list through ``@given`` with ``derandomize=True`` (a seed derived from the function, no
example database), so a run is repeatable: the same code and hypothesis version give the same messages on every
run and machine. (Hypothesis also mixes literals from the project's imported modules into what it generates, so the
list changes when the code does.) ``strategy.example()`` is not used: it is random by design. Whatever is drawn, each
message's expected reason holds by construction. Unit tests use ``any_hostile`` in ordinary ``@given`` tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


@dataclass(frozen=True)
class Hostile:
    kind: str
    value: bytes
    reason: str  # the dead-letter reason the stream must give it


def good_document(number: int) -> dict[str, object]:
    """A valid raw article in ASCII (so a cut anywhere leaves valid UTF-8)."""
    return {
        "id": f"hostile-base-{number}",
        "source": "Harbour Gazette",
        "title": "Ferry timetable changes",
        "body": "The ferry company said the winter timetable starts next week.",
        "url": f"https://gazette.example/ferry/{number}",
    }


FIELDS = ("id", "url", "source", "title", "body", "language", "published_at", "fetched_at", "author")
_text_chars = st.characters(codec="utf-8", exclude_characters='"\\\x00')
_small_numbers = st.integers(min_value=-1000, max_value=1000)
_wrong_values = st.one_of(
    _small_numbers,
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(_small_numbers, max_size=3),
    st.dictionaries(st.sampled_from("abc"), _small_numbers, max_size=2),
)


def _document_bytes(document: object) -> bytes:
    return orjson.dumps(document)


def _with(number: int, **changes: object) -> dict[str, object]:
    document = good_document(number)
    document.update(changes)
    return document


_numbers = st.integers(min_value=0, max_value=999)

invalid_json = st.one_of(
    # An unterminated string: nothing after it can make the document valid.
    st.text(_text_chars, max_size=200).map(lambda text: ('{"body": "' + text).encode()),
    # A valid article cut short.
    st.tuples(_numbers, st.integers(min_value=1, max_value=80)).map(
        lambda args: _document_bytes(good_document(args[0]))[: args[1]]
    ),
    # Trailing garbage after a valid article.
    st.tuples(_numbers, st.sampled_from([b"x", b"}", b",", b"{}", b"]"])).map(
        lambda args: _document_bytes(good_document(args[0])) + args[1]
    ),
    st.sampled_from([b"{'body': 'single quotes'}", b"NaN", b"{body: 1}", b'{"a": Infinity}', b"[1,]"]),
)
wrong_types = st.one_of(
    st.tuples(_numbers, st.sampled_from(["id", "source", "title", "body", "language", "author", "url"]), _wrong_values)
    .filter(lambda args: not (args[1] in ("title", "author", "url") and args[2] is None))
    .map(lambda args: _document_bytes(_with(args[0], **{args[1]: args[2]}))),
    st.tuples(_numbers, st.sampled_from(["yesterday", "soon", "2026-02-31T10:00:00Z", "12:00"])).map(
        lambda args: _document_bytes(_with(args[0], published_at=args[1]))
    ),
)
missing_fields = st.tuples(_numbers, st.sampled_from(["source", "body"])).map(
    lambda args: _document_bytes({k: v for k, v in good_document(args[0]).items() if k != args[1]})
)
extra_fields = st.tuples(
    _numbers, st.text(st.characters(codec="ascii", categories=["Ll"]), min_size=1, max_size=12), _small_numbers
).filter(lambda args: args[1] not in FIELDS and args[1] != "schema_version").map(
    lambda args: _document_bytes(_with(args[0], **{args[1]: args[2]}))
)
empty = st.one_of(st.just(b""), st.text(" \t\r\n", min_size=1, max_size=20).map(str.encode))
invalid_utf8 = st.tuples(
    st.binary(max_size=300), st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]),
    st.binary(max_size=300),
).map(b"".join)
null_bytes = st.one_of(
    st.tuples(_numbers, st.integers(min_value=1, max_value=60)).map(
        lambda args: (lambda raw: raw[: args[1]] + b"\x00" + raw[args[1] :])(_document_bytes(good_document(args[0])))
    ),
    # Escaped in a string: valid JSON, still a NUL once decoded.
    _numbers.map(lambda number: _document_bytes(_with(number, body="before\x00after"))),
)
too_deep = st.one_of(
    st.integers(min_value=17, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=17, max_value=600).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.tuples(_numbers, st.integers(min_value=16, max_value=200)).map(
        lambda args: _document_bytes(good_document(args[0]))[:-1]
        + b', "url_parts": '
        + b"[" * args[1]
        + b"]" * args[1]
        + b"}"
    ),
)
_huge_numbers = st.one_of(
    st.integers(min_value=2**63, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=-(2**63) - 1),
    st.floats(min_value=1e19, max_value=1e300),
).map(lambda number: str(number).encode())
number_out_of_range = st.one_of(
    st.tuples(_numbers, _huge_numbers).map(
        lambda args: _document_bytes(good_document(args[0]))[:-1] + b', "views": ' + args[1] + b"}"
    ),
    st.sampled_from([b'{"views": 1e400}', b"[-1e999]", b"123456789012345678901234567890"]),
)
not_an_object = st.one_of(
    st.lists(_small_numbers, max_size=5), st.text(_text_chars, max_size=50), _small_numbers, st.booleans(), st.none()
).map(_document_bytes)
_script_text = st.text(st.characters(codec="ascii", exclude_characters="<\x00"), max_size=120)
_comment_text = st.text(st.characters(codec="ascii", exclude_characters="<>-\x00"), max_size=60)
script_only_html = st.tuples(_numbers, _script_text, _comment_text).map(
    lambda args: _document_bytes(
        _with(args[0], body=f"<script>{args[1]}</script><style>p {{ color: red }}</style><!-- {args[2]} --> <br>")
    )
)
empty_body = st.tuples(_numbers, st.text(" \t\r\n", min_size=1, max_size=10)).map(
    lambda args: _document_bytes(_with(args[0], body=args[1]))
)

HOSTILE: dict[str, tuple[st.SearchStrategy[bytes], str]] = {
    "invalid_json": (invalid_json, "invalid_json"),
    "wrong_types": (wrong_types, "schema"),
    "missing_fields": (missing_fields, "schema"),
    "extra_fields": (extra_fields, "schema"),
    "empty": (empty, "empty_message"),
    "invalid_utf8": (invalid_utf8, "invalid_utf8"),
    "null_bytes": (null_bytes, "null_bytes"),
    "deeply_nested": (too_deep, "too_deep"),
    "huge_numbers": (number_out_of_range, "number_out_of_range"),
    "not_an_object": (not_an_object, "not_an_object"),
    "script_only_html": (script_only_html, "empty_body"),
    "blank_body": (empty_body, "empty_body"),
}

any_hostile = st.one_of(
    *(strategy.map(lambda value, kind=kind, reason=reason: Hostile(kind, value, reason))
      for kind, (strategy, reason) in HOSTILE.items())
)


def hostile_messages(count: int) -> list[Hostile]:
    """``count`` hostile messages, the same ones on every run (see the module docstring)."""
    drawn: list[Hostile] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(any_hostile)
    def draw(message: Hostile) -> None:
        drawn.append(message)

    draw()
    return drawn
