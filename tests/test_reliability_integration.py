"""Failures under load, with real worker processes, real models and the embedded broker: a worker killed with SIGKILL
mid-stream, a second worker joining and leaving, and the broker frozen for 30 s.

Each test checks the delivery guarantee end to end: once repeated records are dropped by key, every input id is in
exactly one of enriched, duplicates or dead letter, and every repeated record is byte-identical to the first one with
its key (a replay re-sends the stored verdict, it does not decide again).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from kafka import TopicPartition

from models import DeadLetter, DedupTier, DuplicateNotice, RawArticle
from streams.broker import EmbeddedBroker
from streams.kafka_clients import admin, consumer, producer
from streams.settings import Settings
from streams.top import Samples
from streams.top import scrape as scrape_url
from tests.articles import QUAKE_ARVENA, QUAKE_ARVENA_COPY
from tests.conftest import Workers, settings_on
from tests.generated_articles import blank_body_messages, generated_articles

pytestmark = pytest.mark.integration

# Thousands of short articles: larger model batches than the default 16 (torch embedder, measured: 29 -> 39 articles/s).
BATCH_SIZE = 64


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared broker's per-test settings, with larger model batches."""
    return settings.model_copy(update={"batch_size": BATCH_SIZE})


def publish(settings: Settings, messages: Iterable[tuple[str, bytes]], partition: int | None = None) -> None:
    """Keyed messages; without a partition the key picks it, so the load spreads over every raw partition."""
    client = producer(settings)
    for key, value in messages:
        client.send(settings.topic_raw, key=key.encode(), value=value, partition=partition)
    client.flush()
    client.close()


def keyed(articles: Iterable[RawArticle]) -> list[tuple[str, bytes]]:
    return [(article.id, article.to_bytes()) for article in articles]


@dataclass
class Delivery:
    """The output topics once read to their end, per kind: which inputs came out where, and what was repeated."""

    destinations: dict[str, set[str]]
    records: dict[str, int]
    repeated: dict[str, int]
    differing: list[str] = field(default_factory=list)
    # (article id, event id) of the events inside enriched records, and of the records on the events topic.
    enriched_events: set[tuple[str, str]] = field(default_factory=set)
    event_records: set[tuple[str, str]] = field(default_factory=set)

    def figures(self) -> str:
        return ", ".join(
            f"{kind}: {self.records[kind]} records"
            + (f" for {len(self.destinations[kind])} inputs" if kind in self.destinations else "")
            + f", {self.repeated[kind]} repeated"
            for kind in self.records
        )


