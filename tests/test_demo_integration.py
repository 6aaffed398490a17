"""`newsstream demo`, the first command a user runs, end to end against the embedded broker: the sample feed goes
through a real worker and the rewritten copies come out as duplicates of their original."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streams.settings import Settings

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
