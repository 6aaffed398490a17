"""Entities from a parsed Doc: typed mentions with character offsets, one label per name in the document, aliases
merged into one canonical entity per real-world referent, countries and cities geocoded.

The steps, each a plain function of the Doc and the mentions so far:

1. mentions: the model's entities (spaCy OntoNotes labels mapped to ``ENTITY_TYPES``), trimmed of "the", "'s" and
   anything past a line break; plus country names and demonyms from the gazetteer that the model missed.
2. types: a span that is a country name is GPE and a demonym NORP, whatever the model said; context fixes the
   rest (sports result lines make teams and scorers, a bracket after a person an affiliation, a dateline a place,
   "... Ground" a venue, "... Cup" a competition, "south of X" a place); a word that is the surname of a person
   named in full elsewhere in the document is PER, the first word of a longer organisation name ORG; then one type
   per name in the document (the majority of its mentions, the first breaking ties), tagged wherever else it occurs.
3. merging: a surname joins the full name; an acronym joins the name it abbreviates (written in brackets after it,
   or matching its initials, or containing the initials of a shorter name such as "Revolutionary Guards" in "IRGC")
   and a shorter name whose words all occur in a longer one joins it; a demonym ("Iranian") joins its country; a
   capital that acts ("Tehran said", "Tehran's decision") joins its country, which stands for the state, while the
   capital as a place ("in Tehran") stays a city.
4. geocoding: a GPE or LOC entity named like a country or a city of the gazetteer gets its ISO code and coordinates.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc, Span, Token

from models import Entity, Geo, Mention
from streams.gazetteer import Gazetteer, Place, gazetteer

RULES_VERSION = "newsstream-rules/2"

# spaCy OntoNotes labels -> newsstream entity types. Numeric and temporal labels are not entities here.
ENTITY_TYPES: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "GPE",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}
PLACE_TYPES = frozenset({"GPE", "LOC"})
# Country names that are also common words or given names: found by the gazetteer only when the model tagged them.
AMBIGUOUS_COUNTRY_NAMES = frozenset({"chad", "jersey", "turkey", "georgia", "jordan", "guinea", "man", "niger", "china"})
LEADING_WORDS = frozenset({"the"})
# Lower-case words inside names ("Schalk van der Merwe", "Abu Bakr al-Baghdadi", "Bank of England").
PARTICLES = frozenset({"de", "van", "der", "von", "al", "bin", "ibn", "da", "del", "della", "la", "le", "du", "di",
                       "el", "y", "of", "the", "and", "for", "on", "upon", "'s", "’s", "den", "ter", "dos", "das"})
# Labels of names, which never end with a bare number (unlike a product or an event: "Apollo 11").
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"})
TRAILING_WORDS = frozenset({"'s", "’s", "'", "’"})
# Words skipped when an acronym is built from a name ("Hay'at Tahrir al-Sham" -> HTS).
NAME_PARTICLES = frozenset({"of", "the", "and", "for", "al", "el", "de", "du", "la", "le", "des", "'s", "&", "-"})
ARABIC_ARTICLE = re.compile(r"^(?:al|el|ad|ar|as|ash|at|az|an)[-‑]", re.IGNORECASE)
RESULT_CONNECTORS = frozenset({"v", "vs", "at", "and", "in", "of", "de", "del", "la", "st"})
# Column heads and labels of results tables, never teams.
TABLE_WORDS = frozenset({
    "attendance", "halftime", "half-time", "extras", "total", "totals", "scorers", "points", "pts", "result", "results",
    "score", "played", "won", "lost", "drawn", "w", "l", "d", "t", "pct", "gb", "gf", "ga", "home", "away", "division",
    "conference", "group", "round", "standings", "innings", "overs", "wickets", "bowling", "batting", "fall",
    "squad", "scorer", "team", "teams", "lineup", "sent-off", "booked", "substitutes", "referee",
    "friday", "saturday", "sunday", "monday", "tuesday", "wednesday", "thursday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december",
})
SCORE = re.compile(r"[-+]?[\d.,:/-]*\d[\d.,:/-]*")
DECIMAL = re.compile(r"(?<![\d.:])\d+\.\d+(?![\d.:-])")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
PLACE_PREPOSITIONS = frozenset({"in", "at", "near", "of", "from", "across", "outside", "inside", "around", "to"})
VENUE_WORDS = frozenset({"ground", "stadium", "oval", "arena", "park", "airport", "square", "bridge", "street"})
COMPETITION_WORDS = frozenset({"cup", "open", "shield", "championship", "championships", "games", "olympics", "prix",
                               "trophy", "series", "tournament", "masters", "classic", "rally", "marathon"})
AREA_WORDS = frozenset({"region", "province", "city", "town", "district", "area", "county", "state", "countryside"})
GOVERNMENT_HEADS = frozenset({"government", "regime", "authorities", "officials", "leadership", "administration"})


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass
class _Mention:
    start: int  # token indices in the Doc
    end: int
    type: str
    text: str
    place: Place | None = None  # a country (for countries, demonyms and acting capitals) or a city
    cluster: int = -1

    def overlaps(self, other: _Mention) -> bool:
        return self.start < other.end and other.start < self.end


def _trim(span: Span, label: str) -> Span | None:
    """Cut at the first line break, drop a leading "the" and a trailing possessive or punctuation."""
    doc = span.doc
    start, end = span.start, span.end
    for token in span:
        if token.is_space and "\n" in token.text:
            end = token.i
            break
    for token in doc[start:end]:  # "CRICKET - LARA ...": a headline's topic before a spaced dash is not the name
        if token.text in {"-", "--", "–", "—"} and token.whitespace_ and token.i > start and doc[token.i - 1].whitespace_:
            start = token.i + 1
    while start < end and (doc[start].lower_ in LEADING_WORDS or doc[start].is_punct or doc[start].is_space):
        start += 1
    while end > start and (
        doc[end - 1].lower_ in TRAILING_WORDS
        or doc[end - 1].is_punct
        or doc[end - 1].is_space
        or doc[end - 1].is_lower and doc[end - 1].is_stop  # "Mines and"
        or _is_number(doc[end - 1]) and label in NAME_LABELS  # "Afridi 2", "Attendance 33,000"
    ):
        end -= 1
    if end <= start:
        return None
    span = doc[start:end]
    if not any(c.isupper() for c in span.text) or span.text in {"I", "I'm"}:
        return None  # names are capitalised; "I" is not a person's name
    if span[0].lower_ in TABLE_WORDS and all(_is_number(t) or t.is_punct for t in span[1:]):
        return None  # "Attendance", "Halftime 0-1": a table row's label
    if len(span) >= 3 and all(t.is_upper and len(t) <= 3 for t in span):
        return None  # a table's column heads ("W L T GF GA PTS")
    return span


def _pieces(entity: Span) -> list[Span]:
    """A name never runs across a lower-case word other than a particle ("Victoria at Bellerive Oval", "Blewett b
    Warne") or a "v" between sides ("PAKISTAN V NEW ZEALAND"): the model's span is cut there."""
    pieces, start = [], entity.start
    for token in entity:
        if token.lower_ in {"v", "v.", "vs", "vs."} or token.is_lower and token.is_alpha and token.lower_ not in PARTICLES:
            if token.i > start:
                pieces.append(entity.doc[start : token.i])
            start = token.i + 1
    if start < entity.end:
        pieces.append(entity.doc[start : entity.end])
    return [piece for piece in pieces if len(piece) == len(entity) or piece.text[:1].isupper()]


def _model_mentions(doc: Doc, text: str) -> list[_Mention]:
    mentions = []
    for entity in doc.ents:
        entity_type = ENTITY_TYPES.get(entity.label_)
        if entity_type is None:
            continue
        for piece in _pieces(entity):
            span = _trim(piece, entity.label_)
            if span is not None:
                mentions.append(_Mention(span.start, span.end, entity_type, text[span.start_char : span.end_char]))
    return mentions


def _dateline_at(doc: Doc, start: int, end: int, text: str, strict: bool = False) -> bool:
    """A wire dateline: a name opening a line, followed by a comma, a bracket or a date ("GLASGOW 1996-12-07").
    ``strict``: followed by a date, or by a comma and a country ("AL-AIN , United Arab Emirates")."""
    opens_line = start == 0 or doc[start - 1].is_space and "\n" in doc[start - 1].text
    after = text[doc[end - 1].idx + len(doc[end - 1].text) :][:40].lstrip()
    if not opens_line:
        return False
    if ISO_DAY.match(after):
        return True
    if strict:
        country = after[1:].strip().split(" 1")[0].split(",")[0].strip() if after[:1] == "," else ""
        return bool(country) and gazetteer().country(country) is not None
    return after[:1] in {",", "("}


def _gazetteer_mentions(doc: Doc, text: str, taken: list[_Mention], places: Gazetteer) -> list[_Mention]:
    """Country names, demonyms and dateline cities the model missed (longest match first, capitalised, not inside
    another mention)."""
    covered = {i for mention in taken for i in range(mention.start, mention.end)}
    # Token attributes read once: Doc indexing builds a Token object per access, and this scan was a quarter of the
    # rules' time.
    starts = [token.idx for token in doc]
    ends = [token.idx + len(token.text) for token in doc]
    spaces = [token.is_space for token in doc]
    cased = doc.text  # the re-cased text the model read: a shouted "THE" is "the" there
    found: list[_Mention] = []
    i = 0
    while i < len(doc):
        match = None
        # A name is capitalised, so only a token starting with a capital can start one.
        for length in (4, 3, 2, 1) if cased[starts[i] : starts[i] + 1].isupper() else ():
            end = i + length
            if end > len(doc) or any(j in covered for j in range(i, end)) or spaces[end - 1]:
                continue
            words = text[starts[i] : ends[end - 1]]
            if "\n" in words:
                continue
            if (country := places.country(words)) is not None and words.casefold() not in AMBIGUOUS_COUNTRY_NAMES:
                match = _Mention(i, end, "GPE", words, country)
            elif (nation := places.demonym(words)) is not None:
                match = _Mention(i, end, "NORP", words, nation)
            elif _dateline_at(doc, i, end, text) and places.city(words) is not None:
                match = _Mention(i, end, "GPE", words)
            if match:
                break
        if match:
            found.append(match)
            i = match.end
        else:
            i += 1
    return found


def _bracketed_acronyms(doc: Doc, text: str, taken: list[_Mention]) -> list[_Mention]:
    """"Hay'at Tahrir al-Sham (HTS)": the capitalised name before an acronym in brackets whose letters are its
    initials, and the acronym, are an organisation even when the model missed them."""
    covered = {i: mention for mention in taken for i in range(mention.start, mention.end)}
    found: list[_Mention] = []
    for token in doc[1:-2]:
        acronym, closing = doc[token.i + 1], doc[token.i + 2]
        if token.text != "(" or closing.text != ")" or not _is_acronym(acronym.text) or acronym.i in covered:
            continue
        start = token.i
        while start > 0 and token.i - start < 8 and not doc[start - 1].is_space and (
            doc[start - 1].text[:1].isupper() or doc[start - 1].lower_ in NAME_PARTICLES or doc[start - 1].text[:1] in "'’-"
        ):
            start -= 1
        # the longest run of words ending before the bracket whose initials are the acronym's letters
        starts = [i for i in range(start, token.i) if doc[i].text[:1].isupper()]
        start = next((i for i in starts if _initials(doc[i : token.i].text) == acronym.text.replace(".", "")), token.i)
        if start == token.i:
            continue
        found.append(_Mention(acronym.i, acronym.i + 1, "ORG", acronym.text))
        if not any(i in covered for i in range(start, token.i)):
            span = doc[start : token.i]
            found.append(_Mention(start, token.i, "ORG", text[span.start_char : span.end_char]))
    return found


def _lines(doc: Doc) -> list[Span]:
    lines, start = [], 0
    for token in doc:
        if token.is_space and "\n" in token.text:
            if token.i > start:
                lines.append(doc[start : token.i])
            start = token.i + 1
    if start < len(doc):
        lines.append(doc[start:])
    return lines


def _is_number(token: Token) -> bool:
    return any(c.isdigit() for c in token.text) and not any(c.isalpha() for c in token.text)


def _scores(line: Span) -> int:
    """Numbers on a line, a date such as 1996-12-06 (which spaCy splits in five) not counted."""
    words = line.text.split()
    return sum(bool(SCORE.fullmatch(word)) and not ISO_DAY.fullmatch(word) for word in words)


def _results_teams(doc: Doc, text: str, mentions: list[_Mention], places: Gazetteer) -> list[_Mention]:
    """Sports results and standings ("Barcelona 3 Real Madrid 1", "Philadelphia 4 3 0 .571"): on a line of names
    and numbers, a capitalised name followed by a number is a team, an organisation, unless it is a country (a
    national team, which stays the country); a name with a number in brackets after a team on such a line is a
    scorer, a person ("Arsenal 2 ( Adams 45 )"). Mentions overlapping a team or a scorer are replaced by it."""
    teams: list[_Mention] = []
    for line in _lines(doc):
        numbers = _scores(line)
        lower = sum(t.is_alpha and t.is_lower and t.lower_ not in RESULT_CONNECTORS for t in line)
        if numbers < 2 or lower > 1 or (len(line) > 1 and line[0].lower_ in TABLE_WORDS and line[1].text == ":"):
            continue  # not a results line, or a labelled list of players ("Scorers : ...", "Bowling : ...")
        if DECIMAL.search(line.text):
            continue  # quantities and prices ("Wheat 387.4 4677.8", "Choice 2-3 ... 67.00"), not scores
        i = line.start
        depth = 0
        on_line = len(teams)
        while i < line.end:
            depth += (doc[i].text == "(") - (doc[i].text == ")")
            if not doc[i].text[:1].isupper():
                i += 1
                continue
            end = i
            while end < line.end and (
                doc[end].text[:1].isupper()
                or doc[end].text in {".", "-", "'"} and end + 1 < line.end and doc[end + 1].text[:1].isupper()
            ):
                end += 1
            name = text[doc[i].idx : doc[end - 1].idx + len(doc[end - 1].text)]
            followed_by_number = end < line.end and _is_number(doc[end])
            person = any(m.type == "PER" and m.start < end and i < m.end for m in mentions)
            if end < line.end and doc[end].text == "(" and not person:  # "Barcelona ( Spain ) 9 4 5 13"
                closing = next((j for j in range(end, min(end + 6, line.end)) if doc[j].text == ")"), None)
                followed_by_number = closing is not None and closing + 1 < line.end and _is_number(doc[closing + 1])
            national = places.is_nation(name) or places.demonym(name)
            # in brackets ("Arsenal 2 ( Adams 45 )") or after a comma ("Botes 72 68 , Greg Reid 72 68") are players
            listed = depth > 0 or i > line.start and doc[i - 1].text == ","
            if followed_by_number and len(name) > 1 and name.casefold() not in TABLE_WORDS and not national:
                if not listed:
                    teams.append(_Mention(i, end, "ORG", name))
                elif depth > 0 and len(teams) > on_line:
                    teams.append(_Mention(i, end, "PER", name))  # a scorer
            i = end
    if not teams:
        return mentions
    kept = [m for m in mentions if not any(m.overlaps(team) for team in teams)]
    return sorted(kept + teams, key=lambda mention: mention.start)


def _affiliations(doc: Doc, text: str, mentions: list[_Mention], places: Gazetteer) -> list[_Mention]:
    """A capitalised name in brackets right after a person is what the person belongs to, an organisation
    ("Luis Figo ( Barcelona )", "Smith (Labour)"), unless it is a country or a demonym (a nationality)."""
    found: list[_Mention] = []
    for mention in mentions:
        if mention.type != "PER" or mention.end + 2 >= len(doc) or doc[mention.end].text != "(":
            continue
        start = end = mention.end + 1
        while end < len(doc) and end - start < 5 and doc[end].text[:1].isupper():
            end += 1
        if end == start or end >= len(doc) or doc[end].text != ")":
            continue
        name = text[doc[start].idx : doc[end - 1].idx + len(doc[end - 1].text)]
        if places.is_nation(name) or places.demonym(name):
            continue
        found.append(_Mention(start, end, "ORG", name))
    if not found:
        return mentions
    kept = [m for m in mentions if not any(m.overlaps(club) for club in found)]
    return sorted(kept + found, key=lambda mention: mention.start)


def _fold(name: str) -> str:
    return " ".join(name.casefold().replace("’", "'").split())


def _assign_places(mentions: list[_Mention], places: Gazetteer) -> None:
    """Country names are GPE and demonyms NORP, whatever the model said."""
    for mention in mentions:
        if mention.place is not None:
            continue
        if (country := places.country(mention.text)) is not None:
            mention.type, mention.place = "GPE", country
        elif (nation := places.demonym(mention.text)) is not None:
            mention.type, mention.place = "NORP", nation
        elif places.is_nation(mention.text):
            mention.type = "GPE"  # "Wales": a nation, not its state
        elif mention.type == "NORP" and places.city(mention.text) is not None:
            mention.type = "GPE"  # the small model reads some Arabic city names as groups ("Aleppo")


def _typed_by_context(doc: Doc, text: str, mentions: list[_Mention], places: Gazetteer) -> None:
    """A city the model took for a person or an organisation is a place where the text puts it as one: after a
    preposition of place ("in Alzira", "south of Valencia") or before a word for an area ("the Valencia region").
    A name opening a dateline ("AL-AIN , United Arab Emirates") is a place, a name ending in a word for a venue
    ("Melbourne Cricket Ground") too, and one ending in a word for a competition ("Asian Cup", "Zimbabwe Open") is
    an event."""
    for mention in mentions:
        if mention.type in {"PER", "ORG", "MISC", "EVENT"} and mention.place is None:
            last = doc[mention.end - 1].lower_
            if _dateline_at(doc, mention.start, mention.end, text, strict=True):
                mention.type = "GPE"
            elif last in VENUE_WORDS:
                mention.type = "LOC"
            elif last in COMPETITION_WORDS and mention.end - mention.start > 1:
                mention.type = "EVENT"
    for mention in mentions:
        if mention.type not in {"PER", "ORG"} or mention.place is not None or places.city(mention.text) is None:
            continue
        before = doc[mention.start - 1] if mention.start > 0 else None
        after = doc[mention.end] if mention.end < len(doc) else None
        if before is not None and before.lower_ in PLACE_PREPOSITIONS or after is not None and after.lower_ in AREA_WORDS:
            mention.type = "GPE"


def _surnames(mentions: Iterable[_Mention]) -> dict[str, str]:
    """Last word (folded) of each person named in full -> that full name, the first such person winning."""
    surnames: dict[str, str] = {}
    for mention in mentions:
        words = mention.text.split()
        if mention.type == "PER" and len(words) > 1 and len(words[-1]) > 2 and words[-1][:1].isupper():
            surnames.setdefault(_fold(words[-1]), mention.text)
    return surnames


def _short_names(mentions: Iterable[_Mention], places: Gazetteer) -> dict[str, str]:
    """First word (folded) of each organisation with a longer name ("Newmont" of "Newmont Mining Corp") -> that name,
    unless the word is a place or a demonym ("American" of "American Airlines")."""
    short: dict[str, str] = {}
    for mention in mentions:
        words = mention.text.split()
        if mention.type == "ORG" and len(words) > 1 and len(words[0]) > 2 and words[0][:1].isupper():
            if words[0].casefold() not in STOP_WORDS and not (places.country(words[0]) or places.city(words[0]) or places.demonym(words[0])):
                short.setdefault(_fold(words[0]), mention.text)
    return short


def _retype_short_names(mentions: list[_Mention], places: Gazetteer) -> None:
    """A surname of a person named in full is PER; the first word of a longer organisation name is ORG."""
    surnames = _surnames(mentions)
    short = _short_names(mentions, places)
    for mention in mentions:
        if mention.place is None and " " not in mention.text:
            if _fold(mention.text) in surnames:
                mention.type = "PER"
            elif _fold(mention.text) in short:
                mention.type = "ORG"


def _consistent_types(mentions: list[_Mention]) -> None:
    """One type per name in the document: the majority of its mentions, ties to the first."""
    votes: dict[str, Counter[str]] = {}
    first: dict[str, str] = {}
    for mention in mentions:
        key = _fold(mention.text)
        votes.setdefault(key, Counter())[mention.type] += 1
        first.setdefault(key, mention.type)
    for mention in mentions:
        key = _fold(mention.text)
        counts = votes[key]
        best = max(counts.values())
        mention.type = first[key] if counts[first[key]] == best else counts.most_common(1)[0][0]


def _propagate(doc: Doc, text: str, mentions: list[_Mention], places: Gazetteer) -> list[_Mention]:
    """Tag every other capitalised occurrence of a name the document already typed, of a known person's surname and
    of the first word of an organisation's longer name."""
    forms: dict[str, tuple[tuple[str, ...], str, Place | None]] = {}
    for mention in mentions:
        words = tuple(t.text for t in doc[mention.start : mention.end])
        forms.setdefault(" ".join(words), (words, mention.type, mention.place))
    for surname in _surnames(mentions):
        for mention in mentions:
            if mention.type == "PER" and _fold(mention.text.split()[-1]) == surname:
                word = doc[mention.end - 1].text
                forms.setdefault(word, ((word,), "PER", None))
                break
    short = _short_names(mentions, places)
    for mention in mentions:
        first_word = mention.text.split()[0]
        if mention.type == "ORG" and _fold(first_word) in short and _fold(mention.text) == _fold(short[_fold(first_word)]):
            words = tuple(t.text for t in doc[mention.start : mention.end] if t.idx < doc[mention.start].idx + len(first_word))
            forms.setdefault(" ".join(words), (words, "ORG", None))
    by_first: dict[str, list[tuple[tuple[str, ...], str, Place | None]]] = {}
    for words, entity_type, place in forms.values():
        by_first.setdefault(words[0], []).append((words, entity_type, place))
    for candidates in by_first.values():
        candidates.sort(key=lambda candidate: -len(candidate[0]))
    covered = {i for mention in mentions for i in range(mention.start, mention.end)}
    added = []
    i = 0
    while i < len(doc):
        token = doc[i]
        match = None
        if i not in covered and token.text[:1].isupper():
            for words, entity_type, place in by_first.get(token.text, ()):
                end = i + len(words)
                if end <= len(doc) and not any(j in covered for j in range(i, end)):
                    if tuple(t.text for t in doc[i:end]) == words:
                        span = doc[i:end]
                        match = _Mention(i, end, entity_type, text[span.start_char : span.end_char], place)
                        break
        if match:
            added.append(match)
            i = match.end
        else:
            i += 1
    return sorted(mentions + added, key=lambda mention: mention.start)


def _acts(span: Span) -> bool:
    """A place name used for its state: the subject or possessor of an action, or "the Tehran government"."""
    root = span.root
    if root.dep_ in {"nsubj", "nsubjpass", "poss"}:
        return True
    if root.dep_ == "pobj" and root.head.dep_ == "agent":
        return True
    return root.dep_ == "compound" and root.head.lemma_.lower() in GOVERNMENT_HEADS


def _initials(name: str) -> str:
    letters = []
    for word in name.replace("-", " - ").split():
        word = ARABIC_ARTICLE.sub("", word)
        if word.casefold() in NAME_PARTICLES or not word[:1].isalpha():
            continue
        letters.append(word[0].upper())
    return "".join(letters)


def _is_acronym(name: str) -> bool:
    letters = name.replace(".", "")
    return 2 <= len(letters) <= 6 and letters.isalpha() and letters.isupper()


def _content_words(name: str) -> frozenset[str]:
    return frozenset(
        word.casefold().removesuffix("s") for word in name.replace("-", " ").split() if word.casefold() not in NAME_PARTICLES
    )


def _abbreviates(acronym: str, name: str) -> bool:
    """"HTS" for "Hay'at Tahrir al-Sham"; "IRGC" for "Islamic Revolutionary Guard Corps" and for "Revolutionary Guards"."""
    letters = acronym.replace(".", "")
    initials = _initials(name)
    return len(initials) >= 2 and (letters == initials or (len(initials) < len(letters) and initials in letters))


class _Clusters:
    """Union-find over mentions."""

    def __init__(self, count: int) -> None:
        self.parent = list(range(count))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _cluster(doc: Doc, text: str, mentions: list[_Mention], places: Gazetteer) -> list[list[_Mention]]:
    clusters = _Clusters(len(mentions))
    first_by_key: dict[tuple[str, str], int] = {}
    country_mention: dict[str, int] = {}
    for index, mention in enumerate(mentions):
        span = doc[mention.start : mention.end]
        if mention.type == "GPE" and mention.place is None and _acts(span):
            mention.place = places.capital_of(mention.text)  # an acting capital stands for its country
        if mention.place is not None and mention.place.kind == "country":
            code = mention.place.country_code
            if code in country_mention:
                clusters.union(country_mention[code], index)
            else:
                country_mention[code] = index
            continue
        key = (mention.type, _fold(mention.text))
        if key in first_by_key:
            clusters.union(first_by_key[key], index)
        else:
            first_by_key[key] = index
    # a surname joins the first person named in full with it
    surnames = _surnames(mentions)
    full_names = {(m.type, _fold(m.text)): i for i, m in enumerate(mentions) if m.type == "PER"}
    for index, mention in enumerate(mentions):
        if mention.type == "PER" and " " not in mention.text and _fold(mention.text) in surnames:
            clusters.union(full_names[("PER", _fold(surnames[_fold(mention.text)]))], index)
    short = _short_names(mentions, places)
    long_names = {_fold(m.text): i for i, m in enumerate(mentions) if m.type == "ORG"}
    for index, mention in enumerate(mentions):
        if mention.type == "ORG" and " " not in mention.text and _fold(mention.text) in short:
            clusters.union(long_names[_fold(short[_fold(mention.text)])], index)
    # acronyms and short forms of organisations
    names = {_fold(m.text): i for i, m in enumerate(mentions) if m.type in {"ORG", "NORP", "MISC", "EVENT", "LOC"}}
    for acronym_key, acronym_index in names.items():
        acronym = mentions[acronym_index].text
        if not _is_acronym(acronym):
            continue
        for name_key, name_index in names.items():
            if name_key != acronym_key and not _is_acronym(mentions[name_index].text):
                if _abbreviates(acronym, mentions[name_index].text):
                    clusters.union(acronym_index, name_index)
    for index, mention in enumerate(mentions):  # "Long Name (LN)" and "LN (Long Name)"
        after = doc[mention.end : mention.end + 1]
        if len(after) and after[0].text == "(":
            for other_index, other in enumerate(mentions):
                if other.start == mention.end + 1 and doc[other.end : other.end + 1].text == ")":
                    short, long = sorted((mention, other), key=lambda m: len(m.text))
                    if _is_acronym(short.text) and other.type in {"ORG", "NORP", "MISC"} | {mention.type}:
                        clusters.union(index, other_index)
    multiword = [(k, i) for k, i in names.items() if len(_content_words(mentions[i].text)) >= 2]
    for short_key, short_index in multiword:
        short_words = _content_words(mentions[short_index].text)
        for long_key, long_index in multiword:
            long_words = _content_words(mentions[long_index].text)
            if short_key != long_key and len(short_words) < len(long_words) and short_words <= long_words:
                if mentions[short_index].type == mentions[long_index].type == "ORG":
                    clusters.union(short_index, long_index)
    grouped: dict[int, list[_Mention]] = {}
    for index, mention in enumerate(mentions):
        grouped.setdefault(clusters.find(index), []).append(mention)
    return [grouped[root] for root in sorted(grouped)]


def _canonical(group: list[_Mention]) -> tuple[str, str, Place | None]:
    """Name, type and place of a merged entity."""
    countries = [m.place for m in group if m.place is not None and m.place.kind == "country"]
    if countries:
        return countries[0].name, "GPE", countries[0]
    votes = Counter(m.type for m in group)
    entity_type = max(votes, key=lambda t: (votes[t], -next(i for i, m in enumerate(group) if m.type == t)))
    named = [m for m in group if m.type == entity_type and not _is_acronym(m.text)] or group
    canonical = max(named, key=lambda m: (len(m.text.split()), -m.start)).text
    return " ".join(canonical.split()), entity_type, None


def _geo(name: str, entity_type: str, place: Place | None, places: Gazetteer, countries: frozenset[str]) -> Geo | None:
    """A place's gazetteer entry; a city's among those of its name in a country the article names, if any."""
    if place is not None:
        return places.geo(place)
    if entity_type not in PLACE_TYPES:
        return None
    found = places.country(name) or places.city(name, countries)
    return places.geo(found) if found is not None else None


def find_mentions(doc: Doc, text: str, places: Gazetteer) -> list[_Mention]:
    """Typed, document-consistent mentions (steps 1 and 2)."""
    mentions = _model_mentions(doc, text)
    mentions += _gazetteer_mentions(doc, text, mentions, places)
    mentions += _bracketed_acronyms(doc, text, mentions)
    mentions.sort(key=lambda mention: mention.start)
    mentions = _results_teams(doc, text, mentions, places)
    mentions = _affiliations(doc, text, mentions, places)
    _assign_places(mentions, places)
    _typed_by_context(doc, text, mentions, places)
    _retype_short_names(mentions, places)
    _consistent_types(mentions)
    return _propagate(doc, text, mentions, places)


def entities_from_doc(doc: Doc, model: str, text: str | None = None) -> list[Entity]:
    """One canonical entity per real-world referent in the document, with every mention.

    ``text`` is the article's own text when the Doc was parsed from a re-cased copy (same length, same offsets).
    """
    text = doc.text if text is None else text
    places = gazetteer()
    mentions = find_mentions(doc, text, places)
    entities = []
    groups = _cluster(doc, text, mentions, places)
    countries = frozenset(m.place.country_code for m in mentions if m.place is not None and m.place.kind == "country")
    for group in groups:
        canonical, entity_type, place = _canonical(group)
        first = group[0]
        spans = [doc[m.start : m.end] for m in group]
        aliases: dict[str, str] = {}
        for m in group:  # each other name once, as written outside an all-caps headline where it can be
            key = _fold(m.text)
            if key != _fold(canonical) and (key not in aliases or aliases[key].isupper()):
                aliases[key] = m.text
        entities.append(
            Entity(
                id=stable_id(entity_type, canonical.casefold()),
                text=first.text,
                canonical=canonical,
                type=entity_type,
                start=spans[0].start_char,
                end=spans[0].end_char,
                mentions=len(group),
                model=f"{model}+{RULES_VERSION}+{places.source}",
                spans=tuple(
                    Mention(start=span.start_char, end=span.end_char, text=m.text, type=m.type)
                    for m, span in zip(group, spans, strict=True)
                ),
                aliases=tuple(aliases.values()),
                geo=_geo(canonical, entity_type, place, places, countries),
            )
        )
    return entities


def mention_index(doc: Doc, entities: Sequence[Entity]) -> dict[int, Entity]:
    """Token index -> the entity one of whose mentions covers it."""
    index: dict[int, Entity] = {}
    for entity in entities:
        for mention in entity.spans:
            span = doc.char_span(mention.start, mention.end, alignment_mode="expand")
            if span is not None:
                for token in span:
                    index.setdefault(token.i, entity)
    return index