class OutputLog:
    """Every record of the output topics as raw bytes, read from the beginning, with when this reader saw it and its
    Kafka timestamp (CreateTime: when the worker sent it)."""

    def __init__(self, settings: Settings) -> None:
        self.kinds = {
            settings.topic_enriched: "enriched",
            settings.topic_duplicates: "duplicates",
            settings.topic_deadletter: "dead_letters",
            settings.topic_events: "events",
        }
        self.consumer = consumer(settings, *self.kinds)
        self.records: dict[str, list[tuple[bytes, bytes]]] = {kind: [] for kind in self.kinds.values()}
        self.ids: dict[str, set[str]] = {kind: set() for kind in ("enriched", "duplicates", "dead_letters")}
        # (time this reader saw it, the record's CreateTime in s) for every record, in reading order.
        self.arrivals: list[tuple[float, float]] = []

    def poll(self) -> None:
        for tp, records in self.consumer.poll(timeout_ms=300).items():
            kind = self.kinds[tp.topic]
            now = time.time()
            for record in records:
                self.records[kind].append((record.key, record.value))
                self.arrivals.append((now, record.timestamp / 1000))
                if kind in self.ids:
                    self.ids[kind].add(input_id_of(kind, record.key, record.value))

    def accounted(self) -> set[str]:
        return set().union(*self.ids.values())

    def read_until(self, done: Callable[[], bool], timeout_s: float, alive: Callable[[], bool]) -> bool:
        """Poll until ``done``, the time is up, or ``alive`` says the worker died; returns ``done()``."""
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline and alive():
            self.poll()
        return done()

    def read_to_end(self, timeout_s: float = 30.0) -> None:
        """Until this reader has every record the topics hold now."""
        partitions = self.consumer.assignment()
        ends = self.consumer.end_offsets(list(partitions))
        deadline = time.monotonic() + timeout_s
        while any(self.consumer.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "output topics not read to their end"
            self.poll()

    def final_delivery(
        self, settings: Settings, expected: set[str], timeout_s: float, keep_going: Callable[[], bool],
        worker_log: Callable[[], str],
    ) -> Delivery:
        """Once every expected input is out and the group has committed everything (no replay can follow), the whole
        output, repeats dropped."""
        done = self.read_until(lambda: expected <= self.accounted(), timeout_s, keep_going)
        # Which inputs, and whether the group's commits are behind (a stall) or not (inputs skipped).
        missing = sorted(expected - self.accounted())
        assert done, (len(missing), missing[:40], group_backlog_now(settings), worker_log()[-3000:])
        wait_until_committed(settings)
        self.read_to_end()
        return self.delivery()

    def delivery(self) -> Delivery:
        """Drop repeated records by key (events: by key and event id), checking each repeat equals the first."""
        delivery = Delivery({kind: set(ids) for kind, ids in self.ids.items()}, {}, {})
        for kind, kept in self.records.items():
            first: dict[tuple[bytes, str], bytes] = {}
            for key, value in kept:
                # An article's events share its key: they are told apart by their own id.
                identity = (key, orjson.loads(value)["id"] if kind == "events" else "")
                if identity not in first:
                    first[identity] = value
                elif first[identity] != value:
                    delivery.differing.append(f"{kind} {identity}")
            delivery.records[kind], delivery.repeated[kind] = len(kept), len(kept) - len(first)
            if kind == "enriched":
                delivery.enriched_events = {
                    (key.decode(), event["id"]) for (key, _), value in first.items() for event in orjson.loads(value)["events"]
                }
            elif kind == "events":
                delivery.event_records = {(key.decode(), event_id) for key, event_id in first}
        return delivery

    def close(self) -> None:
        self.consumer.close()


def input_id_of(kind: str, key: bytes, value: bytes) -> str:
    """The input a record accounts for: the key of enriched and duplicate records, the id inside a dead letter's
    original bytes (its key is the raw topic/partition/offset)."""
    if kind == "dead_letters":
        return str(orjson.loads(DeadLetter.model_validate_json(value).original)["id"])
    return key.decode()


@pytest.fixture
def output_log(settings: Settings) -> Iterator[OutputLog]:
    log = OutputLog(settings)
    yield log
    log.close()


@contextmanager
def group_backlog(settings: Settings) -> Iterator[Callable[[], dict[TopicPartition, int]]]:
    """A probe of the workers' group: per raw and analysed partition, the messages past its committed offset (end
    offsets as of opening). One reader and one admin client for all the probe's calls."""
    topics = (settings.topic_raw, settings.topic_analyzed)
    reader = consumer(settings)
    client = admin(settings)
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in reader.partitions_for_topic(topic)]
        ends = reader.end_offsets(partitions)

        def behind() -> dict[TopicPartition, int]:
            offsets = client.list_group_offsets({settings.app_id: partitions})[settings.app_id]
            committed = {tp: meta.offset for tp, meta in offsets.items()}  # -1: nothing committed yet
            return {tp: end - committed.get(tp, -1) for tp, end in ends.items() if committed.get(tp, -1) < end}

        yield behind
    finally:
        reader.close()
        client.close()


def group_backlog_now(settings: Settings) -> dict[TopicPartition, int]:
    with group_backlog(settings) as behind:
        return behind()


def wait_until_committed(settings: Settings, timeout_s: float = 60.0) -> None:
    """Until the workers' group has committed every raw and analysed message: no replay can follow, so the output
    topics are complete. The workers commit every NEWSSTREAM_COMMIT_INTERVAL_S and before partitions are revoked."""
    deadline = time.monotonic() + timeout_s
    with group_backlog(settings) as backlog:
        while behind := backlog():
            assert time.monotonic() < deadline, f"not committed after {timeout_s} s: {behind}"
            time.sleep(0.5)


def assert_delivered(delivery: Delivery, articles: set[str], blank: set[str]) -> None:
    """Exactly one destination per input, dead letters exactly for the blank bodies, repeats byte-identical."""
    destinations = delivery.destinations
    assert not delivery.differing, delivery.differing[:5]
    enriched, duplicates, dead = destinations["enriched"], destinations["duplicates"], destinations["dead_letters"]
    assert not (enriched & duplicates or enriched & dead or duplicates & dead)
    lost = (articles | blank) - (enriched | duplicates | dead)
    assert not lost, f"{len(lost)} inputs lost, e.g. {sorted(lost)[:5]}"
    assert enriched | duplicates | dead == articles | blank
    assert dead == blank
    # After dropping repeats, one record per input on its topic.
    assert delivery.records["enriched"] - delivery.repeated["enriched"] == len(enriched)
    assert delivery.records["duplicates"] - delivery.repeated["duplicates"] == len(duplicates)
    assert delivery.records["dead_letters"] - delivery.repeated["dead_letters"] == len(dead)
    # The events of every enriched article, and no others, are on the events topic.
    assert delivery.event_records == delivery.enriched_events


def alive(*processes: object) -> Callable[[], bool]:
    return lambda: all(process.poll() is None for process in processes)  # type: ignore[attr-defined]


