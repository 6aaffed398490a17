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
from streams import dedup, hnsw_graph
from streams.dedup import Candidate, DedupConfig, DedupIndex, GraphSnapshot, StoredArticle, quantize
from streams.dedup_state import GraphSnapshotFile, IndexKeeper, Restored, restore_index
from streams.fingerprint import fingerprint
from streams.table_store import Change
from tests.test_dedup import FOLLOW_UP, OTHER_QUAKE, QUAKE, stored_from, unit


def table_of(*records: tuple[str, np.ndarray, str, float]) -> dict[str, bytes]:
    index = DedupIndex()
    return {
        article: stored_from(index, article, vector, body, when=when).model_dump_json().encode()
        for article, vector, body, when in records
    }


class Decided(NamedTuple):
    live: DedupIndex
    stored: list[StoredArticle]  # the table's records (the window's)
    snapshots: list[GraphSnapshot]  # the graph snapshots the index took
    vectors: np.ndarray
    bodies: list[str]
    changes: list[Change]  # the table's changes in the owner's order, as a standby's store applies them


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
    changes: list[Change] = []
    for number, (vector, body) in enumerate(zip(vectors, bodies, strict=True)):
        stored = stored_from(live, f"{prefix}{number}", vector, body, when=1_700_000_000.0 + number)
        table[stored.id] = stored
        changes.append(Change(stored.id, None, stored.model_dump_json().encode()))
        for expired in live.evict_expired():
            changes.append(Change(expired, table.pop(expired).model_dump_json().encode(), None))
    return Decided(live, list(table.values()), snapshots, vectors, bodies, changes)


def records_of(decided: Decided) -> dict[str, bytes]:
    return {stored.id: stored.model_dump_json().encode() for stored in decided.stored}


async def test_a_standby_index_follows_the_changelog_and_takes_over_the_decisions_without_a_rebuild() -> None:
    owner = live_articles(300, epoch=100, window_s=120.0)  # evictions all along
    table = records_of(owner)
    assert len(table) == 121 and len(owner.changes) == 300 + 179
    standby = DedupIndex(DedupConfig(graph_epoch=100, window_s=120.0))
    keeper = IndexKeeper(standby)
    keeper.on_changes(owner.changes[:5])  # before the first recovery: read from the table by the rebuild instead
    assert await keeper.on_recover({change.key: change.after for change in owner.changes[:5]}) == "rebuilt"
    for start in range(5, len(owner.changes), 64):  # in batches, as the store applies them
        keeper.on_changes(owner.changes[start : start + 64])
    # The standby takes over: the index followed every change, so it stands.
    assert await keeper.on_recover(table) == "kept"
    assert standby.key_of.keys() == owner.live.key_of.keys() and sorted(standby.expiry) == sorted(owner.live.expiry)
    assert standby.story_of == owner.live.story_of and standby.by_text == owner.live.by_text
    assert same_searches(owner.live, standby, owner.vectors[-100:]) > 100 * 5
    follow_up = Candidate("new", None, "k", quantize(owner.vectors[250]), fingerprint("", "Updated: " + owner.bodies[250]), 1_700_000_300.0)
    assert standby.decide(follow_up) == owner.live.decide(follow_up)
    assert standby.decide(follow_up)[0].tier is DedupTier.NEAR_DUPLICATE
    # A later rebalance in which the recovery reads this worker's own records again: nothing changes.
    keeper.on_changes([Change(key, record, record) for key, record in table.items()])
    assert await keeper.on_recover(table) == "kept"


