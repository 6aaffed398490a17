"""The dedup index kept in step with the table across recoveries: plain Python and asyncio, no Kafka."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from streams.dedup import DedupConfig, DedupIndex
from streams.dedup_state import IndexFreshness, IndexKeeper, restore_index
from tests.test_dedup import FOLLOW_UP, OTHER_QUAKE, QUAKE, stored_from, unit


def test_the_index_is_rebuilt_after_a_table_recovery_only_if_the_table_changed() -> None:
    live = DedupIndex(DedupConfig(window_s=3600))
    records = [stored_from(live, article, unit(*direction), body, when=when) for article, direction, body, when in (
        ("old", (0, 0, 1), "A quiet week in the capital, Tiros.", 0.0),
        ("a", (1, 0, 0), QUAKE, 4000.0),
        ("b", (0, 1, 0), OTHER_QUAKE, 5000.0),
    )]
    assert live.evict_expired() == ["old"]
    table = {record.id: record.model_dump_json().encode() for record in records[1:]}  # "old" deleted as it expired
    freshness = IndexFreshness()
    assert freshness.needs_rebuild(live, table)  # never built
    restored = DedupIndex(DedupConfig(window_s=3600))
    restore_index(restored, table.values())
    assert sorted(restored.key_of) == ["a", "b"] and restored.newest == 5000.0
    freshness.mirrored()
    assert not freshness.needs_rebuild(restored, table)

    # A rebalance: Faust reads again what this worker wrote (the expired article set, then deleted), and the table
    # ends as it was.
    for key in ("old", "a", "b", "old"):
        freshness.note_changelog_record(key, table.get(key))
    assert not freshness.needs_rebuild(restored, table)
    freshness.mirrored()

    # Another worker decided an article meanwhile (a standby catching up): the index lacks it.
    other = DedupIndex()
    newcomer = stored_from(other, "c", unit(1, 1, 0), FOLLOW_UP, when=5100.0).model_dump_json().encode()
    freshness.note_changelog_record("c", table.get("c"))
    table["c"] = newcomer
    assert freshness.needs_rebuild(restored, table)
    restore_index(restored, table.values())
    freshness.mirrored()
    assert sorted(restored.key_of) == ["a", "b", "c"] and not freshness.needs_rebuild(restored, table)

    # Faust drops the records of a partition this worker no longer holds, without changelog records.
    assert freshness.needs_rebuild(restored, {})


def table_of(*records: tuple[str, np.ndarray, str, float]) -> dict[str, bytes]:
    index = DedupIndex()
    return {
        article: stored_from(index, article, vector, body, when=when).model_dump_json().encode()
        for article, vector, body, when in records
    }


async def test_a_rebuild_cut_short_by_a_rebalance_is_waited_for_not_run_twice_at_once_and_decisions_wait() -> None:
    table = table_of(("a", unit(1, 0, 0), QUAKE, 4000.0), ("b", unit(0, 1, 0), OTHER_QUAKE, 5000.0))
    release = threading.Event()
    running: list[int] = []
    most_at_once = 0

    def slow_restore(index: DedupIndex, records: list[bytes]) -> None:
        nonlocal most_at_once
        running.append(1)
        most_at_once = max(most_at_once, len(running))
        release.wait(10)
        restore_index(index, records)
        running.pop()

    index = DedupIndex()
    keeper = IndexKeeper(index, slow_restore)
    first = asyncio.ensure_future(keeper.on_recover(table))
    await asyncio.sleep(0.05)
    assert not keeper.ready.is_set() and running == [1]
    first.cancel()  # a new rebalance: Faust cancels its recovery callback; the thread runs on
    await asyncio.sleep(0.05)
    # The next rebalance's recovery re-read this worker's own records, and another worker's new one came in.
    for key in ("a", "b"):
        keeper.note_changelog_record(key, table[key])
    keeper.note_changelog_record("c", None)
    table |= table_of(("c", unit(1, 1, 0), FOLLOW_UP, 5100.0))
    second = asyncio.ensure_future(keeper.on_recover(table))
    await asyncio.sleep(0.05)
    assert not second.done() and not keeper.ready.is_set()
    release.set()
    assert await asyncio.wait_for(second, 10) is True  # rebuilt again, after the first: "c" came in meanwhile
    assert most_at_once == 1 and keeper.ready.is_set()
    assert sorted(index.key_of) == ["a", "b", "c"]
    assert await keeper.on_recover(table) is False  # nothing changed since: kept
