"""Partition progress: lag against the broker's end offsets, and a partition with records waiting that does not move
is reported stalled, on /healthz too; a busy or idle one is not."""

from __future__ import annotations

from streams.healthcheck import check
from streams.progress import PartitionProgress, PartitionState
from tests.test_healthcheck import served


def test_a_partition_that_reads_on_is_not_stalled_however_long_its_backlog() -> None:
    progress = PartitionProgress()
    for second in range(0, 600, 5):
        assert progress.observe("raw[0]", position=second, end_offset=10_000, now=float(second)) == 10_000 - second
    assert progress.stalled(now=600.0, limit_s=120.0) == {}


def test_an_idle_partition_is_not_stalled() -> None:
    progress = PartitionProgress()
    for second in range(0, 600, 5):
        assert progress.observe("raw[1]", position=42, end_offset=42, now=float(second)) == 0
    assert progress.stalled(now=600.0, limit_s=120.0) == {}


def test_records_waiting_and_no_progress_past_the_limit_is_a_stall() -> None:
    progress = PartitionProgress()
    progress.observe("raw[3]", position=0, end_offset=0, now=0.0)  # caught up
    progress.observe("raw[3]", position=0, end_offset=1, now=5.0)  # a record arrives, and is never read
    progress.observe("raw[3]", position=0, end_offset=1, now=100.0)
    assert progress.stalled(now=100.0, limit_s=120.0) == {}
    progress.observe("raw[3]", position=0, end_offset=2, now=130.0)
    assert progress.stalled(now=130.0, limit_s=120.0) == {"raw[3]": PartitionState(position=0, lag=2, moved_at=0.0)}

    progress.observe("raw[3]", position=1, end_offset=2, now=135.0)  # reading again
    assert progress.stalled(now=135.0, limit_s=120.0) == {}


def test_a_partition_moved_away_by_a_rebalance_is_forgotten() -> None:
    progress = PartitionProgress()
    progress.observe("raw[0]", position=0, end_offset=5, now=0.0)
    progress.observe("raw[1]", position=0, end_offset=5, now=0.0)
    progress.keep_only(["raw[1]"])
    assert set(progress.stalled(now=500.0, limit_s=120.0)) == {"raw[1]"}


def test_health_reports_the_stalled_partitions_and_recovers_with_them() -> None:
    metrics, settings = served()
    metrics.beat()
    metrics.report_stalled({"raw[3]": PartitionState(position=0, lag=2, moved_at=0.0)})
    problem = check(settings)
    assert problem is not None and "503" in problem and "raw[3] (2 records waiting at offset 0)" in problem

    metrics.report_stalled({})
    assert check(settings) is None