async def test_the_index_is_rebuilt_when_the_table_changed_in_a_way_no_decision_changes_it() -> None:
    owner = live_articles(40, epoch=100)
    table = records_of(owner)
    index = DedupIndex(DedupConfig(graph_epoch=100))
    keeper = IndexKeeper(index)
    assert await keeper.on_recover(table) == "rebuilt"
    assert await keeper.on_recover(table) == "kept"

    # A record replaced: another history than the one the index holds (a worker's write that never reached Kafka).
    other = live_articles(1, epoch=100, seed=8)
    replaced = other.stored[0].model_copy(update={"id": "a3"}).model_dump_json().encode()
    keeper.on_changes([Change("a3", table["a3"], replaced)])
    table["a3"] = replaced
    assert await keeper.on_recover(table) == "rebuilt"
    assert index._holds([(index.key_of["a3"], other.stored[0].embedding_i8)])  # the table's record now

    # A record under another article's key.
    keeper.on_changes([Change("x", None, table["a5"])])
    table["x"] = table["a5"]
    assert await keeper.on_recover(table) == "rebuilt"
    del table["x"]

    # Deleted before its time (the owner evicts only what the window pushes out), or dropped with a lost partition.
    keeper.on_changes([Change("a7", table.pop("a7"), None)])
    assert await keeper.on_recover(table) == "rebuilt" and "a7" not in index.key_of
    keeper.on_changes([Change(key, table.pop(key), None) for key in list(table)])
    assert await keeper.on_recover(table) == "rebuilt" and len(index) == 0 and not index.expiry


