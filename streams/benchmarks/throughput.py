"""Throughput of newsstream against its compute floor and against the loop a user would write, on the same articles.

    python -m streams.benchmarks.throughput [--articles 600] [--source auto|generated|bbc] [--workers <cores>]
                                            [--decide-worker] [--latency-seconds 60]

(a) compute floor: no Kafka, in as many processes as (c) has workers, each over its share of the articles: each
    article's bytes decoded and validated, the worker's Analyzer (``build_analyzer``: whatever models and backends the
    settings choose) over batches of ``batch_size``, then the dedup decision and the output records serialised,
    article by article, as the ``decide`` agent does. Measured first and again at the end: this shared machine's
    speed drifts (the floor of the same code has moved between 11.7 and 15.1 articles/s from run to run, and by 28%
    within one), so c/a compares (c) with both floor runs together, which bracket it.
(b) naive loop: ``streams.benchmarks.naive_loop`` in a subprocess on an embedded broker: kafka-python, one message
    at a time, stock sentence-transformers (torch fp32) and full spaCy ``nlp()`` per message, result to a topic.
(c) newsstream end to end: ``newsstream worker`` subprocess(es) on an embedded broker, as in production; the
    articles published at once to the raw topic; from the first publish to the last output accounted for by
    ``streams.outputs.OutputReader`` (enriched record or duplicate notice, and every event of the article).
    Worker start-up is excluded and printed separately. With ``--decide-worker``: ``--workers`` workers of the
    analyze role and one of the decide role.
Then latency: the same workers, fresh articles published at a steady half of (c)'s measured rate; latency is the
Kafka timestamp of the article's enriched record (or duplicate notice) minus that of its raw message.

CPU an article: the user and system CPU time, over the timed run, of what does the work: the floor's processes; the
loop and its broker; the workers and their broker (not the benchmark's publisher and reader). Wall-clock rates move
with the other tenants of a shared machine (the floor by up to 28% within minutes); CPU time moves less, so
(a)/(c) CPU an article shows what Kafka and Faust cost on top of the models.

Start-up ("start to ready", (b) and (c)): from starting the process(es) to the output of a warm-up article, once every
worker has read one (models loaded, group joined, partitions assigned, first batch through the models).
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from multiprocessing import get_context
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np
from kafka import KafkaConsumer, KafkaProducer
from rich.console import Console
from rich.table import Table

from models import AnalyzedArticle, RawArticle
from streams.analyze import Analyzer, ModelFailure, ReceivedArticle
from streams.analyzer_factory import build_analyzer
from streams.benchmarks.articles import (
    BenchArticle,
    add_source_argument,
    article_stream,
    resolve_source_or_skip,
    warmup_articles,
)
from streams.broker import EmbeddedBroker, free_port
from streams.decision import decide, outputs
from streams.decode import RawMessage, decode_article
from streams.dedup import DedupIndex
from streams.kafka_clients import consumer, producer
from streams.outputs import OutputReader
from streams.settings import Settings, WorkerRole
from streams.thread_cpu import cpu_seconds
from streams.top import Labels, Samples, merge, quantile, scrape
from streams.topics import create_topics

ONE_MILLION_A_DAY = 1_000_000 / 86_400  # articles/s
GOALS = {"c/a": 0.90, "c/b": 4.0, "p95 s": 1.0, "ready s": 10.0}
console = Console(width=120)  # a wide table also when the output goes to a file or a pipe


@dataclass(frozen=True)
class Run:
    articles: int
    seconds: float
    # User and system CPU of the processes doing the work, over the timed span: less sensitive than ``seconds`` to
    # the other tenants of a shared machine, and it shows what the pipeline costs on top of the models.
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.articles / self.seconds

    @property
    def cpu_ms_per_article(self) -> float:
        return 1000 * self.cpu_seconds / self.articles


@dataclass(frozen=True)
class Latency:
    rate: float
    articles: int
    p50: float
    p95: float
    max: float
    # The workers' own newsstream_end_to_end_seconds over the same run: upper bounds of histogram buckets.
    histogram_p50: float | None
    histogram_p95: float | None


@dataclass(frozen=True)
class Report:
    floor_before: Run
    floor_after: Run
    naive: Run
    naive_ready_s: float
    newsstream: Run
    ready_s: float
    latency: Latency

    @property
    def floor(self) -> Run:
        """Both floor runs as one: on a shared machine the floor drifts, and (c) runs between the two."""
        before, after = self.floor_before, self.floor_after
        return Run(
            before.articles + after.articles, before.seconds + after.seconds, before.cpu_seconds + after.cpu_seconds
        )


def log(message: str) -> None:
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/] {message}", highlight=False, soft_wrap=True)


# -- (a) compute floor -------------------------------------------------------------------------------------------------

def received_articles(settings: Settings, batch: Sequence[BenchArticle], first_offset: int) -> list[ReceivedArticle]:
    """The articles' bytes decoded and validated as the analyze agent does, as if read from the raw topic now."""
    now = time.time()
    received = []
    for offset, item in enumerate(batch, first_offset):
        message = RawMessage(item.value, item.key, settings.topic_raw, 0, offset, int(now * 1000))
        decoded = decode_article(message, max_message_bytes=settings.max_message_bytes, max_body_chars=settings.max_body_chars)
        if not isinstance(decoded, RawArticle):
            raise ValueError(f"benchmark article {item.id} is invalid: {decoded.reason} {decoded.detail}")
        received.append(ReceivedArticle(decoded, now))
    return received


