"""The dedup index kept in step with the table across recoveries: plain Python and asyncio, no Kafka."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from models import DedupTier
from streams import dedup
from streams.dedup import Candidate, DedupConfig, DedupIndex, GraphSnapshot, StoredArticle, quantize
from streams.dedup_state import GraphSnapshotFile, IndexFreshness, IndexKeeper, Restored, restore_index
from streams.fingerprint import fingerprint
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

    def slow_restore(index: DedupIndex, records: list[bytes]) -> Restored:
        nonlocal most_at_once
        running.append(1)
        most_at_once = max(most_at_once, len(running))
        release.wait(10)
        outcome = restore_index(index, records)
        running.pop()
        return outcome

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
    assert await asyncio.wait_for(second, 10) == "rebuilt"  # again, after the first: "c" came in meanwhile
    assert most_at_once == 1 and keeper.ready.is_set()
    assert sorted(index.key_of) == ["a", "b", "c"]
    assert await keeper.on_recover(table) == "kept"  # nothing changed since


class Decided(NamedTuple):
    live: DedupIndex
    stored: list[StoredArticle]  # the table's records (the window's)
    snapshots: list[GraphSnapshot]  # the graph snapshots the index took
    vectors: np.ndarray
    bodies: list[str]


def live_articles(count: int, epoch: int, seed: int = 5, prefix: str = "a", window_s: float = 7 * 24 * 3600.0) -> Decided:
    """An index that decided ``count`` articles one a second, as the decide agent does (evictions included)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 12, count)] + rng.normal(scale=0.9, size=(count, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{number}" for number in range(400)]
    bodies = [" ".join(rng.choice(words, 60)) for _ in range(count)]
    snapshots: list[GraphSnapshot] = []
    live = DedupIndex(DedupConfig(graph_epoch=epoch, window_s=window_s), on_epoch=snapshots.append)
    table: dict[str, StoredArticle] = {}
    for number, (vector, body) in enumerate(zip(vectors, bodies, strict=True)):
        stored = stored_from(live, f"{prefix}{number}", vector, body, when=1_700_000_000.0 + number)
        table[stored.id] = stored
        for expired in live.evict_expired():
            del table[expired]
    return Decided(live, list(table.values()), snapshots, vectors, bodies)


def snapshot_file(tmp_path: Path, snapshot: GraphSnapshot) -> GraphSnapshotFile:
    file = GraphSnapshotFile(tmp_path / "dedup" / "app.graph")
    file.save_soon(snapshot).result(10)
    return file


def same_searches(one: DedupIndex, other: DedupIndex, vectors: np.ndarray) -> int:
    """Asserts both indexes find the same neighbours for probes near ``vectors``; how many they found."""
    rng = np.random.default_rng(9)
    probes = vectors + rng.normal(scale=0.05, size=vectors.shape).astype(np.float32)
    found = 0
    for probe in probes / np.linalg.norm(probes, axis=1, keepdims=True):
        theirs = [(entry.id, cosine) for entry, cosine in one._neighbours(probe)]
        assert theirs == [(entry.id, cosine) for entry, cosine in other._neighbours(probe)]
        found += len(theirs)
    return found


@pytest.mark.parametrize("chunk", [dedup.RESTORE_CHUNK, 64])
def test_a_graph_snapshot_and_the_articles_beyond_it_restore_the_very_graph_the_decisions_built(
    chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "RESTORE_CHUNK", chunk)  # 64: restore chunks straddle the epochs' ends
    live, stored, snapshots, vectors, bodies = live_articles(450, epoch=100)
    assert [snapshot.next_key for snapshot in snapshots] == [100, 200, 300, 400]
    assert snapshots[1].ids == {key: f"a{key}" for key in range(200)}
    records = [record.model_dump_json().encode() for record in stored]

    from_snapshot = DedupIndex(DedupConfig(graph_epoch=100))
    assert restore_index(from_snapshot, records, snapshot_file(tmp_path, snapshots[1])) == "snapshot"
    from_scratch = DedupIndex(DedupConfig(graph_epoch=100))
    assert restore_index(from_scratch, records) == "rebuilt"
    # Byte for byte: usearch's random levels restart at each epoch's end in all three.
    assert bytes(from_snapshot.ann.save()) == bytes(live.ann.save()) == bytes(from_scratch.ann.save())
    assert from_snapshot.key_of == live.key_of and len(from_snapshot.expiry) == 450
    assert same_searches(live, from_snapshot, vectors[:150]) > 150 * 10
    follow_up = Candidate("new", None, "k", quantize(vectors[7]), fingerprint("", "Updated: " + bodies[7]), 1_700_000_500.0)
    assert from_snapshot.decide(follow_up) == live.decide(follow_up)
    assert from_snapshot.decide(follow_up)[0].tier is DedupTier.NEAR_DUPLICATE


def test_a_snapshot_loses_what_the_table_lost_and_is_not_used_for_another_table(tmp_path: Path) -> None:
    _, stored, snapshots, vectors, _ = live_articles(260, epoch=100)
    kept = [record for record in stored if record.id not in {f"a{number}" for number in range(0, 200, 20)}]
    records = [record.model_dump_json().encode() for record in kept]  # ten of the snapshot's articles evicted
    file = snapshot_file(tmp_path, snapshots[-1])
    restored = DedupIndex(DedupConfig(graph_epoch=100))
    assert restore_index(restored, records, file) == "snapshot"
    assert sorted(restored.key_of) == sorted(record.id for record in kept)
    assert len(restored.ann) == len(restored.entries) == 250
    # Searches near the articles it lost return only articles it holds (no key without an entry).
    assert same_searches(restored, restored, vectors[:200:20]) > 0

    # Another cluster's table: other ids, or the same ids for other texts.
    for prefix in ("b", "a"):
        other = [record.model_dump_json().encode() for record in live_articles(220, epoch=100, seed=6, prefix=prefix).stored]
        foreign = DedupIndex(DedupConfig(graph_epoch=100))
        assert restore_index(foreign, other, file) == "rebuilt"
        assert len(foreign) == 220 and len(foreign.ann) == 220
    assert restore_index(DedupIndex(DedupConfig(graph_epoch=50)), records, file) == "rebuilt"  # reloaded elsewhere


def test_a_snapshot_file_that_cannot_be_read_means_a_rebuild_from_scratch(tmp_path: Path) -> None:
    _, stored, snapshots, _, _ = live_articles(120, epoch=100)
    records = [record.model_dump_json().encode() for record in stored]
    file = snapshot_file(tmp_path, snapshots[0])
    assert file.read() == snapshots[0]
    whole = file.path.read_bytes()
    link, key = bytearray(whole), bytearray(whole)
    link[-100] ^= 0xFF  # a link of the graph
    first_key = whole.index(b'"keys": [') + len(b'"keys": [')
    key[first_key] = ord("9")  # key 0 read as 9: two articles would share it
    for damaged in (b"junk" + whole[4:], whole[: len(whole) // 2], whole[:40], bytes(link), bytes(key)):
        file.path.write_bytes(damaged)
        index = DedupIndex(DedupConfig(graph_epoch=100))
        assert restore_index(index, records, file) == "rebuilt"
        assert len(index) == 120 == len(index.ann)
    file.path.unlink()
    assert file.read() is None


def test_a_snapshot_taken_after_evictions_restores_the_window_without_them(tmp_path: Path) -> None:
    live, stored, snapshots, vectors, _ = live_articles(300, epoch=100, window_s=120)
    # Each snapshot is taken as its epoch's last article is added, before the evictions that article's time causes.
    assert [sorted(snapshot.ids)[0] for snapshot in snapshots] == [0, 78, 178]
    assert len(stored) == len(live) == 121  # keys 179-299
    records = [record.model_dump_json().encode() for record in stored]
    restored = DedupIndex(DedupConfig(graph_epoch=100, window_s=120))
    assert restore_index(restored, records, snapshot_file(tmp_path, snapshots[-1])) == "snapshot"
    assert restored.key_of == live.key_of and len(restored.ann) == 121
    assert bytes(restored.ann.save()) == bytes(live.ann.save())  # the evictions up to the snapshot are in it
    assert same_searches(live, restored, vectors[150:]) > 0


def test_a_write_abandoned_by_a_killed_worker_is_cleaned_up_and_a_live_writers_is_not(tmp_path: Path) -> None:
    path = tmp_path / "dedup" / "app.graph"
    path.parent.mkdir()
    no_such_process = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        abandoned = path.with_name(f"app.graph.{no_such_process}.tmp")
        writing = path.with_name(f"app.graph.{live.pid}.tmp")
        for file in (abandoned, writing):
            file.write_bytes(b"half a graph")
        GraphSnapshotFile(path)
        assert not abandoned.exists() and writing.exists()
    finally:
        live.kill()
        live.wait()


def test_a_snapshot_whose_header_does_not_describe_its_graph_is_not_used() -> None:
    _, stored, snapshots, _, _ = live_articles(120, epoch=100)
    records = [record.model_dump_json().encode() for record in stored]
    good = snapshots[0]
    moved = {key: article for key, article in good.ids.items() if key != 0} | {120: "a0"}
    for ids, next_key in ((moved, 150), (good.ids, 50)):  # a key its graph lacks; keys past its next key
        broken = GraphSnapshot(good.graph, next_key, ids, good.epoch)
        assert DedupIndex(DedupConfig(graph_epoch=100)).restore_from(records, broken) is False
    assert DedupIndex(DedupConfig(graph_epoch=100)).restore_from(records, good) is True
