import numpy as np
import pytest

from models import DedupTier, DedupVerdict
from streams import dedup
from streams.dedup import (
    Candidate,
    DedupConfig,
    DedupIndex,
    StoredArticle,
    canonical_url,
    dequantize,
    normalized_text_key,
    quantize,
)
from streams.fingerprint import (
    NO_OPENING,
    Fingerprint,
    containment,
    fingerprint,
    jaccard,
    lead_overlap,
    pack_terms,
    unpack_terms,
)

QUAKE = (
    "A strong earthquake shook the mountain town of Arvena on Tuesday night, collapsing two schools and a bridge. "
    "Rescue teams from the regional capital Dorsk pulled eleven people from the rubble, and the health ministry said "
    "forty people were treated in hospital. Mayor Lena Voss asked residents to sleep outdoors while engineers "
    "inspected damaged buildings. The national seismic institute put the magnitude at 6.2 and warned of aftershocks "
    "for several days. Schools across the province will stay closed until Friday."
)
OTHER_QUAKE = (
    "An earthquake struck the coastal city of Pellmar early on Sunday, damaging the harbour and several hotels. "
    "Firefighters rescued three tourists from a collapsed guesthouse, and governor Omar Haddad declared a state of "
    "emergency for the coast. The magnitude 5.4 tremor was felt as far away as the capital, Tiros, where offices "
    "were evacuated. Ferries to the islands were cancelled while divers checked the harbour walls."
)

FOLLOW_UP = (
    "Engineers in Arvena said on Wednesday that the bridge destroyed by Tuesday's 6.2 earthquake will take months to "
    "rebuild. Mayor Lena Voss said the eleven people rescued by teams from Dorsk were recovering."
)


# Background both reports of the dock strike share, word for word, as wire updates do.
STRIKE_BACKGROUND = (
    "The union wants the operator to withdraw a plan that would move four hundred crane drivers onto rolling "
    "contracts and cut overtime rates by a fifth. The operator says the plan is needed to compete with the new "
    "terminal at Halvik, which opened in March and has taken three shipping lines from Port Emsa this year. "
    "A walkout would close the container berths, through which about a third of the country's imports pass, "
    "and freight companies have warned that supermarket shelves would empty within a week. The last strike at "
    "the port, in 2019, lasted nine days and ended when the government appointed a mediator."
)
STRIKE_TALKS = (
    "Dock workers at Port Emsa and the port operator Kestrel Terminals will meet on Saturday for talks aimed at "
    "averting a national strike called for later this month by the transport union.\n\n" + STRIKE_BACKGROUND
)
STRIKE_TALKS_FAILED = (
    "Saturday's talks between Kestrel Terminals and the transport union broke up without agreement after two "
    "hours, and union leaders said the strike at Port Emsa would go ahead on the 23rd.\n\n" + STRIKE_BACKGROUND
)


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def stored_from(index: DedupIndex, article_id: str, vector: np.ndarray, body: str, url: str | None = None,
                when: float = 1_700_000_000.0) -> StoredArticle:
    candidate = Candidate(article_id, canonical_url(url), normalized_text_key(body), quantize(vector), fingerprint("", body), when)
    return index.judge(candidate)


def test_canonical_url_drops_scheme_www_fragment_tracking_and_trailing_slash() -> None:
    assert canonical_url("https://www.Example.com/a/b/?utm_source=x&id=3&fbclid=1#top") == "example.com/a/b?id=3"
    assert canonical_url("http://example.com/a/b?id=3") == "example.com/a/b?id=3"
    assert canonical_url(None) is None and canonical_url("not a url") is None


def test_normalized_text_ignores_case_punctuation_and_spacing() -> None:
    assert normalized_text_key("Hello,   World!") == normalized_text_key("hello world")
    assert normalized_text_key("Hello world") != normalized_text_key("Hello there world")
    # Accents, composed or not, and typographic marks: the non-ASCII runs are folded character by character.
    assert normalized_text_key("Caf\u00e9 in Z\u00fcrich \u2014 \u201cnaive\u201d") == normalized_text_key("cafe\u0301 in zurich naive")
    assert normalized_text_key("snake_case") == normalized_text_key("snake case")