class GatedRestore:
    """``restore_index`` that waits until the test sets ``release``, counting the rebuilds running at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, index: DedupIndex, records: list[bytes]) -> Restored:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.release.wait(10)
        outcome = restore_index(index, records)
        with self._lock:
            self.running -= 1
        return outcome


async def test_overlapping_recoveries_run_one_rebuild_at_a_time_and_decisions_wait() -> None:
    table = table_of(("a", unit(1, 0, 0), QUAKE, 4000.0), ("b", unit(0, 1, 0), OTHER_QUAKE, 5000.0))
    restore = GatedRestore()
    index = DedupIndex()
    keeper = IndexKeeper(index, restore)
    first = asyncio.ensure_future(keeper.on_recover(table))
    await asyncio.sleep(0.05)
    assert not keeper.ready.is_set() and restore.running == 1
    # A new rebalance meanwhile (Faust does not cancel the first recovery's callback): its recovery read this
    # worker's own records again, and another worker's new one.
    newcomer = table_of(("c", unit(1, 1, 0), FOLLOW_UP, 5100.0))["c"]
    keeper.on_changes([Change("a", table["a"], table["a"]), Change("b", table["b"], table["b"]), Change("c", None, newcomer)])
    table["c"] = newcomer
    second = asyncio.ensure_future(keeper.on_recover(table))
    await asyncio.sleep(0.05)
    assert not second.done() and not keeper.ready.is_set() and "c" not in index.key_of
    restore.release.set()
    # The rebuild read the table as it was ("a" and "b"); "c" was then followed, and the second recovery kept that.
    assert await asyncio.wait_for(first, 10) == "rebuilt"
    assert await asyncio.wait_for(second, 10) == "kept"
    assert restore.most_at_once == 1 and keeper.ready.is_set()
    assert sorted(index.key_of) == ["a", "b", "c"] and len(index.expiry) == 3
    assert await keeper.on_recover(table) == "kept"  # nothing changed since


async def test_two_recoveries_waiting_for_the_follower_do_not_rebuild_the_index_twice_at_once() -> None:
    owner = live_articles(60, epoch=100)
    table = records_of(owner)
    restore = GatedRestore()
    restore.release.set()
    index = DedupIndex(DedupConfig(graph_epoch=100))
    keeper = IndexKeeper(index, restore)
    assert await keeper.on_recover(table) == "rebuilt"
    # More changes than the follower takes in one turn of the loop, the last one not one it can follow.
    replaced = live_articles(1, epoch=100, seed=8).stored[0].model_copy(update={"id": "a3"}).model_dump_json().encode()
    keeper.on_changes([Change(key, record, record) for key, record in table.items()] * 5 + [Change("a3", table["a3"], replaced)])
    table["a3"] = replaced
    restore.release.clear()
    first, second = asyncio.ensure_future(keeper.on_recover(table)), asyncio.ensure_future(keeper.on_recover(table))
    await asyncio.sleep(0.1)
    # Both waited for the follower; the first rebuilds, and the second waits for it: the index is not whole yet.
    assert not first.done() and not second.done() and not keeper.ready.is_set()
    restore.release.set()
    assert await asyncio.wait_for(first, 10) == "rebuilt" and await asyncio.wait_for(second, 10) == "kept"
    assert restore.most_at_once == 1 and len(index.expiry) == len(table) == 60


async def test_a_rebuild_from_a_table_read_between_an_article_and_its_evictions_follows_the_tombstones() -> None:
    owner = live_articles(200, epoch=100, window_s=60.0)
    # The table as a standby's store holds it just after an article whose evictions are still to come.
    cut = next(number for number, change in enumerate(owner.changes) if change.after is None) - 1
    table = {change.key: change.after for change in owner.changes[: cut + 1]}
    index = DedupIndex(DedupConfig(graph_epoch=100, window_s=60.0))
    keeper = IndexKeeper(index)
    assert await keeper.on_recover(dict(table)) == "rebuilt"  # rebuilds do not evict: it holds the articles to go
    keeper.on_changes(owner.changes[cut + 1 :])
    assert await keeper.on_recover(records_of(owner)) == "kept"
    assert index.key_of.keys() == owner.live.key_of.keys()


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
    live, stored, snapshots, vectors, bodies, _ = live_articles(450, epoch=100)
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
    _, stored, snapshots, vectors, _, _ = live_articles(260, epoch=100)
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
    _, stored, snapshots, _, _, _ = live_articles(120, epoch=100)
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
    live, stored, snapshots, vectors, _, _ = live_articles(300, epoch=100, window_s=120)
    # Each snapshot is taken as its epoch's last article is added, before the evictions that article's time causes.
    assert [sorted(snapshot.ids)[0] for snapshot in snapshots] == [0, 78, 178]
    assert len(stored) == len(live) == 121  # keys 179-299
    records = [record.model_dump_json().encode() for record in stored]
    restored = DedupIndex(DedupConfig(graph_epoch=100, window_s=120))
    assert restore_index(restored, records, snapshot_file(tmp_path, snapshots[-1])) == "snapshot"
    assert restored.key_of == live.key_of and len(restored.ann) == 121
    live._remove_evicted()  # evicted since the snapshot, and left in the graph until a batch of them is removed
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
    _, stored, snapshots, _, _, _ = live_articles(120, epoch=100)
    records = [record.model_dump_json().encode() for record in stored]
    good = snapshots[0]
    moved = {key: article for key, article in good.ids.items() if key != 0} | {120: "a0"}
    for ids, next_key in ((moved, 150), (good.ids, 50)):  # a key its graph lacks; keys past its next key
        broken = GraphSnapshot(good.graph, next_key, ids, good.epoch)
        assert DedupIndex(DedupConfig(graph_epoch=100)).restore_from(records, broken) is False
    assert DedupIndex(DedupConfig(graph_epoch=100)).restore_from(records, good) is True


def test_a_snapshot_of_a_graph_with_other_links_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(dedup, "GRAPH_BASE_LINKS", 16)  # usearch's default, the graphs written before 2026-12-01
        _, stored, snapshots, _, _, _ = live_articles(120, epoch=100)
    assert hnsw_graph.links(snapshots[0].graph) == (8, 16)
    records = [record.model_dump_json().encode() for record in stored]

    index = DedupIndex(DedupConfig(graph_epoch=100))
    assert restore_index(index, records, snapshot_file(tmp_path, snapshots[0])) == "rebuilt"
    assert hnsw_graph.links(index.ann.save()) == (8, 12) and len(index.ann) == 120
