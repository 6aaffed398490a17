"""Events from a parsed Doc: per sentence, who did what to whom, where and when, coded in PLOVER (CAMEO root
alongside), with modality, a confidence score and the evidence span.

A trigger is a verb of ``VERB_CODES`` or a noun of ``NOUN_CODES`` (the object of a light verb such as "held talks",
the subject of a verb of occurring such as "clashes erupted", or on its own: "the attack on the convoy"). Roles come
from the dependency parse: actor = subject or "by" agent (inherited along "and" and "to"-clauses, "he"/"she" taken
as the last person named before), target = object, passive subject or the object of against/on/at/with, location =
the place after in/at/near/..., date = the date expression attached to the trigger (else the one in the sentence),
resolved against the publication time. An event is kept when it has an actor, a target or a place; the same event
told twice (a headline and its lead) is kept once, with the more complete roles. Any other action verb with a doer
and a thing done to or a place ("Maersk diverted three ships") is an event without a code (``plover_type`` None).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from models import Entity, Event, Geo, Modality
from streams.dates import resolve_date
from streams.entities import PLACE_TYPES, RULES_VERSION, mention_index, stable_id
from streams.gazetteer import gazetteer
from streams.taxonomy import (
    ASSAULT_MODES,
    LIGHT_VERBS,
    MODE_PRIORITY,
    PROTEST_FIRES,
    WEAPON_NOUNS,
    WEAPON_VERBS,
    NOUN_CODES,
    OCCURRENCE_VERBS,
    VERB_CODES,
    Code,
    lemma_table,
    refine,
)

TARGET_PREPOSITIONS = frozenset({"against", "on", "upon", "at", "with", "into"})
LOCATION_PREPOSITIONS = frozenset({"in", "at", "near", "outside", "inside", "across", "into", "around", "of"})
REPORTING_VERBS = frozenset({"say", "report", "claim", "allege", "tell", "announce", "state", "confirm", "add", "write"})
REPORTED_MARKERS = ("according to", "reportedly", "allegedly", "reports said", "was reported", "were reported")
INTENT_VERBS = frozenset(
    {"plan", "intend", "vow", "threaten", "pledge", "promise", "aim", "prepare", "expect", "want", "seek", "hope",
     "decide", "schedule", "set", "propose", "consider", "try", "attempt", "agree"}
)
FUTURE_AUXILIARIES = frozenset({"will", "shall", "'ll", "wo"})
FUTURE_MODIFIERS = frozenset({"planned", "upcoming", "proposed", "expected", "scheduled", "possible"})
PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
EMPTY_ROLES = frozenset(
    {"it", "they", "them", "this", "that", "who", "which", "what", "we", "i", "you", "us", "there", "itself"}
)
# Words that are a trigger only in some senses: a lower confidence.
AMBIGUOUS_TRIGGERS = frozenset({"hit", "strike", "fire", "call", "target", "block", "take", "beat", "free", "engage",
                                "gather",
                                "meet", "march", "rally", "deal", "offer", "sign", "welcome", "have"})
CIVILIAN_GROUPS = frozenset({"worker", "employee", "teacher", "doctor", "nurse", "driver", "union", "staff", "student",
                             "farmer", "trader", "miner", "laborer", "labourer", "resident", "villager", "protester",
                             "demonstrator", "vendor", "intern", "activist"})
CONTROL_VERBS = frozenset({"take", "seize", "gain", "assume", "regain", "wrest"})
PHONE_WORDS = frozenset({"phone", "telephone", "call"})
# "observed 14 explosions near X", "clashes were reported": an event told without its sides
PERCEPTION_VERBS = frozenset({"observe", "report", "hear", "record", "see", "note", "witness", "register"})
# Verbs that are no action of their own (statements, intentions, light and copular verbs).
NOT_ACTIONS = REPORTING_VERBS | INTENT_VERBS | LIGHT_VERBS | OCCURRENCE_VERBS | frozenset(
    {"be", "have", "do", "become", "seem", "remain", "include", "get", "know", "think", "believe", "say", "speak",
     "talk", "call", "come", "go", "see", "want", "need", "use", "let", "keep", "put", "give", "find", "show"}
)
NOT_ACTORS = frozenset({"GPE", "LOC", "FAC", "DATE", "TIME"})
ARMED_PEOPLE = frozenset({"gunman", "gunmen", "suicide"})  # give an attack its mode, but act: not weapons
MUTUAL_TRIGGERS = frozenset({"clash", "fight", "battle", "engage", "skirmish", "fighting", "firefight", "gunfight",
                             "exchange", "repel", "repulse"})
AGENT_NOUNS = frozenset({"coalition", "force", "army", "military", "police", "troop", "soldier", "rebel", "militant",
                         "government", "regime", "militia", "insurgent", "jihadist", "gunman", "navy", "gang"})
PLACE_TARGET_TYPES = frozenset({"ASSAULT", "CONSULT", "PROTEST", "MOBILIZE", "COERCE"})
CITY_NOUNS = frozenset({"city", "town", "capital"})
GROUP_NOUNS = frozenset({"one", "some", "many", "several", "dozens", "hundreds", "thousands", "most", "all", "two",
                         "three", "members", "member"})
PHRASE_SKIP = frozenset({"det", "punct", "relcl", "acl", "prep", "cc", "conj", "appos", "advmod", "nummod", "case"})


@dataclass
class _Frame:
    trigger: Token  # the word that names the event (the noun for "held talks")
    code: Code | None  # None: an action outside the taxonomy
    actor: Token | None = None
    target: Token | None = None
    location: Token | None = None
    nominal: bool = False


LEMMAS = lemma_table(
    set(VERB_CODES) | set(NOUN_CODES) | LIGHT_VERBS | OCCURRENCE_VERBS | REPORTING_VERBS | INTENT_VERBS | CONTROL_VERBS
    | CIVILIAN_GROUPS | set(ASSAULT_MODES) | WEAPON_VERBS | WEAPON_NOUNS | PROTEST_FIRES
    | {"speak", "talk", "control", "counterpart", "minister", "president", "weapon"}
)


def _lemma(token: Token) -> str:
    return LEMMAS.get(token.lower_) or (token.lemma_ or token.text).lower()


def _noun_code(token: Token) -> Code | None:
    if "/" in token.text:  # "explosions/shots/bursts": the listed event with the first weapon of MODE_PRIORITY
        codes = [NOUN_CODES.get(LEMMAS.get(part.lower(), part.lower())) for part in token.text.split("/")]
        codes = [c for c in codes if c is not None]
        modes = [m for m in MODE_PRIORITY if any(c.mode == m for c in codes)]
        return next((c for c in codes if c.mode == modes[0]), None) if modes else (codes[0] if codes else None)
    code = NOUN_CODES.get(token.lower_) or NOUN_CODES.get(_lemma(token))
    weapons = [ASSAULT_MODES[_lemma(c)] for c in token.children if _lemma(c) in ASSAULT_MODES]
    if code is not None and code.plover == "PROTEST" and code.mode == "strike" and weapons:
        return Code("ASSAULT", weapons[0], "19")  # "air strike", "drone strikes", "missile strike"
    if code is None and _lemma(token) in {"fire", "barrage"} and weapons:
        return Code("ASSAULT", weapons[0], "19")  # "artillery fire", "rocket barrage"
    return code


def _is_nominal(token: Token) -> bool:
    return token.pos_ in {"NOUN", "PROPN", "PRON", "NUM"} or token.ent_type_ != ""


def _role_ok(token: Token | None) -> bool:
    return token is not None and _is_nominal(token) and token.ent_type_ not in {"DATE", "TIME"}


def _pobjs(preposition: Token) -> list[Token]:
    found = [child for child in preposition.children if child.dep_ == "pobj"]
    return found + [conj for pobj in found for conj in pobj.conjuncts]


def _place(token: Token, by_token: dict[int, Entity]) -> bool:
    entity = by_token.get(token.i)
    return entity is not None and entity.type in PLACE_TYPES


def _subject(verb: Token) -> Token | None:
    """The verb's subject, else that of the verb it is coordinated with or a to-clause of ("vowed to attack")."""
    current = verb
    for _ in range(4):
        for child in current.children:
            if child.dep_ == "nsubj":
                if child.lower_ in {"who", "that", "which"} and current.dep_ == "relcl":
                    return current.head
                return child
        if current.dep_ in {"relcl", "acl"} and current.head.pos_ in {"NOUN", "PROPN"}:
            return current.head if not any(c.dep_ == "nsubjpass" for c in current.children) else None
        if current.dep_ in {"conj", "xcomp", "advcl"} and current.head != current:
            current = current.head
            continue
        break
    # "On 5 May, in Cuenca, Azuay, students protested": the small model often hangs the subject on the place
    # before it as an apposition
    if verb.dep_ != "ROOT" or any(child.dep_ == "nsubjpass" for child in verb.children):
        return None
    for token in reversed(verb.sent[: verb.i - verb.sent.start]):
        if token.dep_ == "appos" and token.pos_ in {"NOUN", "PROPN"} and token.ent_type_ not in NOT_ACTORS:
            return token
    return None