def scrape(port: int) -> Samples:
    return scrape_url(f"http://127.0.0.1:{port}/metrics", timeout_s=5)


def raw_partitions_held(port: int, topic: str, timeout_s: float) -> set[int]:
    """The raw partitions a worker holds, from its consumer-lag gauge (set every 5 s for each assigned partition)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            samples = scrape(port)
        except OSError:  # the worker is still starting: its metrics server is not up yet
            samples = {}
        held = {
            int(dict(labels)["partition"])
            for (name, labels), _ in samples.items()
            if name == "newsstream_consumer_lag" and dict(labels)["topic"] == topic
        }
        if held:
            return held
        time.sleep(1)
    raise AssertionError(f"the worker with metrics on port {port} holds no partition of {topic} after {timeout_s} s")


def records_in(port: int) -> dict[str, float]:
    """Records each agent of one worker has consumed."""
    return {
        dict(labels)["agent"]: value
        for (name, labels), value in scrape(port).items()
        if name == "newsstream_records_in_total"
    }


def index_restores(port: int) -> dict[str, float]:
    """How one worker's table recoveries went: the dedup index kept, or rebuilt."""
    return {
        dict(labels)["outcome"]: value
        for (name, labels), value in scrape(port).items()
        if name == "newsstream_dedup_index_restores_total"
    }


# The issue asks for 5,000: short generated articles and batches of 64 keep this test near 2 minutes here (124 s).
KILL_TEST_ARTICLES = 5000


