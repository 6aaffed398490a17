"""Where the shared evaluation datasets are: ``NEWSSTREAM_DATASETS``, else ``../shared/datasets`` next to the repo.

They are not part of the repository; tests that need one skip, saying where they looked, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def dataset_dir(name: str) -> Path:
    root = Path(os.environ.get("NEWSSTREAM_DATASETS") or REPO_ROOT.parent / "shared" / "datasets")
    path = root / name
    if not path.is_dir():
        pytest.skip(f"dataset {name!r} not found at {path} (set NEWSSTREAM_DATASETS to the datasets directory)")
    return path
