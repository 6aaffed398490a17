"""The ``newsstream`` command: broker, topics, worker, publish, consume, schema, demo."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from streams.broker import EmbeddedBroker, free_port
from streams.consume import RecordFilter, read_topic
from streams.deadletter import (
    DeadLetters,
    Selection,
    count_by_reason_and_stage,
    counts_json,
    counts_table,
    find_letters,
    read_letters,
    render_letter,
    replay,
)
from streams.feeds import MappingOptions, language_tag
from streams.kafka_clients import producer
from streams.outputs import OutputReader, render, render_record
from streams.publisher import (
    Follower,
    KafkaSink,
    OutgoingMessage,
    PublishError,
    Publisher,
    PublisherState,
    SourceReport,
    file_messages,
    http_client,
    publish_once,
    totals,
)
from streams.settings import Settings, WorkerRole
from streams.topics import create_topics

if TYPE_CHECKING:
    import faust

    from streams.analyze import Analyzer

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
        # Blocked first, so SIGINT/SIGTERM end the wait and the broker is stopped on the way out.
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)


@cli.command()
def topics() -> None:
    """Create the input, output and internal topics that are missing."""
    created = create_topics(Settings())
    console.print(f"created: {', '.join(created) or 'nothing, all topics exist'}")


@cli.command()
def worker(
    role: Annotated[
        WorkerRole | None,
        typer.Option(
            help="What this worker runs: both agents, the models only, or the decision only (default: "
            "NEWSSTREAM_WORKER_ROLE, else all).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a stream worker; start as many as there are raw partitions, on any machines, with one app id."""
    settings = Settings() if role is None else Settings(worker_role=role)
    if settings.embed_backend != "torch":
        # Nothing in an ONNX worker uses torch, but spaCy's thinc imports it whenever it is installed (1.4 s of
        # start-up here); a None entry makes that import fail, and thinc does without it.
        sys.modules.setdefault("torch", None)  # type: ignore[arg-type]

    from concurrent.futures import Future, ThreadPoolExecutor

    from streams.app import create_app
    from streams.metrics import Metrics

    _configure_logging(settings)
    create_topics(settings)
    metrics = Metrics()
    if settings.metrics_enabled:
        port = metrics.serve(settings)
        logging.getLogger(__name__).info("metrics on http://%s:%d/metrics", settings.metrics_bind, port)
    # The models load in a thread while Faust starts and joins the group: the analyze agent waits for them, so an
    # assigned partition waits only for what is left of their load (start-up 1.5 s shorter).
    loading: Future[Analyzer] | None = None
    if settings.worker_role != "decide":  # a decide worker neither loads nor imports the model code
        from streams.analyzer_factory import build_analyzer

        loading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-models").submit(
            build_analyzer,
            settings,
            on_inference=lambda model, seconds: metrics.inference_seconds.labels(model).observe(seconds),
        )
    news_app = create_app(settings, loading, metrics)
    faust_worker(news_app.app, settings).execute_from_commandline()


def faust_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """Faust's Worker for ``app``, logging at the configured level."""
    from faust import Worker

    worker = Worker(app, loglevel=settings.log_level, quiet=True)
    # Without its start-up spinner: to spin on every log record, the spinner turns the root logger to DEBUG for good,
    # and each debug call of Faust and aiokafka then built a record that nothing printed (1.3-2.6% of a busy
    # worker's samples).
    worker.spinner = None
    return worker


