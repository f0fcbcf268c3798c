"""The real-candle data directory for tests: ``../shared/data/real`` (see its PROVENANCE.md).

Tests read it from where it lies. A missing directory skips the test, except under ``CI=true``
where it fails: CI must not pass by skipping the only tests on real market data.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest

from virtuoso.ingest.candles import default_data_dir, load_real


def real_data_dir() -> Path:
    d = default_data_dir()
    if not d.is_dir() or not any(d.rglob("*-1m-futures.csv.gz")):
        msg = f"real candles not found at {d} (the repository's ../shared/data/real)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@lru_cache(maxsize=1)
def _load(path: str) -> dict:
    return load_real(path)


def real_data() -> dict:
    """Every symbol's candles, loaded once per test session."""
    return _load(str(real_data_dir()))
