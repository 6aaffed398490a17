"""Event codes: trigger words -> PLOVER event type and mode, with the CAMEO root code alongside.

PLOVER (Political Language Ontology for Verifiable Event Records, manual draft 0.8, 2021) types and modes; CAMEO
roots from its CAMEO->PLOVER table (01-20). Statements ("said") are not events in PLOVER and are not coded; they mark
the events under them as reported (see ``streams.events``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    plover: str
    mode: str | None
    cameo: str  # CAMEO root, two digits


def _code(plover: str, cameo: str, mode: str | None = None) -> Code:
    return Code(plover, mode, cameo)


# Verb lemmas that name an event by themselves.
VERB_CODES: dict[str, Code] = {
    # ASSAULT: CAMEO 18 (unconventional violence), 19 (conventional military force), 20 (mass violence)
    "attack": _code("ASSAULT", "18"),
    "kill": _code("ASSAULT", "18"),
    "murder": _code("ASSAULT", "18"),
    "assassinate": _code("ASSAULT", "18", "targeted"),
    "execute": _code("ASSAULT", "18", "targeted"),
    "behead": _code("ASSAULT", "18", "targeted"),
    "massacre": _code("ASSAULT", "20"),
    "abduct": _code("ASSAULT", "18", "abduct"),
    "kidnap": _code("ASSAULT", "18", "abduct"),
    "hijack": _code("ASSAULT", "18", "abduct"),
    "beat": _code("ASSAULT", "18", "beat"),
    "torture": _code("ASSAULT", "18", "torture"),
    "rape": _code("ASSAULT", "18", "sexual"),
    "bomb": _code("ASSAULT", "18", "explosives"),
    "detonate": _code("ASSAULT", "18", "explosives"),
    "explode": _code("ASSAULT", "18", "explosives"),
    "shoot": _code("ASSAULT", "18", "firearms"),
    "gun": _code("ASSAULT", "18", "firearms"),
    "stab": _code("ASSAULT", "18", "primitive"),
    "burn": _code("ASSAULT", "18", "primitive"),
    "torch": _code("ASSAULT", "18", "primitive"),
    "pelt": _code("ASSAULT", "18", "primitive"),
    "lynch": _code("ASSAULT", "18", "beat"),
    "wound": _code("ASSAULT", "18"),
    "injure": _code("ASSAULT", "18"),
    "target": _code("ASSAULT", "18"),
    "strike": _code("ASSAULT", "18"),
    "hit": _code("ASSAULT", "18"),
    "destroy": _code("ASSAULT", "18", "destroy"),
    "shell": _code("ASSAULT", "19", "heavy-weapons"),
    "bombard": _code("ASSAULT", "19", "heavy-weapons"),
    "fire": _code("ASSAULT", "19"),
    "clash": _code("ASSAULT", "19"),
    "fight": _code("ASSAULT", "19"),
    "battle": _code("ASSAULT", "19"),
    "ambush": _code("ASSAULT", "19"),
    "storm": _code("ASSAULT", "19"),
    "raid": _code("ASSAULT", "19"),
    "capture": _code("ASSAULT", "19"),
    "seize": _code("ASSAULT", "19"),
    "overrun": _code("ASSAULT", "19"),
    "besiege": _code("ASSAULT", "19"),
    "invade": _code("ASSAULT", "19"),
    "occupy": _code("ASSAULT", "19"),
    "recapture": _code("ASSAULT", "19"),
    "retake": _code("ASSAULT", "19"),
    "regain": _code("ASSAULT", "19"),
    "engage": _code("ASSAULT", "19"),
    "repel": _code("ASSAULT", "19"),
    "repulse": _code("ASSAULT", "19"),
    # CONSULT: 04
    "visit": _code("CONSULT", "04", "visit"),
    "host": _code("CONSULT", "04", "visit"),
    "meet": _code("CONSULT", "04"),
    "negotiate": _code("CONSULT", "04"),
    "phone": _code("CONSULT", "04", "phone"),
    "telephone": _code("CONSULT", "04", "phone"),
    "call": _code("CONSULT", "04", "phone"),
    # ACCUSE: 11 (disapprove, allege), 09 (investigate)
    "condemn": _code("ACCUSE", "11", "disapprove"),
    "denounce": _code("ACCUSE", "11", "disapprove"),
    "criticize": _code("ACCUSE", "11", "disapprove"),
    "criticise": _code("ACCUSE", "11", "disapprove"),
    "deplore": _code("ACCUSE", "11", "disapprove"),
    "decry": _code("ACCUSE", "11", "disapprove"),
    "slam": _code("ACCUSE", "11", "disapprove"),
    "accuse": _code("ACCUSE", "11", "allege"),
    "blame": _code("ACCUSE", "11", "allege"),
    "sue": _code("ACCUSE", "11", "allege"),
    "investigate": _code("ACCUSE", "09", "investigate"),
    "probe": _code("ACCUSE", "09", "investigate"),
    # REQUEST: 10 (demand), 02 (appeal)
    "demand": _code("REQUEST", "10"),
    "urge": _code("REQUEST", "02"),
    "appeal": _code("REQUEST", "02"),
    "request": _code("REQUEST", "02"),
    # REJECT 12, THREATEN 13
    "reject": _code("REJECT", "12"),
    "refuse": _code("REJECT", "12"),
    "veto": _code("REJECT", "12"),
    "threaten": _code("THREATEN", "13"),
    "warn": _code("THREATEN", "13"),
    "avenge": _code("THREATEN", "13"),
    "retaliate": _code("THREATEN", "13"),
    # PROTEST: 14
    "protest": _code("PROTEST", "14", "demo"),
    "demonstrate": _code("PROTEST", "14", "demo"),
    "rally": _code("PROTEST", "14", "demo"),
    "march": _code("PROTEST", "14", "demo"),
    "picket": _code("PROTEST", "14", "demo"),
    "gather": _code("PROTEST", "14", "demo"),
    "riot": _code("PROTEST", "14", "riot"),
    "boycott": _code("PROTEST", "14", "boycott"),
    "block": _code("PROTEST", "14", "obstruct"),
    "blockade": _code("PROTEST", "14", "obstruct"),
    # MOBILIZE: 15
    "deploy": _code("MOBILIZE", "15", "troops"),
    "mobilize": _code("MOBILIZE", "15", "troops"),
    "mobilise": _code("MOBILIZE", "15", "troops"),
    "patrol": _code("MOBILIZE", "15", "troops"),
    # SANCTION: 16
    "sanction": _code("SANCTION", "16"),
    "expel": _code("SANCTION", "16", "expel"),
    "sever": _code("SANCTION", "16", "withdraw"),
    "suspend": _code("SANCTION", "16", "discontinue"),
    # COERCE: 17
    "arrest": _code("COERCE", "17", "arrest"),
    "detain": _code("COERCE", "17", "arrest"),
    "jail": _code("COERCE", "17", "arrest"),
    "imprison": _code("COERCE", "17", "arrest"),
    "deport": _code("COERCE", "17", "deport"),
    "ban": _code("COERCE", "17", "restrict"),
    "disperse": _code("COERCE", "17", "restrict"),
    "censor": _code("COERCE", "17", "censor"),
    "confiscate": _code("COERCE", "17", "seize"),
    "loot": _code("COERCE", "17", "seize"),
    "vandalize": _code("PROTEST", "14", "vandalize"),
    "vandalise": _code("PROTEST", "14", "vandalize"),
    # RETREAT and CONCEDE: 08
    "withdraw": _code("RETREAT", "08", "withdraw"),
    "retreat": _code("RETREAT", "08", "withdraw"),
    "release": _code("RETREAT", "08", "release"),
    "free": _code("RETREAT", "08", "release"),
    "surrender": _code("RETREAT", "08", "disarm"),
    "resign": _code("CONCEDE", "08"),
    # AGREE 03, SUPPORT 05, COOPERATE 06, AID 07
    "agree": _code("AGREE", "03"),
    "pledge": _code("AGREE", "03"),
    "promise": _code("AGREE", "03"),
    "offer": _code("AGREE", "03"),
    "sign": _code("SUPPORT", "05"),
    "praise": _code("SUPPORT", "05"),
    "endorse": _code("SUPPORT", "05"),
    "welcome": _code("SUPPORT", "05"),
    "recognize": _code("SUPPORT", "05"),
    "apologize": _code("SUPPORT", "05"),
    "cooperate": _code("COOPERATE", "06"),
    "donate": _code("AID", "07"),
}

# Nouns that name an event: as the object of a light verb ("held talks", "staged a protest", "carried out an
# attack"), as the subject of a verb of occurring ("clashes erupted"), or on their own ("the attack on the convoy").
NOUN_CODES: dict[str, Code] = {
    "attack": _code("ASSAULT", "18"),
    "assault": _code("ASSAULT", "18"),
    "offensive": _code("ASSAULT", "19"),
    "raid": _code("ASSAULT", "19"),
    "clash": _code("ASSAULT", "19"),
    "fighting": _code("ASSAULT", "19"),
    "battle": _code("ASSAULT", "19"),
    "firefight": _code("ASSAULT", "19", "firearms"),
    "gunfight": _code("ASSAULT", "19", "firearms"),
    "skirmish": _code("ASSAULT", "19"),
    "ambush": _code("ASSAULT", "19"),
    "shoot-out": _code("ASSAULT", "19", "firearms"),
    "shootout": _code("ASSAULT", "19", "firearms"),
    "scuffle": _code("ASSAULT", "18", "beat"),
    "airstrike": _code("ASSAULT", "19", "aerial"),
    "bombardment": _code("ASSAULT", "19", "heavy-weapons"),
    "shelling": _code("ASSAULT", "19", "heavy-weapons"),
    "bombing": _code("ASSAULT", "18", "explosives"),
    "explosion": _code("ASSAULT", "18", "explosives"),
    "blast": _code("ASSAULT", "18", "explosives"),
    "killing": _code("ASSAULT", "18"),
    "murder": _code("ASSAULT", "18"),
    "assassination": _code("ASSAULT", "18", "targeted"),
    "massacre": _code("ASSAULT", "20"),
    "kidnapping": _code("ASSAULT", "18", "abduct"),
    "abduction": _code("ASSAULT", "18", "abduct"),
    "shooting": _code("ASSAULT", "18", "firearms"),
    "shot": _code("ASSAULT", "19", "firearms"),
    "burst": _code("ASSAULT", "19", "firearms"),
    "projectile": _code("ASSAULT", "19", "heavy-weapons"),
    "protest": _code("PROTEST", "14", "demo"),
    "demonstration": _code("PROTEST", "14", "demo"),
    "rally": _code("PROTEST", "14", "demo"),
    "march": _code("PROTEST", "14", "demo"),
    "sit-in": _code("PROTEST", "14", "demo"),
    "vigil": _code("PROTEST", "14", "demo"),
    "strike": _code("PROTEST", "14", "strike"),
    "riot": _code("PROTEST", "14", "riot"),
    "boycott": _code("PROTEST", "14", "boycott"),
    "blockade": _code("PROTEST", "14", "obstruct"),
    "visit": _code("CONSULT", "04", "visit"),
    "call": _code("CONSULT", "04", "phone"),
    "talk": _code("CONSULT", "04"),
    "meeting": _code("CONSULT", "04"),
    "summit": _code("CONSULT", "04", "multilateral"),
    "negotiation": _code("CONSULT", "04"),
    "condemnation": _code("ACCUSE", "11", "disapprove"),
    "accusation": _code("ACCUSE", "11", "allege"),
    "investigation": _code("ACCUSE", "09", "investigate"),
    "probe": _code("ACCUSE", "09", "investigate"),
    "arrest": _code("COERCE", "17", "arrest"),
    "curfew": _code("COERCE", "17", "curfew"),
    "ban": _code("COERCE", "17", "restrict"),
    "sanction": _code("SANCTION", "16"),
    "deployment": _code("MOBILIZE", "15", "troops"),
    "ceasefire": _code("RETREAT", "08", "ceasefire"),
    "truce": _code("RETREAT", "08", "ceasefire"),
    "withdrawal": _code("RETREAT", "08", "withdraw"),
    "threat": _code("THREATEN", "13"),
    "ultimatum": _code("THREATEN", "13"),
    "demand": _code("REQUEST", "10"),
    "appeal": _code("REQUEST", "02"),
    "agreement": _code("AGREE", "03"),
    "deal": _code("AGREE", "03"),
    "aid": _code("AID", "07"),
    "assistance": _code("AID", "07"),
}

# Verbs whose object noun carries the event ("held talks", "launched an offensive", "paid a visit").
LIGHT_VERBS = frozenset(
    {"hold", "stage", "carry", "launch", "conduct", "make", "pay", "mount", "organize", "organise", "begin", "start",
     "continue", "resume", "lead", "impose", "provide", "send", "deliver", "issue", "announce", "declare", "sign",
     "go", "join", "have", "take", "participate", "attend", "perform"}
)
# Verbs of occurring: their subject noun is the event ("clashes erupted").
OCCURRENCE_VERBS = frozenset(
    {"erupt", "break", "occur", "happen", "take", "continue", "resume", "rage", "start", "begin", "follow", "leave",
     "cause", "result"}
)

# Words in a trigger's phrase that give an ASSAULT its PLOVER mode.
ASSAULT_MODES: dict[str, str] = {
    "airstrike": "aerial", "air": "aerial", "warplane": "aerial", "jet": "aerial", "helicopter": "aerial",
    "aircraft": "aerial", "drone": "drone", "uav": "drone",
    "shell": "heavy-weapons", "shelling": "heavy-weapons", "artillery": "heavy-weapons", "mortar": "heavy-weapons",
    "rocket": "heavy-weapons", "missile": "heavy-weapons", "tank": "heavy-weapons", "atgm": "heavy-weapons",
    "grad": "heavy-weapons", "howitzer": "heavy-weapons",
    "bomb": "explosives", "ied": "explosives", "explosive": "explosives", "mine": "explosives",
    "landmine": "explosives", "grenade": "explosives", "bombing": "explosives", "blast": "explosives",
    "explosion": "explosives", "suicide": "suicide-attack",
    "gun": "firearms", "gunfire": "firearms", "gunman": "firearms", "rifle": "firearms", "firearm": "firearms",
    "bullet": "firearms", "shot": "firearms", "pistol": "firearms", "machinegun": "firearms", "arm": "firearms",
    "knife": "primitive", "machete": "primitive", "stone": "primitive", "rock": "primitive", "arson": "primitive",
    "stick": "primitive", "club": "primitive",
    "tear": "crowd-control", "teargas": "crowd-control", "cannon": "crowd-control", "rubber": "crowd-control",
}
# The weapon that names an attack when several are mentioned ("mortars and heavy machine guns").
# Small arms fired along with heavier weapons make an exchange of fire, so firearms come before them.
MODE_PRIORITY = ("aerial", "drone", "firearms", "heavy-weapons", "suicide-attack", "explosives", "primitive",
                 "crowd-control")
# Verbs that attack when their object is a weapon ("fired mortars at", "threw a grenade at", "dropped bombs on").
WEAPON_VERBS = frozenset({"fire", "launch", "throw", "hurl", "lob", "drop", "detonate", "plant", "explode", "exchange"})
WEAPON_NOUNS = frozenset({"launcher", "weapon", "round", "projectile", "fire", "gunfire", "shot", "arm"})
# Things burnt in a protest: the fire is the protest's violence, not an attack on someone.
PROTEST_FIRES = frozenset({"tire", "tyre", "effigy", "flag", "barricade"})
# Remote weapons move the CAMEO root of an ASSAULT to 19 (conventional military force).
MILITARY_MODES = frozenset({"aerial", "drone", "heavy-weapons"})
# Modes that make the root 18 (unconventional violence) whatever the trigger's default.
UNCONVENTIONAL_MODES = frozenset({"explosives", "suicide-attack", "abduct", "torture", "sexual", "targeted"})


def refine(code: Code, phrase_lemmas: set[str]) -> Code:
    """An ASSAULT's mode and CAMEO root from the words around the trigger ("artillery", "IED", "drone")."""
    if code.plover != "ASSAULT":
        return code
    mode = code.mode
    if mode is None or mode in {"destroy"}:
        found = {ASSAULT_MODES[w] for w in phrase_lemmas if w in ASSAULT_MODES}
        if "heavy" in phrase_lemmas and phrase_lemmas & {"weapon", "gun", "machinegun"}:
            found.add("heavy-weapons")  # heavy machine guns count with the heavy weapons (as ACLED codes them)
            if not phrase_lemmas & {"arm", "rifle", "pistol", "gunfire", "shot", "bullet"}:
                found.discard("firearms")
        mode = next((m for m in MODE_PRIORITY if m in found), mode)
    cameo = code.cameo
    if mode in MILITARY_MODES:
        cameo = "19"
    elif mode in UNCONVENTIONAL_MODES and cameo == "19":
        cameo = "18"
    return Code(code.plover, mode, cameo)