def analysed(analyzer: Analyzer, received: Sequence[ReceivedArticle]) -> list[AnalyzedArticle]:
    """The analyzer's results; a model failure stops the benchmark (its articles are all valid)."""
    results = []
    for result in analyzer.analyze(received):
        if isinstance(result, ModelFailure):
            raise RuntimeError(f"model failure on {result.article.id}: {result.detail}")
        results.append(result)
    return results


def floor_run(
    settings: Settings, articles: Sequence[BenchArticle], warmup: BenchArticle, ready: Callable[[], object] = lambda: None
) -> Run:
    """The compute floor in this process: load, warm up, call ``ready``, then time the articles."""
    analyzer = build_analyzer(settings)
    log(f"(a) models loaded: {analyzer.model_versions}")
    index = DedupIndex(settings.dedup_config())

    def process(batch: Sequence[BenchArticle], first_offset: int) -> None:
        for result in analysed(analyzer, received_articles(settings, batch, first_offset)):
            result_records = outputs(result, decide(index, result))
            for record in (result_records.enriched, result_records.duplicate, *result_records.events):
                if record is not None:
                    record.to_bytes()

    process([warmup], 0)  # the first call pays one-off costs, as the worker's warm-up article does
    ready()
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(articles), settings.batch_size):
        process(articles[start : start + settings.batch_size], 1 + start)
    return Run(len(articles), time.perf_counter() - started, time.process_time() - cpu_started)


def _floor_share(
    settings: Settings, articles: Sequence[BenchArticle], warmup: BenchArticle, start: Barrier, runs: Queue[Run]
) -> None:
    """One process of a floor in several: times its share from the moment all processes have loaded."""
    runs.put(floor_run(settings, articles, warmup, start.wait))


def compute_floor(settings: Settings, articles: Sequence[BenchArticle], warmup: BenchArticle, processes: int) -> Run:
    """The compute floor in as many processes as (c) has workers, each over its share of the articles; timed from
    when all have loaded their models to when the last is done."""
    if processes == 1:
        return floor_run(settings, articles, warmup)
    context = get_context("spawn")
    start, runs = context.Barrier(processes + 1), context.Queue()
    shares = [
        context.Process(target=_floor_share, args=(settings, articles[number::processes], warmup, start, runs))
        for number in range(processes)
    ]
    for share in shares:
        share.start()
    start.wait(timeout=timeout_for(0))
    started = time.perf_counter()
    done: list[Run] = []
    while len(done) < len(shares):
        try:
            done.append(runs.get(timeout=1.0))
        except queue.Empty:
            if any(share.exitcode not in (None, 0) for share in shares):
                raise RuntimeError("a compute floor process failed (its traceback is above)") from None
            if time.perf_counter() - started > timeout_for(len(articles)):
                raise TimeoutError("the compute floor processes did not finish") from None
    seconds = time.perf_counter() - started
    for share in shares:
        share.join()
    return Run(sum(run.articles for run in done), seconds, sum(run.cpu_seconds for run in done))


# -- helpers for (b) and (c) -------------------------------------------------------------------------------------------

def start_process(arguments: Sequence[str], settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *arguments], env={**os.environ, **settings.to_env()}, stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()  # the child holds its own descriptor
    return process