def _verb_roles(verb: Token, frame: _Frame, by_token: dict[int, Entity]) -> None:
    subject = _subject(verb)
    if subject is not None:
        frame.actor = frame.actor or subject
    for child in verb.children:
        if child.dep_ == "nsubjpass":
            frame.target = frame.target or child
            if frame.actor is not None and frame.actor.i == child.i:
                frame.actor = None
        elif child.dep_ == "agent":
            frame.actor = next(iter(_pobjs(child)), frame.actor)
        elif child.dep_ in {"dobj", "dative"} and frame.target is None and child.i != frame.trigger.i:
            if not _is_weapon(child):
                frame.target = child
        elif child.dep_ == "prep":
            _preposition_role(child, frame, by_token)
    if frame.target is not None and _place(frame.target, by_token) and frame.location is None:
        if frame.code is not None and frame.code.plover in PLACE_TARGET_TYPES:
            frame.location = frame.target  # "captured Aleppo", "visited Ankara"


def _preposition_role(preposition: Token, frame: _Frame, by_token: dict[int, Entity]) -> None:
    word = preposition.lower_
    for pobj in _pobjs(preposition)[:1]:
        if word == "between":
            sides = [pobj, *pobj.conjuncts]
            frame.actor = frame.actor or sides[0]
            if len(sides) > 1:
                frame.target = frame.target or sides[1]
        elif word in LOCATION_PREPOSITIONS and _place(pobj, by_token):
            frame.location = frame.location or pobj
        elif word in TARGET_PREPOSITIONS and frame.target is None and _role_ok(pobj):
            # "with" is the other side of a meeting or a clash, else the instrument ("targeted with heavy weapons")
            if word == "at" and _lemma(frame.trigger) in MUTUAL_TRIGGERS:
                continue  # "clashed at the bridge": a place, not a side
            assault = frame.code is not None and frame.code.plover == "ASSAULT"
            instrument = word == "with" and (assault and _lemma(frame.trigger) not in MUTUAL_TRIGGERS or _is_weapon(pobj))
            if not instrument:
                frame.target = pobj
        elif word == "by" and frame.actor is None and _role_ok(pobj):
            frame.actor = pobj
        if word in LOCATION_PREPOSITIONS | TARGET_PREPOSITIONS and frame.location is None:
            for inner in pobj.children:  # "the consulate in Aleppo", "positions near Horadiz"
                if inner.dep_ == "prep" and inner.lower_ in LOCATION_PREPOSITIONS:
                    frame.location = next((p for p in _pobjs(inner) if _place(p, by_token)), None)


