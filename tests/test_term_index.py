"""The dedup window's term index: document counts by slot, postings of rare terms, candidates by shared rare terms."""

import numpy as np

from streams.fingerprint import unpack_terms
from streams.term_index import TermIndex


def test_counts_follow_the_articles_and_slots_are_reused_once_a_term_leaves_the_window() -> None:
    terms = TermIndex(postings_max=50)
    first = terms.add(0, ((101, 2), (102, 1)))
    second = terms.add(1, ((102, 3), (103, 1)))
    slots = {term: terms.slot_of[term] for term in (101, 102, 103)}
    assert list(unpack_terms(first)) == [(slots[101], 2), (slots[102], 1)]
    assert list(unpack_terms(second)) == [(slots[102], 3), (slots[103], 1)]
    assert terms.documents_at(np.array([slots[101], slots[102], slots[103]])).tolist() == [1, 2, 1]
    found, counts = terms.lookup([102, 999, 103])
    assert found.tolist() == [slots[102], -1, slots[103]] and counts.tolist() == [2, 0, 1]

    terms.remove(0, first)
    assert 101 not in terms.slot_of and 101 not in terms.postings
    assert terms.documents_at(np.array([slots[102]])).tolist() == [1]
    terms.add(2, ((104, 1),))
    assert terms.slot_of[104] == slots[101]  # the freed slot, not a new one
    assert terms.lookup([104])[1].tolist() == [1]


def test_candidates_are_the_carriers_of_the_rarest_terms() -> None:
    terms = TermIndex(postings_max=3)
    terms.add(0, ((1, 1), (2, 1), (3, 1)))
    terms.add(1, ((1, 1), (7, 1)))
    terms.add(2, ((2, 1), (8, 1)))
    terms.add(3, ((2, 1), (9, 1)))
    for key in (4, 5, 6, 7):  # term 10 goes into more than three articles: too common to find candidates by
        terms.add(key, ((10, 1),))
    assert 10 in terms.common and 10 not in terms.postings

    # Term by term, rarest first (3 in one article, 1 in two, 2 in three), each article once, up to the limit.
    assert terms.sharing_rarest([2, 1, 3, 10, 11], limit=10, exclude=set()) == [0, 1, 2, 3]
    assert terms.sharing_rarest([2, 1, 3], limit=10, exclude={0, 2}) == [1, 3]
    assert terms.sharing_rarest([2, 1, 3], limit=2, exclude=set()) == [0, 1]
    assert terms.sharing_rarest([10, 11], limit=10, exclude=set()) == []