def test_quantized_vectors_keep_the_cosine() -> None:
    rng = np.random.default_rng(3)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 384)).astype(np.float32))
    assert abs(float(dequantize(quantize(a)) @ dequantize(quantize(b))) - float(a @ b)) < 0.01


def test_minhash_tells_a_cut_copy_from_another_article() -> None:
    sentences = QUAKE.split(". ")
    cut = ". ".join(sentences[: int(len(sentences) * 0.7)])
    original, copy, other = fingerprint("", QUAKE), fingerprint("", cut), fingerprint("", OTHER_QUAKE)
    assert containment(copy.signature, copy.shingles, original.signature, original.shingles) > 0.8
    assert containment(other.signature, other.shingles, original.signature, original.shingles) < 0.2
    assert jaccard(original.signature, original.signature) == 1.0


def test_packed_terms_come_back_as_they_went_in() -> None:
    terms = fingerprint("Arvena quake", QUAKE).terms
    packed = pack_terms(terms)
    assert len(terms) > 5 and tuple(unpack_terms(packed)) == terms
    assert packed.itemsize * len(packed) == 8 * len(terms)
    assert list(unpack_terms(pack_terms(((2**32 - 1, 70_000),)))) == [(2**32 - 1, 70_000)]
    assert list(unpack_terms(pack_terms(()))) == []


def test_tiers() -> None:
    index = DedupIndex(DedupConfig())
    first = stored_from(index, "a", unit(1, 0, 0), QUAKE, url="https://x.example/1")
    assert first.verdict.tier == DedupTier.UNIQUE and first.story_id == "a"

    by_url = stored_from(index, "b", unit(0, 1, 0), OTHER_QUAKE, url="http://www.x.example/1?utm_medium=rss")
    assert (by_url.verdict.tier, by_url.verdict.duplicate_of, by_url.verdict.evidence) == (DedupTier.EXACT, "a", "same canonical URL")

    by_text = stored_from(index, "c", unit(0, 0, 1), QUAKE.upper())
    assert (by_text.verdict.tier, by_text.verdict.duplicate_of) == (DedupTier.EXACT, "a")

    edited = "Breaking news. " + QUAKE.replace("collapsing two schools", "bringing down two schools") + " Follow us."
    near = stored_from(index, "d", unit(1, 0.3, 0), edited)
    assert (near.verdict.tier, near.verdict.duplicate_of, near.story_id) == (DedupTier.NEAR_DUPLICATE, "a", "a")
    assert "containment" in near.verdict.evidence

    same_story = stored_from(index, "e", unit(1, 0.6, 0), FOLLOW_UP)
    assert (same_story.verdict.tier, same_story.story_id) == (DedupTier.SAME_STORY, "a")

    # Another earthquake: as close in embedding as the follow-up, but none of its names and numbers.
    different = stored_from(index, "f", unit(1, 0.6, 0.4), OTHER_QUAKE)
    assert different.verdict.tier == DedupTier.UNIQUE and different.story_id == "f"
    # Copies point at originals and are not indexed themselves; same-story articles are.
    assert sorted(index.key_of) == ["a", "e", "f"]


