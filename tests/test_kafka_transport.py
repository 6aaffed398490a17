"""The worker's fetch takes records only of the partitions active when it started, and hands back those of a
partition paused while it waited; records fetched but not handed out across a seek go back to the fetcher; the commit
never passes a record not acked; and resuming a flow that is already on keeps the streams' queues.

The stand-in fetch behaves as aiokafka's does on the set it is given: it waits, then returns the buffered records of
every partition in the set, or of every partition when the set is empty.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from faust.types import TP
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlQueue

from streams.kafka_transport import (
    _FlowControl,
    fetch_active,
    hole_at_committed,
    not_handed_out,
    rewind_targets,
    skips_unacked,
    undeliverable,
)

RAW = TP("raw", 0)
ANALYZED = TP("analyzed", 0)
CHANGELOG = TP("dedup-changelog", 0)
BUFFERED = {RAW: ["raw record"], ANALYZED: ["analyzed record"], CHANGELOG: ["changelog record"]}


class PausedDuringFetch:
    """A fetch during which a rebalance pauses every partition in Faust's live set of active partitions."""

    def __init__(self, live: set[TP]) -> None:
        self.live = live
        self.calls = 0

    async def __call__(self, partitions: set[TP] | None, timeout: float) -> dict[TP, list[str]]:
        self.calls += 1
        self.live.clear()  # the pause, while the fetch waits
        await asyncio.sleep(0)
        return {tp: records for tp, records in BUFFERED.items() if not partitions or tp in partitions}


async def test_a_pause_while_the_fetch_waits_does_not_widen_it_to_every_partition() -> None:
    live = {CHANGELOG}  # recovery: only the changelog is active, the stream partitions are paused
    fetch = PausedDuringFetch(live)
    records = await fetch_active(fetch, live, 0.1)
    assert records == {CHANGELOG: ["changelog record"]}  # the raw and analysed records stay in the fetcher


async def test_faust_s_live_set_alone_would_hand_over_paused_partitions() -> None:
    # What the copy prevents: given the live set itself, the emptied set means every partition.
    live = {CHANGELOG}
    records = await PausedDuringFetch(live)(live, 0.1)
    assert set(records) == {RAW, ANALYZED, CHANGELOG}


async def test_no_fetch_when_no_partition_is_active() -> None:
    fetch = PausedDuringFetch(set())
    assert await fetch_active(fetch, set(), 0.1) == {}
    assert fetch.calls == 0


async def test_a_client_only_app_fetches_every_partition() -> None:
    fetch = PausedDuringFetch(set())
    assert set(await fetch_active(fetch, None, 0.1)) == {RAW, ANALYZED, CHANGELOG}


class Record(NamedTuple):
    offset: int


def test_records_of_a_partition_paused_during_the_fetch_go_back_from_their_first_offset() -> None:
    fetched = {RAW: [Record(40), Record(41)], ANALYZED: [Record(7)], CHANGELOG: [Record(3)]}
    assert undeliverable(fetched, active={CHANGELOG}, buffered=set()) == {RAW: 40, ANALYZED: 7}


def test_records_of_active_or_buffer_full_partitions_are_delivered() -> None:
    # A partition whose stream buffer is full leaves the active set, but Faust still delivers what was fetched for it.
    fetched = {RAW: [Record(40)], ANALYZED: [Record(7)]}
    assert undeliverable(fetched, active={RAW}, buffered={ANALYZED}) == {}
    assert undeliverable(fetched, active=None, buffered=set()) == {}  # a client-only app: Faust delivers every partition


def test_a_rewind_moves_positions_back_only() -> None:
    first = {RAW: 40, ANALYZED: 7, CHANGELOG: 3}
    # RAW: the fetch moved it to 42, back to 40. ANALYZED: a seek to the committed offset 5 already ran, it stays.
    # CHANGELOG: a reset is pending (no valid position), which places it.
    positions: dict[TP, int | None] = {RAW: 42, ANALYZED: 5, CHANGELOG: None}
    assert rewind_targets(first, positions) == {RAW: 40}
    assert rewind_targets({TP("unassigned", 0): 1}, positions) == {}


def test_what_was_not_handed_out_of_a_fetch_starts_after_the_last_record_handed_out() -> None:
    fetched = {RAW: [Record(40), Record(41), Record(42)], ANALYZED: [Record(7), Record(8)], CHANGELOG: [Record(3)]}
    assert not_handed_out(fetched, {RAW: 40, ANALYZED: 8}) == {RAW: 41, CHANGELOG: 3}
    assert not_handed_out(fetched, {}) == {RAW: 40, ANALYZED: 7, CHANGELOG: 3}


def test_the_commit_does_not_pass_the_next_record_to_read_when_it_was_never_acked() -> None:
    # Committed 590: the next record to read is 590. Faust took it for the last one processed and committed past it.
    assert skips_unacked(590, [591, 592, 593], IntervalTree())
    assert not skips_unacked(590, [590, 591], IntervalTree())
    assert not skips_unacked(590, [588, 589, 591], IntervalTree())  # read again after a seek: Faust's own check
    # Retention removed 590-599 while the group was away: the first record read after the seek is 600. The hole
    # noted then lets the commit pass; without it the commit would wait for 590 for good.
    hole = hole_at_committed(590, 600)
    assert hole == (590, 600)
    assert not skips_unacked(590, [600, 601], IntervalTree.from_tuples([hole]))
    assert skips_unacked(590, [600, 601], IntervalTree.from_tuples([(591, 601)]))  # Faust's own gap starts past 590
    assert hole_at_committed(590, 590) is None
    assert not skips_unacked(None, [5, 6], IntervalTree())  # nothing committed yet
    assert not skips_unacked(590, [], IntervalTree())


async def test_resuming_a_flow_that_is_on_keeps_the_queued_records() -> None:
    flow = _FlowControl()
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()  # on after a rebalance: what was queued before it is stale
    await queue.put("handed out after the first resume")
    flow.resume()  # Faust's second resume in one recovery
    assert queue.qsize() == 1
    flow.suspend()  # the next rebalance
    flow.resume()
    assert queue.qsize() == 0
