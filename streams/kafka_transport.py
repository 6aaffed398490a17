"""Faust's aiokafka transport with the consumer's fetch wait taken from the settings, a fetch that only takes records
of the partitions that were active when it started, a commit before partitions are revoked, no commit of messages
Faust skipped, and no record dropped around the seek back to the committed offsets after a rebalance.

Faust fixes the worker consumer's ``fetch_max_wait_ms`` at 1,500 ms. Apache Kafka answers a waiting fetch as soon
as data arrives, but Tansu, the embedded broker, holds aiokafka's fetch for the whole wait: each hop of the
pipeline (raw -> analyze, analyzed -> decide) waited up to 1.5 s, and a message published every 0.37 s arrived
0.38 s late every time (aiokafka alone on Tansu; 0.01 s with a 100 ms wait).

Faust hands the fetch (in the consumer thread) its live set of active partitions. A rebalance that pauses partitions
while the fetch waits can empty that set, and aiokafka reads an empty set as "every partition": it then hands over,
and counts as consumed, records of paused partitions, which Faust drops as inactive. When the partition resumed and
was fetched again before Faust's seek back to the committed offset, the worker carried on past records it never
processed: the commit stayed behind them for good, or they were lost (the SIGKILL restart test, 4 runs in 10 with a
100 ms fetch wait); with no committed offset to seek back to, the partition was never read again (a restarted worker
that fetched nothing). The fetch here gets a copy of the set, none at all when the set is empty, and the records of a
partition paused while it waited are handed back to the fetcher (a seek to the first of them) instead of dropped.

At a rebalance, Faust drops its record of the acked offsets of every revoked partition before it waits for the streams
and commits, so everything processed since the last periodic commit was processed again by the partition's next
owner: a second worker joining and leaving under load repeated 0-478 of 901 enriched records (21 runs, commits every
2.8 s), 0-35 once the consumer commits first (7 runs).

Faust also acks, unprocessed, a message it skips: one fetched before the latest rebalance, or met while its flow
control is off (rebalancing, stopping). If that ack was committed before the seek back to the committed offset, the
message was never read again: an article published as a worker left was lost so (CI, 2026-11-30). The consumer here
does not count such acks, and while flow control is off counts only messages the agents report finished
(``mark_completed``). Faust's compiled stream iterator writes acks past ``Consumer.ack``, so streams use its Python one.

After a rebalance, Faust seeks back to the committed offsets and resumes the flow, which clears the streams' queues;
records handed out across that seek lost their re-read copies, which fell below the read offset Faust had already
moved, and Faust's commit passed them. Traced with a 10 ms producer linger (half of the join-and-leave runs lost
inputs), and once at the default (a commit stalled in CI). Three paths, each closed here:
- the consumer thread runs two calls at a time, so a fetch that waited during the seek returned records read before
  it: records fetched or handed out across a seek's start or end now go back to the fetcher (a rewind that only moves
  positions back), the read offset the seek set is restored, and a fetch waits for a running seek to end;
- recovery resumes the flow twice, after the changelogs and after the seek, with the stream partitions live between:
  the second resumption cleared records handed out since the first; resuming a flow already on keeps the queues;
- Faust takes its committed offset for the last record processed, while it is the next to read, so the commit passed
  one record never acked right after it: it waits for that record now. A record that is gone (retention deleted it
  while the group was away) must not hold the commit for good: after a seek, offsets missing between the committed
  one and the first record read are noted as a hole. Faust's own holes no longer take in the record being delivered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from contextlib import aclosing
from functools import cached_property
from typing import Any
from weakref import WeakSet

import aiokafka
import faust
from aiokafka.protocol.fetch import FetchRequest
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from faust.types.tuples import ack_lock
from intervaltree import IntervalTree
from mode.utils.futures import notify
from mode.utils.queues import FlowControlEvent


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: _Transport) -> Any:  # type: ignore[override]
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start(), which builds its fetcher: the consumer is not started yet here.
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        return await fetch_active(super().getmany, active_partitions, timeout)

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        # Faust's table restore and the workers' lag gauge both read the end offsets from here.
        return await fetched_high_watermarks(self._ensure_consumer(), await super()._highwaters(partitions))

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> RecordMap:
        # Runs in the consumer thread, which owns the aiokafka consumer.
        records = await super()._fetch_records(consumer, active_partitions, timeout=timeout, max_records=max_records)
        worker = self.consumer
        paused = undeliverable(records, worker._active_partitions, worker._buffered_partitions)
        await self.rewind(paused)
        return {tp: batch for tp, batch in records.items() if tp not in paused}

    async def rewind(self, first_offsets: dict[TP, int]) -> None:
        """Move partitions' positions back to the first of their fetched records that Faust did not hand out.

        No await inside, so each partition's seek lands wholly before or after any other seek of it (a seek to the
        committed offsets runs in the thread's other call slot), and a position only moves back: wherever the two
        land, it ends at or before the first record not yet processed."""
        consumer = self._ensure_consumer()
        subscription = consumer._subscription.subscription
        assignment = subscription.assignment if subscription is not None else None
        if assignment is None:  # subscribed, no partitions assigned yet
            return
        positions = {
            tp: state.position if state.has_valid_position else None
            for tp in first_offsets
            if (state := assignment.state_value(tp)) is not None
        }
        for tp, offset in rewind_targets(first_offsets, positions).items():
            consumer.seek(tp, offset)


async def fetched_high_watermarks(consumer: aiokafka.AIOKafkaConsumer, listed: Mapping[TP, int]) -> dict[TP, int]:
    """The listed end offsets, raised to the high watermark of a fetch at each of them. Tansu 0.6.0, the embedded
    broker, lists a partition's end as its last batch's first offset + 1 (10 records in one batch: 1), while its fetch
    responses carry the true high watermark; Faust's restore stopped at the listed end and lost the rest of a table's
    last changelog batch (219 of 100,000 records once). Apache Kafka lists the true end: the fetch returns nothing."""
    client = consumer._client
    by_leader: defaultdict[int, defaultdict[str, list[tuple[int, int, int]]]] = defaultdict(lambda: defaultdict(list))
    for tp, end in listed.items():
        leader = client.cluster.leader_for_partition(tp)
        if leader is not None and leader >= 0 and end is not None:
            by_leader[leader][tp.topic].append((tp.partition, end, 1))  # 1 byte: only the high watermark is wanted
    ends = dict(listed)
    for leader, topics in by_leader.items():
        # A wait of 0 or min_bytes of 0 gets an empty answer from Tansu: wait at most 10 ms for one byte.
        response = await client.send(leader, FetchRequest(10, 1, 1, 0, list(topics.items())))
        for topic, partitions in response.topics:
            for partition, error_code, high_watermark, *_ in partitions:
                tp = TP(topic, partition)
                if error_code == 0 and tp in ends:
                    ends[tp] = max(ends[tp], high_watermark)
    return ends


class _Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Seeks back to the committed offsets, counted at their start and at their end: records fetched or handed out
        # across either are suspect.
        self._seek_marks = 0
        self._seeks_running = 0
        self._no_seek_running = asyncio.Event()
        self._no_seek_running.set()
        # The read offsets the latest seek set (the committed offsets), and those of its partitions whose first
        # record at or past that offset has not been handed out yet.
        self._seek_read_offsets: dict[TP, int | None] = {}
        self._first_record_due: dict[TP, int] = {}
        self._fetched: RecordMap = {}  # the latest fetch, as Faust got it

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        # Faust may seek from its fetch loop while recovery's seek runs: the count tells when none is left.
        self._seeks_running += 1
        self._no_seek_running.clear()
        self._seek_marks += 1
        self._seek_read_offsets, self._first_record_due = {}, {}
        try:
            await super().perform_seek()
            self._seek_read_offsets = dict(self._read_offset)
            acks_enabled_for = self.app.topics.acks_enabled_for
            self._first_record_due = {
                tp: offset
                for tp, offset in self._read_offset.items()
                if offset is not None and acks_enabled_for(tp.topic)
            }
        finally:
            self._seek_marks += 1
            self._seeks_running -= 1
            if not self._seeks_running:
                self._no_seek_running.set()

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        # The consumer thread runs two calls at a time, so a seek back to the committed offsets can run while a fetch
        # waits. Records read before the seek then reached Faust after it: handed out, they moved the read offset
        # past the records read again from the committed offset, which Faust dropped, and the commit passed them.
        # (getmany has waited for any running seek to end; one can still start while Faust waits for its flow to
        # resume, before the fetch: the marks catch that.)
        marks = self._seek_marks
        self._fetched = {}
        records, active_partitions = await super()._wait_next_records(timeout)
        if records and self._seek_marks != marks:
            await self._thread.call_thread(self._thread.rewind, first_offsets(records))
            return None, active_partitions
        self._fetched = records or {}
        return records, active_partitions

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        # A fetch waits for a running seek to end: what it handed out would be read again after the seek.
        await self._no_seek_running.wait()
        marks = self._seek_marks
        handed_out: dict[TP, int] = {}
        async with aclosing(super().getmany(timeout)) as batch:
            async for tp, message in batch:
                if self._seek_marks != marks:
                    break
                self._note_hole_at_committed(tp, message.offset)
                handed_out[tp] = message.offset
                yield tp, message
                if self._seek_marks != marks:
                    # A seek began or ended while this record was delivered. Faust has just set the read offset to
                    # this record's: put back the one an ended seek set, else the records it rereads are dropped.
                    if not self._seeks_running and tp in self._seek_read_offsets:
                        self._read_offset[tp] = self._seek_read_offsets[tp]
                    break
        # What was fetched and not handed out (a seek, or Faust stopped the batch at a rebalance) is read again.
        left = not_handed_out(self._fetched, handed_out)
        if left:
            await self._thread.call_thread(self._thread.rewind, left)

    def _note_hole_at_committed(self, tp: TP, offset: int) -> None:
        # Faust's own gap for a hole right after a seek starts past the committed offset: without this one the commit
        # would wait for good for a record retention or compaction removed.
        due = self._first_record_due.get(tp)
        if due is not None and offset >= due:
            del self._first_record_due[tp]
            hole = hole_at_committed(due, offset)
            if hole is not None:
                self._gap[tp].addi(*hole)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust passes the offset of the record it is about to deliver as the gap's last one: counted as acked before
        # it was processed, the commit could pass it. The gap ends before it.
        await super()._add_gap(tp, offset_from, offset_to - 1)

    def _new_offset(self, tp: TP) -> int | None:
        # Faust takes its committed offset for the last record processed, while it is the next one to read: one
        # record right after it, never acked, was committed past (an article lost in a rebalance).
        if skips_unacked(self._committed_offset[tp], self._acked[tp], self._gap[tp]):
            return None
        return super()._new_offset(tp)

    @cached_property
    def completed(self) -> WeakSet[Message]:
        """Messages the agents have finished (``mark_completed``), consulted while flow control is off."""
        return WeakSet()

    def ack(self, message: Message) -> bool:
        # Faust skips a message fetched before the latest rebalance, or met while its flow control is off (rebalancing
        # or stopping), and acks it unprocessed: such an ack must not move the commit. The message is read again from
        # the committed offset after the rebalance, by this worker or the partition's next owner. (One such ack lost
        # an article in CI: published as a worker left, acked unprocessed, committed.)
        current = message.generation_id == self.app.consumer_generation_id
        if not current or not (self.app.flow_control.is_active() or message in self.completed):
            with ack_lock:
                message.acked = True  # nothing left to wait for
                self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)
            return False
        return super().ack(message)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Faust forgets the acks of revoked partitions before it waits for the streams and commits: what was processed
        # since the last periodic commit went to the next owner to process again. Commit it while Faust still has it.
        await self.commit()
        await super().on_partitions_revoked(revoked)


def mark_completed(app: faust.App, messages: Iterable[Message]) -> None:
    """Tell the worker's consumer that the agents have finished these messages (outputs sent): while its flow control
    is off, only such messages' acks move the commit."""
    consumer = app.consumer
    if isinstance(consumer, _Consumer):
        consumer.completed.update(messages)


