"""The decide worker's in-memory dedup index, kept in step with its Faust table across table recoveries.

Faust recovers the table after every rebalance of the group; the table's store (``streams/table_store.py``) keeps
its records and reads only the changelog's tail, and reports each change it applies, on the owner and on a standby
alike. The index follows those changes as the owner's decisions made them, so a rebalance, and a standby taking over
the decisions, keep it: a rebuild stalls the decisions for minutes at a large window (a million articles: 8.4 minutes
here). It is rebuilt only when it could not follow, in a thread (the event loop must keep beating), and never twice
at once: Faust does not cancel a recovery's callbacks when the next rebalance starts, so they take turns. A rebuild starts
from the last snapshot of the HNSW graph in the worker's data directory when it fits the table (a restart on the same
machine): inserting every article again is most of a rebuild's time. No Kafka here: the agent passes the table's
store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from streams.dedup import DedupIndex, GraphSnapshot, StoredArticle
from streams.table_store import Change

log = logging.getLogger(__name__)

Restored = Literal["rebuilt", "snapshot"]
MAGIC = b"newsstream dedup graph 1\n"
HEADER_LENGTH = struct.Struct("<Q")
CHECKSUM = struct.Struct("<I")  # CRC-32 of the header and the graph, at the end of the file
FOLLOW_CHUNK = 256  # table changes the index follows between two turns of the event loop (about 0.1 s)


class GraphSnapshotFile:
    """The newest ``GraphSnapshot`` in one file: the magic line, the header's length, the header (JSON: epoch, next
    key, the graph's keys and articles), usearch's serialised graph and a CRC-32 of the header and the graph. Written in a thread of its own, only the
    newest snapshot waiting, and replaced atomically, so a worker killed while writing leaves the previous one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._waiting: GraphSnapshot | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup-snapshot")
        self._remove_abandoned_writes()

    def _temporary(self, pid: int) -> Path:
        # A name of each process's own: two workers sharing a data directory may both write one (a rebuild cut short
        # by a rebalance runs on while the next owner rebuilds); the last complete file wins.
        return self.path.with_name(f"{self.path.name}.{pid}.tmp")

    def _remove_abandoned_writes(self) -> None:
        """Delete the temporary files of writers killed while writing (each up to the graph's size). This process has
        written none yet: a file with its own pid is a dead writer's too (a container's worker is often pid 1)."""
        for temporary in self.path.parent.glob(f"{self.path.name}.*.tmp"):
            pid = temporary.name.removeprefix(f"{self.path.name}.").removesuffix(".tmp")
            if pid.isdigit() and (int(pid) == os.getpid() or not _running(int(pid))):
                temporary.unlink(missing_ok=True)

    def save_soon(self, snapshot: GraphSnapshot) -> Future[None]:
        with self._lock:
            self._waiting = snapshot
        return self._writer.submit(self._write_waiting)

    def _write_waiting(self) -> None:
        with self._lock:
            snapshot, self._waiting = self._waiting, None
        if snapshot is None:  # a later call wrote it
            return
        started = time.perf_counter()
        try:
            self.write(snapshot)
        except Exception as exc:  # a full or read-only disk costs the next restart time, never a decision
            log.warning("dedup graph snapshot not written", extra={"path": str(self.path), "error": repr(exc)})
            return
        log.info("dedup graph snapshot written", extra={
            "articles": len(snapshot.ids), "bytes": len(snapshot.graph), "seconds": round(time.perf_counter() - started, 3),
        })

    def write(self, snapshot: GraphSnapshot) -> None:
        keys = list(snapshot.ids)
        # JSON holds the GIL: about 0.3 s at a million articles, once an epoch, in this thread.
        header = json.dumps({
            "epoch": snapshot.epoch, "next_key": snapshot.next_key, "keys": keys, "ids": [snapshot.ids[key] for key in keys],
        }).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._temporary(os.getpid())
        try:
            with open(temporary, "wb") as file:
                file.write(MAGIC + HEADER_LENGTH.pack(len(header)) + header)
                file.write(snapshot.graph)
                # Over the header and the graph: usearch would take a damaged link for a node, and a damaged key in
                # the header would give two articles one key.
                file.write(CHECKSUM.pack(zlib.crc32(snapshot.graph, zlib.crc32(header))))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def read(self) -> GraphSnapshot | None:
        """The snapshot, or None if there is none or it cannot be read (logged: the restore then starts from scratch)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("dedup graph snapshot not read", extra={"path": str(self.path), "error": str(exc)})
            return None
        try:
            if not data.startswith(MAGIC):
                raise ValueError("not a dedup graph snapshot")
            start = len(MAGIC) + HEADER_LENGTH.size
            (length,) = HEADER_LENGTH.unpack_from(data, len(MAGIC))
            # Views, not copies: the graph is most of the file (0.5 GB at a million articles).
            content = memoryview(data)[start : len(data) - CHECKSUM.size]
            if len(data) < start + CHECKSUM.size or zlib.crc32(content) != CHECKSUM.unpack_from(data, len(data) - CHECKSUM.size)[0]:
                raise ValueError("the checksum does not match: a damaged or partial file")
            header = json.loads(content[:length].tobytes())
            ids = dict(zip((int(key) for key in header["keys"]), header["ids"], strict=True))
            return GraphSnapshot(content[length:], int(header["next_key"]), ids, int(header["epoch"]))
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            log.warning("dedup graph snapshot not read", extra={"path": str(self.path), "error": str(exc)})
            return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def restore_index(index: DedupIndex, records: Sequence[bytes], snapshots: GraphSnapshotFile | None = None) -> Restored:
    """Rebuild ``index`` from the dedup table's records (JSON), in table order, from the last graph snapshot if it
    fits. Blocking: minutes for a large window from scratch."""

    if records and snapshots is not None and snapshots.path.exists():
        try:
            # Not bound to a name here: restore_from lets the snapshot's buffer (the whole file) go once it is loaded.
            if index.restore_from(records, snapshots.read()):
                return "snapshot"
            log.info("dedup graph snapshot not used: unreadable, or it does not fit the table")
        except (RuntimeError, ValueError) as exc:  # a graph usearch cannot load
            log.warning("dedup graph snapshot not used", extra={"error": str(exc)})
    index.clear()
    index.add_many(StoredArticle.model_validate_json(record) for record in records)
    return "rebuilt"


class IndexKeeper:
    """Keeps the decide worker's index mirroring the dedup table. It follows the changes the table's store applies
    from the changelog (a standby's reading, a recovery's tail, this worker's own records read again), as the worker
    that wrote them changed its index: so a standby that takes over, or an owner after a rebalance, keeps its index.
    After each recovery it keeps the index, or rebuilds it from the table in a thread when it could not follow: never
    built, records dropped (a partition lost), or a change the owner's decisions do not make."""

    def __init__(self, index: DedupIndex, restore: Callable[[DedupIndex, list[bytes]], Restored] = restore_index) -> None:
        self.index = index
        # Clear while the index is being rebuilt: the decide agent waits on it. Faust starts no stream before the
        # first recovery, so it starts set (the agents' test context has no recovery).
        self.ready = asyncio.Event()
        self.ready.set()
        self._restore = restore
        # Faust does not cancel a recovery's callbacks when the next rebalance starts: two may overlap.
        self._recovering = asyncio.Lock()
        self._rebuild: asyncio.Future[Restored] | None = None
        self._mirrors = False  # the index, with the changes queued, mirrors the table
        self._queued: deque[Change] = deque()
        self._follower: asyncio.Task[None] | None = None
        self._evicted_ahead: set[str] = set()  # evicted here as the owner did, their tombstones not read yet

    def on_changes(self, changes: list[Change]) -> None:
        """Changes the table's store applied (on the event loop). Queued, and followed by a task of their own so
        that Faust's changelog reading does not wait for the index's insertions."""
        if not self._mirrors:
            return  # the next recovery rebuilds the index from the table, these changes included
        self._queued.extend(changes)
        if self._follower is None or self._follower.done():
            self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        rebuild = self._rebuild
        if rebuild is not None:  # the changes come after the records the rebuild reads
            await asyncio.wait([rebuild])
            if rebuild.exception() is not None:
                return  # no index to follow: the recovery that ran the rebuild stops the following
        while self._queued and self._mirrors:
            for _ in range(min(len(self._queued), FOLLOW_CHUNK)):
                change = self._queued.popleft()
                try:
                    followed = self._replay(change)
                except Exception as exc:  # the index may be half-changed: rebuilt at the next recovery
                    log.error("dedup index failed to follow the table", exc_info=exc)
                    followed = False
                if not followed:
                    log.warning("dedup index cannot follow the table; rebuilt at the next recovery", extra={
                        "key": str(change.key), "had_record": change.before is not None, "has_record": change.after is not None,
                    })
                    self._mirrors = False
                    self._queued.clear()
                    break
            await asyncio.sleep(0)  # let heartbeats and fetches in between chunks

    def _replay(self, change: Change) -> bool:
        """Apply one table change to the index as the owner's decision made it; False if no decision makes it."""
        key, before, after = change
        if before == after:  # a record read again
            return True
        if before is None:  # a new article: added, and what it pushes out of the window evicted, as the owner did
            try:
                stored = StoredArticle.model_validate_json(after)
            except ValidationError:
                return False
            if stored.id != key:
                return False
            self.index.add(stored)
            self._evicted_ahead.update(self.index.evict_expired())
            return True
        if after is not None:
            return False  # a record replaced: another history than the index's
        if key not in self._evicted_ahead:
            # A rebuild that read the table between an article and the tombstones of those it pushed out (rebuilds do
            # not evict) holds them still.
            self._evicted_ahead.update(self.index.evict_expired())
        if key not in self._evicted_ahead:
            return False  # deleted before its time
        self._evicted_ahead.discard(key)  # the owner's tombstone for an article evicted here
        return True

    async def _caught_up(self) -> None:
        while self._follower is not None and not self._follower.done():
            await asyncio.wait([self._follower])

    async def on_recover(self, table: Mapping[str, bytes]) -> Restored | Literal["kept"]:
        """After a table recovery: how the index came out of it (kept, or rebuilt from scratch or a snapshot). On a
        standby this waits until the index has followed the changes read so far: do not make Faust wait for it."""
        async with self._recovering:
            if self._rebuild is not None:
                # A rebuild whose recovery was cancelled (the worker stopping) still runs in its thread.
                await asyncio.wait([self._rebuild])
                self._rebuild = None
            await self._caught_up()
            # Every decided article of the window, copies included, has one table record and one expiry entry.
            if self._mirrors and len(self.index.expiry) == len(table):
                self.ready.set()
                return "kept"
            self.ready.clear()
            records = list(table.values())
            # From here on, changes are applied after the records read now.
            self._queued.clear()
            self._evicted_ahead.clear()
            self._mirrors = True
            log.info("dedup index rebuilding from the table", extra={"records": len(records)})
            started = time.perf_counter()
            self._rebuild = asyncio.get_running_loop().run_in_executor(None, self._restore, self.index, records)
            try:
                outcome = await asyncio.shield(self._rebuild)
            except Exception:
                self._mirrors = False  # the next recovery tries again
                raise
            finally:
                if self._rebuild.done():
                    self._rebuild = None
            await self._caught_up()
            self.ready.set()
            log.info("dedup index rebuilt", extra={
                "articles": len(self.index), "from": outcome, "seconds": round(time.perf_counter() - started, 3),
            })
            return outcome