def stop_processes(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def all_alive(processes: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path]) -> Callable[[], bool]:
    def alive() -> bool:
        for process, log_path in zip(processes, logs, strict=True):
            if process.poll() is not None:
                # faulthandler's list of extension modules would push its traceback out of the tail
                lines = log_path.read_text(errors="replace").splitlines()
                tail = "\n".join(line for line in lines if not line.startswith("Extension modules:"))[-4000:]
                raise RuntimeError(f"{process.args} exited with status {process.returncode}:\n{tail}")
        return True

    return alive


def publish(client: KafkaProducer, topic: str, articles: Sequence[BenchArticle]) -> None:
    for article in articles:
        client.send(topic, key=article.key, value=article.value)
    client.flush()


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time of the processes so far (their children not included), from /proc as the workers'
    thread counter reads it."""
    return sum(cpu_seconds(Path(f"/proc/{pid}/stat")) or 0.0 for pid in pids)


def timeout_for(count: int) -> float:
    """Generous: a stuck run fails after this rather than hanging (0.5 article/s is far below any measured rate)."""
    return 120.0 + count / 0.5


def wait_for_keys(reader: KafkaConsumer, expected: set[str], timeout_s: float, keep_going: Callable[[], bool]) -> None:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while not expected <= seen:
        if time.monotonic() > deadline or not keep_going():
            raise TimeoutError(f"{len(expected - seen)} of {len(expected)} results missing after {timeout_s:.0f} s")
        for records in reader.poll(timeout_ms=500).values():
            seen.update(record.key.decode() for record in records)


# -- (b) naive loop ----------------------------------------------------------------------------------------------------

def naive_loop(settings: Settings, articles: Sequence[BenchArticle], warmup: BenchArticle, logs: Path) -> tuple[Run, float]:
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        configured = settings.model_copy(update={"broker": broker.bootstrap})
        create_topics(configured)
        log_path = logs / "naive-loop.log"
        started = time.perf_counter()
        process = start_process(["-m", "streams.benchmarks.naive_loop"], configured, log_path)
        stack.callback(stop_processes, [process])
        alive = all_alive([process], [log_path])
        client = stack.enter_context(closing(producer(configured)))
        reader = stack.enter_context(closing(consumer(configured, configured.topic_enriched)))
        publish(client, configured.topic_raw, [warmup])
        wait_for_keys(reader, {warmup.id}, timeout_for(1), alive)
        ready_s = time.perf_counter() - started
        log(f"(b) naive loop ready after {ready_s:.1f} s; publishing {len(articles)} articles")
        assert broker.process is not None
        pids = [process.pid, broker.process.pid]
        started, cpu_started = time.perf_counter(), process_cpu_seconds(pids)
        publish(client, configured.topic_raw, articles)
        wait_for_keys(reader, {article.id for article in articles}, timeout_for(len(articles)), alive)
        return Run(len(articles), time.perf_counter() - started, process_cpu_seconds(pids) - cpu_started), ready_s


# -- (c) newsstream end to end, then latency ---------------------------------------------------------------------------

def analysed_by_each(metrics_urls: Sequence[str]) -> bool:
    """Whether every worker's analyze agent has consumed at least one record (so each holds its partitions)."""
    key = ("newsstream_records_in_total", (("agent", "analyze"),))
    try:
        return all(scrape(url).get(key, 0.0) > 0 for url in metrics_urls)
    except OSError:  # a worker whose metrics endpoint is not up yet
        return False


def wait_until_ready(
    client: KafkaProducer, reader: OutputReader, settings: Settings, warmups: Iterator[BenchArticle],
    metrics_urls: Sequence[str], alive: Callable[[], bool],
) -> None:
    """Warm-up articles, one per raw partition, until all came out and every worker has read one; a new round only
    when a worker that joined late has had none (so the queue never holds more than one round)."""
    sent: set[str] = set()
    deadline = time.monotonic() + timeout_for(0)

    def send_round() -> None:
        for partition in range(settings.partitions):
            article = next(warmups)
            client.send(settings.topic_raw, key=article.key, value=article.value, partition=partition)
            sent.add(article.id)
        client.flush()

    send_round()
    while True:
        reader.read_until(sent, timeout_s=1.0, keep_going=alive)
        if sent <= reader.collected.accounted_ids():
            if analysed_by_each(metrics_urls):
                return
            send_round()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers were not ready after {timeout_for(0):.0f} s")


