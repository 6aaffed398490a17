"""CPU time by thread role: the counter names the busy thread, and the roles add up to the process's CPU time."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import generate_latest

from streams.metrics import Metrics
from streams.thread_cpu import OTHER, cpu_by_role, thread_role
from streams.top import parse

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

TICK = 0.01  # /proc counts CPU time in clock ticks


def spin(cpu_seconds: float) -> float:
    """Burn this much of the calling thread's CPU time; returns what it used."""
    started = time.thread_time()
    while time.thread_time() - started < cpu_seconds:
        sum(range(1000))
    return time.thread_time() - started


class ConsumerService:
    """Stands for a mode service whose thread runs it, as Faust's Kafka consumer thread is."""


def test_roles_of_threads() -> None:
    assert thread_role(threading.main_thread()) == "event_loop"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="models") as pool:
        assert pool.submit(lambda: thread_role(threading.current_thread())).result() == "models"
    service_thread = threading.Thread(name="Thread-7")
    assert thread_role(service_thread) is None
    service_thread.service = ConsumerService()  # type: ignore[attr-defined]
    assert thread_role(service_thread) == "kafka_consumer"


def test_the_busy_thread_is_counted_and_the_roles_add_up_to_the_process() -> None:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="busy") as pool:
        before = cpu_by_role().get("busy", 0.0)
        used = pool.submit(spin, 0.3).result()
        process_before = time.process_time()
        roles = cpu_by_role()
        process_after = time.process_time()
    # A few ticks of slack: a kernel that samples CPU time at its tick charges whole ticks to whichever thread runs.
    assert roles["busy"] - before == pytest.approx(used, abs=5 * TICK)
    assert {"event_loop", "busy", OTHER} <= set(roles)
    assert process_before - len(roles) * TICK <= sum(roles.values()) <= process_after + len(roles) * TICK


def test_the_workers_registry_exports_the_counter() -> None:
    samples = parse(generate_latest(Metrics().registry).decode())
    roles = {dict(labels)["thread"]: value for (name, labels), value in samples.items()
             if name == "newsstream_thread_cpu_seconds_total"}
    assert "event_loop" in roles and OTHER in roles
    assert roles["event_loop"] > 0
