"""The ceiling of the single decision point: one ``decide`` worker alone over a topic of analysed articles.

    python -m streams.benchmarks.decide_ceiling [--articles 1200] [--source auto|generated|bbc]

Every article goes through one ``decide`` agent (README "Deduplication": the decision is exact because it is not
sharded), so its cost an article bounds how many model workers one group can feed. This measures it apart from the
models: the articles are analysed first in this process (not timed), published to the analysed topic of an embedded
broker, and a decide-role worker (``NEWSSTREAM_WORKER_ROLE=decide``, no models loaded) turns them into enriched
records, duplicate notices and events. Reported: decisions a second from the first publish to the last output, and
the worker's CPU an article (user and system, from /proc), which bounds what one core sustains.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack, closing
from itertools import islice
from pathlib import Path

from streams.analyzer_factory import build_analyzer
from streams.benchmarks.articles import BenchArticle, add_source_argument, article_stream, resolve_source_or_skip
from streams.benchmarks.throughput import (
    all_alive,
    analysed,
    log,
    process_cpu_seconds,
    received_articles,
    start_process,
    stop_processes,
    timeout_for,
)
from streams.broker import EmbeddedBroker, free_port
from streams.kafka_clients import producer
from streams.outputs import OutputReader
from streams.settings import Settings
from streams.topics import create_topics


def analysed_records(settings: Settings, articles: Sequence[BenchArticle]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each article's analysed record, as the analyze agent would publish it."""
    analyzer = build_analyzer(settings)
    received = received_articles(settings, articles, 0)
    return [
        (result.article.id.encode(), result.to_bytes())
        for start in range(0, len(received), settings.batch_size)
        for result in analysed(analyzer, received[start : start + settings.batch_size])
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1200, help="decisions timed (a warm-up article comes first)")
    add_source_argument(parser)
    arguments = parser.parse_args(argv)
    settings = Settings()
    if (resolved := resolve_source_or_skip(arguments.source)) is None:
        return
    source, described = resolved
    log(f"decision ceiling: analysing {arguments.articles + 1} articles first (not timed); source: {described}")
    warmup, *records = analysed_records(settings, list(islice(article_stream(source), arguments.articles + 1)))
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsstream-decide-")))
        broker = stack.enter_context(EmbeddedBroker())
        configured = settings.model_copy(update={"broker": broker.bootstrap})
        create_topics(configured)
        log_path = directory / "decide.log"
        worker = start_process(
            ["-m", "streams.cli", "worker"],
            configured.model_copy(
                update={"data_dir": directory / "data", "metrics_port": free_port(), "worker_role": "decide"}
            ),
            log_path,
        )
        stack.callback(stop_processes, [worker])
        alive = all_alive([worker], [log_path])
        client = stack.enter_context(closing(producer(configured)))
        reader = stack.enter_context(OutputReader(configured))
        client.send(configured.topic_analyzed, key=warmup[0], value=warmup[1])
        client.flush()
        reader.read_until({warmup[0].decode()}, timeout_s=timeout_for(1), keep_going=alive)

        assert broker.process is not None
        cpu_started = process_cpu_seconds([worker.pid])
        broker_started = process_cpu_seconds([broker.process.pid])
        started = time.perf_counter()
        for key, value in records:
            client.send(configured.topic_analyzed, key=key, value=value)
        client.flush()
        expected = {key.decode() for key, _ in records}
        collected = reader.read_until(expected, timeout_s=timeout_for(len(records)), keep_going=alive)
        seconds = time.perf_counter() - started
        missing = expected - collected.accounted_ids()
        if missing:
            raise TimeoutError(f"{len(missing)} of {len(records)} decisions did not come out")
        cpu_ms = 1000 * (process_cpu_seconds([worker.pid]) - cpu_started) / len(records)
        broker_ms = 1000 * (process_cpu_seconds([broker.process.pid]) - broker_started) / len(records)
    log(f"decision ceiling: {len(records)} decisions in {seconds:.2f} s, {len(records) / seconds:.0f} a second "
        f"(publisher and reader in this process share the cores); the decide worker used {cpu_ms:.2f} ms of CPU an "
        f"article, so one core sustains about {1000 / cpu_ms:.0f} a second; the broker {broker_ms:.2f} ms an article")


if __name__ == "__main__":
    main()