def latency_run(
    client: KafkaProducer, reader: OutputReader, settings: Settings, articles: Sequence[BenchArticle], rate: float,
    metrics_urls: Sequence[str], alive: Callable[[], bool],
) -> Latency:
    before = merge([scrape(url) for url in metrics_urls])
    started = time.monotonic()
    futures = []
    for number, article in enumerate(articles):
        time.sleep(max(0.0, started + number / rate - time.monotonic()))  # a steady rate, not bursts
        futures.append((article.id, client.send(settings.topic_raw, key=article.key, value=article.value)))
    client.flush()
    raw_timestamps = {article_id: future.get().timestamp / 1000 for article_id, future in futures}
    collected = reader.read_until(raw_timestamps, timeout_s=timeout_for(len(articles)), keep_going=alive)
    missing = set(raw_timestamps) - set(collected.output_timestamps)
    if missing:
        raise TimeoutError(f"{len(missing)} of {len(articles)} latency articles did not come out")
    seconds = np.array([collected.output_timestamps[key] - raw for key, raw in raw_timestamps.items()])
    p50, p95, worst = (float(value) for value in np.percentile(seconds, [50, 95, 100]))
    after = merge([scrape(url) for url in metrics_urls])
    histogram = [quantile(after, before, "newsstream_end_to_end_seconds", (), q) for q in (0.5, 0.95)]
    log(f"latency run, inside the workers: {where_the_time_goes(before, after)}")
    log(f"latency run, CPU an article by thread, all workers: {cpu_by_thread(before, after, len(articles))}")
    return Latency(rate, len(articles), p50, p95, worst, *histogram)


def increase(before: Samples, after: Samples, name: str, labels: Labels = ()) -> float:
    """How much a counter (or a histogram's sum or count) grew between two scrapes."""
    return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)


def thread_cpu_used(before: Samples, after: Samples) -> dict[str, float]:
    """Seconds of CPU each thread role used between two scrapes (``newsstream_thread_cpu_seconds``)."""
    metric = "newsstream_thread_cpu_seconds_total"
    return {dict(labels)["thread"]: increase(before, after, name, labels) for name, labels in after if name == metric}


def where_the_time_goes(before: Samples, after: Samples) -> str:
    """Means over the interval between two scrapes, from the workers' histograms' sums and counts."""

    def mean(metric: str, labels: Labels) -> float:
        count = increase(before, after, f"{metric}_count", labels)
        return increase(before, after, f"{metric}_sum", labels) / count if count else float("nan")

    analyze, decide_agent = (("agent", "analyze"),), (("agent", "decide"),)
    return (
        f"{mean('newsstream_batch_size', analyze):.1f} articles a batch, "
        f"{mean('newsstream_processing_seconds', analyze):.3f} s a batch in analyze "
        f"(embedding {mean('newsstream_inference_seconds', (('model', 'embedding'),)):.3f} s, "
        f"spaCy {mean('newsstream_inference_seconds', (('model', 'spacy'),)):.3f} s), "
        f"{mean('newsstream_processing_seconds', decide_agent) * 1000:.1f} ms an article in decide"
    )


def shares(before: Sequence[Samples], after: Sequence[Samples]) -> str:
    """Articles each worker analysed and decided between two scrapes of every worker, with its CPU: the key hash
    splits the raw partitions' articles unevenly, and one worker also runs the single-partition decision."""
    parts = []
    for number, (earlier, later) in enumerate(zip(before, after, strict=True), start=1):
        analysed = increase(earlier, later, "newsstream_records_in_total", (("agent", "analyze"),))
        decided = increase(earlier, later, "newsstream_records_in_total", (("agent", "decide"),))
        cpu = sum(thread_cpu_used(earlier, later).values())
        parts.append(f"worker {number} analysed {analysed:.0f} and decided {decided:.0f} with {cpu:.1f} s of CPU")
    return "; ".join(parts)


def cpu_by_thread(before: Samples, after: Samples, articles: int) -> str:
    """Milliseconds of CPU an article each thread role used between two scrapes (``newsstream_thread_cpu_seconds``),
    the busiest first: how much the event loop and the Kafka threads add to the models."""
    used = thread_cpu_used(before, after)
    if not used:
        return "not measured (no /proc)"
    ranked = sorted(used.items(), key=lambda item: -item[1])
    return ", ".join(f"{role} {seconds * 1000 / max(1, articles):.1f} ms" for role, seconds in ranked)


