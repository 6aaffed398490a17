"""spaCy's attribute ruler with its single-token patterns on a tag and a lowercase form matched by dictionary lookup.

en_core_web_sm's attribute ruler sets parts of speech, morphology and some lemmas with 179 Matcher patterns; 156 of
them are one token with a literal (or an IN list of) TAG and/or LOWER. The Matcher tries every pattern on every
token, and the ruler took about 17 ms of a BBC article's 60 ms of spaCy components. Here those 156 are dictionary
lookups and only the other 23 go through a Matcher: 7.5 ms, and the same annotations (742 BBC articles: tags, parts
of speech, morphology, lemmas, dependencies and entities identical), because the matches and their order are the
ruler's own."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import product
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc
from spacy.vocab import Vocab

LOOKUP_KEYS = ("TAG", "LOWER")
LOOKUP_ATTRIBUTE_RULER = "lookup_attribute_ruler"


def _lookup_keys(patterns: Iterable[list[dict[str, Any]]]) -> list[tuple[str | None, str | None]] | None:
    """The (tag, lowercase form) pairs, None for "any", that the patterns match, if each pattern is one token whose
    TAG and/or LOWER is a literal or an IN list; None if some pattern needs the Matcher."""
    keys: list[tuple[str | None, str | None]] = []
    for pattern in patterns:
        if len(pattern) != 1 or not pattern[0] or not set(pattern[0]) <= set(LOOKUP_KEYS):
            return None
        values: dict[str, list[str | None]] = {}
        for attribute in LOOKUP_KEYS:
            value = pattern[0].get(attribute)
            if isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(v, str) for v in value["IN"]):
                values[attribute] = list(value["IN"])
            elif value is None or isinstance(value, str):
                values[attribute] = [value]
            else:
                return None
        keys.extend(product(values["TAG"], values["LOWER"]))
    return keys


class LookupAttributeRuler(AttributeRuler):
    """An ``AttributeRuler`` whose ``match`` finds the single-token TAG / LOWER patterns by lookup."""

    def __init__(
        self,
        vocab: Vocab,
        name: str = "attribute_ruler",
        *,
        validate: bool = False,
        scorer: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(vocab, name, validate=validate, scorer=scorer)
        # (tag, lowercase form) -> the (rule number, match id) of the rules that match it
        self._by_key: defaultdict[tuple[str | None, str | None], list[tuple[int, int]]] = defaultdict(list)
        self._others = Matcher(vocab, validate=validate)

    def clear(self) -> None:
        super().clear()
        self._by_key = defaultdict(list)
        self._others = Matcher(self.vocab, validate=self.validate)

    def add(self, patterns: Iterable[list[dict[str, Any]]], attrs: dict[str, Any], index: int = 0) -> None:
        patterns = list(patterns)
        attr_id = len(self.attrs)
        super().add(patterns, attrs, index)  # the full Matcher too, so that ``patterns`` and serialisation stay whole
        match_id = self.vocab.strings[str(attr_id)]
        keys = _lookup_keys(patterns)
        if keys is None:
            self._others.add(match_id, patterns)
        else:
            for key in keys:
                self._by_key[key].append((attr_id, match_id))

    def match(self, doc: Doc) -> list[tuple[int, int, int, int]]:
        # Matches are computed before any is applied, as the ruler does, and sorted as it sorts them: by pattern.
        by_key, strings = self._by_key, self.vocab.strings
        matches = [(int(strings[key]), key, start, end) for key, start, end in self._others(doc, allow_missing=True)]
        for token in doc:
            tag, lower = token.tag_, token.lower_
            for key in ((tag, None), (None, lower), (tag, lower)):
                for attr_id, match_id in by_key.get(key, ()):
                    matches.append((attr_id, match_id, token.i, token.i + 1))
        matches.sort()
        return matches


# The packaged ruler's configuration, so that its config can name this factory instead (``streams.nlp``).
@Language.factory(
    LOOKUP_ATTRIBUTE_RULER,
    default_config={"validate": False, "scorer": {"@scorers": "spacy.attribute_ruler_scorer.v1"}},
)
def make_lookup_attribute_ruler(
    nlp: Language, name: str, validate: bool, scorer: Callable[..., Any] | None
) -> LookupAttributeRuler:
    return LookupAttributeRuler(nlp.vocab, name, validate=validate, scorer=scorer)
