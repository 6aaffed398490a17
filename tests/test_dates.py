"""Date expressions resolved against the publication time."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.dates import resolve_date

MONDAY = dt.datetime(2024, 12, 2, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expression", "future", "day"),
    [
        ("Saturday", False, dt.date(2024, 11, 30)),
        ("on Saturday", True, dt.date(2024, 12, 7)),
        ("last Saturday", True, dt.date(2024, 11, 30)),
        ("Monday", False, dt.date(2024, 12, 2)),
        ("next Friday", False, dt.date(2024, 12, 6)),
        ("yesterday", False, dt.date(2024, 12, 1)),
        ("three days ago", False, dt.date(2024, 11, 29)),
        ("9 May", False, dt.date(2024, 5, 9)),
        ("December 20", False, dt.date(2023, 12, 20)),  # more than a week ahead: last year's
        ("On 9 May 2020", False, dt.date(2020, 5, 9)),
        ("2020-05-09", False, dt.date(2020, 5, 9)),
        ("last month", False, None),
        ("2019", False, None),
    ],
)
def test_expressions_resolve_to_the_day_they_name(expression: str, future: bool, day: dt.date | None) -> None:
    assert resolve_date(expression, MONDAY, future=future) == day


def test_relative_days_need_a_publication_time_and_absolute_dates_do_not() -> None:
    assert resolve_date("Saturday", None) is None
    assert resolve_date("9 May 2020", None) == dt.date(2020, 5, 9)