def newsstream(
    settings: Settings, articles: Sequence[BenchArticle], more_articles: Iterator[BenchArticle], workers: int,
    decide_worker: bool, latency_seconds: float, logs: Path,
) -> tuple[Run, float, Latency]:
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        configured = settings.model_copy(update={"broker": broker.bootstrap})
        create_topics(configured)
        roles: list[WorkerRole] = ["analyze"] * workers + ["decide"] if decide_worker else ["all"] * workers
        metrics_ports = [free_port() for _ in roles]
        log_paths = [logs / f"worker{number}.log" for number in range(len(roles))]
        started = time.perf_counter()
        processes = [
            start_process(
                ["-m", "streams.cli", "worker"],
                configured.model_copy(
                    update={"data_dir": logs / f"data{number}", "metrics_port": port, "worker_role": role}
                ),
                log_path,
            )
            for number, (port, log_path, role) in enumerate(zip(metrics_ports, log_paths, roles, strict=True))
        ]
        stack.callback(stop_processes, processes)
        alive = all_alive(processes, log_paths)
        client = stack.enter_context(closing(producer(configured)))
        reader = stack.enter_context(OutputReader(configured))
        metrics_urls = [f"http://{configured.metrics_bind}:{port}/metrics" for port in metrics_ports]
        analyzing = [url for url, role in zip(metrics_urls, roles, strict=True) if role != "decide"]
        wait_until_ready(client, reader, configured, warmup_articles(), analyzing, alive)
        ready_s = time.perf_counter() - started
        log(f"(c) workers ({', '.join(roles)}) ready after {ready_s:.1f} s; publishing {len(articles)} articles")

        started, cpu_started = time.perf_counter(), time.process_time()
        assert broker.process is not None
        others = {"workers": [process.pid for process in processes], "broker": [broker.process.pid]}
        others_started = {name: process_cpu_seconds(pids) for name, pids in others.items()}
        each_before = [scrape(url) for url in metrics_urls]
        metrics_before = merge(each_before)
        publish(client, configured.topic_raw, articles)
        collected = reader.read_until(
            {article.id for article in articles}, timeout_s=timeout_for(len(articles)), keep_going=alive
        )
        seconds = time.perf_counter() - started
        missing = {article.id for article in articles} - collected.accounted_ids()
        if missing:
            raise TimeoutError(f"{len(missing)} of {len(articles)} articles did not come out")
        used = {name: process_cpu_seconds(pids) - others_started[name] for name, pids in others.items()}
        run = Run(len(articles), seconds, used["workers"] + used["broker"])
        log(f"(c) {run.rate:.2f} articles/s; {len(collected.enriched)} enriched records and "
            f"{len(collected.duplicates)} duplicate notices so far (warm-up included); CPU meanwhile, of "
            f"{run.seconds * (os.cpu_count() or 1):.1f} s on {os.cpu_count()} cores: workers {used['workers']:.1f} s, "
            f"broker {used['broker']:.1f} s, this process (publisher and output reader) "
            f"{time.process_time() - cpu_started:.1f} s")
        each_after = [scrape(url) for url in metrics_urls]
        metrics_after = merge(each_after)
        log(f"(c) inside the workers: {where_the_time_goes(metrics_before, metrics_after)}")
        log(f"(c) each worker's share: {shares(each_before, each_after)}")
        log(f"(c) CPU an article by thread, all workers: {cpu_by_thread(metrics_before, metrics_after, len(articles))}")

        rate = run.rate / 2
        latency_articles = list(islice(more_articles, max(1, round(rate * latency_seconds))))
        log(f"latency: {len(latency_articles)} articles at {rate:.2f}/s (half of (c)) for {latency_seconds:.0f} s")
        latency = latency_run(client, reader, configured, latency_articles, rate, metrics_urls, alive)
        return run, ready_s, latency


# -- report ------------------------------------------------------------------------------------------------------------

def verdict(met: bool) -> str:
    return "[green]yes[/]" if met else "[red]no[/]"


