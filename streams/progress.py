"""Per-partition progress of a worker's agents: lag from the broker's end offsets, and partitions that stall.

Faust's consumer learns a partition's highwater from its own fetch responses, so a partition it never fetches (the
stall faust-streaming's issues describe after rebalances, and the one seen here once after a kill) shows no lag at
all. The broker's end offsets do not depend on the fetcher: a partition with records waiting whose read position has
not moved for a while is stalled, and /healthz says so, so an orchestrator restarts the worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PartitionState:
    position: int  # the next offset the agent reads
    lag: int  # records waiting at the broker
    moved_at: float  # when position last changed, or the partition was last caught up


@dataclass
class PartitionProgress:
    """Plain bookkeeping, fed every few seconds by the worker's lag timer."""

    states: dict[str, PartitionState] = field(default_factory=dict)

    def observe(self, partition: str, position: int, end_offset: int, now: float) -> int:
        """Record where ``partition`` is read up to against its end offset; returns its lag."""
        lag = max(0, end_offset - position)
        before = self.states.get(partition)
        moved = before is None or before.position != position or lag == 0
        self.states[partition] = PartitionState(position, lag, now if moved else before.moved_at)
        return lag

    def keep_only(self, partitions: Iterable[str]) -> None:
        """Forget partitions no longer assigned (a rebalance moved them)."""
        assigned = set(partitions)
        self.states = {name: state for name, state in self.states.items() if name in assigned}

    def stalled(self, now: float, limit_s: float) -> dict[str, PartitionState]:
        """Partitions with records waiting and no progress for longer than ``limit_s``."""
        return {name: state for name, state in self.states.items() if state.lag and now - state.moved_at > limit_s}
