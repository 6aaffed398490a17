"""Articles for the throughput benchmark: news-shaped text generated from this module's own phrase lists, or BBC News
read at run time from the shared datasets (never copied into the repository).

Generated articles come in stories (several outlets covering one event, in their own words) with a few republished
copies, so every dedup tier is exercised; about 300 words each, like the BBC articles (304 words on average).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import count

import orjson

from streams.evaluation.common import datasets_dir

BBC_FILE = "bbc_news_fulltext/bbc_news.jsonl"
START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

OUTLETS = [
    ("Harbour Gazette", "harbourgazette.example"), ("Northern Ledger", "northernledger.example"),
    ("Daily Meridian", "dailymeridian.example"), ("Capital Wire", "capitalwire.example"),
    ("Evening Lantern", "eveninglantern.example"), ("Coastal Herald", "coastalherald.example"),
]
FIRST_NAMES = ["Amara", "Tomasz", "Lena", "Rafael", "Ingrid", "Kwame", "Sofia", "Mateo", "Yusuf", "Hanna", "Dmitri",
               "Aiko", "Oliver", "Priya", "Jonas", "Fatima", "Emil", "Clara", "Samuel", "Noor"]
SURNAMES = ["Okafor", "Lindqvist", "Moreau", "Castellano", "Novak", "Haddad", "Brennan", "Takahashi", "Varga",
            "Osei", "Kowalczyk", "Albrecht", "Ferreira", "Nakamura", "Whitlock", "Petrenko", "Salazar", "Aydin"]
ROLES = ["foreign minister", "prime minister", "trade minister", "chief executive", "union leader", "mayor",
         "army spokesman", "central bank governor", "opposition leader", "health minister"]
ORGANISATIONS = ["Northwind Shipping", "the Atlas Mining Company", "Meridian Bank", "the Coastal Workers Union",
                 "the National Energy Board", "Helix Pharmaceuticals", "the Federation of Farmers",
                 "Orion Telecom", "the River Authority", "Summit Airlines", "the Red Cross", "the United Nations"]
# Real places, so that the gazetteer and the entity rules see what they see in news.
PLACES = [("France", "Paris"), ("Kenya", "Nairobi"), ("Brazil", "Sao Paulo"), ("Japan", "Osaka"),
          ("Poland", "Krakow"), ("Egypt", "Alexandria"), ("Canada", "Toronto"), ("India", "Mumbai"),
          ("Turkey", "Izmir"), ("Mexico", "Guadalajara"), ("Germany", "Hamburg"), ("Nigeria", "Lagos"),
          ("Indonesia", "Surabaya"), ("Chile", "Valparaiso"), ("Vietnam", "Hanoi"), ("Norway", "Bergen")]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SUBJECTS = ["port fees", "a new rail link", "water rights", "fishing quotas", "fuel prices", "a mining licence",
            "wages in the public sector", "flood defences", "a vaccine programme", "airport expansion"]


@dataclass(frozen=True)
class EventKind:
    headline: str
    lead: str
    follow_up: str


EVENT_KINDS = [
    EventKind("{actor} signs deal with {org} over {subject}",
              "{actor}, the {role}, signed an agreement with {org} in {city} on {weekday}, ending months of talks "
              "over {subject}.",
              "Under the deal, {org} will invest {figure} million dollars over {years} years, officials said."),
    EventKind("Protesters march in {city} against {subject}",
              "Thousands of people marched through {city} on {weekday} to protest against {subject}, and police "
              "said about {figure} hundred demonstrators gathered outside the offices of {org}.",
              "Organisers said the protest would continue until {actor}, the {role}, agreed to meet them."),
    EventKind("{org} accused of hiding losses as {subject} row grows",
              "{actor}, the {role}, accused {org} on {weekday} of hiding losses linked to {subject}, and called for "
              "an inquiry in {city}.",
              "{org} rejected the accusation and said its accounts for the last {years} years had been audited."),
    EventKind("Storm damage forces evacuation near {city}",
              "Emergency services evacuated {figure} hundred residents near {city} on {weekday} after heavy storms "
              "damaged homes and roads, and {org} sent teams to help.",
              "{actor}, the {role}, said repairs to {subject} would take at least {years} months."),
    EventKind("{actor} meets {org} leaders in {city}",
              "{actor}, the {role}, met leaders of {org} in {city} on {weekday} to discuss {subject}, two days "
              "before a vote in parliament.",
              "Both sides described the talks as constructive and agreed to meet again within {years} weeks."),
]
BACKGROUND = [
    "The dispute over {subject} has divided {country} since last year, when {org} first raised concerns.",
    "Analysts in {city} said the decision could affect about {figure} thousand jobs across {country}.",
    "{actor} has held the post of {role} for {years} years and has often spoken about {subject}.",
    "Figures published by the statistics office on {weekday} showed growth of {small} percent in the region.",
    "Residents of {city} told reporters they had waited a long time for a decision on {subject}.",
    "Officials from {org} declined to comment further, saying a statement would follow later in the week.",
    "Opposition politicians in {country} criticised the timing and asked for the documents to be published.",
    "The previous agreement on {subject} expired in {year}, after {years} rounds of negotiations.",
    "Markets in {city} closed slightly higher, with shares in {org} up {small} percent by the end of trading.",
    "Neighbouring countries have watched the talks closely, and diplomats said more meetings were likely.",
    "Local newspapers reported that the plan had been discussed in private for several months.",
    "Experts warned that costs could rise by {figure} million dollars if the work was delayed again.",
    "A report commissioned by {org} in {year} had recommended a review of {subject} within {years} years.",
    "Unions in {city} have threatened strikes over the plan, saying workers were not consulted.",
    "The government of {country} has promised to publish a full assessment before the end of the year.",
    "Traffic in central {city} was disrupted for several hours as officials arrived for the meeting.",
    "Critics say the cost of {subject} has already doubled since the project was first announced.",
    "Last month a court in {city} ruled that parts of the earlier plan had been drawn up unlawfully.",
    "Business groups welcomed the news, while environmental campaigners said they would study the details.",
    "The talks were the first of their kind in {country} since {year}, according to local media.",
    "{other}, a former adviser to {org}, said the agreement was overdue but welcome.",
    "Shipping and tourism, two of the largest employers around {city}, are expected to feel the effects first.",
    "Officials said about {figure} percent of households in the region would be affected in some way.",
    "The European and Asian partners of {org} are expected to respond in the coming days.",
    "A similar dispute in {year} ended only after the intervention of the courts.",
    "Police in {city} said the day had passed largely without incident.",
    "Members of parliament from {city} are due to question {actor} about the plan next week.",
    "Several newspapers in {country} carried the story on their front pages on {weekday}.",
    "Independent auditors will review progress every {years} months, the statement said.",
    "Surveys suggest that most people in {country} support a settlement, though by a narrow margin.",
]
QUOTES = [
    "\"This is a fair outcome for everyone in {country},\" {actor} told reporters in {city}.",
    "\"We will not accept any plan that ignores {subject},\" a spokesperson for {org} said.",
    "\"People here deserve answers, and they deserve them now,\" said {other}, a resident of {city}.",
    "\"The next {years} months will decide whether this works,\" said {other}, an economist based in {city}.",
]


class Source(StrEnum):
    AUTO = "auto"
    GENERATED = "generated"
    BBC = "bbc"


@dataclass(frozen=True)
class BenchArticle:
    """One raw message as the benchmark publishes it: the key and the JSON value of a ``RawArticle``."""

    id: str
    value: bytes

    @property
    def key(self) -> bytes:
        return self.id.encode()


def _raw(article_id: str, **fields: object) -> BenchArticle:
    return BenchArticle(article_id, orjson.dumps({"id": article_id, "language": "en", **fields}))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def generated_articles(seed: int = 2026) -> Iterator[BenchArticle]:
    """An endless, reproducible stream of stories of one to four articles, with one article in 20 a republished copy."""
    rng = random.Random(seed)
    numbers = count()
    for story in count():
        country, city = rng.choice(PLACES)
        kind = rng.choice(EVENT_KINDS)
        facts = {
            "actor": _person(rng), "other": _person(rng), "role": rng.choice(ROLES), "org": rng.choice(ORGANISATIONS),
            "subject": rng.choice(SUBJECTS), "country": country, "city": city, "weekday": rng.choice(WEEKDAYS),
            "figure": rng.randint(2, 90), "years": rng.randint(2, 12), "year": rng.randint(2015, 2024),
            "small": f"{rng.uniform(0.2, 4.5):.1f}",
        }
        published = START + timedelta(minutes=7 * story)
        previous: BenchArticle | None = None
        for _ in range(rng.randint(1, 4)):
            number = next(numbers)
            article_id = f"gen-{number:07d}"
            outlet, domain = rng.choice(OUTLETS)
            if previous is not None and rng.random() < 0.05:
                # A republished copy: another outlet runs the previous article's text unchanged.
                copied = orjson.loads(previous.value)
                yield _raw(article_id, url=f"https://{domain}/news/{number}", source=outlet, title=copied["title"],
                           body=copied["body"], published_at=copied["published_at"])
                continue
            paragraphs = [kind.lead.format(**facts), kind.follow_up.format(**facts)]
            background = rng.sample(BACKGROUND, 12)  # no sentence twice in one article
            paragraphs += [" ".join(background[start : start + 3]).format(**facts) for start in range(0, 12, 3)]
            paragraphs.insert(rng.randint(2, len(paragraphs)), rng.choice(QUOTES).format(**facts))
            previous = _raw(
                article_id, url=f"https://{domain}/news/{number}", source=outlet,
                title=kind.headline.format(**facts)[0].upper() + kind.headline.format(**facts)[1:],
                body="\n".join(paragraphs), author=_person(rng),
                published_at=(published + timedelta(minutes=rng.randint(0, 90))).isoformat(),
            )
            yield previous


def bbc_articles(seed: int = 2026) -> Iterator[BenchArticle]:
    """BBC News articles in a fixed shuffled order (the file is sorted by category), endlessly: after the 2,225th,
    the corpus again under new ids, so every later round is exact copies (dedup's cheapest path)."""
    path = datasets_dir() / BBC_FILE
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    random.Random(seed).shuffle(rows)
    for round_number in count():
        suffix = f"#{round_number}" if round_number else ""
        for row in rows:
            yield _raw(f"bbc-{row['id']}{suffix}", source="BBC News", title=row["title"], body=row["body"])


def bbc_available() -> bool:
    return (datasets_dir() / BBC_FILE).is_file()


def bbc_size() -> int:
    with (datasets_dir() / BBC_FILE).open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def article_stream(source: Source) -> Iterator[BenchArticle]:
    if source is Source.BBC:
        return bbc_articles()
    return generated_articles()


def resolve_source(source: Source) -> tuple[Source, str]:
    """The source to use and a line saying what it is (``auto``: BBC when the dataset is there, else generated)."""
    if source is Source.GENERATED or (source is Source.AUTO and not bbc_available()):
        why = "" if source is Source.GENERATED else f" (BBC News not found at {datasets_dir() / BBC_FILE})"
        return Source.GENERATED, f"generated news-shaped articles{why}"
    if not bbc_available():
        raise FileNotFoundError(
            f"BBC News not found at {datasets_dir() / BBC_FILE} (set NEWSSTREAM_DATASETS or DATASETS=...)"
        )
    return Source.BBC, f"BBC News full text, {bbc_size():,} articles ({datasets_dir() / BBC_FILE})"


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Source, choices=list(Source), default=Source.AUTO,
                        help="auto: BBC News when the shared dataset is there, else generated")


def resolve_source_or_skip(source: Source) -> tuple[Source, str] | None:
    """``resolve_source``, or None after printing why the benchmark is skipped (BBC asked for and absent)."""
    try:
        return resolve_source(source)
    except FileNotFoundError as error:
        print(f"skipped: {error}")
        return None


def warmup_articles() -> Iterator[BenchArticle]:
    """Generated articles (another seed) under ids of their own: they wake a worker up and are not measured."""
    for number, article in enumerate(generated_articles(seed=7)):
        fields = orjson.loads(article.value)
        fields.pop("id")
        yield _raw(f"warmup-{number}", **fields)