def test_a_copy_is_stored_with_what_a_replay_needs_only_and_a_restore_from_it_judges_as_before() -> None:
    live = DedupIndex()
    records = [
        stored_from(live, "a", unit(1, 0, 0), QUAKE, url="https://x.example/1"),
        stored_from(live, "b", unit(0, 1, 0), OTHER_QUAKE, url="http://www.x.example/1"),  # exact copy of a
        stored_from(live, "c", unit(1, 0.3, 0), "Breaking news. " + QUAKE + " Follow us."),  # near-duplicate of a
    ]
    original, exact, near = (record.model_dump_json() for record in records)
    for copy, tier in ((exact, DedupTier.EXACT), (near, DedupTier.NEAR_DUPLICATE)):
        slim = StoredArticle.model_validate_json(copy)
        assert slim.verdict.tier is tier and slim.verdict.duplicate_of == "a" and slim.story_id == "a"
        assert (slim.embedding_i8, slim.signature, slim.shingles, slim.terms, slim.opening) == ("", "", 0, (), "")
        assert len(copy) < len(original) / 4
    restored = DedupIndex()
    restored.add_many(StoredArticle.model_validate_json(record) for record in (original, exact, near))
    assert sorted(restored.key_of) == ["a"] and len(restored.expiry) == 3
    another = Candidate("d", None, "k", quantize(unit(1, 0.2, 0)), fingerprint("", "Update. " + QUAKE), 1_700_000_100.0)
    assert restored.decide(another) == live.decide(another)
    assert restored.decide(another)[0].tier is DedupTier.NEAR_DUPLICATE


def test_specific_terms_compare_by_idf_weighted_cosine_for_every_neighbour_at_once() -> None:
    index = DedupIndex()
    for number, terms in enumerate((((1, 1), (2, 1)), ((1, 1), (3, 1)), ((4, 1),))):
        index.add(StoredArticle.model_construct(
            id=f"s{number}", story_id=f"s{number}", url_key=None, text_key=f"t{number}", embedding_i8=quantize(unit(1, number)),
            signature="", shingles=0, terms=terms, event_time=0.0,
            verdict=DedupVerdict(tier=DedupTier.UNIQUE, score=0.0, evidence="test"),
        ))
    # Three articles stored: a term in d of them weighs ln(5 / (d + 1)) + 1, times 1 + ln(count).
    idf = {1: np.log(5 / 3) + 1, 2: np.log(5 / 2) + 1, 3: np.log(5 / 2) + 1, 4: np.log(5 / 2) + 1}
    mine = {1: (1 + np.log(2)) * idf[1], 2: idf[2], 5: (1 + np.log(3)) * (np.log(5 / 1) + 1)}  # 5: in no article
    neighbours = [((1, 1), (3, 1)), ((1, 1), (2, 1)), ((4, 1),), ()]  # the stored s1, s0 and s2, and no terms

    def expected(theirs: tuple[tuple[int, int], ...]) -> float:
        weights = {term: (1 + np.log(count)) * idf[term] for term, count in theirs}
        norms = np.linalg.norm(list(mine.values())) * np.linalg.norm(list(weights.values()))
        return sum(mine[t] * weights[t] for t in mine.keys() & weights.keys()) / norms if weights else 0.0

    stored_terms = [index.entries[index.key_of[article]].terms for article in ("s1", "s0", "s2")] + [pack_terms(())]
    cosines = index._term_cosines(index._candidate_terms(((1, 2), (2, 1), (5, 3))), stored_terms)
    assert cosines == pytest.approx([expected(terms) for terms in neighbours])
    assert cosines[1] > cosines[0] > 0.0 == cosines[2] == cosines[3]
    signature = np.zeros(128, dtype=np.uint16)
    pair = Fingerprint(signature, 0, ((1, 2), (2, 1), (5, 3))), Fingerprint(signature, 0, neighbours[0])
    assert index.term_similarity(*pair) == pytest.approx(expected(neighbours[0]))


@pytest.mark.parametrize("term_neighbours", [20, 0])
def test_a_story_member_the_nearest_neighbour_search_misses_is_found_by_its_names(term_neighbours: int) -> None:
    # One nearest neighbour only: the other earthquake is nearer in embedding than the original story, as a crowded
    # topic makes it in a large window.
    index = DedupIndex(DedupConfig(neighbours=1, term_neighbours=term_neighbours))
    stored_from(index, "a", unit(1, 0, 0), QUAKE)
    stored_from(index, "b", unit(1, 0, 0.5), OTHER_QUAKE)
    joined = stored_from(index, "c", unit(1, 0.3, 0.6), FOLLOW_UP)
    if term_neighbours:
        assert (joined.verdict.tier, joined.story_id, joined.verdict.duplicate_of) == (DedupTier.SAME_STORY, "a", "a")
    else:
        assert (joined.verdict.tier, joined.story_id) == (DedupTier.UNIQUE, "c")


