"""The decide worker's in-memory dedup index, kept in step with its Faust table across table recoveries.

Faust recovers the table after every rebalance of the group, also on the worker that keeps the decide partition, and
with the in-memory store it first reads again the changelog records that worker wrote itself since it started. Those
leave the table as it was; rebuilding a large index for them would stall every decision for minutes each time a worker
joins or leaves (a million articles: 8.4 minutes here). So the index is rebuilt only when a recovery leaves the table
different, in a thread (the event loop must keep beating), and never twice at once: a rebalance that starts during a
rebuild cancels Faust's recovery callback, not the thread. No Kafka here: the agent passes the table's store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from streams.dedup import DedupIndex, StoredArticle

log = logging.getLogger(__name__)


def restore_index(index: DedupIndex, records: Iterable[bytes]) -> None:
    """Rebuild ``index`` from the dedup table's records (JSON), in table order. Blocking: minutes for a large window."""
    index.clear()
    index.add_many(StoredArticle.model_validate_json(record) for record in records)


@dataclass
class IndexFreshness:
    """Whether the index still mirrors the dedup table once a recovery is over: each key's record from before the
    first changelog record about it is kept, and the table compared with them at the end. A restore from scratch, a
    standby taking over, another worker's writes or the records of a partition this worker lost change it."""

    built: bool = False
    before: dict[str, bytes | None] = field(default_factory=dict)

    def note_changelog_record(self, key: str, current: bytes | None) -> None:
        """A changelog record about ``key`` is about to be applied; ``current`` is the table's record for it now."""
        if self.built:  # else the index is rebuilt anyway
            self.before.setdefault(key, current)

    def needs_rebuild(self, index: DedupIndex, table: Mapping[str, bytes]) -> bool:
        # Every decided article of the window, copies included, has one table record and one expiry entry.
        changed = any(table.get(key) != record for key, record in self.before.items())
        return not self.built or changed or len(index.expiry) != len(table)

    def mirrored(self) -> None:
        """The index mirrors (or is being rebuilt from) the table as it is now."""
        self.built = True
        self.before.clear()


class IndexKeeper:
    """Decides after each table recovery whether the index stands or is rebuilt, and runs the rebuild."""

    def __init__(self, index: DedupIndex, restore: Callable[[DedupIndex, list[bytes]], None] = restore_index) -> None:
        self.index = index
        self.freshness = IndexFreshness()
        # Clear while the index is being rebuilt: the decide agent waits on it. Faust starts no stream before the
        # first recovery, so it starts set (the agents' test context has no recovery).
        self.ready = asyncio.Event()
        self.ready.set()
        self._restore = restore
        self._rebuild: asyncio.Future[None] | None = None

    def note_changelog_record(self, key: str, current: bytes | None) -> None:
        self.freshness.note_changelog_record(key, current)

    async def on_recover(self, table: Mapping[str, bytes]) -> bool:
        """After a table recovery: True if the index was rebuilt, False if it was kept."""
        if self._rebuild is not None:
            # A rebuild that a rebalance cut short still runs in its thread; wait for it rather than start another.
            await asyncio.shield(self._rebuild)
            self._rebuild = None
        if not self.freshness.needs_rebuild(self.index, table):
            self.ready.set()
            return False
        self.ready.clear()
        records = list(table.values())
        self.freshness.mirrored()  # changelog records from now on are compared with the table as it is now
        log.info("dedup index rebuilding from the table", extra={"records": len(records)})
        started = time.perf_counter()
        self._rebuild = asyncio.get_running_loop().run_in_executor(None, self._restore, self.index, records)
        await asyncio.shield(self._rebuild)
        self._rebuild = None
        self.ready.set()
        log.info("dedup index rebuilt", extra={"articles": len(self.index), "seconds": round(time.perf_counter() - started, 3)})
        return True
