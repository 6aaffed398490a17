import numpy as np

from models import DedupTier
from streams.dedup import DedupIndex, StoredArticle, Thresholds, canonical_url, normalized_text_key


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def store(index: DedupIndex, article_id: str, vector: np.ndarray, url: str | None = None, body: str = "") -> StoredArticle:
    url_key = canonical_url(url)
    text_key = normalized_text_key(body or article_id)
    verdict, story = index.decide(url_key, text_key, vector)
    stored = StoredArticle(
        id=article_id, story_id=story or article_id, url_key=url_key, text_key=text_key, embedding_b64="", verdict=verdict
    )
    index.add(stored, vector)
    return stored


def test_canonical_url_drops_scheme_www_fragment_tracking_and_trailing_slash() -> None:
    assert canonical_url("https://www.Example.com/a/b/?utm_source=x&id=3&fbclid=1#top") == "example.com/a/b?id=3"
    assert canonical_url("http://example.com/a/b?id=3") == "example.com/a/b?id=3"
    assert canonical_url(None) is None and canonical_url("not a url") is None


def test_normalized_text_ignores_case_punctuation_and_spacing() -> None:
    assert normalized_text_key("Hello,   World!") == normalized_text_key("hello world")
    assert normalized_text_key("Hello world") != normalized_text_key("Hello there world")


def test_tiers() -> None:
    index = DedupIndex(Thresholds(near_duplicate_cosine=0.9, same_story_cosine=0.7))
    first = store(index, "a", unit(1, 0, 0), url="https://x.example/1", body="first body")
    assert first.verdict.tier == DedupTier.UNIQUE and first.story_id == "a"

    by_url = store(index, "b", unit(0, 1, 0), url="http://www.x.example/1?utm_medium=rss", body="other")
    assert (by_url.verdict.tier, by_url.verdict.duplicate_of) == (DedupTier.EXACT, "a")

    by_text = store(index, "c", unit(0, 0, 1), body="FIRST body.")
    assert (by_text.verdict.tier, by_text.verdict.duplicate_of) == (DedupTier.EXACT, "a")

    near = store(index, "d", unit(1, 0.2, 0))
    assert (near.verdict.tier, near.verdict.duplicate_of, near.story_id) == (DedupTier.NEAR_DUPLICATE, "a", "a")

    same_story = store(index, "e", unit(1, 0.8, 0))
    assert (same_story.verdict.tier, same_story.story_id) == (DedupTier.SAME_STORY, "a")

    other = store(index, "f", unit(0, 0, 0, 1))
    assert other.verdict.tier == DedupTier.UNIQUE and other.story_id == "f"
    # Copies point at originals and are not indexed themselves; same-story articles are.
    assert index.ids == ["a", "e", "f"]


def test_index_grows_past_its_initial_capacity() -> None:
    index = DedupIndex(Thresholds(0.99, 0.98))
    rng = np.random.default_rng(7)
    for number in range(1500):
        store(index, f"id{number}", unit(*rng.normal(size=384)))
    assert len(index) == 1500
    assert store(index, "copy", index._vectors[1234].copy()).verdict.duplicate_of == "id1234"
