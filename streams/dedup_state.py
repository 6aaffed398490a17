"""The decide worker's in-memory dedup index, kept in step with its Faust table across table recoveries.

Faust recovers the table after every rebalance of the group, also on the worker that keeps the decide partition, and
with the in-memory store it first reads again the changelog records that worker wrote itself since it started. Those
leave the table as it was; rebuilding a large index for them would stall every decision for minutes each time a worker
joins or leaves (a million articles: 8.4 minutes here). So the index is rebuilt only when a recovery leaves the table
different, in a thread (the event loop must keep beating), and never twice at once: a rebalance that starts during a
rebuild cancels Faust's recovery callback, not the thread. A rebuild starts from the last snapshot of the HNSW graph
in the worker's data directory when it fits the table (a restart on the same machine): inserting every article again
is most of a rebuild's time. No Kafka here: the agent passes the table's store.
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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from streams.dedup import DedupIndex, GraphSnapshot, StoredArticle

log = logging.getLogger(__name__)

Restored = Literal["rebuilt", "snapshot"]
MAGIC = b"newsstream dedup graph 1\n"
HEADER_LENGTH = struct.Struct("<Q")
CHECKSUM = struct.Struct("<I")  # CRC-32 of the header and the graph, at the end of the file


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

    if snapshots is not None and snapshots.path.exists():
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

    def __init__(self, index: DedupIndex, restore: Callable[[DedupIndex, list[bytes]], Restored] = restore_index) -> None:
        self.index = index
        self.freshness = IndexFreshness()
        # Clear while the index is being rebuilt: the decide agent waits on it. Faust starts no stream before the
        # first recovery, so it starts set (the agents' test context has no recovery).
        self.ready = asyncio.Event()
        self.ready.set()
        self._restore = restore
        self._rebuild: asyncio.Future[Restored] | None = None

    def note_changelog_record(self, key: str, current: bytes | None) -> None:
        self.freshness.note_changelog_record(key, current)

    async def on_recover(self, table: Mapping[str, bytes]) -> Restored | Literal["kept"]:
        """After a table recovery: how the index came out of it (kept, or rebuilt from scratch or a snapshot)."""
        if self._rebuild is not None:
            # A rebuild that a rebalance cut short still runs in its thread; wait for it rather than start another.
            await asyncio.shield(self._rebuild)
            self._rebuild = None
        if not self.freshness.needs_rebuild(self.index, table):
            self.ready.set()
            return "kept"
        self.ready.clear()
        records = list(table.values())
        self.freshness.mirrored()  # changelog records from now on are compared with the table as it is now
        log.info("dedup index rebuilding from the table", extra={"records": len(records)})
        started = time.perf_counter()
        self._rebuild = asyncio.get_running_loop().run_in_executor(None, self._restore, self.index, records)
        outcome = await asyncio.shield(self._rebuild)
        self._rebuild = None
        self.ready.set()
        log.info("dedup index rebuilt", extra={
            "articles": len(self.index), "from": outcome, "seconds": round(time.perf_counter() - started, 3),
        })
        return outcome