def _noun_roles(noun: Token, frame: _Frame, by_token: dict[int, Entity]) -> None:
    for child in noun.children:
        if child.dep_ == "poss" and frame.actor is None and _role_ok(child):
            frame.actor = child
        elif child.dep_ in {"compound", "amod"} and frame.actor is None and (
            child.i in by_token and not _place(child, by_token) or _lemma(child) in AGENT_NOUNS
        ):
            frame.actor = child  # "Houthi attack", "Israeli strikes", "coalition air raids"
        elif child.dep_ == "prep":
            _preposition_role(child, frame, by_token)


def _is_weapon(token: Token) -> bool:
    """ "mortars", "grenade launchers", "small arms", "heavy weapons" """
    lemma = _lemma(token)
    return (lemma in ASSAULT_MODES or lemma in WEAPON_NOUNS) and lemma not in ARMED_PEOPLE


def _code_verb(verb: Token, by_token: dict[int, Entity]) -> _Frame | None:
    lemma = _lemma(verb)
    children = list(verb.children)
    objects = [c for c in children if c.dep_ == "dobj"]
    preps = {c.lower_: c for c in children if c.dep_ == "prep"}
    # "took control of the city": a capture
    if lemma in CONTROL_VERBS and objects and objects[0].lower_ == "control":
        frame = _Frame(verb, VERB_CODES["capture"])
        if "of" in (c.lower_ for c in objects[0].children):
            of = next(c for c in objects[0].children if c.lower_ == "of")
            frame.target = next(iter(_pobjs(of)), None)
        return frame
    # "fired mortars at", "threw a grenade at": the weapon is the mode, not the target
    if lemma in WEAPON_VERBS and objects and _is_weapon(objects[0]):
        named = any(_lemma(t) in ASSAULT_MODES for t in objects[0].subtree)
        plain_fire = lemma == "exchange" or _lemma(objects[0]) in {"fire", "gunfire", "shot"}
        # the mode comes from the weapons named (see taxonomy.refine), else an exchange of fire is firearms
        return _Frame(verb, Code("ASSAULT", "firearms" if plain_fire and not named else None, "19"))
    if lemma in {"burn", "torch", "set"} and objects and _lemma(objects[0]) in PROTEST_FIRES:
        return _Frame(verb, Code("PROTEST", "riot", "14"))  # "burnt tyres"
    # light verbs: the object noun is the event ("held talks", "launched an offensive", "went on strike")
    if lemma in LIGHT_VERBS:
        nouns = objects + [p for word in ("on", "in") if word in preps for p in _pobjs(preps[word])]
        for noun in nouns:
            if (code := _noun_code(noun)) is not None:
                return _Frame(noun, code, nominal=True)
            for part in noun.children:  # "held a protest sit-in", "staged a hunger strike"
                if part.dep_ in {"compound", "amod", "nmod"} and (code := _noun_code(part)) is not None:
                    return _Frame(part, code, nominal=True)
        return None
    if lemma == "speak" or lemma == "talk":  # "spoke by phone with", "talked on the telephone to"
        for word in ("by", "on", "over"):
            if word in preps and any(_lemma(p) in PHONE_WORDS for p in _pobjs(preps[word])):
                return _Frame(verb, Code("CONSULT", "phone", "04"))
        if lemma == "talk" or "with" in preps:
            return _Frame(verb, Code("CONSULT", None, "04")) if "with" in preps else None
        return None
    if lemma == "call":
        if "for" in preps or "on" in preps:
            return _Frame(verb, Code("REQUEST", None, "10"))
        if any(c.dep_ in {"oprd", "xcomp", "ccomp"} for c in children):
            return None  # "called him a liar", "called it X"
        if objects and (objects[0].i in by_token or _lemma(objects[0]) in {"counterpart", "minister", "president"}):
            return _Frame(verb, VERB_CODES["call"])
        return None
    code = VERB_CODES.get(lemma)
    if code is None:
        # any other action with a named or nominal doer ("Maersk diverted ships"): an event without a code
        return None if lemma in NOT_ACTIONS or verb.pos_ != "VERB" else _Frame(verb, None)
    subject = _subject(verb)
    if lemma == "strike" and subject is not None and _lemma(subject) in CIVILIAN_GROUPS:
        code = Code("PROTEST", "strike", "14")
    if lemma == "seize" and objects and not _place(objects[0], by_token) and objects[0].ent_type_ == "":
        if _lemma(objects[0]) not in {"city", "town", "village", "base", "area", "territory", "building", "airport"}:
            code = Code("COERCE", "seize", "17")
    if lemma == "fire" and objects and by_token.get(objects[0].i) is not None and by_token[objects[0].i].type == "PER":
        return None  # dismissed from a job
    return _Frame(verb, code)


