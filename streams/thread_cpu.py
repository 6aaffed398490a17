"""CPU time of a worker's threads, by role, as a Prometheus counter: which part of a worker is busy (the event loop,
the model threads, the Kafka consumer thread), read from ``/proc`` at each scrape. Linux only: elsewhere the
counter has no samples."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

PROC_SELF = Path("/proc/self")
# Threads the process has but Python does not name: ONNX Runtime's and BLAS's pools, and Python threads that come
# and go (the metrics server's per-request threads). Also the time of threads that have exited, so the sum over
# every role is the process's CPU time.
OTHER = "other"
_POOL_SUFFIX = re.compile(r"_\d+$")  # ThreadPoolExecutor names its threads <prefix>_<n>
_GENERIC_NAME = re.compile(r"Thread-\d+")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc counts CPU time in ticks


def cpu_seconds(stat_file: Path) -> float | None:
    """User plus system time from a ``/proc/.../stat`` file, or None when it is gone (a thread that has exited)."""
    try:
        stat = stat_file.read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces and parentheses): state is the first, utime the 12th.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_role(thread: threading.Thread) -> str | None:
    """What a thread does, for the counter's label; None for a thread without a telling name (counted as other)."""
    if thread is threading.main_thread():
        return "event_loop"  # a worker's main thread runs asyncio: Faust, the agents, aiokafka's producer
    service = getattr(thread, "service", None)  # mode's service threads, e.g. Faust's Kafka consumer
    if service is not None:
        return "kafka_consumer" if "Consumer" in type(service).__name__ else type(service).__name__
    if _GENERIC_NAME.match(thread.name):
        return None
    return _POOL_SUFFIX.sub("", thread.name)


def cpu_by_role() -> dict[str, float]:
    """Seconds of CPU each role's threads have used since they started; ``other`` takes the rest of the process's."""
    roles: dict[str, float] = {}
    for thread in threading.enumerate():
        role = thread_role(thread)
        seconds = cpu_seconds(PROC_SELF / "task" / str(thread.native_id) / "stat") if role is not None else None
        if role is not None and seconds is not None:
            roles[role] = roles.get(role, 0.0) + seconds
    # The process last: read after its threads, its total is never below their sum.
    process = cpu_seconds(PROC_SELF / "stat")
    if process is None:
        return {}
    roles[OTHER] = max(0.0, process - sum(roles.values()))
    return roles


class ThreadCpuCollector(Collector):
    """``newsstream_thread_cpu_seconds_total{thread=...}``, computed when scraped."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "newsstream_thread_cpu_seconds",
            "CPU time the worker's threads used, by role: event_loop, models, embedding, kafka_consumer, other.",
            labels=["thread"],
        )
        for role, seconds in sorted(cpu_by_role().items()):
            family.add_metric([role], seconds)
        yield family
