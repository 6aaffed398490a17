"""Lexical fingerprints of an article, computed in the parallel stage and compared in the dedup decision.

- a b-bit MinHash of the body's word 3-shingles: estimates Jaccard similarity and containment, which tell a copy
  (edited, cut, with boilerplate added) from a different article on the same topic;
- the article's specific terms (capitalised words and numbers: names, places, years, figures), hashed with their
  counts: two reports of the same event name the same specifics, two events of the same kind do not.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zlib
from datasketch import MinHash

PERMUTATIONS = 128
SHINGLE_WORDS = 3
MAX_TERMS = 32
# 16 of MinHash's 32 bits: half the memory; chance collisions (1 in 65,536) are corrected for in the estimate.
SIGNATURE_DTYPE = np.uint16
_COLLISION = 1.0 / 65536

WORD = re.compile(r"\w+", re.UNICODE)
SPECIFIC_TERM = re.compile(r"\b(?:[A-Z][\w'’-]+|\d[\d,.:]*\d|\d)")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    signature: npt.NDArray[np.uint16]
    shingles: int
    terms: tuple[tuple[int, int], ...]  # (term hash, count), the most frequent first


def encode_signature(signature: npt.NDArray[np.uint16]) -> str:
    return base64.b64encode(signature.astype(SIGNATURE_DTYPE).tobytes()).decode()


def signature_bytes(encoded: str) -> bytes:
    """An encoded signature's raw bytes: how an index keeps many of them (no array object each)."""
    return base64.b64decode(encoded)


def decode_signature(encoded: str) -> npt.NDArray[np.uint16]:
    return np.frombuffer(signature_bytes(encoded), dtype=SIGNATURE_DTYPE)


def stack_signatures(raw: Iterable[bytes]) -> npt.NDArray[np.uint16]:
    """Raw signatures as one array, a row each, to compare with all of them at once."""
    joined = b"".join(raw)
    return np.frombuffer(joined, dtype=SIGNATURE_DTYPE).reshape(-1, PERMUTATIONS)


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


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))


def minhash_signature(body: str) -> tuple[npt.NDArray[np.uint16], int]:
    words = _words(body)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
    minhash = MinHash(num_perm=PERMUTATIONS, seed=7)
    minhash.update_batch(list(shingles))
    return (minhash.hashvalues & 0xFFFF).astype(SIGNATURE_DTYPE), len(shingles)


def specific_terms(text: str) -> tuple[tuple[int, int], ...]:
    counts = Counter(zlib.crc32(term.casefold().strip(".,").encode()) for term in SPECIFIC_TERM.findall(text))
    return tuple(counts.most_common(MAX_TERMS))


def fingerprint(title: str, body: str) -> Fingerprint:
    """The body alone feeds the MinHash (a new headline does not make a new article); terms come from both."""
    signature, shingles = minhash_signature(body)
    return Fingerprint(signature=signature, shingles=shingles, terms=specific_terms(f"{title}\n{body}"))


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