def _phrase_lemmas(frame: _Frame) -> set[str]:
    """Words around the trigger that can name a weapon: its phrase, and its actor's and target's phrases."""
    words = {_lemma(t) for t in frame.trigger.subtree}
    for role in (frame.actor, frame.target):
        words |= {_lemma(t) for t in role.subtree} if role is not None else set()
    words |= {_lemma(t) for t in frame.trigger.head.subtree} if frame.nominal else set()
    words |= {_lemma(c) for c in frame.trigger.children}
    if "air" in words and not any(t.lower_ == "air" and t.dep_ in {"compound", "amod", "nmod"} for t in frame.trigger.doc):
        words.discard("air")  # "fired into the air" is no air strike
    return words


def _modality(trigger: Token, sentence: Span) -> Modality:
    if any(c.dep_ == "neg" for c in trigger.children) or any(c.lower_ == "no" and c.dep_ == "det" for c in trigger.children):
        return Modality.NEGATED
    head = trigger.head if trigger.dep_ in {"dobj", "pobj"} else trigger  # a light verb's negation or tense
    if head.i != trigger.i and any(c.dep_ == "neg" for c in head.children):
        return Modality.NEGATED
    for word in (trigger, head):
        if any(c.dep_ == "aux" and c.lower_ in FUTURE_AUXILIARIES for c in word.children):
            return Modality.FUTURE
        if word.dep_ == "xcomp" and _lemma(word.head) in INTENT_VERBS:
            return Modality.FUTURE
        if any(c.dep_ == "aux" and c.lower_ == "to" for c in word.children) and word.head.lower_ == "going":
            return Modality.FUTURE
    if any(c.lower_ in FUTURE_MODIFIERS for c in trigger.children):
        return Modality.FUTURE
    ancestor = trigger
    while ancestor.head != ancestor:
        if ancestor.dep_ in {"ccomp", "parataxis"} and _lemma(ancestor.head) in REPORTING_VERBS:
            return Modality.REPORTED
        ancestor = ancestor.head
    lowered = sentence.text.lower()
    if any(marker in lowered for marker in REPORTED_MARKERS):
        return Modality.REPORTED
    return Modality.ASSERTED