def test_a_worker_killed_mid_stream_loses_nothing_and_its_replays_are_byte_identical(
    settings: Settings, workers: Workers, output_log: OutputLog
) -> None:
    started = time.monotonic()
    articles = generated_articles(KILL_TEST_ARTICLES, settings.app_id)
    blank = blank_body_messages(25, settings.app_id)
    expected = {article.id for article in articles} | set(blank)
    publish(settings, keyed(articles) + list(blank.items()))

    first = workers.start()
    # Killed in full flow, a fifth of the way: batches in flight, sent but not yet committed.
    in_flow = output_log.read_until(lambda: len(output_log.accounted()) >= len(expected) // 5, 300, alive(first))
    assert in_flow, (len(output_log.accounted()), first.poll(), workers.log(0)[-3000:])
    first.kill()  # SIGKILL: no shutdown, no final commit, no producer flush
    first.wait()
    out_at_kill = len(output_log.accounted())

    second = workers.start()  # an empty data directory: the dedup state comes back from the changelog
    delivery = output_log.final_delivery(settings, expected, 400, alive(second), lambda: workers.log(1))
    print(
        f"\nSIGKILL: {len(articles)} articles + {len(blank)} blank bodies, killed after {out_at_kill} were out; "
        f"{delivery.figures()}; {time.monotonic() - started:.0f} s"
    )

    assert_delivered(delivery, {article.id for article in articles}, set(blank))
    # The kill interrupted the stream: the second worker had work left. Whether it also replays records depends on
    # where the kill fell against the last commit (usually hundreds; none when it fell right after one).
    assert 0 < out_at_kill < len(expected), (out_at_kill, len(expected))


# The workers' producer linger: at 10 ms (the default) a rebalance's seek back to the committed offsets overlapped a
# fetch or a second resumption of the flow in about half the runs, and records were lost, until
# streams/kafka_transport.py handled both; 0 is Faust's own default.
@pytest.mark.parametrize("producer_linger_ms", [10, 0], ids=["linger-10ms", "linger-0"])
def test_a_worker_joining_and_leaving_under_load_loses_nothing_and_copies_are_still_caught(
    settings: Settings, workers: Workers, output_log: OutputLog, producer_linger_ms: int
) -> None:
    workers.settings = settings.model_copy(update={"producer_linger_ms": producer_linger_ms})
    started = time.monotonic()
    original, copy = QUAKE_ARVENA, QUAKE_ARVENA_COPY
    articles = generated_articles(900, settings.app_id)
    blank = blank_body_messages(10, settings.app_id)
    expected = {article.id for article in articles} | set(blank) | {original.id, copy.id}

    first = workers.start()
    publish(settings, keyed([original]), partition=0)
    assert output_log.read_until(lambda: original.id in output_log.ids["enriched"], 120, alive(first)), workers.log(0)
    publish(settings, keyed(articles[:450]) + list(blank.items()))

    second = workers.start()
    held = raw_partitions_held(workers.metrics_ports[1], settings.topic_raw, timeout_s=120)
    # The copy goes to a partition the new worker holds, not the original's: whichever worker now runs the decision,
    # the original decided before the rebalance must be in its table.
    target = min(held - {0})
    publish(settings, keyed([copy]), partition=target)
    publish(settings, keyed(articles[450:750]))
    assert output_log.read_until(lambda: copy.id in output_log.accounted(), 120, alive(first, second)), workers.log(1)
    second_records = records_in(workers.metrics_ports[1])
    second_restores = index_restores(workers.metrics_ports[1])
    backlog_at_leave = len(expected) - len(output_log.accounted())
    assert backlog_at_leave > 0, "the second worker must leave under load"

    second.send_signal(signal.SIGTERM)
    second.wait(timeout=60)  # a clean leave, within the time a deployment waits before SIGKILL
    publish(settings, keyed(articles[750:]))
    delivery = output_log.final_delivery(settings, expected, 240, alive(first), lambda: workers.log(0))
    first_restores = index_restores(workers.metrics_ports[0])
    print(
        f"\njoin/leave (linger {producer_linger_ms} ms): {len(expected)} inputs, second worker held raw partitions "
        f"{sorted(held)}, consumed {second_records} and left (exit {second.returncode}) with {backlog_at_leave} inputs "
        f"not yet out; dedup index restores: first worker {first_restores}, second {second_restores}; "
        f"{delivery.figures()}; "
        f"{time.monotonic() - started:.0f} s"
    )

    assert second_records.get("analyze", 0) > 0, "the second worker never took part"
    if "decide" not in second_records:
        # The first worker ran every decision: its table came through both rebalances as it was, so its index was
        # built once, at start, and kept (a rebuild of a large window takes minutes of stalled decisions).
        assert first_restores == {"rebuilt": 1.0, "kept": 2.0}, first_restores
    assert_delivered(delivery, {article.id for article in articles} | {original.id, copy.id}, set(blank))
    # A clean rebalance replays at most what was in flight: a batch per rebalance (two here), not the work done since
    # the last periodic commit (up to 478 enriched records repeated before the commit at revocation).
    repeated = sum(delivery.repeated[kind] for kind in ("enriched", "duplicates", "dead_letters"))
    assert repeated <= 2 * BATCH_SIZE, delivery.figures()
    assert original.id in delivery.destinations["enriched"]
    notices = [DuplicateNotice.model_validate_json(value) for key, value in output_log.records["duplicates"] if key == copy.id.encode()]
    assert notices and {(n.tier, n.duplicate_of) for n in notices} == {(DedupTier.NEAR_DUPLICATE, original.id)}


OUTAGE_S = 30.0


def test_the_worker_recovers_by_itself_after_the_broker_freezes_for_30_s(tmp_path: Path) -> None:
    started = time.monotonic()
    with EmbeddedBroker() as own_broker:  # not the session broker: the other tests must not freeze
        settings = settings_on(own_broker.bootstrap, tmp_path).model_copy(update={"batch_size": BATCH_SIZE})
        workers = Workers(settings, tmp_path)
        output_log = OutputLog(settings)
        try:
            articles = generated_articles(700, settings.app_id)
            blank = blank_body_messages(10, settings.app_id)
            expected = {article.id for article in articles} | set(blank)
            worker = workers.start()
            publish(settings, keyed(articles) + list(blank.items()))
            assert output_log.read_until(lambda: len(output_log.accounted()) >= 150, 240, alive(worker)), workers.log()

            frozen_at = time.time()
            own_broker.pause()  # SIGSTOP: connections stay open, nothing answers
            time.sleep(OUTAGE_S)
            own_broker.resume()
            resumed_at = time.time()
            out_before = len(output_log.accounted())

            # Anything the worker sent after the freeze began can only have reached the broker after SIGCONT.
            def after_freeze() -> list[tuple[float, float]]:
                return [(seen, created) for seen, created in output_log.arrivals if created >= frozen_at]

            recovered = output_log.read_until(lambda: bool(after_freeze()), 120, alive(worker))
            assert recovered, (worker.poll(), workers.log()[-3000:])
            first_seen = after_freeze()[0][0] - resumed_at
            done = output_log.read_until(lambda: expected <= output_log.accounted(), 240, alive(worker))
            assert done, (len(expected - output_log.accounted()), worker.poll(), workers.log()[-3000:])
            all_out = time.time() - resumed_at
            first_sent = min((created for _, created in after_freeze() if created >= resumed_at), default=math.nan)
            delivery = output_log.final_delivery(settings, expected, 1, alive(worker), workers.log)
            print(
                f"\nbroker frozen {OUTAGE_S:.0f} s with {out_before}/{len(expected)} inputs out: first output after "
                f"SIGCONT seen at +{first_seen:.1f} s, first one sent after SIGCONT at +{first_sent - resumed_at:.1f} s, all out at "
                f"+{all_out:.1f} s; {delivery.figures()}; {time.monotonic() - started:.0f} s"
            )

            assert worker.poll() is None, "the worker died"
            assert_delivered(delivery, {article.id for article in articles}, set(blank))
        finally:
            workers.stop_all()
            output_log.close()