def test_term_postings_follow_the_window_and_drop_common_terms() -> None:
    index = DedupIndex(DedupConfig(window_s=3600, term_postings_max=1))
    stored_from(index, "a", unit(1, 0, 0), QUAKE, when=0.0)
    arvena = next(term for term, _ in fingerprint("", "Arvena").terms)
    assert index.terms.postings[arvena] == [index.key_of["a"]]
    stored_from(index, "b", unit(0, 1, 0), "Arvena counts the cost. " + OTHER_QUAKE, when=10.0)
    assert arvena not in index.terms.postings and arvena in index.terms.common  # in two articles: too common
    stored_from(index, "c", unit(0, 0, 1), "A quiet week in the capital, Tiros.", when=5000.0)
    assert index.evict_expired() == ["a", "b"]
    assert arvena not in index.terms.common and arvena not in index.terms.slot_of
    assert all(index.key_of["c"] in keys and len(keys) == 1 for keys in index.terms.postings.values())


def test_window_evicts_old_articles_and_copies() -> None:
    index = DedupIndex(DedupConfig(window_s=3600))
    stored_from(index, "old", unit(1, 0, 0), QUAKE, url="https://x.example/old", when=0.0)
    stored_from(index, "copy", unit(1, 0, 0), QUAKE, when=10.0)
    assert index.evict_expired() == []
    stored_from(index, "new", unit(0, 1, 0), OTHER_QUAKE, when=4000.0)
    assert index.evict_expired() == ["old", "copy"]
    assert sorted(index.key_of) == ["new"] and "x.example/old" not in index.by_url
    again = stored_from(index, "again", unit(1, 0, 0), QUAKE, url="https://x.example/old", when=4001.0)
    assert again.verdict.tier == DedupTier.UNIQUE


def test_evicted_articles_leave_the_graph_in_batches_and_are_never_found_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedup, "REMOVAL_BATCH", 3)
    index = DedupIndex(DedupConfig(window_s=3600))
    left_in_graph = []
    for number in range(8):  # an hour apart: each article pushes the one before out of the window
        stored_from(index, f"a{number}", unit(*([0.0] * number), 1.0), QUAKE + f" Report {number}.", when=3601.0 * number)
        assert index.evict_expired() == ([f"a{number - 1}"] if number else [])
        left_in_graph.append(len(index.ann) - len(index))
        if number:  # the vector of the article just evicted, maybe still in the graph: no neighbour
            probe = unit(*([0.0] * (number - 1)), 1.0)
            assert index._neighbours(probe) == []
            verdict, _ = index.decide(Candidate("probe", None, "probe", quantize(probe), fingerprint("", "Unrelated words."), 3601.0 * number))
            assert verdict.tier is DedupTier.UNIQUE
    assert max(left_in_graph) < 3 and 0 in left_in_graph[3:]  # removed three at a time


def test_the_lead_tells_an_edited_copy_from_a_new_development_told_with_the_same_background() -> None:
    talks, failed = fingerprint("", STRIKE_TALKS), fingerprint("", STRIKE_TALKS_FAILED)
    retitled = fingerprint("", STRIKE_TALKS + "\n\nSign up for our newsletter.")
    assert containment(talks.signature, talks.shingles, failed.signature, failed.shingles) > 0.6  # text enough for a copy
    assert lead_overlap(talks.opening, failed.opening) < DedupConfig().near_duplicate_lead  # but each has a lead of its own
    assert lead_overlap(talks.opening, retitled.opening) == 1.0
    assert lead_overlap(talks.opening, NO_OPENING) == 1.0  # unknown (an older record): no test

    index = DedupIndex(DedupConfig())
    first = stored_from(index, "talks", unit(1, 0, 0), STRIKE_TALKS)
    copy = stored_from(index, "copy", unit(1, 0.1, 0), STRIKE_TALKS + "\n\nSign up for our newsletter.")
    assert (copy.verdict.tier, copy.verdict.duplicate_of) == (DedupTier.NEAR_DUPLICATE, "talks")
    assert "lead 1.00" in copy.verdict.evidence
    update = stored_from(index, "failed", unit(1, 0.4, 0), STRIKE_TALKS_FAILED)
    assert (update.verdict.tier, update.story_id) == (DedupTier.SAME_STORY, first.story_id)