def _dates_by_sentence(doc: Doc) -> dict[int, list[Span]]:
    """The DATE entities inside each sentence, keyed by the sentence's first token, from one pass over the entities.
    (``Span.ents`` reads every entity of the document on each call: events of a long article took quadratic time,
    1.8 s for 60,000 characters.)"""
    sentences = list(doc.sents)
    starts = [sentence.start for sentence in sentences]
    by_sentence: dict[int, list[Span]] = {start: [] for start in starts}
    for ent in doc.ents:
        if ent.label_ == "DATE":
            sentence = sentences[bisect_right(starts, ent.start) - 1]
            if ent.end <= sentence.end:  # a date that runs into the next sentence is in neither, as with Span.ents
                by_sentence[sentence.start].append(ent)
    return by_sentence


def _date(trigger: Token, dates: Sequence[Span]) -> Span | None:
    """The date expression governed by the trigger (or by a verb above it), else the sentence's first one."""
    ancestors = {trigger.i} | {a.i for a in trigger.ancestors}
    for ent in dates:
        head = ent.root.head
        while head.pos_ not in {"VERB", "AUX", "NOUN"} and head.head != head:
            head = head.head
        if head.i in ancestors:
            return ent
    return dates[0] if dates else None


def _confidence(frame: _Frame, actor_entity: bool, has_date: bool) -> float:
    score = 0.35 if frame.nominal else 0.45
    score += 0.2 if frame.actor is not None else 0.0
    score += 0.05 if actor_entity else 0.0
    score += 0.1 if frame.target is not None else 0.0
    score += 0.1 if frame.location is not None else 0.0
    score += 0.05 if has_date else 0.0
    score -= 0.1 if _lemma(frame.trigger) in AMBIGUOUS_TRIGGERS else 0.0
    score -= 0.15 if frame.code is None else 0.0
    return round(min(0.95, max(0.05, score)), 2)