async def fetch_active(
    fetch: Callable[[set[TP] | None, float], Awaitable[RecordMap]], active_partitions: set[TP] | None, timeout: float
) -> RecordMap:
    """Fetch from a copy of the active partitions taken now; nothing when none is active (None: a client-only app's
    every partition). The copy keeps a pause during the wait from widening the fetch to all partitions."""
    if active_partitions is None:
        return await fetch(None, timeout)
    partitions = set(active_partitions)
    if not partitions:
        return {}
    return await fetch(partitions, timeout)


def first_offsets(records: RecordMap) -> dict[TP, int]:
    """Partition -> offset of its first record in a fetch."""
    return {tp: batch[0].offset for tp, batch in records.items() if batch}


def rewind_targets(first_offsets: dict[TP, int], positions: dict[TP, int | None]) -> dict[TP, int]:
    """Partition -> offset to seek to, so that the fetcher reads again from each partition's first offset given: only
    assigned partitions with a valid position, and only backwards (None: a reset to the committed offset is pending,
    and it will place the position)."""
    return {
        tp: offset
        for tp, offset in first_offsets.items()
        if (position := positions.get(tp)) is not None and offset < position
    }


def not_handed_out(fetched: RecordMap, handed_out: dict[TP, int]) -> dict[TP, int]:
    """Partition -> offset of the first fetched record after the last one handed out, for partitions with any left."""
    left: dict[TP, int] = {}
    for tp, batch in fetched.items():
        last = handed_out.get(tp)
        if not batch or (last is not None and last >= batch[-1].offset):  # all handed out: the usual case, cheaply
            continue
        left[tp] = next(record.offset for record in batch if last is None or record.offset > last)
    return left


