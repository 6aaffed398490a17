"""Faust's in-memory table store, made to resume a changelog where it stopped and to report what it applies.

Faust's own in-memory store persists no changelog offset, so every recovery (each rebalance of the group) reads a
table's changelog from the start again, also on the worker that kept the partition; and it drops a standby's records
when a recovery ends, so the standby that takes over reads the whole changelog again too. For the dedup table that is
a minute per 100,000 articles each time. This store keeps, as Faust's RocksDB store does on disk, the offset of the
last changelog record it applied per partition, and keeps the records of standby partitions as well as active ones:
a recovery then reads only the changelog's tail. It also tells a listener each change it applies (key, record
before, record after), so that state derived from the table (the dedup index) can follow a standby's table instead
of being rebuilt when the standby takes over.

Registered with Faust as ``newsstream-memory://`` (entry point ``faust.stores`` in pyproject.toml). Meant for
single-partition tables: records the worker writes itself carry no partition here (as in Faust's store), so they are
dropped only when the worker holds no partition of the table at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from faust.stores.memory import Store as MemoryStore
from faust.types import TP, EventT

STORE_URL = "newsstream-memory://local"  # a URL without a host is falsy to yarl, and Faust then takes its default


class Change(NamedTuple):
    key: Any
    before: Any  # the record the table held, None if it held none
    after: Any  # the record it holds now, None if the key was deleted


ChangeListener = Callable[[list[Change]], None]


class ResumableMemoryStore(MemoryStore):
    """In-memory store that keeps standby partitions' records and the changelog offset applied per partition."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.applied_offsets: dict[TP, int] = {}
        self._held: set[int] | None = None  # partitions held at the last recovery's end (None: none ended yet)
        # Called on the event loop after each applied batch and after records are dropped; it must not block long.
        self.on_changes: ChangeListener | None = None

    def apply_changelog_batch(
        self, batch: Iterable[EventT], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        """Apply the batch record by record (the same end state as Faust's store), noting each change."""
        changes: list[Change] = []
        for event in batch:
            message = event.message
            key = to_key(event.key)
            before = self.data.get(key)
            if message.value is None:  # a tombstone
                self.data.pop(key, None)
                self._key_partition.pop(key, None)
                after = None
            else:
                after = self.data[key] = to_value(event.value)
                self._key_partition[key] = message.partition
            changes.append(Change(key, before, after))
            self.applied_offsets[message.tp] = max(self.applied_offsets.get(message.tp, -1), message.offset)
        self._report(changes)

    def _clear(self) -> None:
        super()._clear()
        self.applied_offsets.clear()  # the next recovery reads the changelog from its start

    def persisted_offset(self, tp: TP) -> int | None:
        """The offset of the last changelog record this store holds for ``tp``: a recovery reads on from there."""
        return self.applied_offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Faust calls this when a record this worker wrote reached the changelog; not for a partition dropped since
        (a late acknowledgement would make the next recovery of it skip the records before)."""
        if self._held is None or tp.partition in self._held:
            self.applied_offsets[tp] = max(self.applied_offsets.get(tp, -1), offset)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Keep the records of the partitions this worker holds, active or standby; drop the others, and their
        offsets, so that a partition assigned again later is read from the start."""
        held = self._held = {tp.partition for tp in active_tps | standby_tps}
        if held:
            dropped = [key for key, partition in self._key_partition.items() if partition not in held]
        else:
            dropped = list(self.data)  # the worker's own records too, which carry no partition here
        changes = [Change(key, self.data.pop(key, None), None) for key in dropped]
        for key in dropped:
            self._key_partition.pop(key, None)
        for tp in [tp for tp in self.applied_offsets if tp.partition not in held]:
            del self.applied_offsets[tp]
        self._report(changes)

    def _report(self, changes: list[Change]) -> None:
        if changes and self.on_changes is not None:
            self.on_changes(changes)