class _Roles:
    """Role tokens -> names and entity ids."""

    def __init__(self, doc: Doc, text: str, entities: Sequence[Entity]) -> None:
        self.text = text
        self.by_token = mention_index(doc, entities)
        self.people = sorted(
            ((mention.start, entity) for entity in entities if entity.type == "PER" for mention in entity.spans),
            key=lambda pair: pair[0],
        )
        cities = sorted(
            ((m.start, entity) for entity in entities if entity.geo is not None and entity.geo.kind == "city" for m in entity.spans),
            key=lambda pair: pair[0],
        )
        for token in doc:  # "the city": the last city named before it
            if _lemma(token) in CITY_NOUNS and token.i not in self.by_token and any(c.lower_ == "the" for c in token.children):
                before = [entity for start, entity in cities if start < token.idx]
                if before:
                    self.by_token[token.i] = before[-1]

    def entity(self, token: Token) -> tuple[Entity | None, Token | None]:
        """The entity a role names or is qualified by, and the token that names it."""
        if token.i in self.by_token:
            return self.by_token[token.i], token
        if token.lower_ in PERSON_PRONOUNS:
            before = [entity for start, entity in self.people if start < token.idx]
            return (before[-1], token) if before else (None, None)
        for child in token.children:  # "his counterpart Hakan Fidan", "fighters of the Front", "Iranian forces"
            if child.dep_ == "appos" and child.i in self.by_token:
                return self.by_token[child.i], child
        for child in token.children:
            if child.dep_ == "prep" and child.lower_ in {"of", "from"}:
                owner = next((p for p in _pobjs(child) if p.i in self.by_token), None)
                if owner is not None:
                    return self.by_token[owner.i], owner
            if child.dep_ in {"amod", "compound", "poss", "nmod"} and child.i in self.by_token:
                return self.by_token[child.i], None
        return None, None

    def name(self, token: Token | None) -> tuple[str | None, str | None]:
        if token is None or token.lower_ in EMPTY_ROLES:
            return None, None
        entity, named_by = self.entity(token)
        if entity is not None and (
            named_by is not None and (named_by.i == token.i or named_by.dep_ == "appos") or token.lower_ in PERSON_PRONOUNS
        ):
            return entity.canonical, entity.id
        if token.lower_ in GROUP_NOUNS:  # "one of its advisers"
            of = next((c for c in token.children if c.dep_ == "prep" and c.lower_ == "of"), None)
            inner = next(iter(_pobjs(of)), None) if of is not None else None
            if inner is not None:
                return self.name(inner)
        words = [token]
        frontier = [token]
        while frontier:  # the noun phrase without determiners, clauses, prepositions and coordination
            current = frontier.pop()
            for child in current.children:
                if child.dep_ not in PHRASE_SKIP and abs(child.i - token.i) <= 4:
                    words.append(child)
                    frontier.append(child)
        start = min(t.idx for t in words)
        end = max(t.idx + len(t.text) for t in words)
        if named_by is not None and entity is not None:  # "Fighters of Hay'at Tahrir al-Sham": to the name's end
            end = max([end] + [m.end for m in entity.spans if m.start <= named_by.idx < m.end])
        phrase = " ".join(self.text[start:end].split()).removesuffix("'s").removesuffix("’s").strip()
        return phrase or None, entity.id if entity is not None else None


def _find_frames(sentence: Span, by_token: dict[int, Entity]) -> list[_Frame]:
    frames: list[_Frame] = []
    taken: set[int] = set()
    for token in sentence:
        if token.pos_ in {"VERB", "AUX"} or (token.pos_ == "NOUN" and token.dep_ == "ROOT" and _lemma(token) in VERB_CODES and any(c.dep_ in {"nsubj", "dobj"} for c in token.children)):
            frame = _code_verb(token, by_token)
            if frame is None:
                continue
            if frame.nominal:
                _noun_roles(frame.trigger, frame, by_token)
            _verb_roles(token, frame, by_token)
            taken.add(frame.trigger.i)
            frames.append(frame)
    for token in sentence:
        noun_code = _noun_code(token) if token.pos_ in {"NOUN", "PROPN"} else None
        if noun_code is None or token.i in taken:
            continue
        head = token.head
        if token.dep_ == "nsubj" and noun_code.plover == "ASSAULT" and head.i in {f.trigger.i for f in frames}:
            continue  # "an airstrike killed five": the verb's event, whose mode the noun gives
        frame = _Frame(token, noun_code, nominal=True)
        _noun_roles(token, frame, by_token)
        if token.dep_ == "nsubj" and _lemma(head) in OCCURRENCE_VERBS:
            _verb_roles(head, frame, by_token)
            if frame.actor is not None and frame.actor.i == token.i:
                frame.actor = None
        frames.append(frame)
    return frames


