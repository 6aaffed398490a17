"""The ``newsstream`` command: broker, topics, worker, publish, consume, schema, demo."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.broker import EmbeddedBroker
from streams.feeds import file_messages
from streams.kafka_clients import consumer, producer
from streams.settings import Settings
from streams.topics import create_topics

cli = typer.Typer(help="newsstream: validate, deduplicate and enrich news articles on Kafka.", no_args_is_help=True)
console = Console(stderr=True)

SAMPLE_FEED = Path(str(files("streams") / "data" / "sample_feed.xml"))


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )


@cli.command()
def broker(port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory only) and create the topics, until Ctrl-C."""
    with EmbeddedBroker(port or None) as embedded:
        settings = Settings(broker=embedded.bootstrap)
        create_topics(settings)
        console.print(f"broker listening on [bold]{embedded.bootstrap}[/]; export NEWSSTREAM_BROKER={embedded.bootstrap}")
        try:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        except KeyboardInterrupt:
            pass


@cli.command()
def topics() -> None:
    """Create the input, output and internal topics that are missing."""
    created = create_topics(Settings())
    console.print(f"created: {', '.join(created) or 'nothing, all topics exist'}")


@cli.command()
def worker() -> None:
    """Run a stream worker; start as many as there are raw partitions, on any machines, with one app id."""
    from faust import Worker

    from streams.analyze import Analyzer
    from streams.app import create_app
    from streams.embedding import Embedder
    from streams.nlp import SpacyAnalyzer

    settings = Settings()
    _configure_logging(settings)
    create_topics(settings)
    # Models load before the worker joins the group, so it never holds partitions it cannot yet serve.
    analyzer = Analyzer(Embedder(max_tokens=settings.embed_max_tokens), SpacyAnalyzer())
    news_app = create_app(settings, analyzer)
    Worker(news_app.app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


@cli.command()
def publish(paths: Annotated[list[Path], typer.Argument(help="RSS/Atom (.xml, .rss, .atom) or JSON Lines files.")]) -> None:
    """Publish articles to the raw topic."""
    settings = Settings()
    client = producer(settings)
    sent = 0
    for path in paths:
        for message in file_messages(path):
            client.send(settings.topic_raw, key=message.key, value=message.value)
            sent += 1
    client.flush()
    client.close()
    console.print(f"published {sent} messages to {settings.topic_raw}")


@cli.command()
def consume(
    topic: Annotated[str, typer.Argument(help="Topic to read, e.g. articles.enriched.")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning/--latest")] = True,
    follow: Annotated[bool, typer.Option(help="Keep reading; otherwise stop after 5 s without records.")] = False,
    group: Annotated[str | None, typer.Option(help="Consumer group, to share partitions among consumers.")] = None,
) -> None:
    """Print a topic's records as JSON lines on stdout."""
    settings = Settings()
    reader = consumer(settings, topic, group_id=group, from_beginning=from_beginning)
    idle_since = time.monotonic()
    try:
        while follow or time.monotonic() - idle_since < 5:
            for records in reader.poll(timeout_ms=500).values():
                idle_since = time.monotonic()
                for record in records:
                    sys.stdout.write(record.value.decode("utf-8", errors="replace") + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


@cli.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Write <topic>.schema.json files to this directory.")] = None,
    topic: Annotated[str | None, typer.Option(help="Print only this topic's schema.")] = None,
) -> None:
    """JSON Schema (draft 2020-12) of every topic's record, for downstream teams: stdout, or files with --out."""
    from streams.schemas import dump, topic_schemas, write_topic_schemas

    settings = Settings()
    if out is not None:
        for path in write_topic_schemas(settings, out):
            console.print(f"wrote {path}")
        return
    schemas = topic_schemas(settings)
    if topic is None:
        sys.stdout.write(dump(schemas))
    elif topic in schemas:
        sys.stdout.write(dump(schemas[topic]))
    else:
        console.print(f"[red]no record schema for topic {topic!r}; topics: {', '.join(schemas)}")
        raise typer.Exit(2)


@cli.command()
def demo(
    feed: Annotated[Path, typer.Option(help="Feed or JSON Lines file to publish.")] = SAMPLE_FEED,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every article to come out.")] = 180.0,
) -> None:
    """Start the embedded broker (unless NEWSSTREAM_BROKER is set) and a worker, publish a feed, show the output."""
    from streams.outputs import collect, render

    settings = Settings()
    with ExitStack() as stack:
        if not settings.broker:
            embedded = stack.enter_context(EmbeddedBroker())
            settings = settings.model_copy(update={"broker": embedded.bootstrap})
            console.print(f"started the embedded broker on {embedded.bootstrap}")
        create_topics(settings)
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsstream-demo-"))
        worker_process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={**os.environ, **settings.model_copy(update={"data_dir": Path(data_dir)}).to_env()},
        )
        stack.callback(_stop, worker_process)
        console.print("started a worker; publishing", feed.name)
        messages = list(file_messages(feed))
        client = producer(settings)
        for message in messages:
            client.send(settings.topic_raw, key=message.key, value=message.value)
        client.flush()
        client.close()
        expected = {message.key.decode() for message in messages if message.key}
        collected = collect(settings, expected, timeout_s=timeout, keep_going=lambda: worker_process.poll() is None)
        render(collected, Console())
        missing = expected - collected.accounted_ids()
        if worker_process.poll() is not None:
            console.print(f"[red]the worker exited with status {worker_process.returncode}")
            raise typer.Exit(1)
        if missing:
            console.print(f"[red]{len(missing)} of {len(expected)} articles did not come out within {timeout:.0f} s")
            raise typer.Exit(1)
        console.print(f"all {len(expected)} articles accounted for; shutting down")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