@cli.command()
def publish(
    sources: Annotated[
        list[str],
        typer.Argument(help="RSS 2.0 / Atom / JSON Lines files, directories of them, - for stdin, or http(s) URLs."),
    ],
    follow: Annotated[bool, typer.Option(help="Keep polling the sources (conditional GET for URLs) until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls of a source in follow mode.")] = 300.0,
    max_backoff: Annotated[float, typer.Option(min=1, help="Longest wait before retrying a failing source, s.")] = 3600.0,
    state: Annotated[
        Path | None,
        typer.Option(help="Remember published entries and HTTP validators here (follow mode: DATA_DIR/publisher-state.json)."),
    ] = None,
    full_text: Annotated[
        bool, typer.Option("--full-text", help="For entries with only a summary, extract the linked page's text.")
    ] = False,
    language: Annotated[str, typer.Option(help="BCP 47 language of feeds that declare none.")] = "en",
    timezone: Annotated[str, typer.Option(help="IANA time zone of feed dates that carry none.")] = "UTC",
    timeout: Annotated[float, typer.Option(min=0.1, help="HTTP timeout, seconds.")] = 20.0,
) -> None:
    """Publish articles to the raw topic and report how many were published, skipped and invalid."""
    settings = Settings()
    default_language = language_tag(language)
    if default_language is None:
        raise typer.BadParameter(f"not a language tag: {language!r}", param_hint="--language")
    try:
        default_timezone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {timezone!r}", param_hint="--timezone") from None
    state_path = state or (settings.data_dir / "publisher-state.json" if follow else None)
    try:
        publisher_state = PublisherState.load(state_path) if state_path else None
    except ValueError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from None
    with ExitStack() as stack:
        client = stack.enter_context(http_client(timeout))
        full_text_extractor = None
        if full_text:
            from streams.fulltext import FullTextExtractor

            full_text_extractor = FullTextExtractor(client)
        try:
            sink = KafkaSink(producer(settings), settings.topic_raw)
        except KafkaError as error:
            console.print(f"[red]cannot reach the broker at {settings.broker}: {escape(str(error))}")
            raise typer.Exit(1) from None
        stack.callback(sink.close)
        progress = stack.enter_context(Progress(console=console, transient=True))
        publisher = Publisher(
            sink,
            max_message_bytes=settings.max_message_bytes,
            max_body_chars=settings.max_body_chars,
            options=MappingOptions(default_language=default_language, default_timezone=default_timezone),
            state=publisher_state,
            full_text=full_text_extractor,
            progress=progress,
        )
        if follow:
            if "-" in sources:
                raise typer.BadParameter("stdin cannot be followed; name files or URLs", param_hint="SOURCE")
            follower = Follower(
                publisher, sources, client, interval_s=interval, max_backoff_s=max_backoff,
                on_report=lambda report: _print_report(report, follow=True),
            )
            console.print(f"following {len(sources)} source(s) every {interval:.0f} s; state in {state_path}; Ctrl-C stops")
            try:
                follower.run()
            except KeyboardInterrupt:
                pass
            return
        try:
            reports = publish_once(publisher, sources, client, sys.stdin.buffer)
        except PublishError as error:
            console.print(f"[red]publishing to {settings.topic_raw} failed: {error}")
            raise typer.Exit(1) from None
    for report in reports:
        _print_report(report)
    console.print(f"[bold]{settings.topic_raw}[/]: {totals(reports)}", soft_wrap=True)
    if any(not report.readable for report in reports):
        raise typer.Exit(1)


def _print_report(report: SourceReport, follow: bool = False) -> None:
    when = f"[dim]{time.strftime('%H:%M:%S')}[/] " if follow else ""
    colour = "red" if not report.readable else "yellow" if report.invalid or report.problem else "green"
    next_poll = f" [dim](next poll in {report.retry_in_s:.0f} s)[/]" if report.retry_in_s is not None else ""
    console.print(f"{when}[{colour}]{escape(report.summary())}[/]{next_poll}", soft_wrap=True)
    if report.readable and report.problem:
        console.print(f"  [yellow]{escape(report.problem)}", soft_wrap=True)
    for line in report.invalid[:20]:
        console.print(f"  [dim]invalid {escape(line)}", soft_wrap=True)
    if len(report.invalid) > 20:
        console.print(f"  [dim]... and {len(report.invalid) - 20} more invalid")


class OutputFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


