"""The Faust app: topics, the dedup table and two thin agents.

    articles.raw ─▶ analyze (batched; parallel over partitions) ─▶ <analyzed, 1 partition> ─▶ decide (event by event)
                      │ decode, validate, embed, parse, fingerprint                              │ dedup against the table
                      ▼                                                                          ▼
                articles.deadletter                                articles.enriched, events, articles.duplicates
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import AgentT, EventT, StreamT, TopicT
from pydantic import ValidationError

from models import AnalyzedArticle, DeadLetter, RawArticle
from streams.analyze import Analyzer, ModelFailure, ReceivedArticle
from streams.assignor import group_assignor
from streams.decision import decide, outputs
from streams.decode import RawMessage, dead_letter, decode_article
from streams.dedup import DedupIndex, StoredArticle
from streams.dedup_state import GraphSnapshotFile, IndexKeeper, restore_index
from streams.kafka_transport import App, mark_completed
from streams.metrics import Metrics
from streams.progress import PartitionProgress
from streams.security import faust_options as security_options
from streams.settings import Settings
from streams.table_store import STORE_URL
from streams.topics import DEAD_LETTER_MAX_MESSAGE_BYTES, DEDUP_TABLE, dedup_changelog_topic

log = logging.getLogger(__name__)


def faust_broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(","))


@dataclass
class Topics:
    raw: TopicT
    analyzed: TopicT
    enriched: TopicT
    duplicates: TopicT
    events: TopicT
    deadletter: TopicT


def _bytes_topic(app: faust.App, name: str) -> TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def raw_message(event: EventT) -> RawMessage:
    message = event.message
    return RawMessage(
        value=message.value,
        key=message.key,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


@dataclass
class NewsApp:
    """The Faust app with the parts tests and tools reach into."""

    app: faust.App
    topics: Topics
    analyze: AgentT | None  # None in a worker of the decide role
    decide: AgentT | None  # None in a worker of the analyze role, and so is the index
    index: DedupIndex | None


def create_app(
    settings: Settings, analyzer: Analyzer | Future[Analyzer] | None, metrics: Metrics | None = None,
    **faust_options: Any,
) -> NewsApp:
    """Build the app around an injected analyzer (real models in workers, small ones in agent tests) and metrics.

    The analyzer may still be loading (a worker loads its models while Faust starts and joins the group, which saves
    their load time at start-up): the analyze agent waits for it, and a load that fails stops the worker. A worker of
    the decide role has no analyzer (None) and no analyze agent; one of the analyze role has no table and no decide
    agent, so the group gives each role only the partitions of its own agents' topics."""
    runs_analyze = settings.worker_role in ("all", "analyze")
    runs_decide = settings.worker_role in ("all", "decide")
    metrics = metrics or Metrics()
    models: Future[Analyzer] | None
    if isinstance(analyzer, Future) or analyzer is None:
        models = analyzer
    else:
        models = Future()
        models.set_result(analyzer)
    if runs_analyze and models is None:
        raise ValueError(f"a worker of the {settings.worker_role} role needs an analyzer")
    app = App(
        settings.app_id,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        broker=faust_broker_url(settings.broker_url),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 3),
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000,
        producer_max_request_size=DEAD_LETTER_MAX_MESSAGE_BYTES,
        web_enabled=settings.web_enabled,
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        # Whichever role leads the group assigns the decide workers' changelog partitions, standbys included.
        PartitionAssignor=group_assignor(frozenset({dedup_changelog_topic(settings)})),
        **security_options(settings),
        **faust_options,
    )
    topics = Topics(
        raw=_bytes_topic(app, settings.topic_raw),
        analyzed=_bytes_topic(app, settings.topic_analyzed),
        enriched=_bytes_topic(app, settings.topic_enriched),
        duplicates=_bytes_topic(app, settings.topic_duplicates),
        events=_bytes_topic(app, settings.topic_events),
        deadletter=_bytes_topic(app, settings.topic_deadletter),
    )
    agents: dict[str, AgentT] = {}
    index: DedupIndex | None = None

    async def send(agent: str, topic: TopicT, key: bytes, value: bytes) -> None:
        await topic.send(key=key, value=value)
        metrics.records_out.labels(agent, topic.get_topic_name()).inc()

    def oversize_letter(message: RawMessage, kind: str, record: bytes, stage: str) -> DeadLetter | None:
        """A ``too_large`` letter when ``record`` exceeds what the output topics take, else None."""
        if len(record) <= settings.max_output_bytes:
            return None
        detail = f"its {kind} record is {len(record)} bytes, over NEWSSTREAM_MAX_OUTPUT_BYTES ({settings.max_output_bytes})"
        return dead_letter(message, "too_large", detail, stage)

    async def send_dead_letter(agent: str, letter: DeadLetter) -> None:
        metrics.dead_letters.labels(letter.reason, letter.stage).inc()
        key = f"{letter.topic}/{letter.partition}/{letter.offset}".encode()
        await send(agent, topics.deadletter, key, letter.to_bytes())

    if runs_analyze:
        assert models is not None
        analyzer_loading = models
        # One thread for the models: inference leaves the event loop free for heartbeats and fetches.
        model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="models")

        @app.agent(topics.raw, name="analyze")
        async def analyze(stream: StreamT) -> None:
            try:
                analyzer = await asyncio.wrap_future(analyzer_loading)
            except Exception as exc:  # no models, no work: stop with an error, so the supervisor sees it and restarts
                log.critical("the models failed to load", exc_info=exc)
                await app.crash(exc)
                return
            metrics.beat()  # ready now, not at the heartbeat task's next beat
            async for batch in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
                started = time.perf_counter()
                metrics.records_in.labels("analyze").inc(len(batch))
                metrics.batch_size.labels("analyze").observe(len(batch))
                messages = [raw_message(event) for event in batch]
                decoded = [
                    decode_article(m, max_message_bytes=settings.max_message_bytes, max_body_chars=settings.max_body_chars)
                    for m in messages
                ]
                articles = [
                    (m, ReceivedArticle(d, (m.timestamp_ms or 0) / 1000))
                    for m, d in zip(messages, decoded, strict=True)
                    if isinstance(d, RawArticle)
                ]
                for letter in decoded:
                    if isinstance(letter, DeadLetter):
                        await send_dead_letter("analyze", letter)
                if articles:
                    results = await asyncio.get_running_loop().run_in_executor(
                        model_thread, analyzer.analyze, [article for _, article in articles]
                    )
                    for (message, _), result in zip(articles, results, strict=True):
                        if isinstance(result, ModelFailure):
                            await send_dead_letter("analyze", dead_letter(message, "model_error", result.detail, result.stage))
                            continue
                        value = result.to_bytes()
                        if (letter := oversize_letter(message, "analysed", value, "analyze")) is not None:
                            await send_dead_letter("analyze", letter)
                        else:
                            await send("analyze", topics.analyzed, result.article.id.encode(), value)
                metrics.processing_seconds.labels("analyze").observe(time.perf_counter() - started)
                mark_completed(app, [event.message for event in batch])

        agents["analyze"] = analyze

    if runs_decide:
        # Partitions=1 to match the analyzed topic: a single decision point sees every earlier article.
        index = dedup_index = DedupIndex(settings.dedup_config())
        snapshots = None
        if settings.dedup_graph_snapshots:
            snapshots = GraphSnapshotFile(settings.data_dir / "dedup" / f"{settings.app_id}.graph")
            dedup_index.on_epoch = snapshots.save_soon
        keeper = IndexKeeper(dedup_index, functools.partial(restore_index, snapshots=snapshots))

        # The store resumes the changelog where it stopped and keeps a standby's records; the index follows them.
        table = app.Table(DEDUP_TABLE, partitions=1, key_type=str, value_type=bytes, store=STORE_URL)
        changelog = table.changelog_topic.get_topic_name()
        if changelog != dedup_changelog_topic(settings):
            # The assignor and the topic creation name it from the settings, in every role.
            raise ValueError(f"the dedup changelog is {changelog!r}, not the one created")
        table.data.on_changes = keeper.on_changes
        # Read at each scrape: a standby's index grows as it follows the changelog, a rebuild's as it inserts.
        metrics.dedup_articles.set_function(dedup_index.__len__)

        async def recover_index() -> None:
            started = time.perf_counter()
            outcome = await keeper.on_recover(table.data)
            metrics.dedup_restores.labels(outcome).inc()
            if outcome == "kept":
                log.info("dedup index kept: it followed the table", extra={"articles": len(dedup_index)})
            else:
                metrics.dedup_rebuild_seconds.set(time.perf_counter() - started)

        recoveries: set[asyncio.Future[None]] = set()  # referenced until done: the loop holds tasks weakly

        @table.on_recover
        async def keep_index() -> None:
            recovery = asyncio.ensure_future(recover_index())
            recoveries.add(recovery)
            recovery.add_done_callback(recoveries.discard)
            if any(tp.topic == changelog for tp in app.assignor.assigned_actives()):
                await recovery  # the decisions wait for the index
            # Else a standby's (or nobody's) index: Faust resumes this worker's streams without waiting for it.

        async def decide_event(message: EventT) -> None:
            started = time.perf_counter()
            metrics.records_in.labels("decide").inc()
            try:
                analyzed = AnalyzedArticle.model_validate_json(message.value)
            except ValidationError as exc:  # only our own analyze agent writes here, but never crash on a record
                await send_dead_letter("decide", dead_letter(raw_message(message), "schema", str(exc)[:500], stage="decide"))
                return
            await keeper.ready.wait()
            known = table.get(analyzed.article.id)
            if known is not None:
                # A replay after a crash or a re-sent article: same verdict, byte-identical outputs.
                stored = StoredArticle.model_validate_json(known)
            else:
                stored = decide(dedup_index, analyzed)
                table[stored.id] = stored.model_dump_json().encode()
                for expired in dedup_index.evict_expired():
                    del table[expired]
            metrics.duplicates.labels(stored.verdict.tier.value).inc()
            result = outputs(analyzed, stored)
            key = analyzed.article.id.encode()
            if result.duplicate is not None:
                await send("decide", topics.duplicates, key, result.duplicate.to_bytes())
            if result.enriched is not None:
                enriched = result.enriched.to_bytes()
                # Its story id in every event can outgrow the analysis.
                if (letter := oversize_letter(raw_message(message), "enriched", enriched, "decide")) is not None:
                    await send_dead_letter("decide", letter)
                    return
                await send("decide", topics.enriched, key, enriched)
            for found in result.events:
                await send("decide", topics.events, key, found.to_bytes())
            metrics.processing_seconds.labels("decide").observe(time.perf_counter() - started)
            metrics.end_to_end_seconds.observe(max(0.0, time.time() - analyzed.received_at))

        # Event by event, not stream.take: Faust only lets a table be written during per-event iteration.
        @app.agent(topics.analyzed, name="decide")
        async def decide_agent(stream: StreamT) -> None:
            async for message in stream.events():
                await decide_event(message)
                mark_completed(app, [message.message])

        agents["decide"] = decide_agent

    # Beats only while the event loop is responsive: /healthz reads this. From the app's start, not as a Faust timer:
    # those start after the first table recovery, which a large dedup window makes minutes long.
    @app.task_from_start
    async def heartbeat() -> None:
        while True:
            if models is None or (models.done() and models.exception() is None):  # not ready while the models load
                metrics.beat()
            await asyncio.sleep(2.0)

    progress = PartitionProgress()

    @app.timer(interval=5.0)
    async def report_lag() -> None:
        consumer, monitor = app.consumer, app.monitor
        sources = {topics.raw.get_topic_name(), topics.analyzed.get_topic_name()}
        # Changelog standbys and Faust's internal topics are not the agents' backlog.
        assigned = {f"{tp.topic}[{tp.partition}]": tp for tp in consumer.assignment() if tp.topic in sources}
        progress.keep_only(assigned)
        if not assigned:
            metrics.report_stalled({})
            return
        # Fetched but unprocessed messages are backlog too: the read offset, not the fetch position.
        positions: dict[str, int | None] = {}
        for name, tp in assigned.items():
            read, committed = monitor.tp_read_offsets.get(tp), monitor.tp_committed_offsets.get(tp)
            positions[name] = read + 1 if read is not None else committed
        unread = [assigned[name] for name, position in positions.items() if position is None]
        try:
            # From the broker, not from the fetch responses: a partition never fetched still shows its lag.
            end_offsets = await consumer.highwaters(*assigned.values())
            earliest = await consumer.earliest_offsets(*unread) if unread else {}
        except Exception as exc:  # e.g. mid-rebalance; an exception in a timer would crash the whole worker
            log.debug("offsets unavailable this round", exc_info=exc)
            return
        now = time.monotonic()
        for name, tp in assigned.items():
            position = positions[name] if positions[name] is not None else earliest.get(tp)
            end_offset = end_offsets.get(tp)
            if position is None or end_offset is None:
                continue
            lag = progress.observe(name, position, end_offset, now)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
        stalled = progress.stalled(now, settings.health_max_stall_s)
        metrics.report_stalled(stalled)
        if stalled:
            log.warning("partitions stalled", extra={"partitions": sorted(stalled)})

    return NewsApp(app=app, topics=topics, analyze=agents.get("analyze"), decide=agents.get("decide"), index=index)
