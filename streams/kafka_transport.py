"""Faust's aiokafka transport with the consumer's fetch wait taken from the settings, a fetch that only takes records
of the partitions that were active when it started, a commit before partitions are revoked, and no commit of messages
Faust skipped.

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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import cached_property
from typing import Any
from weakref import WeakSet

import aiokafka
import faust
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: _Transport) -> Any:  # type: ignore[override]
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start(), which builds its fetcher: the consumer is not started yet here.
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        return await fetch_active(super().getmany, active_partitions, timeout)

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
        rewind = undeliverable(records, worker._active_partitions, worker._buffered_partitions)
        assigned = consumer.assignment()
        for tp, offset in rewind.items():
            if tp in assigned:
                consumer.seek(tp, offset)
        return {tp: batch for tp, batch in records.items() if tp not in rewind}


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

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


def undeliverable(records: RecordMap, active: set[TP] | None, buffered: set[TP]) -> dict[TP, int]:
    """Partition -> offset of its first fetched record, for partitions paused while the fetch waited: Faust drops
    their records, so the fetcher must read them again from there (None: a client-only app, nothing paused)."""
    if active is None:
        return {}
    return {tp: batch[0].offset for tp, batch in records.items() if batch and tp not in active and tp not in buffered}


class _Stream(faust.Stream):
    def __aiter__(self) -> AsyncIterator[Any]:
        # Faust's compiled iterator acks by writing the consumer's ack lists itself; this one calls Consumer.ack.
        iterator = self._py_aiter()
        self._active_agens.add(iterator)
        return iterator


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms


class App(faust.App):
    """A Faust app whose worker consumer waits at most ``fetch_max_wait_ms`` for a fetch."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, Stream=_Stream, **kwargs)

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self, fetch_max_wait_ms=self.fetch_max_wait_ms)
