"""`newsstream demo`, the first command a user runs, end to end against the embedded broker: the sample feed goes
through a real worker and the rewritten copies come out as duplicates of their original."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from streams.settings import Settings
from streams.top import scrape

pytestmark = pytest.mark.integration


def test_demo_prints_the_enriched_feed_and_the_copies_and_exits_cleanly(settings: Settings) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSSTREAM_")}
    env |= settings.to_env() | {"COLUMNS": "200"}
    finished = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--timeout", "240"],
        env=env, capture_output=True, text=True, timeout=420,
    )
    # Progress and status lines go to stderr, the enriched output to stdout.
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-6000:]
    assert "publishing 8 items of sample_feed.xml in publication order" in output
    assert "records per topic enriched: 5, duplicates: 3, events:" in output
    assert "all 8 articles accounted for" in output
    # The three copies of the dock strike point at the first-published report, with their tiers.
    copies = [line for line in output.splitlines() if "Dock workers walk out at Rotterdam port" in line and "│" in line]
    assert len(copies) == 3, output
    assert sum("near_duplicate" in line for line in copies) == 2 and sum("exact" in line for line in copies) == 1
    # Entities and events of an original are shown.
    assert "Central Bank of Kenya ORG" in output
    assert "event: Central Bank of Kenya --raise--> its benchmark lending rate" in output


def test_demo_keeps_the_worker_up_for_top_until_ctrl_c(settings: Settings) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSSTREAM_")}
    env |= settings.to_env() | {"COLUMNS": "200"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--timeout", "240", "--keep-running"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout or ()], daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not any("newsstream top http" in line for line in output):
            assert demo.poll() is None and time.monotonic() < deadline, "".join(output)[-6000:]
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        url = re.search(r"newsstream top (http://\S+/metrics)", "".join(output))
        assert url is not None
        # The worker is still up after the demo's output: its metrics count the eight articles it decided.
        assert scrape(url.group(1))[("newsstream_records_in_total", (("agent", "decide"),))] == 8
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    time.sleep(0.5)  # the reader thread drains what the demo printed last
    while not lines.empty():
        output.append(lines.get())
    assert "all 8 articles accounted for" in "".join(output)
    assert "shutting down" in "".join(output)
