"""End to end over TCP: kafka-python publishes to the embedded broker, a real worker process with the real models
processes, and the output topics are read back."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from models import DedupTier
from streams.cli import SAMPLE_FEED
from streams.feeds import feed_articles
from streams.healthcheck import check
from streams.kafka_clients import producer
from streams.outputs import collect
from streams.settings import Settings
from streams.top import Samples
from streams.top import scrape as scrape_url
from tests.conftest import Workers

pytestmark = pytest.mark.integration

MALFORMED = {
    b'{"id": "broken", "source": "x", "body": ': "invalid_json",
    b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary junk": "invalid_utf8",
    orjson.dumps({"id": "typed", "source": "x", "body": ["not", "text"]}): "schema",
}


def test_every_article_ends_in_exactly_one_output_topic(settings: Settings, workers: Workers) -> None:
    articles = {article.title: article for article in feed_articles(SAMPLE_FEED)}
    original = articles.pop("Dock workers walk out at Rotterdam port")
    copies = [
        articles.pop("Rotterdam port strike: ships diverted as unions halt work"),
        articles.pop("Strike at Rotterdam: dockers stop work over automated cranes"),
        articles.pop("DOCK STRIKE HITS EUROPE'S BIGGEST PORT"),
    ]
    client = producer(settings)
    worker = workers.start()

    # The original goes first, to partition 0, and must be through before its copies arrive elsewhere.
    client.send(settings.topic_raw, key=original.id.encode(), value=original.to_bytes(), partition=0)
    client.flush()
    first = collect(settings, {original.id}, timeout_s=90, keep_going=lambda: worker.poll() is None)
    assert original.id in first.enriched, workers.log()

    for number, copy in enumerate(copies, start=1):
        client.send(settings.topic_raw, key=copy.id.encode(), value=copy.to_bytes(), partition=number)
    for value in MALFORMED:
        client.send(settings.topic_raw, value=value, partition=1)
    # Good articles behind the bad ones on the same partition: the worker must keep going past them.
    for article in articles.values():
        client.send(settings.topic_raw, key=article.id.encode(), value=article.to_bytes(), partition=1)
    client.flush()
    client.close()

    all_ids = {original.id} | {c.id for c in copies} | {a.id for a in articles.values()}
    out = collect(settings, all_ids, expected_dead_letters=len(MALFORMED), timeout_s=120, keep_going=lambda: worker.poll() is None)
    assert worker.poll() is None, workers.log()

    # Exactly one destination per input.
    enriched, duplicates = set(out.enriched), set(out.duplicates)
    assert enriched | duplicates == all_ids
    assert not enriched & duplicates
    assert out.raw_counts["enriched"] == len(enriched) == 1 + len(articles)
    assert out.raw_counts["duplicates"] == len(duplicates) == len(copies)

    # Copies from other partitions point at the original.
    for copy in copies:
        notice = out.duplicates[copy.id]
        assert notice.duplicate_of == original.id
        assert notice.story_id == original.id
    by_url = out.duplicates[copies[2].id]
    assert (by_url.tier, by_url.evidence) == (DedupTier.EXACT, "same canonical URL")
    assert {out.duplicates[c.id].tier for c in copies[:2]} == {DedupTier.NEAR_DUPLICATE}

    # The follow-up on the same strike is enriched, and shares the original's story.
    day_two = next(a for a in articles.values() if "second day" in a.title)
    assert out.enriched[day_two.id].story_id == original.id
    assert out.enriched[day_two.id].dedup.tier == DedupTier.SAME_STORY

    # Content: typed entities and events with actor and target.
    bank = next(a for a in articles.values() if "Central bank" in a.title)
    entities = {(e.canonical, e.type) for e in out.enriched[bank.id].entities}
    assert {("Amina Odhiambo", "PER"), ("Central Bank of Kenya", "ORG"), ("Nairobi", "GPE")} <= entities
    raise_events = [e for e in out.enriched[bank.id].events if e.trigger == "raise"]
    assert any(e.actor == "Central Bank of Kenya" and e.target and "rate" in e.target for e in raise_events)
    divert = [e for e in out.enriched[original.id].events if e.trigger == "divert"]
    assert divert and "Maersk" in (divert[0].actor or "") and "ships" in (divert[0].target or "")

    # Events on the events topic are those of the enriched articles, with their story ids.
    expected_events = {e.id: e for a in out.enriched.values() for e in a.events}
    assert set(out.events) == set(expected_events)
    assert all(out.events[i].story_id == expected_events[i].story_id for i in expected_events)

    # Malformed input is dead-lettered with its original bytes and a specific reason.
    letters = {letter.original: letter for letter in out.dead_letters}
    assert len(out.dead_letters) == len(MALFORMED)
    for value, reason in MALFORMED.items():
        assert letters[value].reason == reason
        assert letters[value].stage == "decode"
        assert base64.b64decode(letters[value].original_b64) == value

    # The worker's Prometheus counters agree with what came out.
    expected_samples = {
        ("newsstream_records_in_total", (("agent", "analyze"),)): len(all_ids) + len(MALFORMED),
        ("newsstream_records_in_total", (("agent", "decide"),)): len(all_ids),
        ("newsstream_records_out_total", (("agent", "decide"), ("topic", settings.topic_enriched))): len(enriched),
        ("newsstream_records_out_total", (("agent", "decide"), ("topic", settings.topic_duplicates))): len(duplicates),
        ("newsstream_records_out_total", (("agent", "decide"), ("topic", settings.topic_events))): len(out.events),
        ("newsstream_duplicates_total", (("tier", "near_duplicate"),)): 2,
        ("newsstream_duplicates_total", (("tier", "exact"),)): 1,
        ("newsstream_dead_letters_total", (("reason", "invalid_json"), ("stage", "decode"))): 1,
        ("newsstream_dead_letters_total", (("reason", "schema"), ("stage", "decode"))): 1,
    }
    samples = scrape_until(workers.metrics_ports[0], expected_samples)
    for key, value in expected_samples.items():
        assert samples.get(key) == value, (key, samples.get(key))
    assert samples[("newsstream_end_to_end_seconds_count", ())] == len(all_ids)
    assert samples[("newsstream_inference_seconds_count", (("model", "embedding"),))] >= 2
    # CPU by thread: the model threads, the event loop and Faust's Kafka consumer thread each did work.
    cpu = {dict(labels)["thread"]: value for (name, labels), value in samples.items() if name == "newsstream_thread_cpu_seconds_total"}
    assert all(cpu.get(role, 0.0) > 0 for role in ("models", "embedding", "event_loop", "kafka_consumer")), cpu
    # The agents run and the event loop beats: the probe Kubernetes and Docker use says healthy.
    assert check(settings.model_copy(update={"metrics_port": workers.metrics_ports[0]})) is None


def scrape(port: int) -> Samples:
    return scrape_url(f"http://127.0.0.1:{port}/metrics", timeout_s=5)


def scrape_until(port: int, expected: dict, timeout_s: float = 10.0) -> dict:
    """Counters are bumped right after each send; give the last ones a moment."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape(port)
        if all(samples.get(key) == value for key, value in expected.items()) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)
