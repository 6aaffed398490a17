"""Clients we did not write, against the embedded broker and a real worker: kcat publishes raw articles and reads the
enriched records back; the newsstream CLI publishes a feed from a URL; confluent-kafka (librdkafka) consumers in one
group share articles.enriched and events and every record validates against the exported JSON Schema."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import confluent_kafka
import jsonschema
import pytest
from confluent_kafka import Consumer

from models import DedupTier, DuplicateNotice, EnrichedArticle
from streams.cli import SAMPLE_FEED
from streams.feeds import feed_articles
from streams.outputs import collect
from streams.settings import Settings
from tests.conftest import Workers

pytestmark = pytest.mark.integration

KCAT = shutil.which("kcat")


def kcat_environment(directory: Path) -> dict[str, str]:
    """The environment to run kcat in, linked against the librdkafka of the pinned confluent-kafka wheel.

    Debian 12's kcat uses librdkafka 2.0.2, which misreads the tagged fields (FinalizedFeaturesEpoch) that the
    embedded Tansu broker puts in its ApiVersions v3 response, and so never connects. Newer librdkafka reads them;
    the soname is the same (librdkafka.so.1), so the wheel's copy can stand in for the system's.
    """
    libraries = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    (library,) = libraries.glob("librdkafka*.so*")
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "librdkafka.so.1"
    if not link.exists():
        link.symlink_to(library)
    return {**os.environ, "LD_LIBRARY_PATH": str(directory)}


def run(command: list[str], env: dict[str, str], stdin: bytes | None = None, timeout: float = 60) -> bytes:
    result = subprocess.run(command, input=stdin, env=env, capture_output=True, timeout=timeout)
    assert result.returncode == 0, f"{command[0]} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
    return result.stdout


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed: apt-get install -y kcat (.ci/run installs it)")
def test_kcat_publishes_raw_articles_and_reads_enriched_records_back(
    settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    assert KCAT is not None and settings.broker is not None
    env = kcat_environment(tmp_path / "kcat-lib")
    assert b"librdkafka 2.16" in run([KCAT, "-V"], env)
    articles = list(feed_articles(SAMPLE_FEED))
    # key<TAB>value lines, all to partition 0 so that each original comes before its copies.
    lines = b"".join(article.id.encode() + b"\t" + article.to_bytes() + b"\n" for article in articles)
    worker = workers.start()
    run([KCAT, "-b", settings.broker, "-P", "-t", settings.topic_raw, "-p", "0", "-K", "\t"], env, stdin=lines)

    expected = {article.id for article in articles}
    enriched: dict[str, EnrichedArticle] = {}
    duplicates: dict[str, DuplicateNotice] = {}
    deadline = time.monotonic() + 180
    while set(enriched) | set(duplicates) != expected and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(2)
        for topic, model, found in (
            (settings.topic_enriched, EnrichedArticle, enriched),
            (settings.topic_duplicates, DuplicateNotice, duplicates),
        ):
            out = run([KCAT, "-b", settings.broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"], env)
            for line in out.splitlines():
                key, value = line.split(b"\t", 1)
                found[key.decode()] = model.model_validate_json(value)  # type: ignore[assignment]
    assert worker.poll() is None, workers.log()
    assert set(enriched) | set(duplicates) == expected and not set(enriched) & set(duplicates), workers.log()
    assert all(record.article.id == key for key, record in enriched.items())
    assert len(duplicates) == 3  # the sample feed's three copies of the Rotterdam strike story
    original = next(a.id for a in articles if a.title == "Dock workers walk out at Rotterdam port")
    assert {notice.duplicate_of for notice in duplicates.values()} == {original}
    assert enriched[original].dedup.tier == DedupTier.UNIQUE and enriched[original].entities


@pytest.fixture
def feed_url(tmp_path: Path) -> Iterator[str]:
    """The sample feed on a local HTTP server (http.server answers If-Modified-Since)."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(SAMPLE_FEED, site / "feed.xml")

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    httpd.shutdown()
    httpd.server_close()


def newsstream(settings: Settings, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *arguments], env=env, capture_output=True, text=True, timeout=120
    )


def test_confluent_kafka_group_reads_outputs_that_match_the_exported_schemas(
    settings: Settings, workers: Workers, tmp_path: Path, feed_url: str
) -> None:
    assert settings.broker is not None
    worker = workers.start()
    state = tmp_path / "publisher-state.json"
    published = newsstream(settings, "publish", feed_url, "--state", str(state))
    assert published.returncode == 0, published.stderr
    assert "published 8, skipped 0, invalid 0" in published.stderr
    again = newsstream(settings, "publish", feed_url, "--state", str(state))
    assert "not modified" in again.stderr  # conditional GET against the saved Last-Modified

    ids = {article.id for article in feed_articles(SAMPLE_FEED)}
    out = collect(settings, ids, timeout_s=180, keep_going=lambda: worker.poll() is None)
    assert out.accounted_ids() == ids, workers.log()

    exported = newsstream(settings, "schema", "--out", str(tmp_path / "schemas"))
    assert exported.returncode == 0, exported.stderr
    validators = {
        topic: jsonschema.Draft202012Validator(
            json.loads((tmp_path / "schemas" / f"{topic}.schema.json").read_text(encoding="utf-8"))
        )
        for topic in (settings.topic_enriched, settings.topic_events)
    }

    group = f"{settings.app_id}-downstream"
    members = [
        Consumer(
            {
                "bootstrap.servers": settings.broker,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
            }
        )
        for _ in range(2)
    ]
    for member in members:
        member.subscribe(list(validators))
    received: dict[tuple[str, int, int], bytes] = {}
    by_member: list[set[tuple[str, int]]] = [set(), set()]
    wanted = {settings.topic_enriched: len(out.enriched), settings.topic_events: len(out.events)}
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            for number, member in enumerate(members):
                message = member.poll(0.2)
                if message is None or message.error():
                    continue
                received[(message.topic(), message.partition(), message.offset())] = message.value()
                by_member[number].add((message.topic(), message.partition()))
            counts = {topic: sum(1 for key in received if key[0] == topic) for topic in wanted}
            assignments = [set(member.assignment()) for member in members]
            if counts == wanted and all(assignments):
                break
        assignments = [{(tp.topic, tp.partition) for tp in member.assignment()} for member in members]
    finally:
        for member in members:
            member.close()

    assert counts == wanted
    # The group shares the load: each member holds partitions, no partition is held by both, all are held.
    assert all(assignments) and not assignments[0] & assignments[1]
    assert len(assignments[0] | assignments[1]) == 2 * settings.partitions
    assert all(read <= held for read, held in zip(by_member, assignments, strict=True))
    for (topic, _, _), value in received.items():
        validators[topic].validate(json.loads(value))
    enriched_ids = {json.loads(value)["article"]["id"] for (topic, _, _), value in received.items()
                    if topic == settings.topic_enriched}
    assert enriched_ids == set(out.enriched)

    # People read the same topic through the newsstream CLI.
    view = newsstream(settings, "consume", settings.topic_enriched, "--format", "text", "--entity", "Kenya")
    assert view.returncode == 0, view.stderr
    assert "Central bank" in view.stdout and "entities:" in view.stdout and "--raise-->" in view.stdout
    assert "Rotterdam" not in view.stdout
    events = newsstream(settings, "consume", settings.topic_events, "--event", "divert")
    triggers = [json.loads(line)["trigger"] for line in events.stdout.splitlines()]
    assert triggers and set(triggers) == {"divert"}
