"""The near-duplicate evaluation's counting: which verdicts are hits and which are false positives under each reading."""

from __future__ import annotations

from streams.evaluation.dedup import article_groups, near_scores, read_pairs

CANONICAL = {"a": "a", "a2": "a", "b": "b", "c": "c", "d": "d"}  # a2 has a's body


def test_groups_join_same_body_and_given_pairs() -> None:
    groups = article_groups(CANONICAL, [("b", "c")])
    assert groups["a"] == groups["a2"]
    assert groups["b"] == groups["c"]
    assert len({groups["a"], groups["b"], groups["d"]}) == 3


def test_scores_count_versions_as_one_article_only_when_grouped() -> None:
    copies_judged = [
        ("a#cut", "a", "a2"),  # judged a copy of a byte-identical version of its source: a hit in every reading
        ("b#cut", "b", "c"),  # judged a copy of c: a hit only where b and c are one article
        ("d#cut", "d", None),  # missed
        ("c#cut", "c", "c"),
    ]
    originals_flagged = [("c", "b")]  # c judged a near-duplicate of b
    strict = near_scores(CANONICAL, originals_flagged, copies_judged)
    assert strict == {"precision": 2 / 4, "recall": 2 / 4, "false_positives": 2}
    joined = near_scores(article_groups(CANONICAL, [("b", "c")]), originals_flagged, copies_judged)
    assert joined == {"precision": 1.0, "recall": 3 / 4, "false_positives": 0}


def test_read_pairs_are_labelled_pairs_of_corpus_ids() -> None:
    labels = read_pairs()
    assert labels, "the file of read pairs is empty"
    for pair, same in labels.items():
        assert len(pair) == 2 and all(member.endswith(".txt") and "/" in member for member in pair)
        assert isinstance(same, bool)
    assert any(labels.values()) and not all(labels.values())
