"""A worker logs at its configured level: Faust's start-up spinner would have turned the root logger to DEBUG."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

# In a child process: Faust's logging setup replaces the root logger's handlers, pytest's included.
LOGGING_SETUP = """
import logging, sys
import faust
from streams.cli import faust_worker
from streams.settings import Settings

app = faust.App("logging-check", broker="kafka://127.0.0.1:1")
worker = faust_worker(app, Settings(broker="127.0.0.1:1", log_level=sys.argv[1]))
worker._setup_logging()
with open(sys.argv[2], "w") as out:
    out.write(f"{logging.getLogger('aiokafka.producer').getEffectiveLevel()} {logging.root.level}")
"""


@pytest.mark.parametrize(("log_level", "expected"), [("warning", logging.WARNING), ("info", logging.INFO)])
def test_worker_loggers_keep_the_configured_level(tmp_path: Path, log_level: str, expected: int) -> None:
    levels = tmp_path / "levels"
    subprocess.run([sys.executable, "-c", LOGGING_SETUP, log_level, str(levels)], check=True, timeout=120)
    library_level, root_level = map(int, levels.read_text().split())
    assert (library_level, root_level) == (expected, expected)