@cli.command()
def consume(
    topic: Annotated[str, typer.Argument(help="Topic to read, e.g. articles.enriched or events.")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning/--latest", help="Start at the oldest record or at the end.")
    ] = True,
    follow: Annotated[bool, typer.Option(help="Keep reading new records until Ctrl-C; otherwise stop at the end.")] = False,
    group: Annotated[
        str | None, typer.Option(help="Consumer group: members share the partitions; offsets are committed.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="json: one record per line, as on the topic; text: for people.")
    ] = OutputFormat.JSON,
    entity: Annotated[str | None, typer.Option(help="Only records naming this entity (name, part of one, or id).")] = None,
    event: Annotated[
        str | None,
        typer.Option(help="Only records with an event of this trigger lemma (raise), PLOVER type (ASSAULT) or CAMEO root (19)."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only articles from this outlet (part of its name).")] = None,
    story: Annotated[str | None, typer.Option(help="Only records of this story id (or its prefix).")] = None,
    max_records: Annotated[int | None, typer.Option("--max", min=1, help="Stop after this many records.")] = None,
    idle_timeout: Annotated[
        float, typer.Option(min=0.1, help="Without --follow, give up after this many seconds with nothing to read.")
    ] = 10.0,
) -> None:
    """Print a topic's records: JSON lines for programs or a readable view (entities and events) for people."""
    settings = Settings()
    record_filter = RecordFilter(entity=entity, event=event, source=source, story=story)
    view = Console(soft_wrap=output is OutputFormat.JSON, highlight=False)
    shown = 0
    try:
        for consumed in read_topic(
            settings, topic, from_beginning=from_beginning, follow=follow, group=group,
            idle_timeout_s=idle_timeout, record_filter=record_filter,
        ):
            value = consumed.message.value or b""
            if output is OutputFormat.JSON:
                sys.stdout.write(value.decode("utf-8", errors="replace") + "\n")
                sys.stdout.flush()
            elif consumed.record is None:
                console.print(f"[red]unreadable record at {consumed.message.partition}/{consumed.message.offset}")
            else:
                render_record(consumed.record, view)
            shown += 1
            if max_records is not None and shown >= max_records:
                break
    except ValueError as error:  # an unknown topic, or filters that cannot apply to it
        console.print(f"[red]{escape(str(error))}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


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
    keep_running: Annotated[
        bool, typer.Option(help="Then keep the broker and the worker up for top, consume and publish, until Ctrl-C.")
    ] = False,
) -> None:
    """Start the embedded broker (unless NEWSSTREAM_BROKER is set) and a worker, publish a feed, show the output."""
    settings = Settings()
    with ExitStack() as stack:
        if not settings.broker:
            embedded = stack.enter_context(EmbeddedBroker())
            settings = settings.model_copy(update={"broker": embedded.bootstrap})
            console.print(f"started the embedded broker on {embedded.bootstrap}")
        create_topics(settings)
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsstream-demo-"))
        worker_settings = settings.model_copy(update={"data_dir": Path(data_dir), "metrics_port": free_port()})
        worker_process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env={**os.environ, **worker_settings.to_env()}
        )
        stack.callback(_stop, worker_process)
        # Replay the feed as a live feed would have delivered it: in publication order, each item once the previous
        # one is through, so the first-published article is the original its copies point to.
        messages = sorted(file_messages(feed, settings), key=_published_at)
        metrics_url = f"http://{worker_settings.metrics_bind}:{worker_settings.metrics_port}/metrics"
        console.print(
            f"started a worker (metrics: {metrics_url}); publishing {len(messages)} items of {feed.name} in "
            "publication order"
        )
        client = stack.enter_context(closing(producer(settings)))
        reader = stack.enter_context(OutputReader(settings))

        def alive() -> bool:
            return worker_process.poll() is None

        expected: set[str] = set()
        for message in messages:
            client.send(settings.topic_raw, key=message.key, value=message.value)
            client.flush()
            expected |= {message.key.decode()} if message.key else set()
            collected = reader.read_until(expected, timeout_s=timeout, keep_going=alive)
        render(collected, Console())
        missing = expected - collected.accounted_ids()
        if worker_process.poll() is not None:
            console.print(f"[red]the worker exited with status {worker_process.returncode}")
            raise typer.Exit(1)
        if missing:
            console.print(f"[red]{len(missing)} of {len(expected)} articles did not come out within {timeout:.0f} s")
            raise typer.Exit(1)
        console.print(f"all {len(expected)} articles accounted for")
        if keep_running:
            _run_until_stopped(settings, metrics_url if settings.metrics_enabled else None, alive)
        console.print("shutting down")


def _run_until_stopped(settings: Settings, metrics_url: str | None, alive: Callable[[], bool]) -> None:
    """Wait for Ctrl-C or SIGTERM while the worker runs, saying what to try meanwhile (top: with metrics served)."""
    lines = ["the broker and the worker keep running until Ctrl-C; meanwhile, in another shell:"]
    lines += [f"  newsstream top {metrics_url}"] if metrics_url else []
    lines += [
        f"  NEWSSTREAM_BROKER={settings.broker} newsstream consume {settings.topic_enriched} --format text",
        f"  NEWSSTREAM_BROKER={settings.broker} newsstream publish YOUR_FEED.xml",
    ]
    console.print("\n".join(lines), soft_wrap=True)  # soft wrap: whole command lines, to copy

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that the worker and the broker are stopped on the way out

    # SIGINT too: a shell starts a background job with SIGINT ignored, and Python then leaves it so.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, interrupt)
    try:
        while alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
    console.print("[red]the worker exited")
    raise typer.Exit(1)


@cli.command()
def top(
    urls: Annotated[list[str], typer.Argument(help="Metrics endpoints of the workers, e.g. http://127.0.0.1:9464/metrics.")],
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    iterations: Annotated[int, typer.Option(help="Stop after this many refreshes (0: until Ctrl-C).")] = 0,
) -> None:
    """Live view of throughput, latency, lag, verdicts, dead letters and CPU by thread, from any deployment's metrics."""
    from rich.live import Live

    from streams.top import poll, render, snapshot

    earlier, _, then = poll(urls)
    with Live(console=Console(), auto_refresh=False) as live:
        count = 0
        try:
            while iterations == 0 or count < iterations:
                time.sleep(interval)
                now, failures, when = poll(urls)
                live.update(render(snapshot(now, earlier, when - then), urls, failures), refresh=True)
                earlier, then, count = now, when, count + 1
        except KeyboardInterrupt:
            pass


deadletter_cli = typer.Typer(
    help="The dead-letter topic: count the letters, show one with its original bytes, replay a selection.",
    no_args_is_help=True,
)
cli.add_typer(deadletter_cli, name="deadletter")

IdleTimeout = Annotated[float, typer.Option(min=0.1, help="Give up after this many seconds with nothing to read.")]


def _read_dead_letters(settings: Settings, idle_timeout: float) -> DeadLetters:
    try:
        return read_letters(settings, idle_timeout_s=idle_timeout)
    except ValueError as error:  # the topic does not exist
        console.print(f"[red]{escape(str(error))}")
        raise typer.Exit(2) from None


@deadletter_cli.command("list")
def deadletter_list(
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text: a table for people; json: the counts for programs.")
    ] = OutputFormat.TEXT,
    idle_timeout: IdleTimeout = 10.0,
) -> None:
    """Count the dead letters by reason and stage."""
    settings = Settings()
    found = _read_dead_letters(settings, idle_timeout)
    if output is OutputFormat.JSON:
        sys.stdout.write(orjson.dumps(counts_json(found)).decode() + "\n")
        return
    Console().print(counts_table(count_by_reason_and_stage(found.letters), settings.topic_deadletter))
    if found.unreadable:
        console.print(f"[yellow]{len(found.unreadable)} record(s) are no dead letters: {', '.join(found.unreadable[:10])}")


@deadletter_cli.command("show")
def deadletter_show(
    reference: Annotated[
        str,
        typer.Argument(
            help="PARTITION:OFFSET on the dead-letter topic, an offset, the letter's key (source topic/partition/offset) "
            "or the original message's key."
        ),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text: for people; json: the record as on the topic.")
    ] = OutputFormat.TEXT,
    raw: Annotated[bool, typer.Option("--raw", help="Write only the original bytes to stdout, unchanged.")] = False,
    max_bytes: Annotated[int, typer.Option(min=1, help="Show at most this many bytes of the original.")] = 2048,
    idle_timeout: IdleTimeout = 10.0,
) -> None:
    """One dead letter: reason, detail, stage, source coordinates and the original bytes."""
    settings = Settings()
    matching = find_letters(_read_dead_letters(settings, idle_timeout).letters, reference)
    if not matching:
        console.print(f"[red]no dead letter on {settings.topic_deadletter} matches {escape(reference)!r}")
        raise typer.Exit(1)
    if len(matching) > 1:
        positions = ", ".join(stored.position for stored in matching[:20])
        console.print(f"[red]{len(matching)} dead letters match {escape(reference)!r}: {positions}; name one as PARTITION:OFFSET")
        raise typer.Exit(2)
    stored = matching[0]
    if raw:
        sys.stdout.buffer.write(stored.letter.original)
    elif output is OutputFormat.JSON:
        sys.stdout.write(stored.letter.to_bytes().decode() + "\n")
    else:
        render_letter(stored, Console(highlight=False), max_bytes)


@deadletter_cli.command("replay")
def deadletter_replay(
    reason: Annotated[list[str] | None, typer.Option(help="Only letters with this reason (repeatable).")] = None,
    stage: Annotated[list[str] | None, typer.Option(help="Only letters from this stage (repeatable).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only letters written at or after this ISO 8601 time (UTC unless it says).")
    ] = None,
    letter: Annotated[
        list[str] | None,
        typer.Option(help="Only these letters: PARTITION:OFFSET, offset, letter key or original key (repeatable)."),
    ] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Replay every letter (needed when no filter is given).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be replayed; publish nothing.")] = False,
    idle_timeout: IdleTimeout = 10.0,
) -> None:
    """Publish the original bytes (and keys) of the selected dead letters to the raw topic again, after a fix."""
    settings = Settings()
    try:
        since_time = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {since!r}", param_hint="--since") from None
    if since_time is not None and since_time.tzinfo is None:
        since_time = since_time.replace(tzinfo=UTC)
    selection = Selection(frozenset(reason or ()), frozenset(stage or ()), since_time, tuple(letter or ()))
    if selection == Selection() and not all_letters:
        console.print("[red]give a filter (--reason, --stage, --since, --letter) or --all to replay every letter")
        raise typer.Exit(2)
    report = replay(settings, _read_dead_letters(settings, idle_timeout).letters, selection, dry_run=dry_run)
    console.print(report.summary(settings.topic_raw))
    if not dry_run and report.replayed < report.selected - report.not_from_raw:
        raise typer.Exit(1)


def _published_at(message: OutgoingMessage) -> datetime:
    """When the message's article was published; unknown or unreadable sorts first."""
    try:
        return datetime.fromisoformat(orjson.loads(message.value)["published_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


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
