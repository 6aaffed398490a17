"""Lexical fingerprints of an article, computed in the parallel stage and compared in the dedup decision.

- a b-bit MinHash of the body's word 3-shingles: estimates Jaccard similarity and containment, which tell a copy
  (edited, cut, with boilerplate added) from a different article on the same topic;
- the article's specific terms (capitalised words and numbers: names, places, years, figures), hashed with their
  counts: two reports of the same event name the same specifics, two events of the same kind do not;
- the body's opening: hashes of the 3-shingles of its first words, in order. An edited copy keeps its original's
  lead (the first sentence or two, where news puts what happened) within its opening; a later article that reuses the
  background paragraphs of an earlier one to report what happened next has a lead of its own.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import zlib
from datasketch import MinHash

PERMUTATIONS = 128
SHINGLE_WORDS = 3
MAX_TERMS = 32
# MinHash values and shingle hashes keep 16 of their 32 bits: half the memory; chance collisions (1 in 65,536) are
# corrected for in the MinHash estimate.
HASH_DTYPE = np.uint16
_COLLISION = 1.0 / 65536
# The lead: the first 40 words (a news lead of one or two sentences). Looked for in the other article's first 200
# words, so that a copy whose first paragraphs were swapped or reworded still shows its original's lead. 16-bit
# hashes: a lead shingle meets a chance match among the opening's ~200 in 0.3% of lookups.
LEAD_WORDS = 40
OPENING_WORDS = 200
NO_OPENING: npt.NDArray[np.uint16] = np.zeros(0, dtype=HASH_DTYPE)
NO_OPENING.flags.writeable = False

WORD = re.compile(r"\w+", re.UNICODE)
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
SPECIFIC_TERM = re.compile(r"\b(?:[A-Z][\w'’-]+|\d[\d,.:]*\d|\d)")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    signature: npt.NDArray[np.uint16]
    shingles: int
    terms: tuple[tuple[int, int], ...]  # (term hash, count), the most frequent first
    # Shingle hashes of the first OPENING_WORDS words, in text order; none when not known.
    opening: npt.NDArray[np.uint16] = field(default_factory=lambda: NO_OPENING)


def encode_hashes(hashes: npt.NDArray[np.uint16]) -> str:
    """16-bit hashes (a MinHash signature, an opening) as base64 text, as records carry them."""
    return base64.b64encode(hashes.astype(HASH_DTYPE).tobytes()).decode()


def hashes_bytes(encoded: str) -> bytes:
    """Encoded hashes' raw bytes: how an index keeps many of them (no array object each)."""
    return base64.b64decode(encoded)


def decode_hashes(encoded: str | bytes) -> npt.NDArray[np.uint16]:
    """Hashes from their base64 text, or from the raw bytes an index keeps."""
    return np.frombuffer(hashes_bytes(encoded) if isinstance(encoded, str) else encoded, dtype=HASH_DTYPE)


def stack_signatures(raw: Iterable[bytes]) -> npt.NDArray[np.uint16]:
    """Raw signatures as one array, a row each, to compare with all of them at once."""
    joined = b"".join(raw)
    return np.frombuffer(joined, dtype=HASH_DTYPE).reshape(-1, PERMUTATIONS)


def pack_terms(terms: Sequence[tuple[int, int]]) -> array[int]:
    """Terms as one flat array of 32-bit (term, count) pairs, for an index that keeps many: a tuple of int pairs
    costs about 96 bytes a term in Python, this 8. A term is its hash, or its slot in ``term_index.TermIndex``."""
    return array("I", [number for pair in terms for number in pair])


def unpack_terms(packed: array[int]) -> zip[tuple[int, int]]:
    """(term, count) pairs of ``pack_terms``."""
    return zip(packed[0::2], packed[1::2], strict=True)