def events_from_doc(
    doc: Doc,
    article_id: str,
    entities: Sequence[Entity],
    model: str,
    published_at: dt.datetime | None = None,
    text: str | None = None,
) -> list[Event]:
    """Coded events of the document, in text order."""
    text = doc.text if text is None else text
    roles = _Roles(doc, text, entities)
    places = gazetteer()
    events: dict[tuple[str | None, ...], Event] = {}
    dates = _dates_by_sentence(doc)
    for sentence in doc.sents:
        for frame in _find_frames(sentence, roles.by_token):
            code = refine(frame.code, _phrase_lemmas(frame)) if frame.code is not None else None
            if frame.actor is not None and _is_weapon(frame.actor):
                # "a landmine killed two": the weapon gave the mode; the actor is whoever used it, if said
                weapon, frame.actor = frame.actor, None
                _noun_roles(weapon, frame, roles.by_token)
            if code is not None and code.plover == "MOBILIZE" and frame.actor is None and frame.target is not None:
                frame.actor, frame.target = frame.target, None  # "forces were deployed": they mobilised
            actor, actor_id = roles.name(frame.actor) if _role_ok(frame.actor) else (None, None)
            target, target_id = roles.name(frame.target) if _role_ok(frame.target) else (None, None)
            date_span = _date(frame.trigger, dates[sentence.start])
            heads = [_lemma(a) for a in list(frame.trigger.ancestors)[:3]]
            observed = frame.nominal and (
                any(head in PERCEPTION_VERBS for head in heads)  # "observed a total of 14 explosions"
                or frame.trigger.dep_ == "nsubj" and heads[:1] and heads[0] in OCCURRENCE_VERBS
            )
            if actor is None and target is None and frame.location is None and not (observed and date_span):
                continue
            if code is None and (actor is None or target is None and frame.location is None):
                continue  # an uncoded action needs a doer and a thing done to or a place
            if actor_id is not None and actor_id == target_id:
                target, target_id = None, None
            modality = _modality(frame.trigger, sentence)
            location_entity = roles.by_token.get(frame.location.i) if frame.location is not None else None
            date = (
                resolve_date(text[date_span.start_char : date_span.end_char], published_at, modality == Modality.FUTURE)
                if date_span is not None
                else None
            )
            geo: Geo | None = location_entity.geo if location_entity is not None else None
            trigger = frame.trigger
            evidence = text[sentence.start_char : sentence.end_char]
            evidence_start = sentence.start_char + len(evidence) - len(evidence.lstrip())
            event = Event(
                id=stable_id(article_id, str(trigger.idx)),
                article_id=article_id,
                trigger=_lemma(trigger),
                actor=actor,
                target=target,
                location=location_entity.canonical if location_entity is not None else None,
                sentence=evidence.strip(),
                model=f"{model}+{RULES_VERSION}" + (f"+{places.source}" if geo is not None else ""),
                trigger_start=trigger.idx,
                trigger_end=trigger.idx + len(trigger.text),
                evidence_start=evidence_start,
                evidence_end=evidence_start + len(evidence.strip()),
                actor_id=actor_id,
                target_id=target_id,
                location_id=location_entity.id if location_entity is not None else None,
                location_geo=geo,
                date=date,
                date_text=text[date_span.start_char : date_span.end_char] if date_span is not None else None,
                plover_type=code.plover if code is not None else None,
                plover_mode=code.mode if code is not None else None,
                cameo_root=code.cameo if code is not None else None,
                modality=modality,
                confidence=_confidence(frame, actor_id is not None, date is not None),
            )
            # one record per event: a headline retelling the lead has the same type, trigger and target
            key = (event.plover_type, event.trigger, target_id or (target or "").casefold() or actor_id or actor)
            known = events.get(key)
            if known is None or _filled(event) > _filled(known):
                events[key] = event
    return sorted(events.values(), key=lambda event: event.trigger_start or 0)


def _filled(event: Event) -> int:
    return sum(value is not None for value in (event.actor, event.target, event.location, event.date))
