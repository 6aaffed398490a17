"""Dates of events: a date expression resolved against the article's publication time.

"on Saturday" is the latest Saturday up to the publication day (the next one for a future event), "yesterday" the
day before it, "9 May" or "May 9, 2020" that day (in the publication year, or the year before when that day would
lie more than a week after publication). Expressions without a day ("last month", "in 2019") resolve to nothing.
"""

from __future__ import annotations

import datetime as dt
import re

from dateutil import parser as dateutil_parser

WEEKDAYS = {day: index for index, day in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)}
RELATIVE_DAYS = {
    "today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
    "yesterday": -1, "last night": -1, "tomorrow": 1,
}
DAYS_AGO = re.compile(r"\b(\d+|one|two|three|four|five|six|seven)\s+days?\s+ago\b")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
HAS_DAY_NUMBER = re.compile(r"\b([0-2]?\d|3[01])(st|nd|rd|th)?\b")
MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b", re.IGNORECASE
)
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# ACLED-style "9-May-20"
DAY_MONTH_YEAR = re.compile(r"\b\d{1,2}-[A-Za-z]{3}-\d{2,4}\b")


def resolve_date(expression: str, published_at: dt.datetime | None, future: bool = False) -> dt.date | None:
    """The calendar day an expression names, or None when it names no single day."""
    text = " ".join(expression.casefold().split())
    published = published_at.date() if published_at is not None else None
    if (iso := ISO_DATE.search(text)) is not None:
        try:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    if published is not None:
        for phrase, offset in RELATIVE_DAYS.items():
            if re.search(rf"\b{phrase}\b", text):
                return published + dt.timedelta(days=offset)
        if (ago := DAYS_AGO.search(text)) is not None:
            count = ago.group(1)
            return published - dt.timedelta(days=int(NUMBER_WORDS.get(count, count)))
        for day, weekday in WEEKDAYS.items():
            if re.search(rf"\b{day}\b", text):
                if re.search(r"\bnext\b", text) or (future and not re.search(r"\blast\b", text)):
                    return published + dt.timedelta(days=(weekday - published.weekday()) % 7 or 7)
                back = (published.weekday() - weekday) % 7
                if re.search(r"\blast\b", text) and back == 0:
                    back = 7
                return published - dt.timedelta(days=back)
    if MONTH.search(text) and (HAS_DAY_NUMBER.search(MONTH.sub(" ", text)) or DAY_MONTH_YEAR.search(text)):
        has_year = re.search(r"\b(19|20)\d{2}\b", text) or DAY_MONTH_YEAR.search(text)
        if not has_year and published is None:
            return None
        default = dt.datetime.combine(published or dt.date(2000, 1, 1), dt.time())
        try:
            day = dateutil_parser.parse(expression, default=default, fuzzy=True, dayfirst=True).date()
        except (ValueError, OverflowError):
            return None
        if not has_year and published is not None and day > published + dt.timedelta(days=7):
            day = day.replace(year=day.year - 1)
        return day
    return None