# The small model's lemmatizer misreads some words ("staged" -> "stag"), so the words the rules look for are
# matched on their own inflected forms.
IRREGULAR_FORMS: dict[str, str] = {
    "took": "take", "taken": "take", "held": "hold", "met": "meet", "shot": "shoot", "fought": "fight",
    "struck": "strike", "beaten": "beat", "sent": "send", "led": "lead", "began": "begin", "begun": "begin",
    "broke": "break", "broken": "break", "gave": "give", "given": "give", "made": "make", "paid": "pay", "went": "go",
    "gone": "go", "said": "say", "told": "tell", "wrote": "write", "written": "write", "overran": "overrun",
    "withdrew": "withdraw", "withdrawn": "withdraw", "had": "have", "has": "have", "left": "leave", "spoke": "speak",
    "spoken": "speak", "sought": "seek", "burnt": "burn", "set": "set", "hit": "hit", "shut": "shut",
    "undertook": "undertake", "undertaken": "undertake", "stole": "steal", "stolen": "steal",
}


def _verb_forms(lemma: str) -> set[str]:
    forms = {lemma}
    stem = lemma[:-1] if lemma.endswith("e") else lemma
    if lemma.endswith("y") and lemma[-2:-1] not in set("aeiou"):
        forms |= {lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"}
    else:
        forms |= {lemma + ("es" if lemma.endswith(("s", "sh", "ch", "x", "z", "o")) else "s")}
        forms |= {stem + "ed", stem + "ing"}
    if len(lemma) > 2 and lemma[-1] not in "aeiouwxy" and lemma[-2] in "aeiou" and lemma[-3] not in "aeiou":
        forms |= {lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}  # "stabbed", "banning"
    return forms


def lemma_table(words: set[str]) -> dict[str, str]:
    """Inflected form -> lemma for the given lemmas (regular inflections and ``IRREGULAR_FORMS``)."""
    table: dict[str, str] = {}
    for word in sorted(words):
        for form in _verb_forms(word):
            table.setdefault(form, word)
    table.update({form: lemma for form, lemma in IRREGULAR_FORMS.items()})
    return table
