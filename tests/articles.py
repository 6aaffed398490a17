"""Test articles written for this project (invented events, invented places)."""

from __future__ import annotations

from datetime import UTC, datetime

from models import RawArticle

QUAKE_ARVENA = RawArticle(
    id="quake-arvena",
    url="https://valleypost.example.org/2026/11/17/arvena-earthquake",
    source="Valley Post",
    title="Earthquake topples schools in mountain town of Arvena",
    body=(
        "A strong earthquake shook the mountain town of Arvena on Tuesday night, collapsing two schools and a bridge.\n"
        "Rescue teams from the regional capital Dorsk pulled eleven people from the rubble, and the health ministry "
        "said forty people were treated in hospital.\n"
        "Mayor Lena Voss asked residents to sleep outdoors while engineers inspected damaged buildings. The national "
        "seismic institute put the magnitude at 6.2 and warned of aftershocks for several days.\n"
        "Schools across the province will stay closed until Friday."
    ),
    published_at=datetime(2026, 11, 17, 22, 30, tzinfo=UTC),
)

QUAKE_ARVENA_COPY = RawArticle(
    id="quake-arvena-syndicated",
    url="https://mountainwire.example.net/news/arvena-quake-schools",
    source="Mountain Wire",
    title="Arvena quake: two schools and a bridge collapse",
    body=(
        "Mayor Lena Voss asked residents to sleep outdoors while engineers inspected the damaged buildings. The "
        "national seismic institute put the magnitude at 6.2 and warned of aftershocks for several days.\n"
        "A strong earthquake shook the mountain town of Arvena on Tuesday night, bringing down two schools and a "
        "bridge.\n"
        "Rescue teams from the regional capital Dorsk pulled eleven people out of the rubble, and the health ministry "
        "said forty people were treated in hospital.\n"
        "Get the latest regional headlines from Mountain Wire every morning."
    ),
    published_at=datetime(2026, 11, 18, 1, 5, tzinfo=UTC),
)

QUAKE_ARVENA_FOLLOW_UP = RawArticle(
    id="quake-arvena-day-two",
    url="https://dorskherald.example.com/arvena-rebuild",
    source="Dorsk Herald",
    title="Arvena begins clearing rubble a day after earthquake",
    body=(
        "Engineers in Arvena said on Wednesday that the bridge destroyed by Tuesday's magnitude 6.2 earthquake would "
        "take months to rebuild.\n"
        "Mayor Lena Voss visited the two collapsed schools with rescue teams from Dorsk and said the eleven people "
        "pulled from the rubble were recovering in hospital. Aftershocks kept residents of Arvena outdoors for a "
        "second night."
    ),
    published_at=datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
)

QUAKE_PELLMAR = RawArticle(
    id="quake-pellmar",
    url="https://coastalnews.example.org/pellmar-earthquake",
    source="Coastal News",
    title="Earthquake damages harbour in coastal city of Pellmar",
    body=(
        "An earthquake struck the coastal city of Pellmar early on Sunday, damaging the harbour and several hotels.\n"
        "Firefighters rescued three tourists from a collapsed guesthouse, and governor Omar Haddad declared a state of "
        "emergency for the coast.\n"
        "The magnitude 5.4 tremor was felt as far away as the capital, Tiros, where offices were evacuated. Ferries to "
        "the islands were cancelled while divers checked the harbour walls."
    ),
    published_at=datetime(2026, 11, 22, 5, 40, tzinfo=UTC),
)