def skips_unacked(committed: int | None, acked: list[int], gaps: IntervalTree) -> bool:
    """Whether committing from these acks would pass a record never acked: the committed offset (the next record to
    read) is neither acked nor a known gap in the partition's offsets."""
    if committed is None or not acked:
        return False
    return min(acked) > committed and not gaps.overlaps(committed)


def hole_at_committed(committed: int, first_offset: int) -> tuple[int, int] | None:
    """The offsets [start, end) missing between a seek's committed offset and the first record read at or past it,
    if any. Positions after a seek are at or before the committed offset, and nothing read before a seek is handed
    out after it, so such offsets are gone from the partition (retention deleted them, or compaction)."""
    return (committed, first_offset) if first_offset > committed else None


def undeliverable(records: RecordMap, active: set[TP] | None, buffered: set[TP]) -> dict[TP, int]:
    """Partition -> offset of its first fetched record, for partitions paused while the fetch waited: Faust drops
    their records, so the fetcher must read them again from there (None: a client-only app, nothing paused)."""
    if active is None:
        return {}
    return {tp: offset for tp, offset in first_offsets(records).items() if tp not in active and tp not in buffered}


class _Stream(faust.Stream):
    def __aiter__(self) -> AsyncIterator[Any]:
        # Faust's compiled iterator acks by writing the consumer's ack lists itself; this one calls Consumer.ack.
        iterator = self._py_aiter()
        self._active_agens.add(iterator)
        return iterator


class _FlowControl(FlowControlEvent):
    def resume(self) -> None:
        # Resuming clears the streams' queues: right after a rebalance, when they hold records from before it. But
        # Faust's recovery resumes twice, after reading the changelogs and after its seek back to the committed
        # offsets, and between the two the stream partitions are live: the second clear threw away records handed
        # out since the first, whose read offsets then hid the copies read again (an article lost, traced).
        if not self.is_active():
            super().resume()


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms


class App(faust.App):
    """A Faust app whose worker consumer waits at most ``fetch_max_wait_ms`` for a fetch, and which can run tasks
    from its start (``task_from_start``)."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._tasks_from_start: list[Callable[[], Coroutine[Any, Any, None]]] = []
        super().__init__(*args, Stream=_Stream, **kwargs)

    def task_from_start(self, task: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """A task started with the app. Faust starts its timers and tasks only once the first table recovery is over,
        which for a large dedup window takes minutes: a liveness heartbeat must beat meanwhile."""
        self._tasks_from_start.append(task)
        return task

    async def on_start(self) -> None:
        await super().on_start()
        for task in self._tasks_from_start:
            self.add_future(task())

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self, fetch_max_wait_ms=self.fetch_max_wait_ms)
