"""The dedup table's store: it resumes the changelog where it stopped, keeps a standby's records, reports changes."""

from __future__ import annotations

from types import SimpleNamespace

import faust
import pytest
from faust.types import TP

from streams.table_store import STORE_URL, Change, ResumableMemoryStore

CHANGELOG = "app-dedup-changelog"


def record(offset: int, key: str, value: bytes | None, partition: int = 0) -> SimpleNamespace:
    """A changelog event as Faust's recovery hands it to the store (value None: a tombstone)."""
    message = SimpleNamespace(value=value, partition=partition, offset=offset, tp=TP(CHANGELOG, partition))
    return SimpleNamespace(key=key, value=value, message=message)


@pytest.fixture
def store() -> ResumableMemoryStore:
    app = faust.App("store-test", broker="kafka://127.0.0.1:1")  # never started: no broker needed
    table = app.Table("dedup", partitions=1, key_type=str, value_type=bytes, store=STORE_URL)
    assert isinstance(table.data, ResumableMemoryStore)  # found by Faust through the package's entry point
    return table.data


def identity(value: object) -> object:
    return value


def test_a_batch_is_applied_record_by_record_and_each_change_reported(store: ResumableMemoryStore) -> None:
    reported: list[list[Change]] = []
    store.on_changes = reported.append
    store.apply_changelog_batch(
        [record(10, "a", b"1"), record(11, "b", b"2"), record(12, "a", None), record(13, "a", b"3"), record(14, "b", b"2")],
        identity, identity,
    )
    assert dict(store.data) == {"a": b"3", "b": b"2"}
    assert reported == [[
        Change("a", None, b"1"), Change("b", None, b"2"), Change("a", b"1", None), Change("a", None, b"3"), Change("b", b"2", b"2"),
    ]]
    store.apply_changelog_batch([record(15, "b", None), record(16, "c", None)], identity, identity)
    assert dict(store.data) == {"a": b"3"} and reported[1] == [Change("b", b"2", None), Change("c", None, None)]


def test_a_recovery_resumes_after_the_last_record_applied_or_written(store: ResumableMemoryStore) -> None:
    tp = TP(CHANGELOG, 0)
    assert store.persisted_offset(tp) is None  # nothing yet: Faust reads the changelog from its start
    store.apply_changelog_batch([record(4, "a", b"1"), record(7, "b", b"2")], identity, identity)
    assert store.persisted_offset(tp) == 7
    store.set_persisted_offset(tp, 9)  # this worker's own write reached the changelog
    store.set_persisted_offset(tp, 8)  # an older acknowledgement arriving late does not move it back
    assert store.persisted_offset(tp) == 9 and store.persisted_offset(TP(CHANGELOG, 1)) is None


async def test_a_standby_keeps_its_records_and_a_worker_that_holds_no_partition_drops_them(store: ResumableMemoryStore) -> None:
    tp = TP(CHANGELOG, 0)
    reported: list[list[Change]] = []
    store.on_changes = reported.append
    store.apply_changelog_batch([record(0, "a", b"1")], identity, identity)
    store.data["own"] = b"2"  # written by this worker's decisions: Faust's table sets the store directly
    store.set_persisted_offset(tp, 1)
    await store.on_recovery_completed(set(), {tp})  # standby now: Faust's own store would drop "a"
    assert dict(store.data) == {"a": b"1", "own": b"2"} and store.persisted_offset(tp) == 1
    await store.on_recovery_completed({tp}, set())  # active again
    assert len(store.data) == 2 and len(reported) == 1
    await store.on_recovery_completed(set(), set())  # neither: read from the start if ever assigned again
    assert dict(store.data) == {} and store.persisted_offset(tp) is None
    store.set_persisted_offset(tp, 2)  # a late acknowledgement of a write from before
    assert store.persisted_offset(tp) is None
    assert sorted(reported[-1]) == [Change("a", b"1", None), Change("own", b"2", None)]