def stack_terms(packed: Sequence[array[int]]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.intp]]:
    """The (term, count) pairs of many ``pack_terms`` arrays as one array, a pair a row, and the position in
    ``packed`` each row came from: to compare with all of them at once."""
    pairs = np.frombuffer(b"".join(packed), dtype=np.uint32).reshape(-1, 2)
    return pairs, np.repeat(np.arange(len(packed)), [len(terms) // 2 for terms in packed])


def _without_marks(run: re.Match[str]) -> str:
    return "".join(ch for ch in run.group() if not unicodedata.combining(ch))


def folded(text: str) -> str:
    """Case folded and accents removed (NFKD without its combining marks). Only runs of non-ASCII characters are
    scanned a character at a time: English news is mostly ASCII (half the time of scanning all of it)."""
    return NON_ASCII.sub(_without_marks, unicodedata.normalize("NFKD", text.casefold()))


def _words(text: str) -> list[str]:
    return WORD.findall(folded(text))


def word_shingles(words: Sequence[str]) -> list[bytes]:
    """The words' 3-shingles in text order (one shorter shingle for a text under three words)."""
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(max(1, len(words) - SHINGLE_WORDS + 1))]


def minhash_signature(words: Sequence[str]) -> tuple[npt.NDArray[np.uint16], int]:
    shingles = set(word_shingles(words))
    minhash = MinHash(num_perm=PERMUTATIONS, seed=7)
    minhash.update_batch(list(shingles))
    return (minhash.hashvalues & 0xFFFF).astype(HASH_DTYPE), len(shingles)


def specific_terms(text: str) -> tuple[tuple[int, int], ...]:
    counts = Counter(zlib.crc32(term.casefold().strip(".,").encode()) for term in SPECIFIC_TERM.findall(text))
    return tuple(counts.most_common(MAX_TERMS))


def opening_shingles(words: Sequence[str]) -> npt.NDArray[np.uint16]:
    """16-bit hashes of the 3-shingles of the first ``OPENING_WORDS`` words, in text order."""
    return np.array([zlib.crc32(shingle) & 0xFFFF for shingle in word_shingles(words[:OPENING_WORDS])], dtype=HASH_DTYPE)


def lead_overlap(a: npt.NDArray[np.uint16], b: npt.NDArray[np.uint16]) -> float:
    """The larger of: the share of ``a``'s lead shingles found in ``b``'s opening, and of ``b``'s in ``a``'s. 1.0 when
    either opening is unknown (a record from before openings were kept), so that the test does not apply."""
    if not len(a) or not len(b):
        return 1.0
    lead = LEAD_WORDS - SHINGLE_WORDS + 1

    def found(leading: list[int], opening: set[int]) -> float:
        return sum(shingle in opening for shingle in leading) / len(leading)

    # Python sets, not np.isin: 18 against 114 microseconds for two openings of 200 words.
    return max(found(a[:lead].tolist(), set(b.tolist())), found(b[:lead].tolist(), set(a.tolist())))


def fingerprint(title: str, body: str) -> Fingerprint:
    """The body alone feeds the MinHash and the opening (a new headline does not make a new article); terms come
    from both."""
    words = _words(body)
    signature, shingles = minhash_signature(words)
    return Fingerprint(
        signature=signature, shingles=shingles, terms=specific_terms(f"{title}\n{body}"), opening=opening_shingles(words)
    )


def jaccard(a: npt.NDArray[np.uint16], b: npt.NDArray[np.uint16]) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of signature ``a`` with ``b``, one signature or a stack of them (one per row)."""
    agreement = np.mean(a == b, axis=-1)
    return np.maximum(0.0, (agreement - _COLLISION) / (1.0 - _COLLISION))


def containment(
    a: npt.NDArray[np.uint16], shingles_a: int, b: npt.NDArray[np.uint16], shingles_b: int | npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Estimated share of the smaller article's shingles found in the larger one (1.0: one contains the other), for
    ``b`` one signature or a stack of them."""
    return containment_from_jaccard(jaccard(a, b), shingles_a, shingles_b)


def containment_from_jaccard(
    similarity: npt.NDArray[np.float64], shingles_a: int, shingles_b: int | npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """``containment`` for a Jaccard estimate already at hand."""
    shared = similarity * (shingles_a + shingles_b) / (1.0 + similarity)
    return np.minimum(1.0, shared / np.maximum(1, np.minimum(shingles_a, shingles_b)))