def report_table(report: Report, workers: int) -> Table:
    table = Table(title="newsstream throughput (articles/s) and latency on this machine")
    for column in ("measure", "result", "goal", "met"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    floor, naive, ours, latency = report.floor, report.naive, report.newsstream, report.latency
    floor_label = f"(a) compute floor: batched models + dedup, no Kafka, {workers} process(es), first"
    table.add_row(floor_label, f"{report.floor_before.rate:.2f}/s", "", "")
    table.add_row("(a) the same, again after (c)", f"{report.floor_after.rate:.2f}/s", "", "")
    table.add_row("(a) both runs together (for c/a)", f"{floor.rate:.2f}/s", "", "")
    table.add_row("(b) naive loop: kafka-python, one message at a time", f"{naive.rate:.2f}/s", "", "")
    table.add_row(f"(c) newsstream end to end, {workers} worker(s)", f"{ours.rate:.2f}/s", "", "")
    table.add_row("c/a", f"{ours.rate / floor.rate:.2f}", f">= {GOALS['c/a']:.2f}", verdict(ours.rate / floor.rate >= GOALS["c/a"]))
    table.add_row("c/b", f"{ours.rate / naive.rate:.2f}", f">= {GOALS['c/b']:.0f}", verdict(ours.rate / naive.rate >= GOALS["c/b"]))
    table.add_row(
        "CPU an article: (a) both runs / (b) loop and broker / (c) workers and broker",
        f"{floor.cpu_ms_per_article:.0f} / {naive.cpu_ms_per_article:.0f} / {ours.cpu_ms_per_article:.0f} ms", "", "",
    )
    table.add_row("(a)/(c) CPU an article", f"{floor.cpu_ms_per_article / ours.cpu_ms_per_article:.2f}", "", "")
    table.add_row(f"raw-to-enriched p50, at {latency.rate:.2f}/s (half of c)", f"{latency.p50:.3f} s", "", "")
    table.add_row(
        f"raw-to-enriched p95 ({latency.articles} articles; max {latency.max:.3f} s)", f"{latency.p95:.3f} s",
        f"< {GOALS['p95 s']:.0f} s", verdict(latency.p95 < GOALS["p95 s"]),
    )
    if latency.histogram_p50 is not None and latency.histogram_p95 is not None:
        table.add_row(
            "same run, workers' end-to-end histogram p50 / p95 (bucket bounds)",
            f"<= {latency.histogram_p50:g} / {latency.histogram_p95:g} s", "", "",
        )
    table.add_row("worker start to ready (c)", f"{report.ready_s:.1f} s", f"< {GOALS['ready s']:.0f} s",
                  verdict(report.ready_s < GOALS["ready s"]))
    table.add_row("naive loop start to ready (b)", f"{report.naive_ready_s:.1f} s", "", "")
    table.add_row(
        "1M articles a day on one machine (c)", f"{ours.rate * 86_400:,.0f}/day",
        f">= {ONE_MILLION_A_DAY:.1f}/s", verdict(ours.rate >= ONE_MILLION_A_DAY),
    )
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=600, help="articles in each throughput run")
    add_source_argument(parser)
    # One per core: a worker runs its embedding and its parse in two threads, but the parse takes longer, so one
    # worker leaves part of a second core idle (README "Speed").
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="newsstream worker processes for (c), and processes of (a)")
    parser.add_argument("--decide-worker", action="store_true",
                        help="(c) with --workers analyze-only workers and one decide-only worker")
    parser.add_argument("--latency-seconds", type=float, default=60.0, help="length of the steady-rate latency run")
    arguments = parser.parse_args(argv)
    begun = time.perf_counter()
    settings = Settings()
    if (resolved := resolve_source_or_skip(arguments.source)) is None:
        return
    source, described = resolved
    command = shlex.join([sys.executable, "-m", "streams.benchmarks.throughput", *sys.argv[1:]])
    log(f"command: {command}")
    log(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; source: {described}; "
        f"batch_size {settings.batch_size}, batch_timeout_s {settings.batch_timeout_s}, partitions {settings.partitions}")
    stream = article_stream(source)
    articles = list(islice(stream, arguments.articles))
    warmup = next(warmup_articles())

    with tempfile.TemporaryDirectory(prefix="newsstream-bench-") as directory:
        logs = Path(directory)
        log(f"(a) compute floor over {len(articles)} articles")
        floor = compute_floor(settings, articles, warmup, arguments.workers)
        log(f"(a) {floor.rate:.2f} articles/s")
        log("(b) naive loop")
        naive, naive_ready_s = naive_loop(settings, articles, warmup, logs)
        log(f"(b) {naive.rate:.2f} articles/s")
        log(f"(c) newsstream, {arguments.workers} worker(s)" + (" and a decide worker" if arguments.decide_worker else ""))
        ours, ready_s, latency = newsstream(
            settings, articles, stream, arguments.workers, arguments.decide_worker, arguments.latency_seconds, logs
        )
        log("(a) compute floor again, after (c)")
        floor_after = compute_floor(settings, articles, warmup, arguments.workers)
        log(f"(a) {floor_after.rate:.2f} articles/s")
    report = Report(floor, floor_after, naive, naive_ready_s, ours, ready_s, latency)
    console.print(report_table(report, arguments.workers))
    log(f"throughput benchmark done in {time.perf_counter() - begun:.0f} s")


if __name__ == "__main__":
    main()