def test_an_index_rebuilt_from_stored_articles_decides_the_same() -> None:
    first, rebuilt = DedupIndex(), DedupIndex()
    stored = [stored_from(first, "a", unit(1, 0, 0), QUAKE), stored_from(first, "b", unit(0, 1, 0), OTHER_QUAKE)]
    for article in stored:
        rebuilt.add(article)
    probe = fingerprint("", QUAKE + " More soon.")
    candidate = Candidate("p", None, "k", quantize(unit(1, 0.1, 0)), probe, 1_700_000_100.0)
    assert first.decide(candidate) == rebuilt.decide(candidate)
    assert rebuilt.decide(candidate)[0].duplicate_of == "a"


@pytest.mark.parametrize("chunk", [dedup.RESTORE_CHUNK, 100])
def test_a_restored_index_searches_exactly_as_the_one_its_decisions_built(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # After a crash an article whose table record was lost is decided again, against the index rebuilt from the
    # changelog: its verdict is only repeatable if the rebuilt graph is the one the decisions built, however many
    # articles the restore inserts at a time.
    monkeypatch.setattr(dedup, "RESTORE_CHUNK", chunk)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(12, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 12, 1500)] + rng.normal(scale=0.9, size=(1500, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{number}" for number in range(400)]
    live = DedupIndex()
    stored = [
        stored_from(live, f"a{number}", vector, " ".join(rng.choice(words, 60)), when=1_700_000_000.0 + number)
        for number, vector in enumerate(vectors)
    ]
    restored = DedupIndex()
    restored.add_many(stored)
    probes = vectors[:200] + rng.normal(scale=0.05, size=(200, 384)).astype(np.float32)
    searched = 0
    for probe in probes / np.linalg.norm(probes, axis=1, keepdims=True):
        found = [(entry.id, cosine) for entry, cosine in live._neighbours(probe)]
        assert found == [(entry.id, cosine) for entry, cosine in restored._neighbours(probe)]
        searched += len(found)
    assert searched > 200 * 10  # the probes do meet neighbours (above the candidate cosine)


def test_a_stored_article_from_before_openings_were_kept_still_restores_and_matches() -> None:
    index = DedupIndex()
    stored = stored_from(index, "a", unit(1, 0, 0), QUAKE)
    legacy = StoredArticle.model_validate_json(stored.model_dump_json(exclude={"opening"}))
    assert legacy.opening == ""
    rebuilt = DedupIndex()
    rebuilt.add(legacy)
    probe = Candidate("p", None, "k", quantize(unit(1, 0.1, 0)), fingerprint("", "Update. " + QUAKE), 1_700_000_100.0)
    verdict, _ = rebuilt.decide(probe)
    assert (verdict.tier, verdict.duplicate_of) == (DedupTier.NEAR_DUPLICATE, "a")
    assert "lead 1.00" in verdict.evidence


@pytest.mark.parametrize("count", [1500])
def test_index_grows_and_finds_a_planted_copy(count: int) -> None:
    index = DedupIndex()
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(count, 384)).astype(np.float32)
    for number, vector in enumerate(vectors):
        stored_from(index, f"id{number}", vector / np.linalg.norm(vector), f"body number {number} " * 3)
    assert len(index) == count
    copy = stored_from(index, "copy", vectors[1234] / np.linalg.norm(vectors[1234]), "an unrelated body text here")
    assert (copy.verdict.tier, copy.verdict.duplicate_of) == (DedupTier.NEAR_DUPLICATE, "id1234")

