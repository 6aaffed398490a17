"""Many distinct short articles for load and failure tests, composed from phrase lists written for this project
(invented people, towns and organisations).

Every run of fixed template words is at most two words long, so every word 3-shingle of a body holds a drawn value:
two articles only share shingles where they share drawn values, which keeps accidental near-duplicates out.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

from models import RawArticle

PEOPLE = [
    "Mira Lundqvist", "Tomas Arbel", "Ines Okafor", "Pavel Drozd", "Selma Haddou", "Rafael Quint", "Greta Holm",
    "Jonas Veit", "Amara Nwosu", "Lucas Ferrant", "Hedda Stroem", "Omar Belkacem", "Yara Tellez", "Bruno Kasper",
    "Nadia Orlova", "Felix Amsel", "Carla Brandao", "Idris Malouf", "Wanda Kessel", "Teodor Vass", "Lina Oyelaran",
    "Marek Sobczak", "Elif Durmaz", "Sven Ahlgren", "Paula Renner", "Kofi Asante", "Rosa Mendel", "Anton Brisk",
]
TOWNS = [
    "Varnholm", "Tessaly Bay", "Oldcastle Ridge", "Pellin", "Marrowby", "Kestrel Falls", "Dunmere", "Halvik",
    "Sorrento Flats", "Brackwater", "Ivel", "Lantern Hill", "Corvasse", "Ember Vale", "Northam Cross", "Riddan",
    "Stellmoor", "Quayside", "Ashgrove", "Fenwick Port", "Tolvern", "Greyhaven", "Moss Crossing", "Aldercourt",
]
ORGANISATIONS = [
    "the Harbour Authority", "the Regional Water Board", "the Miners Union", "the Farmers Cooperative",
    "the Transit Agency", "the Teachers Federation", "the Forestry Service", "the Port Workers Guild",
    "the Heritage Trust", "the Chamber of Trade", "the Health Directorate", "the Rail Company",
    "the Fishing League", "the Housing Council", "the Energy Regulator", "the Civil Defence Office",
]
ACTIONS = [
    ("opened", "new libraries"), ("closed", "old bridges"), ("repaired", "flood barriers"), ("bought", "electric buses"),
    ("inspected", "grain silos"), ("planted", "oak saplings"), ("cancelled", "ferry routes"),
    ("approved", "wind turbines"), ("rebuilt", "rural clinics"), ("sold", "fishing licences"),
    ("painted", "school buses"), ("tested", "water pumps"), ("restored", "stone mills"), ("leased", "cargo cranes"),
    ("donated", "hospital beds"), ("surveyed", "mountain trails"), ("installed", "solar panels"),
    ("dredged", "river channels"), ("renamed", "public squares"), ("audited", "tram depots"),
]
GROUPS = [
    "farmers", "students", "dock workers", "nurses", "shop owners", "pensioners", "cyclists", "fishermen",
    "volunteers", "miners", "bakers", "commuters", "parents", "engineers", "tenants", "musicians",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
OUTLETS = ["Valley Post", "Coastal News", "Northern Ledger", "Riverside Courier", "Upland Gazette", "Bay Herald"]

LEADS = [
    "{org_cap} {verb} {count} {things} in {town} on {day}.",
    "Officials in {town} said {person} {verb} {count} {things}.",
    "{person} from {org} {verb} {count} {things} near {town}.",
    "On {day}, {org} {verb} {count} {things} at {town}.",
]
DETAILS = [
    "{person2} spoke for {number} {group}.",
    "{number} {group} met {person2} there.",
    "{person2} thanked {number} {group}.",
    "Some {number} {group} objected, said {person2}.",
]


def generated_articles(count: int, prefix: str, seed: int = 8) -> list[RawArticle]:
    """``count`` distinct short articles (about 20 words) with ids ``{prefix}-00000`` and up.

    Each article has a (town, action, organisation) of its own, so no two tell the same news."""
    draw = random.Random(seed)
    combinations = [(town, action, org) for town in TOWNS for action in ACTIONS for org in ORGANISATIONS]
    if count > len(combinations):
        raise ValueError(f"at most {len(combinations)} distinct articles, {count} asked")
    draw.shuffle(combinations)
    start = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    articles = []
    for number, (town, (verb, things), org) in enumerate(combinations[:count]):
        values = {
            "org": org,
            "org_cap": org[0].upper() + org[1:],
            "verb": verb,
            "things": things,
            "town": town,
            "count": number + 2,  # a count of its own: no two leads can read the same
            "day": draw.choice(DAYS),
            "person": draw.choice(PEOPLE),
            "person2": draw.choice(PEOPLE),
            "group": draw.choice(GROUPS),
            "number": draw.randint(20, 9000),
        }
        article_id = f"{prefix}-{number:05d}"
        articles.append(
            RawArticle(
                id=article_id,
                url=f"https://news.example.org/{town.lower().replace(' ', '-')}/{article_id}",
                source=draw.choice(OUTLETS),
                title=f"{town}: {things} {verb}",
                body=f"{draw.choice(LEADS).format(**values)} {draw.choice(DETAILS).format(**values)}",
                # Minutes apart, all inside the dedup window: nothing is evicted during a test.
                published_at=start + timedelta(minutes=number),
            )
        )
    return articles


def blank_body_messages(count: int, prefix: str) -> dict[str, bytes]:
    """Raw messages that carry an id but a blank body: each must end as exactly one dead letter (``empty_body``)."""
    return {
        f"{prefix}-blank-{number:03d}": orjson.dumps(
            {"id": f"{prefix}-blank-{number:03d}", "source": "Valley Post", "title": "No text", "body": "  \n "}
        )
        for number in range(count)
    }
