"""The worker's fetch takes records only of the partitions active when it started, and hands back those of a
partition paused while it waited.

The stand-in fetch behaves as aiokafka's does on the set it is given: it waits, then returns the buffered records of
every partition in the set, or of every partition when the set is empty.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from faust.types import TP

from streams.kafka_transport import fetch_active, undeliverable

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
