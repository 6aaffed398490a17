"""Shared helpers of the evaluations: where the datasets are, and a clear skip when they are absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def datasets_dir() -> Path:
    return Path(os.environ.get("NEWSSTREAM_DATASETS", DEFAULT_DATASETS))


def require(*relative: str) -> list[Path]:
    """The dataset files, or exit 0 with a message saying what is missing (evaluations are optional)."""
    paths = [datasets_dir() / name for name in relative]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        print(f"skipped: dataset files not found: {', '.join(missing)} (set NEWSSTREAM_DATASETS or DATASETS=...)")
        sys.exit(0)
    return paths
